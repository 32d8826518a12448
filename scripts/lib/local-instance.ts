/**
 * A throwaway local dagflare for benchmarks: `scripts/dev.ts` on a free port with a fresh state
 * folder and a known admin, stopped (and its state removed) by `stop()`.
 *
 * The state folder goes to memory (/dev/shm) where there is one: local D1 and Durable Object
 * writes fsync, and on these shared machines' disks that adds ~5 ms to every write, which
 * measures the disk, not dagflare (production storage is Cloudflare's). BENCH_STATE_ROOT
 * overrides the place, and so does a caller's `stateRoot` (`npm run bench:vs-dagu` measures what a
 * user gets: the state on disk); SHOW_DEV_LOG=1 passes the Worker's log through.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statfsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { login } from "./dag-api.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const ADMIN = { username: "bench", password: "bench-password-1" };

/**
 * Node flags for the processes of the local stack that stay up (dev.ts, which runs the Worker in
 * Miniflare, and the runner): a young generation of 1 MB instead of V8's 16 MB and more. They allocate little once
 * started; it keeps 20–25 MB less resident in each for a few more sub-millisecond scavenges. Not
 * for the builds, which allocate a lot. package.json's `dev` script passes the same to dev.ts.
 */
export const LONG_LIVED_NODE_FLAGS = ["--max-semi-space-size=1"];

export const STATE_ROOT = process.env.BENCH_STATE_ROOT ?? (existsSync("/dev/shm") ? "/dev/shm" : tmpdir());

export type LocalInstance = {
  api: string;
  token: string;
  /** scripts/dev.ts's process: the root of the local stack's process tree. */
  pid: number;
  /** From the spawn of scripts/dev.ts until GET /api/v2/health first answered 200. */
  healthyMs: number;
  /** Until dev printed its ready line: the API, the migrations, the first admin and the step runner all up. */
  readyMs: number;
  stateDir: string;
  stop: () => Promise<void>;
};

/** Whether `path` is on a file system in memory (tmpfs, ramfs): its writes never wait for a disk. */
export function inMemory(path: string): boolean {
  const TMPFS = 0x01021994;
  const RAMFS = 0x858458f6;
  const { type } = statfsSync(path);
  return type === TMPFS || type === RAMFS;
}

/**
 * Polls `url` every 20 ms until it answers 200; the time that took since `since` (a
 * performance.now()). `exited` says the server is gone, which ends the wait with an error.
 */
export async function waitForHealth(url: string, since: number, exited: () => string | undefined): Promise<number> {
  for (;;) {
    const gone = exited();
    if (gone !== undefined) throw new Error(gone);
    const answered = await fetch(url).then(
      async (response) => {
        await response.arrayBuffer();
        return response.ok;
      },
      () => false,
    );
    if (answered) return performance.now() - since;
    await new Promise((done) => setTimeout(done, 20));
  }
}

/**
 * A port for a server that starts a moment later. Chosen below Linux's ephemeral range
 * (32768–60999): a port the kernel hands out for listen(0) can be taken by any outgoing
 * connection before our server binds it, which made parallel dev instances collide.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((done) => {
      const server = createServer();
      server.once("error", () => done(false));
      server.listen(port, "127.0.0.1", () => server.close(() => done(true)));
    });
    if (free) return port;
  }
}

/**
 * `env`: more settings of `npm run dev` (README), e.g. `{ DAGS_DIR }` for a scratch working
 * directory of steps; `stateRoot`: where the fresh state folder goes (STATE_ROOT by default).
 */
export async function startLocalInstance(
  env: Record<string, string> = {},
  { stateRoot = STATE_ROOT }: { stateRoot?: string } = {},
): Promise<LocalInstance> {
  const port = await freePort();
  const stateDir = mkdtempSync(join(stateRoot, "dagflare-bench-"));
  const began = performance.now();
  const dev = spawn(process.execPath, [...LONG_LIVED_NODE_FLAGS, join(root, "scripts", "dev.ts")], {
    cwd: root,
    env: {
      ...process.env,
      ...env,
      PORT: String(port),
      STATE_DIR: stateDir,
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_PASSWORD: ADMIN.password,
      // dev stops when this process's end closes its stdin: a benchmark that dies leaves nothing running.
      EXIT_WITH_PARENT: "1",
    },
    stdio: ["pipe", "pipe", "inherit"],
  });
  let output = "";
  let readyMs: number | undefined;
  dev.stdout!.on("data", (chunk) => {
    output += chunk;
    if (readyMs === undefined && output.includes("[dagflare] ready")) readyMs = performance.now() - began;
    if (process.env.SHOW_DEV_LOG) process.stdout.write(chunk);
  });
  const stop = async () => {
    if (dev.exitCode === null) {
      dev.kill("SIGTERM");
      await new Promise((done) => dev.once("exit", done));
    }
    rmSync(stateDir, { recursive: true, force: true });
  };
  const exited = () => (dev.exitCode === null ? undefined : `dev exited:\n${output}`);
  try {
    const api = `http://127.0.0.1:${port}/api/v2`;
    const healthyMs = await waitForHealth(`${api}/health`, began, exited);
    while (readyMs === undefined) {
      const gone = exited();
      if (gone !== undefined) throw new Error(gone);
      await new Promise((done) => setTimeout(done, 20));
    }
    return { api, token: await login(api, ADMIN), pid: dev.pid!, healthyMs, readyMs, stateDir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The p-th percentile (0–100) of the samples, nearest rank. */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

export const median = (samples: number[]): number => percentile(samples, 50);
