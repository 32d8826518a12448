/**
 * The typed API client: paths, bodies and responses come from schema.d.ts, which `npm run ui:api`
 * generates from the Worker's OpenAPI document. Nothing here restates the API by hand.
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Role = Schemas["UserRole"];

/** The JSON body of a route's 200 response, e.g. `Ok<"/dags/{fileName}", "get">`. */
export type Ok<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  responses: { 200: { content: { "application/json": infer T } } };
}
  ? T
  : never;

export const API_BASE = "/api/v2";

/** A failed call, with the server's error envelope ({code, message, details}). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

let sessionToken: string | null = null;
let onUnauthorized: () => void = () => undefined;

export function setSessionToken(token: string | null): void {
  sessionToken = token;
}

/** Called when the server says the session is no longer valid (expired, password changed). */
export function handleUnauthorized(callback: () => void): void {
  onUnauthorized = callback;
}

const CREDENTIAL_CHECKS = ["/auth/login", "/auth/change-password"];

const authenticate: Middleware = {
  onRequest({ request }) {
    if (sessionToken) request.headers.set("Authorization", `Bearer ${sessionToken}`);
    return request;
  },
  onResponse({ request, response }) {
    // There a 401 means a wrong password, not an ended session.
    const checksPassword = CREDENTIAL_CHECKS.some((path) => new URL(request.url).pathname.endsWith(path));
    if (response.status === 401 && sessionToken && !checksPassword) onUnauthorized();
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: API_BASE });
api.use(authenticate);

type Outcome<T> = { data?: T; error?: unknown; response: Response };

/** The response body of a successful call; any other outcome throws an ApiFailure. */
export async function must<T>(call: Promise<Outcome<T>>): Promise<T> {
  let outcome: Outcome<T>;
  try {
    outcome = await call;
  } catch (cause) {
    throw new ApiFailure(
      0,
      "network",
      `The server could not be reached (${cause instanceof Error ? cause.message : String(cause)})`,
    );
  }
  const { data, error, response } = outcome;
  if (response.ok) return data as T;
  const envelope = isEnvelope(error) ? error : undefined;
  throw new ApiFailure(
    response.status,
    envelope?.code ?? "http_error",
    envelope?.message ?? `${response.status} ${response.statusText || "error"}`,
    envelope?.details,
  );
}

function isEnvelope(value: unknown): value is Schemas["Error"] {
  return typeof value === "object" && value !== null && typeof (value as { message?: unknown }).message === "string";
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
