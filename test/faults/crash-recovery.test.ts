/**
 * `npm run test:faults`: the local stack killed at chosen points — SIGKILL of `npm run dev`'s
 * whole process group, as a crash or an OOM kill takes it — then started again on the same
 * state folder. What must hold (README, "What survives what"): nothing is left running and the
 * port is free; every in-flight run continues or fails with a clear reason within 60 s of the
 * restart; a queued run starts; an alert delivery waiting between attempts continues its schedule.
 * Each outcome's recovery time is printed.
 *
 * One kill serves every scenario (the stack takes seconds to start): at the moment of the kill
 *  - `cmd-running`: a command step is mid-sleep (a retry policy of 1);
 *  - `http-running`: an http step waits on a server that never answers (no retries);
 *  - `queued`: one run holds the DAG's only slot with a long command, a second waits queued;
 *  - `finishing`: a command step has just ended — the kill lands while its result is on its way;
 *  - `alerted`: a failed run's alert got 500, 500 and waits for its third attempt.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/lib/local-instance.ts";
import { until } from "../until.ts";

const root = join(import.meta.dirname, "..", "..");
const ADMIN = { username: "faults", password: "faults-password-1" };
/** The alert schedule here: attempts at 0 s and 1 s (both refused), the third 20 s later. */
const RETRY_SCHEDULE = "0,1,20";
/** How long a delivery must be overdue before the tick sends it again (src/alerts/overdue.ts). */
const SWEEP_GRACE_MS = 60_000;

type Stack = { child: ChildProcess; api: string; token: string; output: () => string; readyAt: number };

const stateDir = mkdtempSync(join(tmpdir(), "dagflare-faults-"));
const markers = mkdtempSync(join(tmpdir(), "dagflare-faults-steps-"));
const stacks: Stack[] = [];
let receiver: Server;
/** What the test's receiver got: per path, each request's arrival time. */
const received = new Map<string, number[]>();

afterAll(async () => {
  for (const stack of stacks) killGroup(stack.child, "SIGKILL");
  receiver?.close();
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(markers, { recursive: true, force: true });
});

/** `npm run dev` as its own process group, so the whole group can be killed as a crash kills it. */
async function startStack(port: number): Promise<Stack> {
  const began = Date.now();
  const child = spawn(process.execPath, [join(root, "scripts", "dev.ts")], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      STATE_DIR: stateDir,
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_PASSWORD: ADMIN.password,
      ALERTS_RETRY_SCHEDULE: RETRY_SCHEDULE,
      JWT_SECRET: "faults-test-jwt-secret-0123456789abcdef",
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  await until(async () => {
    if (child.exitCode !== null) throw new Error(`dev exited:\n${output}`);
    return output.includes("[dagflare] ready") ? true : undefined;
    // A busy 2-core machine takes long to start the stack; start-up is not what this suite measures.
  }, 240_000).catch((error: Error) => {
    throw new Error(`${error.message}\n${output}`);
  });
  const readyAt = Date.now();
  console.log(`[faults] stack ready in ${((readyAt - began) / 1000).toFixed(1)} s`);
  const api = `http://127.0.0.1:${port}/api/v2`;
  const login = await fetch(`${api}/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(ADMIN),
  });
  const { token } = (await login.json()) as { token: string };
  const stack = { child, api, token, output: () => output, readyAt };
  stacks.push(stack);
  return stack;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // gone already
  }
}

async function call(stack: Stack, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${stack.api}${path}`, {
    method,
    headers: { Authorization: `Bearer ${stack.token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

type RunDetails = {
  status: number;
  statusLabel: string;
  nodes: { step: { name: string }; statusLabel: string; retryCount: number; error?: string }[];
};
const run = async (stack: Stack, dag: string, runId: string) =>
  (await call(stack, "GET", `/dag-runs/${dag}/${runId}`)).dagRunDetails as RunDetails;
const runLog = async (stack: Stack, dag: string, runId: string) =>
  String((await call(stack, "GET", `/dag-runs/${dag}/${runId}/log`)).content ?? "");
const start = async (stack: Stack, dag: string, params?: string) =>
  String((await call(stack, "POST", `/dags/${dag}/start`, params ? { params } : {})).dagRunId);

/**
 * The processes of this test's stacks and everything they started: those that inherited
 * STATE_DIR, the steps' shells (their command text names the markers folder), and their children.
 */
function stackProcesses(): number[] {
  const live = new Map<number, { parent: number; ours: boolean }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "latin1");
      const [state, parent] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (state === "Z") continue; // a zombie holds nothing
      const ours =
        readFileSync(`/proc/${entry}/environ`, "latin1").includes(stateDir) ||
        readFileSync(`/proc/${entry}/cmdline`, "latin1").includes(markers);
      live.set(Number(entry), { parent: Number(parent), ours });
    } catch {
      // exited meanwhile
    }
  }
  const isOurs = (pid: number, depth = 0): boolean => {
    const process = live.get(pid);
    if (!process || depth > 20) return false;
    return process.ours || isOurs(process.parent, depth + 1);
  };
  return [...live.keys()].filter((pid) => isOurs(pid));
}

/** Which of these processes still live (a zombie doesn't). */
function stillAlive(pids: number[]): number[] {
  return pids.filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
      return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
    } catch {
      return false;
    }
  });
}

const portFree = (port: number) =>
  new Promise<boolean>((done) => {
    const server = createServer();
    server.once("error", () => done(false));
    server.listen(port, "127.0.0.1", () => server.close(() => done(true)));
  });

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

describe("crash recovery of the local stack", () => {
  it("SIGKILL of the whole stack mid-run: nothing left behind; every run and alert recovers", async () => {
    receiver = createServer((request, response) => {
      const path = request.url ?? "/";
      const times = received.get(path) ?? [];
      times.push(Date.now());
      received.set(path, times);
      request.resume();
      if (path.startsWith("/hang")) return; // never answers
      // /alert: refused twice, then accepted.
      response.writeHead(times.length <= 2 ? 500 : 200).end("ok");
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const { port: receiverPort } = receiver.address() as { port: number };
    const target = `http://127.0.0.1:${receiverPort}`;

    const port = await freePort();
    const first = await startStack(port);
    const dags: Record<string, string> = {
      "cmd-running": `steps:\n  - name: work\n    command: if [ -f ${markers}/cmd ]; then echo second; else touch ${markers}/cmd; sleep 120; fi\n    retryPolicy: {limit: 1, intervalSec: 1}\n`,
      "http-running": `steps:\n  - name: call\n    executor: http\n    command: GET ${target}/hang\n`,
      queued: `maxActiveRuns: 1\nparams: [SECONDS=120]\nsteps:\n  - name: hold\n    command: touch ${markers}/queued-$SECONDS; sleep $SECONDS\n`,
      finishing: `steps:\n  - name: short\n    command: echo "start $(date +%s%N)" >> ${markers}/finishing; sleep 2; echo end >> ${markers}/finishing; touch ${markers}/finished\n    retryPolicy: {limit: 1, intervalSec: 1}\n`,
      alerted: `steps:\n  - name: fail\n    command: exit 3\n`,
    };
    for (const [name, spec] of Object.entries(dags)) await call(first, "POST", "/dags", { name, spec });
    const policy = await call(first, "POST", "/alert-policies", {
      name: "faults",
      eventTypes: ["JOB_FAILURE"],
      dagNames: ["alerted"],
      webhook: { url: `${target}/alert`, body: '{"text": "{{alert_summary}}"}', destination: "generic" },
    });

    // The alert: two refused attempts, the third due RETRY_SCHEDULE's 20 s after the second.
    const alertedRun = await start(first, "alerted");
    await until(async () => ((received.get("/alert")?.length ?? 0) >= 2 ? true : undefined), 30_000);
    const thirdDue = received.get("/alert")![1]! + 20_000;

    const cmdRun = await start(first, "cmd-running");
    const httpRun = await start(first, "http-running");
    const holding = await start(first, "queued");
    const waiting = await start(first, "queued", "SECONDS=0");
    await until(async () => (existsSync(`${markers}/cmd`) ? true : undefined), 30_000);
    await until(async () => (received.has("/hang") ? true : undefined), 30_000);
    await until(async () => (existsSync(`${markers}/queued-120`) ? true : undefined), 30_000);
    expect((await run(first, "queued", waiting)).statusLabel).toBe("queued");
    // Last: the step that ends as the stack dies.
    const finishingRun = await start(first, "finishing");
    await until(async () => (existsSync(`${markers}/finished`) ? true : undefined), 30_000);
    const before = stackProcesses();
    expect(before.length).toBeGreaterThan(3);
    killGroup(first.child, "SIGKILL");
    const killedAt = Date.now();

    // Nothing of the stack is left, and the port is free.
    const gone = await until(async () => (stillAlive(before).length === 0 ? Date.now() : undefined), 15_000).catch(
      () => {
        throw new Error(`left running after the kill: ${stillAlive(before).join(", ")}`);
      },
    );
    expect(await portFree(port)).toBe(true);
    console.log(`[faults] ${before.length} processes gone ${seconds(gone - killedAt)} after SIGKILL of the group`);

    const second = await startStack(port);
    const recovered = async (dag: string, runId: string) => {
      const details = await until(async () => {
        const current = await run(second, dag, runId);
        return current.statusLabel === "running" || current.statusLabel === "queued" ? undefined : current;
      }, 90_000);
      const after = Date.now() - second.readyAt;
      console.log(`[faults] ${dag}: ${details.statusLabel} ${seconds(after)} after the restart was ready`);
      expect(after).toBeLessThanOrEqual(60_000);
      return details;
    };

    // The command's process died with the stack: the attempt is lost, and its retry runs.
    const cmd = await recovered("cmd-running", cmdRun);
    expect(cmd.statusLabel).toBe("succeeded");
    expect(cmd.nodes[0]!.retryCount).toBe(1);
    expect(await runLog(second, "cmd-running", cmdRun)).toMatch(/work: attempt 1 failed \(executor lost: /);

    // The http step had no retries: it fails, saying why.
    const http = await recovered("http-running", httpRun);
    expect(http.statusLabel).toBe("failed");
    expect(http.nodes[0]!.error).toMatch(/^executor lost: /);

    // The slot holder fails the same way; the queued run then starts and finishes.
    expect((await recovered("queued", holding)).statusLabel).toBe("failed");
    expect((await recovered("queued", waiting)).statusLabel).toBe("succeeded");

    // The step that had just ended: its result made it, or its retry ran — never both at once.
    const finishing = await recovered("finishing", finishingRun);
    expect(finishing.statusLabel).toBe("succeeded");
    const lines = readFileSync(`${markers}/finishing`, "utf8").trim().split("\n");
    expect(lines.filter((line) => line.startsWith("start"))).toHaveLength(finishing.nodes[0]!.retryCount + 1);
    expect(lines.join("\n")).not.toMatch(/start [^\n]*\nstart/); // each attempt ended before the next began

    // The alert's third attempt: its message died with the local queue; the tick sends it once
    // it is SWEEP_GRACE_MS overdue. The test fires the tick every 5 s (dev fires it every minute).
    const ticks = setInterval(() => {
      void fetch(`http://127.0.0.1:${port}/cdn-cgi/local/scheduled?cron=*+*+*+*+*`).catch(() => undefined);
    }, 5_000);
    try {
      const third = await until(async () => received.get("/alert")?.[2], 150_000).catch(async (error: Error) => {
        const deliveries = await call(second, "GET", `/alert-policies/${policy.id}/deliveries`);
        throw new Error(`${error.message}: ${JSON.stringify(deliveries)}\n${second.output().slice(-3000)}`);
      });
      console.log(
        `[faults] alert: third attempt ${seconds(third - thirdDue)} after it was due (grace ${seconds(SWEEP_GRACE_MS)}), ${seconds(third - second.readyAt)} after the restart`,
      );
      expect(third - thirdDue).toBeLessThanOrEqual(SWEEP_GRACE_MS + 15_000);
      await new Promise((resolve) => setTimeout(resolve, 6_000)); // another tick: still sent once
      expect(received.get("/alert")).toHaveLength(3);
    } finally {
      clearInterval(ticks);
    }
    expect((await run(second, "alerted", alertedRun)).statusLabel).toBe("failed");

    const last = stackProcesses();
    killGroup(second.child, "SIGTERM");
    await until(async () => (stillAlive(last).length === 0 ? true : undefined), 15_000);
  }, 840_000);
});
