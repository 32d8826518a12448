import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { issueSession, signingKey } from "../../src/auth/jwt.ts";
import { hashSecret } from "../../src/auth/passwords.ts";
import { insertUser } from "../../src/db/users.ts";
import type { Role } from "../../src/domain/roles.ts";
import worker from "../../src/index.ts";

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
