import { env } from "cloudflare:workers";
import { expect, vi } from "vitest";
import { issueSession, signingKey } from "../../src/auth/jwt.ts";
import { hashSecret } from "../../src/auth/passwords.ts";
import { insertUser } from "../../src/db/users.ts";
import type { Role } from "../../src/domain/roles.ts";
import type { StepInvocation, StepOutcome } from "../../src/domain/run.ts";
import { RUN_STATUS } from "../../src/domain/status.ts";
import type { HandOff } from "../../src/executors/executor.ts";
import { execute } from "../../src/executors/index.ts";
import type { LogLevel } from "../../src/log.ts";
import type { paths } from "../../ui/src/api/schema";

import { until } from "../until.ts";
import { API_BASE_URL, api, ok, type Schemas, sendToWorker } from "./api-client.ts";

export { type ApiClient, api, ok, type Schemas } from "./api-client.ts";
export { until };

/** What `call()` got back: the body is parsed JSON (or the text when it isn't JSON), not yet checked. */
export type ApiResult = { status: number; body: unknown; headers: Headers };

export type CallOptions = {
  token?: string;
  body?: unknown;
  /** Sent as-is instead of JSON-encoding `body`. */
  rawBody?: BodyInit;
  headers?: Record<string, string>;
  /** Bindings that differ from the test defaults, e.g. `{ AUTH_MODE: "none" }`. */
  env?: Partial<Cloudflare.Env>;
};

/**
 * One raw request through the Worker's fetch handler, for what the typed client (`api()`) can't
 * send: malformed JSON, wrong types or unknown fields on purpose, other content types, exact
 * bytes for signatures, oversized bodies, and paths or methods the API doesn't have.
 */
export async function call(method: string, path: string, options: CallOptions = {}): Promise<ApiResult> {
  const headers = new Headers(options.headers);
  if (options.token) headers.set("Authorization", `Bearer ${options.token}`);
  let body: BodyInit | undefined = options.rawBody;
  if (body === undefined && options.body !== undefined) {
    body = JSON.stringify(options.body);
    if (!headers.has("Content-Type")) headers.set("Content-Type", "application/json");
  }
  const request = new Request(`${API_BASE_URL}${path}`, { method, headers, body });
  const response = await sendToWorker(request, options.env);
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

type Envelope = Schemas["Error"];

function isEnvelope(value: unknown): value is Envelope {
  if (typeof value !== "object" || value === null) return false;
  const { code, message } = value as Record<string, unknown>;
  return typeof code === "string" && typeof message === "string";
}

/**
 * Asserts a `call()` result or a typed client's outcome is the error envelope with this status
 * and code, and returns the envelope.
 */
export function expectEnvelope(
  result: ApiResult | { response: Response; error?: unknown },
  status: number,
  code: string,
): Envelope {
  const [actualStatus, body] =
    "response" in result ? [result.response.status, result.error] : [result.status, result.body];
  if (actualStatus !== status || !isEnvelope(body) || body.code !== code) {
    throw new Error(`expected ${status} ${code}, got ${actualStatus} ${JSON.stringify(body)}`);
  }
  return body;
}

/** The value at `keys` inside parsed JSON; fails when a step on the way is not an object holding the next key. */
export function at(value: unknown, ...keys: string[]): unknown {
  let current = value;
  for (const key of keys) {
    if (typeof current !== "object" || current === null || !(key in current))
      throw new Error(`no ${keys.join(".")} in ${JSON.stringify(value)?.slice(0, 500)}`);
    current = Reflect.get(current, key);
  }
  return current;
}

/** A field of a `call()` body that must be a string (a token, a run id…). */
export function stringField(result: ApiResult, field: string): string {
  const value = typeof result.body === "object" && result.body !== null ? Reflect.get(result.body, field) : undefined;
  if (typeof value !== "string")
    throw new Error(`no string ${field} in ${result.status} ${JSON.stringify(result.body)}`);
  return value;
}

export type RunDetails = Schemas["DAGRunDetails"];
export type RunNode = Schemas["Node"];

const FINISHED: ReadonlySet<number> = new Set([
  RUN_STATUS.failed,
  RUN_STATUS.aborted,
  RUN_STATUS.succeeded,
  RUN_STATUS.partially_succeeded,
]);

/** Polls a run's details until it has finished (the queue consumer runs in the background). */
export async function waitForRun(token: string, dag: string, runId: string, timeoutMs = 10_000): Promise<RunDetails> {
  const client = api(token);
  let last: RunDetails | undefined;
  try {
    return await until(async () => {
      const { dagRunDetails } = await ok(
        client.GET("/dag-runs/{name}/{dagRunId}", { params: { path: { name: dag, dagRunId: runId } } }),
      );
      last = dagRunDetails;
      return FINISHED.has(dagRunDetails.status) ? dagRunDetails : undefined;
    }, timeoutMs);
  } catch (error) {
    if (last) throw new Error(`run ${runId} did not finish: ${JSON.stringify(last)}`);
    throw error;
  }
}

/** Creates a DAG from a spec and starts it; returns the run id. */
export async function createAndStart(token: string, dag: string, spec: string, body: StartBody = {}): Promise<string> {
  const client = api(token);
  await ok(client.POST("/dags", { body: { name: dag, spec } }), 201);
  const started = await ok(client.POST("/dags/{fileName}/start", { params: { path: { fileName: dag } }, body }));
  return started.dagRunId;
}

export type StartBody = NonNullable<
  paths["/dags/{fileName}/start"]["post"]["requestBody"]
>["content"]["application/json"];

/** The step called `name` of a run (its `nodes`); fails when there is none. */
export function nodeOf(run: { nodes: RunNode[] }, name: string): RunNode {
  const node = run.nodes.find((candidate) => candidate.step.name === name);
  if (!node) throw new Error(`no step ${name} in ${JSON.stringify(run.nodes.map((each) => each.step.name))}`);
  return node;
}

/** Runs a step attempt (`echo hi`, unless overridden) through the executors as if no step runner were configured. */
export function runWithoutRunner(overrides: Partial<StepInvocation> = {}): Promise<StepOutcome | HandOff> {
  const context = {
    // No runner of either kind: the dev environment binds RUNNER too (never started there).
    env: { ...env, RUNNER_URL: "", RUNNER: undefined } as Omit<Cloudflare.Env, "RUNNER"> as Cloudflare.Env,
    handOffAt: Date.now() + 1000,
    progress: async () => true,
    fence: new AbortController().signal,
  };
  const invocation: StepInvocation = {
    dagId: "d",
    runId: "r",
    step: "s",
    attempt: 1,
    executor: "command",
    command: "echo hi",
    script: undefined,
    shell: undefined,
    dir: undefined,
    config: {},
    env: {},
    timeoutMs: 1000,
    stdoutCapture: { limit: 10, keep: "tail" },
    ...overrides,
  };
  return execute(invocation, context);
}

/** One of the Worker's log lines (src/log.ts), as a test expects it: its level, message and some fields. */
export type ExpectedLog = { level: LogLevel; msg: string } & Record<string, unknown>;

/**
 * Runs `action`, which makes the Worker log the `expected` lines (a failure the test provokes on
 * purpose), and checks each was written. Those lines stay out of the test output; every other
 * line is printed as usual.
 */
export async function expectLogged<T>(expected: readonly ExpectedLog[], action: () => Promise<T>): Promise<T> {
  const written: Record<string, unknown>[] = [];
  const isExpected = (entry: Record<string, unknown>) =>
    expected.some((line) => line.level === entry.level && line.msg === entry.msg);
  const spies = (["log", "warn", "error"] as const).map((method) => {
    const print = console[method].bind(console);
    return vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      const entry = args.length === 1 && typeof args[0] === "string" ? parseLogLine(args[0]) : undefined;
      if (entry && isExpected(entry)) written.push(entry);
      else print(...args);
    });
  });
  try {
    const result = await action();
    for (const line of expected) expect(written).toContainEqual(expect.objectContaining(line));
    return result;
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

function parseLogLine(line: string): Record<string, unknown> | undefined {
  try {
    const entry: unknown = JSON.parse(line);
    return typeof entry === "object" && entry !== null ? (entry as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Waits for the next clock window of `windowMs` when less than `roomMs` of the current one is
 * left: what a test sends next then falls in one window of a limit that counts per clock window
 * (Miniflare's rate limiter counts per `floor(now / period)`, the alert throttle per aligned
 * window), where a burst straddling two windows would get through twice the limit.
 */
export async function windowWithRoom(windowMs: number, roomMs: number): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < roomMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}
