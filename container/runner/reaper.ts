/**
 * The reaper: a watchdog process that ends the process groups its owner started once the owner
 * is gone, however it went — a clean exit, a crash, or SIGKILL, which no handler of the owner's
 * own can catch.
 *
 * The owner (`npm run dev`, the step runner) starts its children in process groups of their own,
 * so that stopping one ends everything it started (wrangler's workerd, a step's pipeline). That
 * also takes them out of the owner's group: a kill of the owner's group (`kill -KILL -<pgid>`)
 * or of the owner alone leaves them running, holding ports. So the owner starts this reaper
 * first, in a session of its own (out of reach of a kill aimed at the owner's group, and of the
 * terminal's SIGINT and SIGHUP), and tells it over a pipe — the reaper's stdin — each group it
 * starts (`+<pgid>`) and each it has finished with (`-<pgid>`). The kernel closes the pipe when
 * the owner's process ends, in every way it can end: the reaper reads EOF, sends SIGTERM to the
 * groups still listed, and SIGKILL to those left after a grace period, then exits. A clean stop
 * ends its groups itself and forgets them, so the EOF then finds nothing to do.
 *
 * The owner forgets a group only once nothing of it runs (it SIGKILLs the group when its leader
 * exits): the number of a group with a live member can't be reused, so a listed number always
 * names the owner's group, never a stranger's.
 *
 * One implementation for both owners: the runner ships in the container image (container/runner/
 * is all the image copies), and `npm run dev` imports it from here. In the container, where the
 * runner's end ends the container, the reaper is redundant but harmless.
 *
 * The same pipe trick tells a child that its parent died: `exitWithParent` (EXIT_WITH_PARENT=1).
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Socket } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** How long the groups get between SIGTERM and SIGKILL: the runner stops its steps within 2 s. */
export const REAPER_GRACE_MS = 3_000;

export type Reaper = {
  /** Kill this group (a child's pid, when spawned `detached`) if the owner dies. */
  watch: (pgid: number) => void;
  /** The group has ended (or was killed): nothing to do for it any more. */
  forget: (pgid: number) => void;
  /** A clean stop: the reaper ends what is still listed, then exits. */
  close: () => void;
};

/**
 * Starts the reaper for this process. It neither keeps this process alive nor kills it; it
 * writes to stderr only if it fails. `onExit` hears of a reaper that ends before `close()`.
 */
export function startReaper(options: { graceMs?: number; onExit?: (reason: string) => void } = {}): Reaper {
  const graceMs = String(options.graceMs ?? REAPER_GRACE_MS);
  const child: ChildProcess = spawn(process.execPath, [fileURLToPath(import.meta.url), graceMs], {
    // A session (and group) of its own: see above.
    detached: true,
    stdio: ["pipe", "ignore", "inherit"],
    // Not the owner's environment: the runner's holds its secret, and the reaper needs nothing.
    env: {} as NodeJS.ProcessEnv,
  });
  const pipe = child.stdin as Socket;
  let closed = false;
  // A reaper that died makes writes fail (EPIPE): the owner runs on without it, told by onExit.
  pipe.on("error", () => undefined);
  child.on("error", (error) => !closed && options.onExit?.(error.message));
  child.on("exit", (code, signal) => !closed && options.onExit?.(`exited (${signal ?? code})`));
  child.unref();
  pipe.unref();
  const send = (line: string) => {
    if (!closed && pipe.writable) pipe.write(`${line}\n`);
  };
  return {
    watch: (pgid) => send(`+${pgid}`),
    forget: (pgid) => send(`-${pgid}`),
    close: () => {
      if (closed) return;
      closed = true;
      pipe.end();
    },
  };
}

/**
 * With EXIT_WITH_PARENT=1, stdin is a pipe the parent holds and never writes to: its end means
 * the parent is gone (the kernel closes it however the parent ended), and `onGone` runs. Off
 * by default: in the container the runner is the top process and its stdin means nothing.
 */
export function exitWithParent(onGone: () => void): void {
  if (process.env.EXIT_WITH_PARENT !== "1") return;
  process.stdin.on("data", () => undefined);
  process.stdin.once("end", onGone);
  process.stdin.once("error", onGone);
}

/** The reaper program: reads `+pgid` / `-pgid` lines until EOF, then ends the groups listed. */
async function reap(): Promise<void> {
  const graceMs = Number(process.argv[2]) || REAPER_GRACE_MS;
  const groups = new Set<number>();
  for await (const line of createInterface({ input: process.stdin })) {
    const pgid = Number(line.slice(1));
    if (!Number.isInteger(pgid) || pgid <= 1) continue;
    if (line.startsWith("+")) groups.add(pgid);
    else if (line.startsWith("-")) groups.delete(pgid);
  }
  const signal = (pgid: number, name: NodeJS.Signals | 0): boolean => {
    try {
      process.kill(-pgid, name);
      return true;
    } catch {
      return false; // ESRCH: the group is gone
    }
  };
  for (const pgid of groups) if (!signal(pgid, "SIGTERM")) groups.delete(pgid);
  const deadline = Date.now() + graceMs;
  while (groups.size > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    // A group whose members are all gone (zombies still count until reaped) needs nothing more.
    for (const pgid of groups) if (!signal(pgid, 0)) groups.delete(pgid);
  }
  for (const pgid of groups) signal(pgid, "SIGKILL");
  process.exit(0);
}

if (import.meta.main) await reap();
