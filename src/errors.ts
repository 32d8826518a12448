/**
 * The one error envelope of the API, `{"code", "message", "details"?, "requestId"?}`, with Dagu's
 * codes. Handlers and middleware throw `ApiError`; the root app's onError (src/app.ts) turns it,
 * Hono's own 4xx and any unknown error into the envelope.
 */
import { z } from "@hono/zod-openapi";

/** The closed list of codes, listed in the OpenAPI document; each always answers with one HTTP status. */
export const ErrorCodeSchema = z
  .enum([
    "bad_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "already_exists",
    "not_running",
    "payload_too_large",
    "too_many_requests",
    "internal_error",
    "not_implemented",
    "service_unavailable",
  ])
  .openapi("ErrorCode");

export type ErrorCode = z.infer<typeof ErrorCodeSchema>;

export const ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  already_exists: 409,
  not_running: 400,
  payload_too_large: 413,
  too_many_requests: 429,
  internal_error: 500,
  not_implemented: 501,
  service_unavailable: 503,
} as const satisfies Record<ErrorCode, number>;

export type ErrorBody = {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  requestId?: string;
};

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  /** Response headers that belong to the error, such as a 429's Retry-After. */
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    message: string,
    details?: Record<string, unknown>,
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.details = details;
    this.headers = headers;
  }

  get status(): (typeof ERROR_STATUS)[ErrorCode] {
    return ERROR_STATUS[this.code];
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export const notFound = (what: string): ApiError => new ApiError("not_found", `${what} not found`);
