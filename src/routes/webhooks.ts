/**
 * Webhooks, as Dagu's `/api/v2` has them: one DAG-specific trigger token per DAG, managed by
 * admins, and `POST /webhooks/{fileName}` for the outside world (see ../auth/webhook-tokens.ts
 * for how tokens are checked without bcrypt).
 */
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { decrypt, encrypt } from "../auth/encryption.ts";
import { recordUse } from "../auth/last-used.ts";
import { authMode } from "../auth/middleware.ts";
import { hashSecret } from "../auth/passwords.ts";
import {
  type DaguSignatureCheck,
  generateDaguHmacSecret,
  generateSigningSecret,
  SIGNATURE_HEADERS,
  SIGNATURE_SCHEMES,
  type SignatureScheme,
  verifyDaguSignature,
  verifySignature,
} from "../auth/webhook-signatures.ts";
import {
  bearerWebhookToken,
  checkToken,
  isRecentFailure,
  recordFailure,
  refuseIfBlocked,
  tokenDigest,
} from "../auth/webhook-tokens.ts";
import { startRunDecidedOn } from "../coordinator/index.ts";
import { findDag } from "../db/dags.ts";
import { now } from "../db/time.ts";
import {
  allowedIpsOf,
  clearHmac,
  clearSignature,
  type DaguHmacMode,
  deleteWebhook,
  findTriggerTarget,
  findWebhookOfDag,
  type HmacEnforcement,
  insertWebhook,
  listWebhooks,
  renewDigest,
  replaceToken,
  setAllowedIps,
  setHmac,
  setSignature,
  setWebhookEnabled,
  type TokenFields,
  type TriggerTarget,
  type TriggerVersion,
  type WebhookWithDag,
} from "../db/webhooks.ts";
import { latencyLab, TRIGGER_PATH_HEADER } from "../dev/latency.ts";
import { ipAllowed, MAX_ALLOWED_IPS, parseCidr } from "../domain/ip-allowlist.ts";
import { validatePayload } from "../domain/json-schema.ts";
import { JsonTextError } from "../domain/json-text.ts";
import { RUN_ID_PATTERN, RUN_ID_RULE, type StartRequest } from "../domain/run.ts";
import { displayPrefix, generateSecret, WEBHOOK_TOKEN_PREFIX } from "../domain/secrets.ts";
import { readWebhookBody, WEBHOOK_MAX_PAYLOAD_BYTES } from "../domain/webhook-body.ts";
import type { AppEnv } from "../env.ts";
import { ApiError, notFound } from "../errors.ts";
import { logger } from "../log.ts";
import { acceptedEntry } from "../webhooks/inbound-log.ts";
import { forget, remember, targetCopy } from "../webhooks/trigger-targets.ts";
import { createRouter, errorResponse, jsonBody, jsonResponse, publicRoute, roleRoute } from "./router.ts";
import { FileNameParam } from "./schemas.ts";
import { webhookView } from "./views/webhook.ts";

/** lastUsedAt is written at most once a second per webhook and isolate, after the response. */
const LAST_USED_RESOLUTION_MS = 1_000;

/** A trigger that starts no run: a GitHub ping, or an event the DAG doesn't take. */
const NoRun = z
  .object({ status: z.enum(["pong", "ignored"]), message: z.string(), dagName: z.string() })
  .openapi("WebhookNoRunResponse");

const DAGU_HMAC_MODES = ["token_and_hmac", "hmac_only"] as const;
const HMAC_ENFORCEMENTS = ["strict", "observe"] as const;

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
    authMode: z.enum(["token", "token_or_signature", "signature", ...DAGU_HMAC_MODES]).openapi({
      description:
        "How triggers authenticate: `token` (Dagu's token_only), Dagu 2.x's `token_and_hmac` / `hmac_only` (X-Dagu-Signature), or dagflare's signed senders `token_or_signature` / `signature`",
    }),
    hmac: z
      .object({
        enabled: z.boolean(),
        secretConfigured: z.boolean(),
        enforcementMode: z.enum(HMAC_ENFORCEMENTS).optional(),
        algorithm: z.literal("HMAC-SHA256").optional(),
        headerName: z.literal("X-Dagu-Signature").optional(),
        format: z.literal("sha256=<hex>").optional(),
        updatedAt: z.string().optional().openapi({ description: "When the HMAC secret was last generated" }),
      })
      .openapi("WebhookHMACDetails", { description: "Dagu 2.x's HMAC settings (never the secret)" }),
    signature: z
      .object({ scheme: z.enum(SIGNATURE_SCHEMES), updatedAt: z.string() })
      .nullable()
      .openapi({ description: "dagflare: the signed-sender scheme (never its secret)" }),
    allowedIps: z
      .array(z.string())
      .openapi({ description: "dagflare: CIDRs a trigger's CF-Connecting-IP must be in; empty admits every address" }),
  })
  .openapi("WebhookDetails");

const WithHmacSecret = z
  .object({
    webhook: WebhookSchema,
    hmacSecret: z
      .string()
      .openapi({ description: "The HMAC secret for X-Dagu-Signature: shown in this response only" }),
  })
  .openapi("WebhookHMACSecretResponse");

const HmacSettings = z
  .strictObject({
    authMode: z.enum(DAGU_HMAC_MODES),
    enforcementMode: z.enum(HMAC_ENFORCEMENTS).optional().openapi({
      description:
        "strict (default) refuses a missing or wrong signature; observe logs it and accepts (token_and_hmac only)",
    }),
  })
  .openapi("WebhookHMACConfigureRequest");

const WithSigningSecret = z
  .object({
    webhook: WebhookSchema,
    signingSecret: z.string().optional().openapi({
      description: "The new signing secret: shown in this response only (not for Slack, whose secret Slack owns)",
    }),
  })
  .openapi("WebhookSignatureResponse");

const WithToken = z
  .object({
    webhook: WebhookSchema,
    token: z.string().openapi({ description: "The full token: shown in this response only" }),
  })
  .openapi("WebhookCreateResponse");

const manage = <R extends Parameters<typeof roleRoute>[1]>(config: R) =>
  roleRoute("admin", { ...config, tags: ["webhooks"] }, { builtinAuthOnly: true });

const list = manage({
  method: "get",
  path: "/webhooks",
  summary: "List every DAG's webhook (never the tokens)",
  responses: {
    200: jsonResponse("Webhooks", z.object({ webhooks: z.array(WebhookSchema) }).openapi("WebhookListResponse")),
  },
});

const get = manage({
  method: "get",
  path: "/dags/{fileName}/webhook",
  summary: "The DAG's webhook",
  request: { params: FileNameParam },
  responses: {
    200: jsonResponse("The webhook", WebhookSchema),
    404: errorResponse("No such DAG, or it has no webhook"),
  },
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
  request: {
    params: FileNameParam,
    body: jsonBody(z.strictObject({ enabled: z.boolean() }).openapi("WebhookToggleRequest")),
  },
  responses: {
    200: jsonResponse("The webhook", WebhookSchema),
    404: errorResponse("No such DAG, or it has no webhook"),
  },
});

const configureSignature = manage({
  method: "put",
  path: "/dags/{fileName}/webhook/signature",
  summary: "Accept signed requests (GitHub, Slack, Standard Webhooks) with or instead of the token",
  request: {
    params: FileNameParam,
    body: jsonBody(
      z.strictObject({
        scheme: z.enum(SIGNATURE_SCHEMES),
        authMode: z.enum(["token_or_signature", "signature"]).default("token_or_signature"),
        secret: z
          .string()
          .min(16)
          .max(256)
          .optional()
          .openapi({ description: "Slack only: the app's signing secret (the others are generated)" }),
      }),
    ),
  },
  responses: {
    200: jsonResponse("Configured", WithSigningSecret),
    404: errorResponse("No such DAG, or it has no webhook"),
  },
});

const regenerateSignature = manage({
  method: "post",
  path: "/dags/{fileName}/webhook/signature/regenerate",
  summary: "A new signing secret (GitHub, Standard Webhooks); the old one stops working at once",
  request: { params: FileNameParam },
  responses: {
    200: jsonResponse("The new secret", WithSigningSecret),
    400: errorResponse("No signature configured, or Slack (whose secret Slack owns)"),
    404: errorResponse("No such DAG, or it has no webhook"),
  },
});

const removeSignature = manage({
  method: "delete",
  path: "/dags/{fileName}/webhook/signature",
  summary: "Stop accepting signed requests: back to the token only",
  request: { params: FileNameParam },
  responses: {
    200: jsonResponse("The webhook", WebhookSchema),
    404: errorResponse("No such DAG, or it has no webhook"),
  },
});

const enableHmac = manage({
  method: "post",
  path: "/dags/{fileName}/webhook/hmac/enable",
  summary:
    "Dagu 2.x: require X-Dagu-Signature (with or instead of the token); the new HMAC secret is in this response only",
  request: { params: FileNameParam, body: jsonBody(HmacSettings) },
  responses: {
    200: jsonResponse("Enabled", WithHmacSecret),
    400: errorResponse("An invalid mode (hmac_only is always strict), or a signed-sender scheme is configured"),
    404: errorResponse("No such DAG, or it has no webhook"),
  },
});

const configureHmac = manage({
  method: "post",
  path: "/dags/{fileName}/webhook/hmac/configure",
  summary: "Dagu 2.x: change the HMAC mode or enforcement without a new secret",
  request: { params: FileNameParam, body: jsonBody(HmacSettings) },
  responses: {
    200: jsonResponse("Configured", WebhookSchema),
    400: errorResponse("HMAC is not configured, or an invalid mode"),
    404: errorResponse("No such DAG, or it has no webhook"),
  },
});

const regenerateHmac = manage({
  method: "post",
  path: "/dags/{fileName}/webhook/hmac/regenerate",
  summary: "Dagu 2.x: a new HMAC secret; the old one stops working at once",
  request: { params: FileNameParam },
  responses: {
    200: jsonResponse("The new secret", WithHmacSecret),
    400: errorResponse("HMAC is not configured"),
    404: errorResponse("No such DAG, or it has no webhook"),
  },
});

const disableHmac = manage({
  method: "post",
  path: "/dags/{fileName}/webhook/hmac/disable",
  summary: "Dagu 2.x: back to the token only (token_only); the HMAC secret is forgotten",
  request: { params: FileNameParam },
  responses: {
    200: jsonResponse("The webhook", WebhookSchema),
    404: errorResponse("No such DAG, or it has no webhook"),
  },
});

const configureAllowedIps = manage({
  method: "put",
  path: "/dags/{fileName}/webhook/allowed-ips",
  summary: "Only accept triggers from these addresses (CIDRs, IPv4 or IPv6); an empty list admits every address",
  request: {
    params: FileNameParam,
    body: jsonBody(
      z
        .strictObject({
          allowedIps: z
            .array(z.string().max(64))
            .max(MAX_ALLOWED_IPS)
            .openapi({ example: ["203.0.113.0/24", "2001:db8::/32"] }),
        })
        .openapi("WebhookAllowedIpsRequest"),
    ),
  },
  responses: {
    200: jsonResponse("The webhook", WebhookSchema),
    400: errorResponse("An entry is not an address or CIDR (the message names it)"),
    404: errorResponse("No such DAG, or it has no webhook"),
  },
});

const trigger = publicRoute({
  method: "post",
  path: "/webhooks/{fileName}",
  tags: ["webhooks"],
  summary: "Start a run of the DAG with its webhook token",
  description: `Authenticated by \`Authorization: Bearer dagu_wh_…\`, the DAG's webhook token (not a session or API key).

The JSON body is the payload, available to steps as \`WEBHOOK_PAYLOAD\` (exact JSON) and \`\${WEBHOOK_PAYLOAD.path}\`.
A body whose only keys are \`payload\` and \`dagRunId\` is Dagu's envelope: then \`payload\` is the payload.
A string \`dagRunId\` at the top level names the run (409 if the DAG ever used it). An empty body is \`{}\`.
A sender's credentials are not data: the payload's top-level fields whose names end like one (\`token\`, \`client_secret\`, \`api_key\`, \`password\`, \`signature\`…) are dropped.`,
  security: [{ webhookToken: [] }],
  request: { params: FileNameParam },
  responses: {
    200: jsonResponse(
      "Started or queued; or a GitHub ping answered (`status: pong`, no run)",
      z.union([z.object({ dagRunId: z.string(), dagName: z.string() }).openapi("WebhookResponse"), NoRun]),
    ),
    202: jsonResponse("A GitHub event the DAG's `webhook.events` doesn't list: acknowledged, no run", NoRun),
    400: errorResponse(
      "The body is not JSON, the dagRunId is invalid, or the payload fails the DAG's `webhook.schema` (details.errors: each failing path)",
    ),
    401: errorResponse(
      "Missing or wrong token or signature, or no such DAG or webhook (one answer for all); a token sent to a signature-only webhook (hmac_only, signature) is told which signature to send; with a valid token on token_and_hmac (strict): a missing or invalid X-Dagu-Signature",
    ),
    403: errorResponse(
      "The webhook is disabled, the client address is not in its allowlist, or X-Dagu-Profile was sent (no runtime profiles here)",
    ),
    404: errorResponse("Webhooks are off on this deployment (AUTH_MODE=none)"),
    409: errorResponse("The dagRunId was used before"),
    413: errorResponse("Body over 1 MiB, or over the DAG's `webhook.max_payload_size`"),
    429: errorResponse("Too many failed attempts from this client; see Retry-After"),
  },
});

export const webhookRoutes = createRouter()
  .openapi(list, async (c) => c.json({ webhooks: (await listWebhooks(c.env.DB)).map(webhookView) }, 200))
  .openapi(get, async (c) => c.json(webhookView(await requireWebhook(c.env.DB, c.req.valid("param").fileName)), 200))
  .openapi(create, async (c) => {
    const { fileName } = c.req.valid("param");
    const { token, fields } = await newToken(c.env);
    const created = await insertWebhook(c.env.DB, fileName, fields, c.get("principal").id, now());
    if (!created) {
      if (!(await findDag(c.env.DB, fileName))) throw notFound(`DAG '${fileName}'`);
      throw new ApiError("already_exists", `DAG '${fileName}' already has a webhook; regenerate its token instead`);
    }
    return c.json({ webhook: webhookView(created), token }, 201);
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
    return c.json({ webhook: webhookView(await requireWebhook(c.env.DB, fileName)), token }, 200);
  })
  .openapi(toggle, async (c) => {
    const { fileName } = c.req.valid("param");
    const webhook = await requireWebhook(c.env.DB, fileName);
    await setWebhookEnabled(c.env.DB, webhook.id, c.req.valid("json").enabled, now());
    return c.json(webhookView(await requireWebhook(c.env.DB, fileName)), 200);
  })
  .openapi(configureSignature, async (c) => {
    const { fileName } = c.req.valid("param");
    const { scheme, authMode: mode, secret } = c.req.valid("json");
    const webhook = await requireWebhook(c.env.DB, fileName);
    if (webhook.hmac_mode)
      throw new ApiError(
        "bad_request",
        `the webhook of DAG '${fileName}' uses Dagu's HMAC (${webhook.hmac_mode}): POST …/webhook/hmac/disable before configuring a ${scheme} signature`,
      );
    if (scheme === "slack" && !secret)
      throw new ApiError(
        "bad_request",
        "Slack owns its signing secret: send it as `secret` (the app's Basic Information page)",
      );
    if (scheme !== "slack" && secret)
      throw new ApiError("bad_request", `the ${scheme} signing secret is generated by dagflare; leave \`secret\` out`);
    // The same scheme again only changes the mode; a new scheme gets a new secret.
    const keep = webhook.signature_scheme === scheme && scheme !== "slack" && webhook.signature_secret;
    const fresh = keep ? undefined : (secret ?? generateSigningSecret(scheme as Exclude<typeof scheme, "slack">));
    await setSignature(
      c.env.DB,
      webhook.id,
      scheme,
      keep ? webhook.signature_secret! : await encrypt(c.env, fresh!),
      mode,
      now(),
    );
    const updated = webhookView(await requireWebhook(c.env.DB, fileName));
    return c.json(fresh && scheme !== "slack" ? { webhook: updated, signingSecret: fresh } : { webhook: updated }, 200);
  })
  .openapi(regenerateSignature, async (c) => {
    const { fileName } = c.req.valid("param");
    const webhook = await requireWebhook(c.env.DB, fileName);
    if (!webhook.signature_scheme)
      throw new ApiError("bad_request", `the webhook of DAG '${fileName}' has no signature configured`);
    if (webhook.signature_scheme === "slack")
      throw new ApiError("bad_request", "Slack owns its signing secret: PUT …/webhook/signature with the new one");
    const fresh = generateSigningSecret(webhook.signature_scheme);
    await setSignature(
      c.env.DB,
      webhook.id,
      webhook.signature_scheme,
      await encrypt(c.env, fresh),
      webhook.auth_mode,
      now(),
    );
    return c.json({ webhook: webhookView(await requireWebhook(c.env.DB, fileName)), signingSecret: fresh }, 200);
  })
  .openapi(removeSignature, async (c) => {
    const { fileName } = c.req.valid("param");
    await clearSignature(c.env.DB, (await requireWebhook(c.env.DB, fileName)).id, now());
    return c.json(webhookView(await requireWebhook(c.env.DB, fileName)), 200);
  })
  .openapi(enableHmac, async (c) => {
    const { fileName } = c.req.valid("param");
    const settings = hmacSettings(c.req.valid("json"), "strict");
    const webhook = await requireWebhook(c.env.DB, fileName);
    if (webhook.signature_scheme)
      throw new ApiError(
        "bad_request",
        `the webhook of DAG '${fileName}' is signed by ${webhook.signature_scheme}: DELETE …/webhook/signature before enabling Dagu's HMAC`,
      );
    const secret = generateDaguHmacSecret();
    await setHmac(c.env.DB, webhook.id, { ...settings, encryptedSecret: await encrypt(c.env, secret) }, now());
    return c.json({ webhook: webhookView(await requireWebhook(c.env.DB, fileName)), hmacSecret: secret }, 200);
  })
  .openapi(configureHmac, async (c) => {
    const { fileName } = c.req.valid("param");
    const webhook = await requireWebhook(c.env.DB, fileName);
    if (!webhook.hmac_secret) throw new ApiError("bad_request", "webhook HMAC is not configured");
    // As Dagu: an omitted enforcement keeps the current one (hmac_only is always strict).
    await setHmac(c.env.DB, webhook.id, hmacSettings(c.req.valid("json"), webhook.hmac_enforcement ?? "strict"), now());
    return c.json(webhookView(await requireWebhook(c.env.DB, fileName)), 200);
  })
  .openapi(regenerateHmac, async (c) => {
    const { fileName } = c.req.valid("param");
    const webhook = await requireWebhook(c.env.DB, fileName);
    if (!webhook.hmac_mode) throw new ApiError("bad_request", "webhook HMAC is not configured");
    const secret = generateDaguHmacSecret();
    await setHmac(
      c.env.DB,
      webhook.id,
      {
        mode: webhook.hmac_mode,
        enforcement: webhook.hmac_enforcement ?? "strict",
        encryptedSecret: await encrypt(c.env, secret),
      },
      now(),
    );
    return c.json({ webhook: webhookView(await requireWebhook(c.env.DB, fileName)), hmacSecret: secret }, 200);
  })
  .openapi(disableHmac, async (c) => {
    const { fileName } = c.req.valid("param");
    await clearHmac(c.env.DB, (await requireWebhook(c.env.DB, fileName)).id, now());
    return c.json(webhookView(await requireWebhook(c.env.DB, fileName)), 200);
  })
  .openapi(configureAllowedIps, async (c) => {
    const { fileName } = c.req.valid("param");
    const webhook = await requireWebhook(c.env.DB, fileName);
    const parsed = c.req.valid("json").allowedIps.map(parseCidr);
    const refused = parsed.flatMap((entry) => (entry.ok ? [] : [entry.message]));
    if (refused.length > 0)
      throw new ApiError("bad_request", `not an IP address or CIDR: ${refused.join("; ")}`, { errors: refused });
    const cidrs = [...new Set(parsed.flatMap((entry) => (entry.ok ? [entry.cidr] : [])))];
    await setAllowedIps(c.env.DB, webhook.id, cidrs, now());
    return c.json(webhookView(await requireWebhook(c.env.DB, fileName)), 200);
  })
  .openapi(trigger, async (c) => {
    if (authMode(c.env) !== "builtin")
      throw new ApiError(
        "not_found",
        "webhooks are off on this deployment (AUTH_MODE=none): set AUTH_MODE=builtin to use them",
      );
    const { fileName } = c.req.valid("param");
    const address = c.req.header("CF-Connecting-IP");
    const client = `${address ?? "unknown"}\n${fileName}`;
    // Read (and size-check: 413) before any token work; signatures are checked over these exact
    // bytes, and the body is parsed only once the caller is known.
    const raw = new Uint8Array(await c.req.arrayBuffer());
    const credentials = await presentedCredentials(c.env, c.req.raw.headers, fileName, client);
    const attempt: TriggerAttempt = { fileName, address, client, raw, credentials };
    const path = triggerPath(c);
    if (credentials.lookUp && path !== "legacy") {
      // Decided on a copy of the webhook (this isolate's, or the nearest read replica's), started
      // only if the coordinator finds the primary at the copy's version: one round trip to the
      // primary's side of the world instead of two (docs/latency.md). Anything else is decided on
      // the primary's row below, as it always was.
      const copy = await targetCopy(c.env, fileName, path !== "replica");
      if (copy) {
        const answer = await triggerOn(c, attempt, copy.target, {
          webhookId: copy.target.id,
          version: copy.target.version,
        });
        if (answer) {
          if (copy.from === "replica") remember(copy.target);
          return c.json(answer.body, 200);
        }
      }
    }
    const target = credentials.lookUp ? await findTriggerTarget(c.env.DB, fileName) : null;
    if (target && path !== "legacy") remember(target);
    const answer = await triggerOn(c, attempt, target, undefined);
    if (!answer) throw new Error("a trigger decided on the primary's row must answer");
    return answer.kind === "started" ? c.json(answer.body, 200) : c.json(answer.body, answer.status);
  });

/** What a trigger request brought, read once whatever its target turns out to be. */
type TriggerAttempt = {
  fileName: string;
  address: string | undefined;
  /** The failure budget's key: the client address and the DAG. */
  client: string;
  raw: Uint8Array;
  credentials: Credentials;
  /** Its inbound log row, made once for every start it asks for (a copy's, then the primary's). */
  logged?: Awaited<ReturnType<typeof acceptedEntry>>;
};

/**
 * Triggers on `target`. On the primary's row (`decidedOn` undefined) every answer is final: a
 * refusal is counted against the client, logged and thrown. On a copy at `decidedOn`, only a run
 * the coordinator started (or refused, having found the copy current) is an answer; anything
 * else — a refusal, a GitHub ping, a stale copy — is `undefined`, with nothing counted, logged or
 * sent, and the trigger is decided again on the primary's row.
 */
async function triggerOn(
  c: Context<AppEnv>,
  attempt: TriggerAttempt,
  target: TriggerTarget,
  decidedOn: TriggerVersion,
): Promise<Started | undefined>;
async function triggerOn(
  c: Context<AppEnv>,
  attempt: TriggerAttempt,
  target: TriggerTarget | null,
  decidedOn: undefined,
): Promise<Started | NoRunAnswer | undefined>;
async function triggerOn(
  c: Context<AppEnv>,
  attempt: TriggerAttempt,
  target: TriggerTarget | null,
  decidedOn: TriggerVersion | undefined,
): Promise<Started | NoRunAnswer | undefined> {
  const onCopy = decidedOn !== undefined;
  // Side effects of an accepted request wait, on a copy, until the coordinator has confirmed it.
  const confirmed: (() => void)[] = [];
  const onceConfirmed = (effect: () => void) => (onCopy ? confirmed.push(effect) : effect());
  let plan: TriggerPlan;
  try {
    plan = await planTrigger(c, attempt, target, {
      failed: onCopy
        ? () => Promise.reject(new Error("refused on a copy: decided again on the primary's row"))
        : (digest) => recordFailure(c.env, attempt.client, attempt.fileName, digest),
      onceConfirmed,
    });
  } catch (error) {
    if (onCopy) return undefined;
    throw error;
  }
  if (plan.kind === "no-run") return onCopy ? undefined : plan;
  const { target: confirmedTarget, start, scheme } = plan;
  const dag = { id: confirmedTarget.dag_id, name: confirmedTarget.dag_name, spec: confirmedTarget.spec };
  // The inbound log's row goes with the start: the coordinator writes it with the run, in one D1 batch.
  attempt.logged ??= await acceptedEntry(c, attempt.fileName);
  let started: string | null;
  try {
    started = await startRunDecidedOn(c.env, dag, { ...start, inbound: attempt.logged?.entry }, decidedOn);
  } catch (error) {
    // The coordinator's refusal (a used dagRunId) is an answer: the copy was current.
    for (const effect of confirmed) effect();
    throw error;
  }
  if (started === null) {
    forget(attempt.fileName);
    return undefined;
  }
  attempt.logged?.handOn();
  for (const effect of confirmed) effect();
  recordUse(c, "webhooks", confirmedTarget.id, LAST_USED_RESOLUTION_MS);
  // Slack shows `text` to the user who typed the command (and needs an answer within 3 s).
  const slack = scheme === "slack" ? { response_type: "ephemeral", text: `Started ${dag.name} (run ${started})` } : {};
  return { kind: "started", body: { dagRunId: started, dagName: dag.name, ...slack } };
}

/** A trigger's answers but refusals (thrown): a run started, or none (a ping, an event the DAG doesn't take). */
type Started = {
  kind: "started";
  body: { dagRunId: string; dagName: string; response_type?: string; text?: string };
};
type NoRunAnswer = { kind: "no-run"; status: 200 | 202; body: z.infer<typeof NoRun> };

type TriggerPlan =
  | NoRunAnswer
  | {
      kind: "start";
      target: TriggerTarget;
      start: Omit<StartRequest, "dagId" | "dagName" | "spec">;
      scheme: SignatureScheme | "hmac" | undefined;
    };

type PlanEffects = {
  /** Counts a failed attempt (the wrong token's digest, when there is one); may throw 429. */
  failed: (digest: string | undefined) => Promise<void>;
  /** Runs an accepted request's side effect: at once on the primary's row, after the coordinator's confirmation on a copy. */
  onceConfirmed: (effect: () => void) => void;
};

/** Everything between the credentials and the coordinator: who the caller is, and what the run gets. */
async function planTrigger(
  c: Context<AppEnv>,
  { fileName, address, client, raw, credentials }: TriggerAttempt,
  found: TriggerTarget | null,
  effects: PlanEffects,
): Promise<TriggerPlan> {
  const { target, via } = await authenticateTrigger(
    c.env,
    c.req.raw.headers,
    client,
    raw,
    credentials,
    found,
    effects.failed,
  );
  // After the credentials: an address outside the list learns nothing about which DAGs exist.
  const allowedIps = allowedIpsOf(target);
  if (allowedIps.length > 0 && !ipAllowed(address, allowedIps)) {
    await effects.failed(undefined);
    throw new ApiError("forbidden", `the webhook of DAG '${fileName}' does not accept requests from this address`);
  }
  if (target.enabled !== 1) throw new ApiError("forbidden", `the webhook of DAG '${fileName}' is disabled`);
  const { renewedDigest, hmacObserved } = via;
  if (renewedDigest)
    effects.onceConfirmed(() =>
      c.executionCtx.waitUntil(renewDigest(c.env.DB, target.id, target.token_digest, renewedDigest)),
    );
  if (hmacObserved)
    effects.onceConfirmed(() => {
      // Dagu's observe mode: the failure is logged and the request accepted (the secret never is).
      logger(c).warn("webhook HMAC validation observed failure", { dag: target.dag_name, reason: hmacObserved });
      c.header("X-Dagu-Signature-Observed", hmacObserved);
    });
  // Dagu 2.x runs a webhook under a runtime profile its allowlist names; there are none here.
  if (c.req.header("X-Dagu-Profile") !== undefined)
    throw new ApiError("forbidden", "runtime profile selection is not allowed for this webhook");

  const options = target.webhook_options;
  const limit = options.maxPayloadSize ?? WEBHOOK_MAX_PAYLOAD_BYTES;
  if (raw.byteLength > limit)
    throw new ApiError("payload_too_large", `webhook payload too large (max ${limit} bytes)`, { maxBytes: limit });
  // GitHub checks a new hook with a ping: it must never start the DAG (a deploy DAG deploys).
  const event = c.req.header("X-GitHub-Event");
  if (event === "ping")
    return { kind: "no-run", status: 200, body: { status: "pong", message: "pong", dagName: target.dag_name } };
  if (options.events && !(event !== undefined && options.events.includes(event))) {
    const message =
      event === undefined
        ? `no X-GitHub-Event: the DAG takes only the events ${options.events.join(", ")}`
        : `event '${event}' ignored: the DAG takes only the events ${options.events.join(", ")}`;
    return { kind: "no-run", status: 202, body: { status: "ignored", message, dagName: target.dag_name } };
  }

  const signedForm = via.scheme === "slack" || via.scheme === "github";
  const { payload, dagRunId } = readBody(new TextDecoder().decode(raw), c.req.header("Content-Type"), signedForm);
  if (options.schema !== undefined) {
    const failures = validatePayload(options.schema, JSON.parse(payload));
    if (failures.length > 0)
      throw new ApiError(
        "bad_request",
        `the payload does not match the DAG's webhook.schema: ${failures
          .slice(0, 3)
          .map((failure) => `${failure.path || "/"} ${failure.message}`)
          .join("; ")}${failures.length > 3 ? "; …" : ""}`,
        { errors: failures },
      );
  }
  // The sender's own delivery id (e.g. X-GitHub-Delivery) makes its redeliveries idempotent.
  // A Standard Webhooks message is signed together with its webhook-id, its idempotency key by
  // that spec: it names the run unless the DAG chose a header, so a replayed message → 409.
  const signedId = via.scheme === "standard" ? (c.req.header("webhook-id") ?? "") : "";
  const runId =
    (options.runIdHeader && c.req.header(options.runIdHeader)) ||
    (RUN_ID_PATTERN.test(signedId) ? signedId : undefined) ||
    dagRunId;
  if (runId !== undefined && !RUN_ID_PATTERN.test(runId)) throw new ApiError("bad_request", `dagRunId ${RUN_ID_RULE}`);
  return {
    kind: "start",
    target,
    scheme: via.scheme,
    start: {
      runId,
      payload,
      headers: forwardedHeaders(c.req.raw.headers, options.forwardHeaders ?? [], options.headerValues ?? "text"),
      trigger: "webhook",
      triggeredBy: via.scheme ? `webhook:${via.scheme}` : `webhook:${target.token_prefix}`,
    },
  };
}

/** The path a trigger takes: its own, or (latency lab only, src/dev/latency.ts) the one a request asks for. */
function triggerPath(c: Context<AppEnv>): "fast" | "replica" | "legacy" {
  if (!latencyLab(c.env)) return "fast";
  const asked = c.req.header(TRIGGER_PATH_HEADER);
  return asked === "legacy" || asked === "replica" ? asked : "fast";
}

/** What the request presents as credentials, checked before any target is looked up. */
type Credentials = {
  /** A `Bearer dagu_wh_…` token and its digest. */
  token?: { value: string; digest: string };
  /** Whether the DAG's webhook is read at all: not for a token refused within the last minute, nor for a malformed Authorization. */
  lookUp: boolean;
};

async function presentedCredentials(
  env: Cloudflare.Env,
  headers: Headers,
  fileName: string,
  client: string,
): Promise<Credentials> {
  const token = bearerWebhookToken(headers.get("Authorization") ?? undefined);
  if (token || headers.has("Authorization")) refuseIfBlocked(client);
  if (!token) return { lookUp: !headers.has("Authorization") };
  const digest = await tokenDigest(env, token);
  return { token: { value: token, digest }, lookUp: !isRecentFailure(fileName, digest) };
}

type Authenticated = {
  target: TriggerTarget;
  via: {
    /** A signed sender, or Dagu's HMAC alone (hmac_only). */
    scheme?: SignatureScheme | "hmac";
    renewedDigest?: string | undefined;
    /** token_and_hmac in observe mode: what was wrong with X-Dagu-Signature. */
    hmacObserved?: "missing" | "invalid";
  };
};

/**
 * Who may trigger: the DAG's Bearer token, a request its signing secret signed, or Dagu 2.x's
 * X-Dagu-Signature, as its auth mode allows. Every failure counts against the caller's budget
 * (`failed`) and looks the same to it, except two: a caller who proved the token is told what is
 * wrong with its X-Dagu-Signature, as Dagu tells it; and a token sent to a webhook that takes
 * signatures only is told which signature to send (a wrong token's "invalid token" sent people
 * regenerating tokens that were never the problem).
 */
async function authenticateTrigger(
  env: Cloudflare.Env,
  headers: Headers,
  client: string,
  raw: Uint8Array,
  { token }: Credentials,
  target: TriggerTarget | null,
  failed: PlanEffects["failed"],
): Promise<Authenticated> {
  if (token) {
    const { digest } = token;
    if (target && signatureOnly(target)) {
      // As Dagu's hmac_only, these modes ignore the Authorization header: the signature alone
      // admits. Only the token's holder, who knows the DAG exists, is told what to send instead;
      // any other token gets the answer an unknown DAG gets.
      const signed = await verifiedScheme(env, target, headers, raw);
      if (signed.ok) return { target, via: { scheme: signed.scheme } };
      const holder = (await checkToken(target, token.value, digest)).valid;
      await failed(holder ? undefined : digest);
      throw new ApiError(
        "unauthorized",
        holder ? signatureOnlyRefusal(target, signed.sent) : "invalid webhook token for this DAG",
      );
    }
    const check = target ? await checkToken(target, token.value, digest) : { valid: false as const };
    if (target && check.valid) {
      const via = { renewedDigest: check.renewedDigest };
      if (target.hmac_mode !== "token_and_hmac") return { target, via };
      const signed = await daguSignature(env, target, headers, raw);
      if (signed.ok) return { target, via };
      if (target.hmac_enforcement === "observe") return { target, via: { ...via, hmacObserved: signed.reason } };
      await failed(undefined);
      // Dagu's messages: the caller proved the token, so it may know what is missing.
      throw new ApiError(
        "unauthorized",
        signed.reason === "missing" ? "missing webhook HMAC signature" : "invalid webhook HMAC signature",
      );
    }
    await failed(digest);
    // The same answer for a wrong token, another DAG's token, an unknown DAG and a DAG without a webhook.
    throw new ApiError("unauthorized", "invalid webhook token for this DAG");
  }
  // A correctly signed request is accepted even from an address over its failure budget: senders
  // like GitHub share addresses, and someone else's misconfigured hooks must not block them.
  if (target) {
    const signed = await verifiedScheme(env, target, headers, raw);
    if (signed.ok) return { target, via: { scheme: signed.scheme } };
  }
  refuseIfBlocked(client);
  await failed(undefined);
  throw new ApiError(
    "unauthorized",
    "send the DAG's webhook token ('Authorization: Bearer dagu_wh_…') or a request signed with its signing secret",
  );
}

/** Modes in which only a signature admits a request: Dagu's hmac_only, and `signature` of a signed sender. */
function signatureOnly(target: TriggerTarget): boolean {
  return target.hmac_mode === "hmac_only" || (target.auth_mode === "signature" && target.signature_scheme !== null);
}

type SchemeCheck = { ok: true; scheme: SignatureScheme | "hmac" } | { ok: false; sent: boolean };

/** Whether the request is signed as the webhook's signature settings ask (`sent`: a signature came, and was wrong). */
async function verifiedScheme(
  env: Cloudflare.Env,
  target: TriggerTarget,
  headers: Headers,
  raw: Uint8Array,
): Promise<SchemeCheck> {
  if (target.hmac_mode === "hmac_only") {
    const signed = await daguSignature(env, target, headers, raw);
    return signed.ok ? { ok: true, scheme: "hmac" } : { ok: false, sent: signed.reason === "invalid" };
  }
  const scheme = target.signature_scheme;
  if (!scheme || !target.signature_secret || target.auth_mode === "token") return { ok: false, sent: false };
  const check = await verifySignature(scheme, await decrypt(env, target.signature_secret), headers, raw);
  return check.ok ? { ok: true, scheme } : { ok: false, sent: !check.reason.startsWith("missing") };
}

/** What a signature-only webhook expects, by scheme: the headers a sender signs with. */
const EXPECTED_SIGNATURE = {
  hmac: "X-Dagu-Signature: sha256=<hex of the body's HMAC-SHA256>, signed with the webhook's HMAC secret",
  github: "X-Hub-Signature-256: sha256=<hex of the body's HMAC-SHA256>, signed with the webhook's signing secret",
  slack: "X-Slack-Signature and X-Slack-Request-Timestamp, as Slack signs with the app's signing secret",
  standard:
    "webhook-id, webhook-timestamp and webhook-signature (Standard Webhooks), signed with the webhook's signing secret",
} as const satisfies Record<SignatureScheme | "hmac", string>;

/**
 * The truth for a token sent to a webhook that takes signatures only. It names what the mode
 * expects and nothing about the token, which these modes never check.
 */
function signatureOnlyRefusal(target: TriggerTarget, signatureSent: boolean): string {
  const scheme = target.hmac_mode === "hmac_only" ? "hmac" : (target.signature_scheme ?? "hmac");
  const mismatch = signatureSent ? "; the signature sent does not match (or is outside its time window)" : "";
  return `this webhook accepts signed requests only, not a token: send ${EXPECTED_SIGNATURE[scheme]}${mismatch}`;
}

async function daguSignature(
  env: Cloudflare.Env,
  target: TriggerTarget,
  headers: Headers,
  raw: Uint8Array,
): Promise<DaguSignatureCheck> {
  if (!target.hmac_secret) return { ok: false, reason: "invalid" };
  return verifyDaguSignature(await decrypt(env, target.hmac_secret), headers, raw);
}

/** Dagu's rule: token_and_hmac is strict unless told otherwise; hmac_only is always strict. */
function hmacSettings(
  request: { authMode: DaguHmacMode; enforcementMode?: HmacEnforcement | undefined },
  current: HmacEnforcement,
): { mode: DaguHmacMode; enforcement: HmacEnforcement } {
  if (request.authMode === "hmac_only") {
    if (request.enforcementMode === "observe")
      throw new ApiError(
        "bad_request",
        "invalid webhook HMAC enforcement mode: hmac_only is always strict (leave enforcementMode out)",
      );
    return { mode: "hmac_only", enforcement: "strict" };
  }
  return { mode: request.authMode, enforcement: request.enforcementMode ?? current };
}

/**
 * The headers the DAG asked for, lower-cased; credentials and signatures never. Each is its text,
 * or (Dagu 2.x's `forward_headers`) a list of values — one, since Fetch joins repeated headers —
 * and then `{}` when none came, as Dagu.
 */
function forwardedHeaders(headers: Headers, wanted: string[], values: "text" | "list"): string | undefined {
  if (wanted.length === 0) return undefined;
  const never = new Set(["authorization", "cookie", ...SIGNATURE_HEADERS]);
  const chosen = wanted
    .filter((name) => !never.has(name) && headers.has(name))
    .map((name) => [name, values === "list" ? [headers.get(name)!] : headers.get(name)!]);
  return JSON.stringify(Object.fromEntries(chosen));
}

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

function readBody(text: string, contentType = "", signedForm = false): ReturnType<typeof readWebhookBody> {
  try {
    return readWebhookBody(text, contentType, signedForm);
  } catch (error) {
    if (error instanceof JsonTextError) throw new ApiError("bad_request", `the body must be JSON: ${error.message}`);
    throw error;
  }
}
