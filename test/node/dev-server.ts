/** Starts and stops `npm run dev` (scripts/dev.ts) for tests, and finds what it leaves behind. */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { freePort } from "../../scripts/lib/local-instance.ts";

export const root = join(import.meta.dirname, "..", "..");

export type Dev = { child: ChildProcess; url: string; output: () => string; marker: string };

export const started: Dev[] = [];

/**
 * `detached`: dev.ts leads its own process group, as `npm run dev` in a terminal leads its job's
 * group, so a test can kill that whole group. `port`: a given one (a free one by default).
 * `readyMs`: how long the start may take (150 s: a fresh state folder's start takes over a minute
 * on a busy 2-core machine, and these tests check what dev does, not how fast it starts).
 */
export async function startDev(
  env: Record<string, string>,
  options: { detached?: boolean; port?: number; readyMs?: number } = {},
): Promise<Dev & { readyMs: number }> {
  const port = options.port ?? (await freePort());
  // Every process the dev script starts inherits this variable, so leftovers can be found by it.
  const marker = `dagflare-dev-test-${crypto.randomUUID()}`;
  const child = spawn(process.execPath, [join(root, "scripts", "dev.ts")], {
    cwd: root,
    env: {
      ...process.env,
      ...env,
      PORT: String(port),
      DAGFLARE_TEST_MARKER: marker,
      ADMIN_USERNAME: env.ADMIN_USERNAME ?? "",
      ADMIN_PASSWORD: env.ADMIN_PASSWORD ?? "",
      // dev stops when this process's end closes its stdin: a test that dies leaves nothing running.
      EXIT_WITH_PARENT: "1",
    },
    stdio: ["pipe", "pipe", "pipe"],
    detached: options.detached ?? false,
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const dev = { child, url: `http://127.0.0.1:${port}`, output: () => output, marker };
  started.push(dev);
  const begin = Date.now();
  while (!output.includes("[dagflare] ready")) {
    if (child.exitCode !== null) throw new Error(`dev exited early:\n${output}`);
    const readyMs = options.readyMs ?? 150_000;
    if (Date.now() - begin > readyMs) throw new Error(`not ready within ${readyMs / 1000} s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { ...dev, readyMs: Date.now() - begin };
}

/** PIDs of live processes (not zombies) that inherited the marker. */
export function processesWith(marker: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, "latin1").includes(marker);
      } catch {
        return false;
      }
    })
    .map(Number);
}

export async function stopDev(dev: Dev, signal: NodeJS.Signals): Promise<void> {
  expect(processesWith(dev.marker).length).toBeGreaterThan(1);
  const exited = new Promise<number | null>((resolve) => dev.child.once("exit", (code) => resolve(code)));
  dev.child.kill(signal);
  expect(await exited).toBe(0);
  const deadline = Date.now() + 10_000;
  while (processesWith(dev.marker).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(processesWith(dev.marker)).toEqual([]);
  await expect(fetch(`${dev.url}/api/v2/health`)).rejects.toThrow();
}

export async function login(url: string, username: string, password: string): Promise<Response> {
  return fetch(`${url}/api/v2/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
}

/** Kills whatever a test's dev servers left running (after a failed assertion). */
export function killLeftovers(): void {
  for (const dev of started) for (const pid of processesWith(dev.marker)) process.kill(pid, "SIGKILL");
}
