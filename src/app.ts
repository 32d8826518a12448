import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { OpenAPIObject } from "openapi3-ts/oas30";
import packageJson from "../package.json" with { type: "json" };
import { bootstrapFromSecrets } from "./auth/bootstrap.ts";
import { bodyLimit } from "./body-limit.ts";
import type { AppEnv } from "./env.ts";
import { ApiError, type ErrorBody, type ErrorCode } from "./errors.ts";
import { logger } from "./log.ts";
import { alertRoutes } from "./routes/alerts.ts";
import { apiKeyRoutes } from "./routes/api-keys.ts";
import { authRoutes } from "./routes/auth.ts";
import { dagRunRoutes } from "./routes/dag-runs.ts";
import { dagRoutes } from "./routes/dags.ts";
import { healthRoutes } from "./routes/health.ts";
import { createRouter, jsonResponse, publicRoute } from "./routes/router.ts";
import { systemRoutes } from "./routes/system.ts";
import { userRoutes } from "./routes/users.ts";
import { webhookRequestRoutes } from "./routes/webhook-requests.ts";
import { webhookRoutes } from "./routes/webhooks.ts";
import { recordTriggerAttempt } from "./webhooks/inbound-log.ts";

/** Dagu 1.x's prefix, the seed's. */
export const API_BASE = "/api/v2";
/** Dagu 2.x serves the same operations at /api/v1 (renamed in Feb 2026): one set of handlers answers both. */
export const API_BASES = [API_BASE, "/api/v1"] as const;
/** Management bodies are small (a DAG spec is at most 512 KiB); anything larger is refused unread. */
export const MAX_BODY_BYTES = 1024 * 1024;

const HTTP_EXCEPTION_CODES: Record<number, ErrorCode> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  413: "payload_too_large",
};

export const REQUEST_ID_HEADER = "X-Request-Id";
/** An incoming id is kept only if it is short and plain enough to put in a header and a log line. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,200}$/;

/**
 * Names the request: the caller's X-Request-Id when it is sane, else a fresh UUID. Set before
 * anything runs, so every response carries it, errors and 404s included.
 */
const requestId: MiddlewareHandler<AppEnv> = async function requestId(c, next) {
  const incoming = c.req.header(REQUEST_ID_HEADER);
  const id = incoming && SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
  c.set("requestId", id);
  // Before next(): responses built with c.json() (onError's too) start from these headers.
  c.header(REQUEST_ID_HEADER, id);
  await next();
  // After: a Response a handler built itself.
  if (c.res.headers.get(REQUEST_ID_HEADER) !== id) c.header(REQUEST_ID_HEADER, id);
};

const api = createRouter();
// Wraps the trigger from outside: registered before it, it sees the final answer.
api.post("/webhooks/:fileName", recordTriggerAttempt);
// Mounted one by one: chaining would make TypeScript build one huge route-type union for nothing.
for (const routes of [
  healthRoutes,
  authRoutes,
  userRoutes,
  apiKeyRoutes,
  dagRoutes,
  dagRunRoutes,
  webhookRoutes,
  webhookRequestRoutes,
  alertRoutes,
  systemRoutes,
])
  api.route("/", routes);

api.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
  type: "http",
  scheme: "bearer",
  description: "A session token from POST /auth/login, or an API key (dagu_…)",
});
api.openAPIRegistry.registerComponent("securitySchemes", "basic", {
  type: "http",
  scheme: "basic",
  description:
    "A user's username and password (Dagu's basicAuth), wherever a bearer token is accepted; failed attempts are limited per client (429)",
});
api.openAPIRegistry.registerComponent("securitySchemes", "webhookToken", {
  type: "http",
  scheme: "bearer",
  description: "A DAG's webhook token (dagu_wh_…): POST /webhooks/{fileName} only",
});

/**
 * The webhook trigger's body as the document shows it. The trigger reads its body itself (exact
 * bytes, for signatures and exact JSON), so no validator may read it first; it is described here
 * instead of in the route, where @hono/zod-openapi would validate it.
 */
const WEBHOOK_TRIGGER_BODY = {
  required: false,
  description:
    "The payload: any JSON value (an empty body is `{}`), or Dagu's envelope `{payload, dagRunId}`; a form body (application/x-www-form-urlencoded, e.g. Slack) becomes an object of its fields. At most 1 MiB (413).",
  content: {
    "application/json": {
      schema: {
        type: "object",
        additionalProperties: true,
        properties: {
          dagRunId: { type: "string", description: "Names the run; 409 if the DAG ever used it" },
          payload: { type: "object", additionalProperties: true, description: "Dagu's envelope: the payload" },
        },
      },
    },
    "application/x-www-form-urlencoded": { schema: { type: "object", additionalProperties: { type: "string" } } },
  },
} as const;

let openApiDocument: OpenAPIObject | undefined;

/** The OpenAPI document, generated from the same zod schemas that validate requests. */
export function openApi(): OpenAPIObject {
  openApiDocument ??= withWebhookBody(
    api.getOpenAPIDocument({
      openapi: "3.0.3",
      info: {
        title: "dagflare",
        version: packageJson.version,
        description:
          "Dagu-compatible API for DAG workflows on Cloudflare Workers, served at /api/v2 (Dagu 1.x) and /api/v1 (Dagu 2.x) alike.",
      },
      servers: [
        { url: API_BASE, description: "Dagu 1.x's prefix" },
        { url: "/api/v1", description: "Dagu 2.x's prefix: the same operations" },
      ],
      security: [{ bearer: [] }, { basic: [] }],
    }),
  );
  return openApiDocument;
}

function withWebhookBody(document: OpenAPIObject): OpenAPIObject {
  const trigger = document.paths["/webhooks/{fileName}"]?.post;
  if (trigger) trigger.requestBody = structuredClone(WEBHOOK_TRIGGER_BODY) as NonNullable<typeof trigger.requestBody>;
  return document;
}

const openApiRoute = publicRoute({
  method: "get",
  path: "/openapi.json",
  tags: ["system"],
  summary: "This document: the API's contract, generated from the schemas that validate requests",
  responses: { 200: jsonResponse("OpenAPI 3 document", z.record(z.string(), z.unknown())) },
});

api.openapi(openApiRoute, (c) => c.json({ ...openApi() }, 200));

export const app = createRouter().use(requestId);
for (const base of API_BASES) {
  app
    .use(`${base}/*`, bodyLimit(MAX_BODY_BYTES))
    .use(`${base}/*`, async function firstAdminFromSecrets(c, next) {
      await bootstrapFromSecrets(c.env);
      await next();
    })
    .route(base, api);
}

app.notFound((c) => {
  throw new ApiError("not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`);
});

app.onError((error, c) => {
  const withId = (body: ErrorBody): ErrorBody => ({ ...body, requestId: c.get("requestId") });
  if (error instanceof ApiError) return c.json(withId(error.toBody()), error.status, error.headers);
  if (error instanceof HTTPException && error.status >= 400 && error.status < 500) {
    // Hono's own 4xx, e.g. "Malformed JSON in request body" or 415 from the JSON validator.
    const code = HTTP_EXCEPTION_CODES[error.status] ?? "bad_request";
    const message = error.status === 415 ? "send the body as JSON (Content-Type: application/json)" : error.message;
    return c.json(withId({ code, message: message || code }), error.status);
  }
  logger(c).error("unhandled error", { method: c.req.method, path: new URL(c.req.url).pathname, error });
  return c.json(withId({ code: "internal_error", message: "internal error" }), 500);
});
