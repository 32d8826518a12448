import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { issueSession, signingKey } from "../../src/auth/jwt.ts";
import { hashSecret } from "../../src/auth/passwords.ts";
import { insertUser } from "../../src/db/users.ts";
import type { Role } from "../../src/domain/roles.ts";
import type { StepOutcome } from "../../src/domain/run.ts";
import { commandExecutor } from "../../src/executors/command.ts";
import type { HandOff } from "../../src/executors/executor.ts";
import worker from "../../src/index.ts";

export { until } from "../until.ts";

export type ApiResult = { status: number; body: any; headers: Headers };

export type CallOptions = {
  token?: string;
  body?: unknown;
  /** Sent as-is instead of JSON-encoding `body`. */
  rawBody?: BodyInit;
  headers?: Record<string, string>;
  /** Bindings that differ from the test defaults, e.g. `{ AUTH_MODE: "none" }`. */
  env?: Partial<Cloudflare.Env>;
};

/** One request through the Worker's fetch handler, with the real local D1. */
export async function call(method: string, path: string, options: CallOptions = {}): Promise<ApiResult> {
  const headers = new Headers(options.headers);
  if (options.token) headers.set("Authorization", `Bearer ${options.token}`);
  let body: BodyInit | undefined = options.rawBody;
  if (body === undefined && options.body !== undefined) {
    body = JSON.stringify(options.body);
    if (!headers.has("Content-Type")) headers.set("Content-Type", "application/json");
  }
  const request = new Request(`http://dagflare.test/api/v2${path}`, { method, headers, body });
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, { ...env, ...options.env } as Cloudflare.Env, ctx);
  await waitOnExecutionContext(ctx);
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

let counter = 0;
/** A name no other test uses (tests share one D1 per file). */
export function unique(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}`;
}

let knownHash: Promise<string> | undefined;
export const TEST_PASSWORD = "correct horse battery";

/** A user of `role` with password TEST_PASSWORD, and a session token for it. */
export async function userWithRole(role: Role): Promise<{ id: string; username: string; token: string }> {
  knownHash ??= hashSecret(TEST_PASSWORD);
  const id = crypto.randomUUID();
  const username = unique(role);
  await insertUser(env.DB, { id, username, passwordHash: await knownHash, role, at: new Date().toISOString() });
  const { token } = await issueSession(signingKey(env), { userId: id, tokenVersion: 1 });
  return { id, username, token };
}

export function expectEnvelope(result: ApiResult, status: number, code: string): void {
  if (result.status !== status || result.body?.code !== code || typeof result.body?.message !== "string") {
    throw new Error(`expected ${status} ${code}, got ${result.status} ${JSON.stringify(result.body)}`);
  }
}

const FINISHED = new Set([2, 3, 4, 6]);

/** Polls a run's details until it has finished (the queue consumer runs in the background). */
export async function waitForRun(token: string, dag: string, runId: string, timeoutMs = 10_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await call("GET", `/dag-runs/${dag}/${runId}`, { token });
    if (result.status !== 200) throw new Error(`run details: ${result.status} ${JSON.stringify(result.body)}`);
    if (FINISHED.has(result.body.dagRunDetails.status)) return result.body.dagRunDetails;
    if (Date.now() > deadline)
      throw new Error(`run ${runId} did not finish: ${JSON.stringify(result.body.dagRunDetails)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Creates a DAG from a spec and starts it; returns the run id. */
export async function createAndStart(
  token: string,
  dag: string,
  spec: string,
  body: Record<string, unknown> = {},
): Promise<string> {
  const created = await call("POST", "/dags", { token, body: { name: dag, spec } });
  if (created.status !== 201) throw new Error(`create ${dag}: ${created.status} ${JSON.stringify(created.body)}`);
  const started = await call("POST", `/dags/${dag}/start`, { token, body });
  if (started.status !== 200) throw new Error(`start ${dag}: ${started.status} ${JSON.stringify(started.body)}`);
  return started.body.dagRunId as string;
}

export const nodeOf = (run: any, name: string) => run.nodes.find((node: any) => node.step.name === name);

/** Runs `echo hi` through the command executor as if no step runner were configured. */
export function runCommandWithoutRunner(): Promise<StepOutcome | HandOff> {
  const context = {
    env: { ...env, RUNNER_URL: "", RUNNER: undefined } as Cloudflare.Env,
    handOffAt: Date.now() + 1000,
    progress: async () => true,
  };
  const invocation = {
    dagId: "d",
    runId: "r",
    step: "s",
    attempt: 1,
    executor: "command" as const,
    command: "echo hi",
    script: undefined,
    shell: undefined,
    dir: undefined,
    config: {},
    env: {},
    timeoutMs: 1000,
    stdoutCapture: { limit: 10, keep: "tail" as const },
  };
  return commandExecutor.run(invocation, AbortSignal.timeout(1000), context);
}
