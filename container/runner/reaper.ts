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
 * names the owner's group, never a stranger's. A single process (`+p<pid>`: `npm run dev`'s
 * workerd, which Miniflare starts in dev's own group) is forgotten once it has exited.
 *
 * One implementation for both owners: the runner ships in the container image (container/runner/
 * is all the image copies), and `npm run dev` imports it from here. In the container, where the
 * runner's end ends the container, the reaper is redundant but harmless.
 *
 * The reaper is a few lines of POSIX sh, not a Node program: it waits, idle, for as long as its
 * owner lives, and a shell does that in 2 MB where Node takes 60 MB and a tenth of a second of
 * CPU to start (on two cores, at the moment `npm run dev` starts everything else). Every image
 * and machine that runs the runner has /bin/sh.
 *
 * The same pipe trick tells a child that its parent died: `exitWithParent` (EXIT_WITH_PARENT=1).
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Socket } from "node:net";

/** How long the groups get between SIGTERM and SIGKILL: the runner stops its steps within 2 s. */
export const REAPER_GRACE_MS = 3_000;

/** The reaper's $0, which `ps` shows after its script: how to tell it among processes. */
export const REAPER_NAME = "dagflare-reaper";

/**
 * The reaper program ($1: the grace in seconds). It reads `+…` / `-…` lines until EOF, keeping
 * the listed entries as " 12 p34 ": a group ("12", killed as -12) or a single process ("p34", for
 * a child the owner could not start in a group of its own). Then it SIGTERMs them, checks every
 * 50 ms whether anything of each is left (`kill -0`: an entry whose processes are all gone needs
 * nothing more), and SIGKILLs those left when the grace runs out. Only builtins while the owner
 * lives.
 */
const REAPER_SCRIPT = `
entries=" "
while IFS= read -r line; do
  entry=\${line#?}
  number=\${entry#p}
  case $number in ""|*[!0-9]*|0|1) continue ;; esac
  case $line in
    +*) case $entries in *" $entry "*) ;; *) entries="$entries$entry " ;; esac ;;
    -*) case $entries in *" $entry "*) entries="\${entries%% $entry *} \${entries#* $entry }" ;; esac ;;
  esac
done
signal() {
  case $2 in p*) kill -s "$1" -- "\${2#p}" 2>/dev/null ;; *) kill -s "$1" -- "-$2" 2>/dev/null ;; esac
}
for entry in $entries; do signal TERM "$entry"; done
ticks=$(( $1 * 20 ))
while [ "$ticks" -gt 0 ]; do
  left=""
  for entry in $entries; do signal 0 "$entry" && left="$left $entry"; done
  entries=$left
  [ -z "$entries" ] && exit 0
  sleep 0.05
  ticks=$((ticks - 1))
done
for entry in $entries; do signal KILL "$entry"; done
exit 0
`;

export type Reaper = {
  /** Kill this group (a child's pid, when spawned `detached`) if the owner dies. */
  watch: (pgid: number) => void;
  /** The group has ended (or was killed): nothing to do for it any more. */
  forget: (pgid: number) => void;
  /** Kill this one process if the owner dies (a child in the owner's own group, started by a library). */
  watchProcess: (pid: number) => void;
  /** The process has exited: nothing to do for it any more. */
  forgetProcess: (pid: number) => void;
  /** A clean stop: the reaper ends what is still listed, then exits. */
  close: () => void;
};

/**
 * Starts the reaper for this process. It neither keeps this process alive nor kills it; it
 * writes to stderr only if it fails. `onExit` hears of a reaper that ends before `close()`.
 */
export function startReaper(options: { graceMs?: number; onExit?: (reason: string) => void } = {}): Reaper {
  const graceSeconds = String(Math.max(1, Math.ceil((options.graceMs ?? REAPER_GRACE_MS) / 1000)));
  const child: ChildProcess = spawn("/bin/sh", ["-c", REAPER_SCRIPT, REAPER_NAME, graceSeconds], {
    // A session (and group) of its own: see above.
    detached: true,
    stdio: ["pipe", "ignore", "inherit"],
    // Not the owner's environment: the runner's holds its secret. PATH for sleep.
    env: Object.assign({} as NodeJS.ProcessEnv, { PATH: "/usr/local/bin:/usr/bin:/bin" }),
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
    watchProcess: (pid) => send(`+p${pid}`),
    forgetProcess: (pid) => send(`-p${pid}`),
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
