/**
 * `npm run dev` owns its processes (issue 18): however it ends — SIGTERM, a SIGKILL of dev.ts
 * alone, a SIGKILL of its whole process group — nothing it started stays behind (wrangler,
 * workerd, the UI watcher, the step runner, a step's `sleep`) and the port is free again. The
 * step runner, killed alone, takes its running steps with it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REAPER_NAME } from "../../container/runner/reaper.ts";
import { freePort, waitForHealth } from "../../scripts/lib/local-instance.ts";
import { type Dev, killLeftovers, processesWith, root, startDev, stopDev } from "./dev-server.ts";

const scratch: string[] = [];
const spawned: ChildProcess[] = [];
afterAll(() => {
  killLeftovers();
  for (const child of spawned) if (child.exitCode === null) child.kill("SIGKILL");
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

const freshDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
};

/** A process as /proc shows it; `start` (clock ticks after boot) tells a reused pid from the original. */
type Proc = { pid: number; ppid: number; state: string; start: string; cmdline: string };

function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may hold spaces: state, ppid, …
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
    return { pid, state: fields[0]!, ppid: Number(fields[1]), start: fields[19]!, cmdline };
  } catch {
    return undefined;
  }
}

function allProcs(): Proc[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map((entry) => readProc(Number(entry)))
    .filter((proc) => proc !== undefined);
}

/** The process and all its descendants (by parent pid: a detached child is still a child). */
function tree(rootPid: number): Proc[] {
  const procs = allProcs();
  const found = procs.filter((proc) => proc.pid === rootPid);
  for (let i = 0; i < found.length; i++) found.push(...procs.filter((proc) => proc.ppid === found[i]!.pid));
  return found;
}

/** Those of `recorded` still running: same pid and start time, and not a zombie. */
function survivors(recorded: Proc[]): Proc[] {
  return recorded.filter((proc) => {
    const now = readProc(proc.pid);
    return now !== undefined && now.start === proc.start && now.state !== "Z";
  });
}

async function until<T>(check: () => T | undefined | false, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function canBind(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once("error", () => done(false));
    server.listen(port, "127.0.0.1", () => server.close(() => done(true)));
  });
}

const isSleep = (proc: Proc) => proc.cmdline === "sleep 600";

let naps = 0;

/**
 * Starts a run whose command step sleeps for 10 minutes (through the Worker, its queue and the
 * local runner, as a user would) and returns dev's whole process tree once the `sleep` runs.
 */
async function startSleepingRun(dev: Dev): Promise<Proc[]> {
  const headers = { "Content-Type": "application/json" };
  const name = `nap-${++naps}`;
  // The marker in the step's environment (steps get a clean one) makes the sleep findable too.
  const spec = `env:\n  - DAGFLARE_TEST_MARKER: ${dev.marker}\nsteps:\n  - name: nap\n    command: sleep 600\n`;
  const created = await fetch(`${dev.url}/api/v2/dags`, {
    method: "POST",
    headers,
    body: JSON.stringify({ name, spec }),
  });
  expect(created.status).toBe(201);
  expect((await fetch(`${dev.url}/api/v2/dags/${name}/start`, { method: "POST", headers, body: "{}" })).status).toBe(
    200,
  );
  const procs = await until(
    () => {
      const procs = tree(dev.child.pid!);
      return procs.some(isSleep) && procs;
    },
    30_000,
    "the step's sleep runs",
  );
  // The tree holds what the guarantee is about: wrangler's workerd, the runner and its step, and
  // the two reapers (dev's and the runner's), which must be gone in the end too.
  expect(procs.some((proc) => /workerd/.test(proc.cmdline))).toBe(true);
  expect(procs.some((proc) => proc.cmdline.includes("container/runner/server.ts"))).toBe(true);
  expect(procs.filter((proc) => proc.cmdline.includes(REAPER_NAME))).toHaveLength(2);
  expect(processesWith(dev.marker)).toContain(procs.find(isSleep)!.pid);
  return procs;
}

/** Nothing of the recorded tree (nor anything carrying the marker) survives, and the port binds. */
async function expectAllGone(dev: Dev, recorded: Proc[]): Promise<void> {
  const begin = Date.now();
  await until(() => survivors(recorded).length === 0, 15_000, "every process ends").catch(() => undefined);
  expect(survivors(recorded).map((proc) => `${proc.pid} ${proc.cmdline}`)).toEqual([]);
  expect(processesWith(dev.marker)).toEqual([]);
  expect(await canBind(Number(new URL(dev.url).port))).toBe(true);
  console.log(`all ${recorded.length} processes gone ${Date.now() - begin} ms after the kill`);
}

describe("npm run dev owns its processes", () => {
  // One state folder and one port for the three: each start after a kill is the "next
  // `npm run dev`" that used to fail with "Address already in use".
  const env = { STATE_DIR: freshDir("dagflare-state-"), AUTH_MODE: "none" };
  let port: number;

  it("a SIGKILL of its whole process group leaves no process behind and frees the port", async () => {
    port = await freePort();
    const dev = await startDev(env, { detached: true, port });
    const recorded = await startSleepingRun(dev);
    process.kill(-dev.child.pid!, "SIGKILL");
    await expectAllGone(dev, recorded);
  });

  it("a SIGKILL of dev.ts alone leaves no process behind and frees the port", async () => {
    const dev = await startDev(env, { port });
    const recorded = await startSleepingRun(dev);
    dev.child.kill("SIGKILL");
    await expectAllGone(dev, recorded);
  });

  it("a crash of workerd: Miniflare restarts it, dev says so, and a SIGKILL of dev.ts still leaves nothing", async () => {
    const dev = await startDev(env, { port });
    try {
      const isWorkerd = (proc: Proc) => /workerd/.test(proc.cmdline);
      const crashed = tree(dev.child.pid!).find(isWorkerd)!;
      process.kill(crashed.pid, "SIGKILL");
      const restarted = await until(
        () => dev.output().includes("Miniflare is restarting it") && tree(dev.child.pid!).find(isWorkerd),
        20_000,
        "dev follows the restarted workerd",
      );
      expect(restarted.pid).not.toBe(crashed.pid);
      // The new workerd listens a moment after it starts.
      const deadline = Date.now() + 20_000;
      await waitForHealth(`${dev.url}/api/v2/health`, performance.now(), () =>
        Date.now() > deadline ? "the API did not answer again within 20 s" : undefined,
      );
      const recorded = await startSleepingRun(dev);
      dev.child.kill("SIGKILL");
      await expectAllGone(dev, recorded);
    } finally {
      // A failure above must not leave this dev holding the port of the tests after it.
      if (dev.child.exitCode === null) dev.child.kill("SIGKILL");
    }
  });

  it("SIGTERM with a step running still stops everything cleanly (exit 0)", async () => {
    const dev = await startDev(env, { port });
    const recorded = await startSleepingRun(dev);
    await stopDev(dev, "SIGTERM");
    await expectAllGone(dev, recorded);
  });

  it("refuses a port in use, after waiting a moment for it, with what to do", async () => {
    const port = await freePort();
    const holder = createServer();
    await new Promise<void>((done) => holder.listen(port, "127.0.0.1", done));
    try {
      const child = spawn(process.execPath, [join(root, "scripts", "dev.ts")], {
        cwd: root,
        env: { ...process.env, PORT: String(port), STATE_DIR: freshDir("dagflare-state-") },
        stdio: ["ignore", "pipe", "pipe"],
      });
      spawned.push(child);
      let output = "";
      child.stdout!.on("data", (chunk) => (output += chunk));
      child.stderr!.on("data", (chunk) => (output += chunk));
      const code = await new Promise<number | null>((done) => child.once("exit", done));
      expect(code).toBe(1);
      expect(output).toContain(`port ${port} is in use`);
      expect(output).toContain("PORT=");
      // It failed before starting anything: no migrations, no UI build.
      expect(output).not.toMatch(/migrations|Migrations/);
    } finally {
      holder.close();
    }
  });
});

describe("the step runner owns its steps", () => {
  const SECRET = "runner-process-test-secret-0123";

  async function startRunnerProcess(env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string }> {
    const port = await freePort();
    const child = spawn(process.execPath, [join(root, "container", "runner", "server.ts")], {
      cwd: root,
      env: {
        ...process.env,
        ...env,
        PORT: String(port),
        HOST: "127.0.0.1",
        RUNNER_SECRET: SECRET,
        DAGS_DIR: freshDir("dagflare-dags-"),
        WORK_DIR: freshDir("dagflare-work-"),
      },
      stdio: ["pipe", "ignore", "inherit"],
    });
    spawned.push(child);
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      if (
        await fetch(`${url}/ping`).then(
          (response) => response.ok,
          () => false,
        )
      )
        return { child, url };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error("the runner did not start");
  }

  async function startSleep(url: string, pid: number): Promise<Proc[]> {
    const response = await fetch(`${url}/executions/nap-${Date.now()}`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${SECRET}` },
      body: JSON.stringify({ command: "sleep 600", env: {}, timeoutMs: 600_000 }),
    });
    expect(response.status).toBe(200);
    return until(
      () => {
        const procs = tree(pid);
        return procs.some(isSleep) && procs;
      },
      10_000,
      "the step's sleep runs",
    );
  }

  it("a SIGKILL of the runner ends its running steps' process groups", async () => {
    const runner = await startRunnerProcess();
    const recorded = await startSleep(runner.url, runner.child.pid!);
    runner.child.kill("SIGKILL");
    await until(() => survivors(recorded).length === 0, 10_000, "the runner's processes end").catch(() => undefined);
    expect(survivors(recorded).map((proc) => `${proc.pid} ${proc.cmdline}`)).toEqual([]);
  });

  it("with EXIT_WITH_PARENT=1, the runner stops its steps and exits when its stdin (the parent's pipe) closes", async () => {
    const runner = await startRunnerProcess({ EXIT_WITH_PARENT: "1" });
    const recorded = await startSleep(runner.url, runner.child.pid!);
    const exited = new Promise<number | null>((done) => runner.child.once("exit", done));
    runner.child.stdin!.end();
    expect(await exited).toBe(0);
    await until(() => survivors(recorded).length === 0, 10_000, "the runner's processes end").catch(() => undefined);
    expect(survivors(recorded).map((proc) => `${proc.pid} ${proc.cmdline}`)).toEqual([]);
  });
});
