/**
 * The API as the UI calls it: openapi-fetch with the UI's generated `paths`, so request paths,
 * params, bodies and response bodies are checked against the Worker's OpenAPI document. Each
 * request goes through the Worker's own fetch handler with the real local D1, DOs and Queues.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import createClient, { type Client } from "openapi-fetch";
import worker from "../../src/index.ts";
import type { components, paths } from "../../ui/src/api/schema";

export type Schemas = components["schemas"];
export type ApiClient = Client<paths>;

export const API_BASE_URL = "http://dagflare.test/api/v2";

/** Hands a request to the Worker's fetch handler and waits for what it left running (waitUntil). */
export async function sendToWorker(request: Request, overrides: Partial<Cloudflare.Env> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, { ...env, ...overrides } as Cloudflare.Env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

/**
 * A typed client that calls as the holder of `token` (a session or an API key; none for public
 * routes), with `overrides` for bindings that differ from the test defaults, e.g. `{ AUTH_MODE: "none" }`.
 */
export function api(token?: string, overrides?: Partial<Cloudflare.Env>): ApiClient {
  return createClient<paths>({
    baseUrl: API_BASE_URL,
    ...(token ? { headers: { Authorization: `Bearer ${token}` } } : {}),
    fetch: (request) => sendToWorker(request, overrides),
  });
}

/** What every openapi-fetch call resolves to. */
type Outcome<T> = { data?: T; error?: unknown; response: Response };

/** The body of a call that must answer `status` (200 unless said); anything else fails with what came back. */
export async function ok<T>(call: Promise<Outcome<T>>, status = 200): Promise<T> {
  const { data, error, response } = await call;
  if (response.status !== status)
    throw new Error(`expected ${status}, got ${response.status} ${JSON.stringify(error ?? data)}`);
  return data as T;
}
