/**
 * Webhooks, as Dagu's `/api/v2` has them: one DAG-specific trigger token per DAG, managed by
 * admins, and `POST /webhooks/{fileName}` for the outside world (see ../auth/webhook-tokens.ts
 * for how tokens are checked without bcrypt).
 */
import { z } from "@hono/zod-openapi";
import { authMode } from "../auth/middleware.ts";
import { recordUse } from "../auth/last-used.ts";
import { hashSecret } from "../auth/passwords.ts";
import { bearerWebhookToken, checkToken, isRecentFailure, recordFailure, refuseIfBlocked, tokenDigest } from "../auth/webhook-tokens.ts";
import { startRun } from "../coordinator/index.ts";
import { findDag } from "../db/dags.ts";
import { now } from "../db/time.ts";
import {
  deleteWebhook,
  findTriggerTarget,
  findWebhookOfDag,
  insertWebhook,
  listWebhooks,
  renewDigest,
  replaceToken,
  setWebhookEnabled,
  type TokenFields,
  toWebhook,
  type WebhookWithDag,
} from "../db/webhooks.ts";
import { JsonTextError } from "../domain/json-text.ts";
import { RUN_ID_PATTERN } from "../domain/run.ts";
import { displayPrefix, generateSecret, WEBHOOK_TOKEN_PREFIX } from "../domain/secrets.ts";
import { readWebhookBody } from "../domain/webhook-body.ts";
import { ApiError, notFound } from "../errors.ts";
import { createRouter, errorResponse, jsonBody, jsonResponse, publicRoute, roleRoute } from "./router.ts";
import { FileNameParam } from "./schemas.ts";

/** lastUsedAt is written at most once a second per webhook and isolate, after the response. */
const LAST_USED_RESOLUTION_MS = 1_000;

const WebhookSchema = z
  .object({
    id: z.string().uuid(),
    dagName: z.string(),
    tokenPrefix: z.string().openapi({ description: "The token's first 12 characters (dagu_wh_ and 4 more)" }),
    enabled: z.boolean(),
    createdAt: z.string(),
    updatedAt: z.string(),
    createdBy: z.string().openapi({ description: "Id of the user (or API key) that created it" }),
    lastUsedAt: z.string().optional(),
  })
  .openapi("WebhookDetails");

const WithToken = z
  .object({ webhook: WebhookSchema, token: z.string().openapi({ description: "The full token: shown in this response only" }) })
  .openapi("WebhookCreateResponse");

const manage = <R extends Parameters<typeof roleRoute>[1]>(config: R) => roleRoute("admin", { ...config, tags: ["webhooks"] }, { builtinAuthOnly: true });

const list = manage({
  method: "get",
  path: "/webhooks",
  summary: "List every DAG's webhook (never the tokens)",
  responses: { 200: jsonResponse("Webhooks", z.object({ webhooks: z.array(WebhookSchema) }).openapi("WebhookListResponse")) },
});

const get = manage({
  method: "get",
  path: "/dags/{fileName}/webhook",
  summary: "The DAG's webhook",
  request: { params: FileNameParam },
  responses: { 200: jsonResponse("The webhook", WebhookSchema), 404: errorResponse("No such DAG, or it has no webhook") },
});

const create = manage({
  method: "post",
  path: "/dags/{fileName}/webhook",
  summary: "Create the DAG's webhook; the token is in this response only",
  request: { params: FileNameParam },
  responses: {
    201: jsonResponse("Created", WithToken),
    404: errorResponse("No such DAG"),
    409: errorResponse("The DAG already has a webhook"),
  },
});

const remove = manage({
  method: "delete",
  path: "/dags/{fileName}/webhook",
  summary: "Delete the DAG's webhook; its token stops working at once",
  request: { params: FileNameParam },
  responses: { 204: { description: "Deleted" }, 404: errorResponse("No such DAG, or it has no webhook") },
});

const regenerate = manage({
  method: "post",
  path: "/dags/{fileName}/webhook/regenerate",
  summary: "Replace the token; the old one stops working at once, the new one is in this response only",
  request: { params: FileNameParam },
  responses: { 200: jsonResponse("The new token", WithToken), 404: errorResponse("No such DAG, or it has no webhook") },
});

const toggle = manage({
  method: "post",
  path: "/dags/{fileName}/webhook/toggle",
  summary: "Enable or disable the webhook without changing its token",
  request: { params: FileNameParam, body: jsonBody(z.strictObject({ enabled: z.boolean() }).openapi("WebhookToggleRequest")) },
  responses: { 200: jsonResponse("The webhook", WebhookSchema), 404: errorResponse("No such DAG, or it has no webhook") },
});

const trigger = publicRoute({
  method: "post",
  path: "/webhooks/{fileName}",
  tags: ["webhooks"],
  summary: "Start a run of the DAG with its webhook token",
  description: `Authenticated by \`Authorization: Bearer dagu_wh_…\`, the DAG's webhook token (not a session or API key).

The JSON body is the payload, available to steps as \`WEBHOOK_PAYLOAD\` (exact JSON) and \`\${WEBHOOK_PAYLOAD.path}\`.
A body whose only keys are \`payload\` and \`dagRunId\` is Dagu's envelope: then \`payload\` is the payload.
A string \`dagRunId\` at the top level names the run (409 if the DAG ever used it). An empty body is \`{}\`.`,
  security: [{ webhookToken: [] }],
  request: { params: FileNameParam },
  responses: {
    200: jsonResponse("Started or queued", z.object({ dagRunId: z.string(), dagName: z.string() }).openapi("WebhookResponse")),
    401: errorResponse("Missing or wrong token, or no such DAG or webhook (one answer for all)"),
    403: errorResponse("The webhook is disabled"),
    404: errorResponse("AUTH_MODE is none: webhooks are off"),
    409: errorResponse("The dagRunId was used before"),
    413: errorResponse("Body over 1 MiB"),
    429: errorResponse("Too many failed attempts from this client; see Retry-After"),
  },
});

export const webhookRoutes = createRouter()
  .openapi(list, async (c) => c.json({ webhooks: (await listWebhooks(c.env.DB)).map(toWebhook) }, 200))
  .openapi(get, async (c) => c.json(toWebhook(await requireWebhook(c.env.DB, c.req.valid("param").fileName)), 200))
  .openapi(create, async (c) => {
    const { fileName } = c.req.valid("param");
    const { token, fields } = await newToken(c.env);
    const created = await insertWebhook(c.env.DB, fileName, fields, c.get("principal").id, now());
    if (!created) {
      if (!(await findDag(c.env.DB, fileName))) throw notFound(`DAG '${fileName}'`);
      throw new ApiError("already_exists", `DAG '${fileName}' already has a webhook; regenerate its token instead`);
    }
    return c.json({ webhook: toWebhook(created), token }, 201);
  })
  .openapi(remove, async (c) => {
    const webhook = await requireWebhook(c.env.DB, c.req.valid("param").fileName);
    await deleteWebhook(c.env.DB, webhook.id);
    return c.body(null, 204);
  })
  .openapi(regenerate, async (c) => {
    const { fileName } = c.req.valid("param");
    const webhook = await requireWebhook(c.env.DB, fileName);
    const { token, fields } = await newToken(c.env);
    await replaceToken(c.env.DB, webhook.id, fields, now());
    return c.json({ webhook: toWebhook(await requireWebhook(c.env.DB, fileName)), token }, 200);
  })
  .openapi(toggle, async (c) => {
    const { fileName } = c.req.valid("param");
    const webhook = await requireWebhook(c.env.DB, fileName);
    await setWebhookEnabled(c.env.DB, webhook.id, c.req.valid("json").enabled, now());
    return c.json(toWebhook(await requireWebhook(c.env.DB, fileName)), 200);
  })
  .openapi(trigger, async (c) => {
    if (authMode(c.env) !== "builtin") throw notFound("webhooks are off (AUTH_MODE=none)");
    const { fileName } = c.req.valid("param");
    const client = `${c.req.header("CF-Connecting-IP") ?? "unknown"}\n${fileName}`;
    // Read (and size-check: 413) before any token work; parsed only once the token is good.
    const body = await c.req.text();
    refuseIfBlocked(client);

    const token = bearerWebhookToken(c.req.header("Authorization"));
    if (!token) {
      await recordFailure(c.env, client, fileName, undefined);
      throw new ApiError("unauthorized", "send the DAG's webhook token: 'Authorization: Bearer dagu_wh_…'");
    }
    const digest = await tokenDigest(c.env, token);
    const target = isRecentFailure(fileName, digest) ? null : await findTriggerTarget(c.env.DB, fileName);
    const check = target ? await checkToken(c.env, target, token, digest) : { valid: false as const };
    if (!target || !check.valid) {
      await recordFailure(c.env, client, fileName, digest);
      // The same answer for a wrong token, another DAG's token, an unknown DAG and a DAG without a webhook.
      throw new ApiError("unauthorized", "invalid webhook token for this DAG");
    }
    if (check.renewedDigest) c.executionCtx.waitUntil(renewDigest(c.env.DB, target.id, target.token_digest, check.renewedDigest));
    if (target.enabled !== 1) throw new ApiError("forbidden", `the webhook of DAG '${fileName}' is disabled`);

    const { payload, dagRunId } = readBody(body);
    const runId = await startRun(c.env, { id: target.dag_id, name: target.dag_name, spec: target.spec }, {
      runId: dagRunId,
      payload,
      trigger: "webhook",
      triggeredBy: `webhook:${target.token_prefix}`,
    });
    recordUse(c, "webhooks", target.id, LAST_USED_RESOLUTION_MS);
    return c.json({ dagRunId: runId, dagName: target.dag_name }, 200);
  });

/** A fresh token and what is stored of it: the prefix, a bcrypt hash and the keyed digest. */
async function newToken(env: Cloudflare.Env): Promise<{ token: string; fields: TokenFields }> {
  const token = generateSecret(WEBHOOK_TOKEN_PREFIX);
  const [hash, digest] = await Promise.all([hashSecret(token), tokenDigest(env, token)]);
  return { token, fields: { prefix: displayPrefix(token), hash, digest } };
}

async function requireWebhook(db: D1Database, dagName: string): Promise<WebhookWithDag> {
  const webhook = await findWebhookOfDag(db, dagName);
  if (webhook) return webhook;
  if (!(await findDag(db, dagName))) throw notFound(`DAG '${dagName}'`);
  throw notFound(`webhook of DAG '${dagName}'`);
}

function readBody(text: string) {
  let body;
  try {
    body = readWebhookBody(text);
  } catch (error) {
    if (error instanceof JsonTextError) throw new ApiError("bad_request", `the body must be JSON: ${error.message}`);
    throw error;
  }
  if (body.dagRunId !== undefined && !RUN_ID_PATTERN.test(body.dagRunId)) {
    throw new ApiError("bad_request", "dagRunId must match ^[a-zA-Z0-9_-]+$ and be at most 64 characters");
  }
  return body;
}
