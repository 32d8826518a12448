/**
 * The step runner: a small HTTP service that executes one step at a time per request, for the
 * Worker only. In production it runs in a Cloudflare Container (container/Dockerfile); in
 * `npm run dev` and the tests the same program runs as a local process.
 *
 *   PUT    /executions/{key}  start (idempotent: a key already known is not started again);
 *                             `?wait=ms` answers as soon as it is done, or after ms
 *   GET    /executions/{key}?stdoutFrom=&stderrFrom=&wait=ms   output since the offsets, and
 *                             the result once done (long poll up to `wait`)
 *   DELETE /executions/{key}  kill its process group
 *   GET    /ping              liveness, for the container supervisor (says nothing else)
 *
 * Every other request needs `Authorization: Bearer <RUNNER_SECRET>` (compared in constant time).
 * Configuration: RUNNER_SECRET (required), PORT (8080), DAGS_DIR (/app/dags), WORK_DIR (tmp),
 * RUNNER_STEP_UID (when the runner is root: the unprivileged user steps run as), SHELL (the
 * shell of steps that name none, as in Dagu; `sh` when unset — the image sets bash),
 * EXIT_WITH_PARENT (1: stdin is a pipe from the parent — `npm run dev` — and the runner stops
 * when it closes; unset in the container).
 *
 * Each step runs in a process group of its own, which a reaper process (reaper.ts) kills if the
 * runner dies without stopping its steps (SIGKILL, a crash).
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Execution, type ExecutionRequest, type RunnerConfig } from "./execution.ts";
import { exitWithParent, startReaper } from "./reaper.ts";

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const MAX_WAIT_MS = 30_000;
/** How often a long poll looks for new output: the delay with which logs follow a step. */
const OUTPUT_CHECK_MS = 1_000;
/** A finished execution's result is kept this long for its poller to collect. */
const KEEP_FINISHED_MS = 60 * 60 * 1000;

export type Runner = { url: string; close: () => Promise<void> };

export { IMAGE_SHELL } from "./shell.ts";

export async function startRunner(
  options: { secret: string; port?: number; host?: string } & Partial<Omit<RunnerConfig, "reaper">>,
): Promise<Runner> {
  if (options.secret.length < 16) throw new Error("RUNNER_SECRET must be at least 16 characters");
  const reaper = startReaper({
    onExit: (reason) =>
      console.error(`runner: the reaper ${reason}; a crash of the runner would leave its steps running`),
  });
  const config: RunnerConfig = {
    dagsDir: resolve(options.dagsDir ?? "/app/dags"),
    workRoot: options.workRoot ?? join(tmpdir(), "dagflare-runner"),
    defaultShell: options.defaultShell || "sh",
    stepUser: options.stepUser,
    reaper,
  };
  const executions = new Map<string, Execution>();
  const expected = Buffer.from(`Bearer ${options.secret}`);

  const sweep = setInterval(() => {
    for (const [key, execution] of executions) {
      if (execution.finishedAt !== undefined && Date.now() - execution.finishedAt > KEEP_FINISHED_MS) {
        execution.remove();
        executions.delete(key);
      }
    }
  }, 60_000);
  sweep.unref();

  const server = createServer(async (request, response) => {
    try {
      const url = new URL(request.url ?? "/", "http://runner");
      if (request.method === "GET" && (url.pathname === "/ping" || url.pathname === "/"))
        return send(response, 200, { ok: true });
      const presented = Buffer.from(request.headers.authorization ?? "");
      if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
        return send(response, 401, { error: "unauthorized" });
      }
      const match = /^\/executions\/([A-Za-z0-9_-]{1,128})$/.exec(url.pathname);
      if (!match) return send(response, 404, { error: "not found" });
      const key = match[1]!;
      const wait = Math.min(Number(url.searchParams.get("wait") ?? 0) || 0, MAX_WAIT_MS);
      const offsets = [
        Number(url.searchParams.get("stdoutFrom") ?? 0) || 0,
        Number(url.searchParams.get("stderrFrom") ?? 0) || 0,
      ] as const;

      if (request.method === "PUT") {
        const text = await readBody(request);
        // Looked up only after the body is read: from here to set() nothing awaits, so two PUTs
        // of one key can't both start a process.
        let execution = executions.get(key);
        if (!execution) {
          const body = parseRequest(text);
          if (typeof body === "string") return send(response, 400, { error: body });
          execution = new Execution(key, body, config);
          executions.set(key, execution);
        }
        await settle(execution, wait, offsets);
        return send(response, 200, execution.snapshot(...offsets));
      }
      const execution = executions.get(key);
      if (!execution) return send(response, 404, { error: "no such execution" });
      if (request.method === "GET") {
        await settle(execution, wait, offsets);
        return send(response, 200, execution.snapshot(...offsets));
      }
      if (request.method === "DELETE") {
        execution.stop("cancelled");
        await settle(execution, 5_000);
        return send(response, 200, execution.snapshot(...offsets));
      }
      return send(response, 405, { error: "method not allowed" });
    } catch (error) {
      console.error("runner:", error);
      return send(response, 500, { error: "internal error" });
    }
  });

  await new Promise<void>((done) => server.listen(options.port ?? 8080, options.host ?? "0.0.0.0", done));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: async () => {
      clearInterval(sweep);
      for (const execution of executions.values()) execution.stop("cancelled");
      await Promise.all([...executions.values()].map((execution) => execution.done));
      for (const execution of executions.values()) execution.remove();
      reaper.close();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}

/**
 * Waits up to `ms` for the execution to end or, given the caller's offsets, for output past them:
 * a long poll then carries new output within about OUTPUT_CHECK_MS of its writing (logs follow
 * a running step), while a quiet step costs one poll per wait.
 */
async function settle(execution: Execution, ms: number, offsets?: readonly [number, number]): Promise<void> {
  const deadline = Date.now() + ms;
  // Output is looked at only after a first pause: a short step still answers once, when done.
  while (execution.running && Date.now() < deadline) {
    const pause = Math.min(offsets ? OUTPUT_CHECK_MS : ms, deadline - Date.now());
    await Promise.race([execution.done, new Promise<void>((done) => setTimeout(done, pause).unref())]);
    if (offsets && execution.hasOutputAfter(...offsets)) return;
  }
}

function parseRequest(text: string): ExecutionRequest | string {
  let body: Partial<ExecutionRequest>;
  try {
    body = JSON.parse(text) as Partial<ExecutionRequest>;
  } catch {
    return "body must be JSON";
  }
  if (typeof body !== "object" || body === null) return "body must be an object";
  if (body.command === undefined && body.script === undefined) return "command or script is required";
  if (typeof body.timeoutMs !== "number" || body.timeoutMs <= 0) return "timeoutMs must be a positive number";
  if (
    typeof body.env !== "object" ||
    body.env === null ||
    Object.values(body.env).some((value) => typeof value !== "string")
  ) {
    return "env must map names to strings";
  }
  const stdout = body.stdout ?? { limit: 256 * 1024, keep: "tail" };
  return { ...body, env: body.env, timeoutMs: body.timeoutMs, stdout } as ExecutionRequest;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error("request body too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  response.end(text);
}

// Run directly (`node container/runner/server.ts`): configured by the environment.
if (import.meta.main) {
  // In the container the runner is root and steps run as RUNNER_STEP_UID: a step can't read the
  // runner's environment (its secret) in /proc, nor another step's files.
  const stepUid = Number(process.env.RUNNER_STEP_UID);
  const runner = await startRunner({
    secret: process.env.RUNNER_SECRET ?? "",
    port: Number(process.env.PORT ?? 8080),
    host: process.env.HOST ?? "0.0.0.0",
    dagsDir: process.env.DAGS_DIR ?? "/app/dags",
    workRoot: process.env.WORK_DIR,
    defaultShell: process.env.SHELL,
    stepUser: process.getuid?.() === 0 && Number.isInteger(stepUid) ? { uid: stepUid, gid: stepUid } : undefined,
  });
  // The secret is only needed to authenticate requests; steps never see the runner's environment.
  Reflect.deleteProperty(process.env, "RUNNER_SECRET");
  console.log(`[runner] listening on ${runner.url}`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void runner.close().then(() => process.exit(0));
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(signal, stop);
  exitWithParent(stop);
}
