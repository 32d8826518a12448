/**
 * The webhook inbound log: every trigger attempt against an existing DAG — accepted, refused,
 * rate-limited — with its client address, outcome and code, the run it started, its headers
 * (credentials redacted) and a bounded body (credential fields redacted; none when the DAG sets
 * `webhook.storeBodies: false`).
 *
 * It wraps the trigger from outside (`recordTriggerAttempt`, middleware on its path) and reads
 * only what the trigger left: the final response, the error it threw, the body it read. A
 * trigger that starts a run hands its row to the DAG's coordinator with the start
 * (`acceptedEntry`), which writes it in the run's own D1 batch; any other attempt's row is
 * written by the middleware after the response (waitUntil). A failed write is logged and
 * changes nothing for the sender.
 */
import type { Context, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { SIGNATURE_HEADERS } from "../auth/webhook-signatures.ts";
import { config } from "../config.ts";
import { now } from "../db/time.ts";
import {
  insertWebhookRequest,
  type NewWebhookRequest,
  pruneWebhookRequests,
  type WebhookOutcome,
} from "../db/webhook-requests.ts";
import { redactBody, redactHeaders } from "../domain/webhook-redaction.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { log, logger } from "../log.ts";

/** The most of an accepted request's body that is kept: enough for any replay that matters. */
export const MAX_STORED_BODY_BYTES = 64 * 1024;
/** A refused request's body is kept for diagnosis only (and costs an attacker's flood less room). */
export const MAX_REFUSED_BODY_BYTES = 4 * 1024;
/** A client over its failure budget is recorded once per this long per isolate and DAG, not per request. */
const RATE_LIMITED_RECORD_EVERY_MS = 10_000;

const rateLimitedRecorded = new Map<string, number>();

/** Middleware for `POST /webhooks/{fileName}`: records the attempt once the trigger has answered. */
export const recordTriggerAttempt: MiddlewareHandler<AppEnv> = async function recordTriggerAttempt(c, next) {
  // One id for the request's row, whoever writes it: the coordinator with a started run, or this
  // middleware's fallback (a refusal; a failure after the start) — never two rows.
  const inbound = { id: crypto.randomUUID(), receivedAt: now(), handedOn: false };
  c.set("inboundLog", inbound);
  await next();
  // A run started: its coordinator wrote the row with the run (acceptedEntry).
  if (inbound.handedOn) return;
  const mode = config(c.env).authMode;
  // With AUTH_MODE=none webhooks don't exist (the trigger answers 404): nothing to record.
  if (c.req.method !== "POST" || !mode.ok || mode.value !== "builtin") return;
  const fileName = c.req.param("fileName");
  if (!fileName) return;
  const status = c.res.status;
  const outcome = outcomeOf(status);
  if (outcome === "rate_limited" && !firstRateLimitedIn(`${clientIpOf(c)}\n${fileName}`, Date.now())) return;
  // Read now, while the response is ours; its run id is parsed after it has been sent.
  const answer = outcome === "accepted" ? c.res.clone() : undefined;
  const error = c.error;
  c.executionCtx.waitUntil(
    (async () => {
      const entry: NewWebhookRequest = {
        ...entryOf(c, fileName, inbound, outcome, status),
        ...describeError(error, status),
        run_id: answer ? await runIdOf(answer) : null,
        ...(await bodyOf(c, outcome)),
      };
      await insertWebhookRequest(c.env.DB, entry);
    })().catch((failure: unknown) =>
      logger(c).error("recording a webhook request failed", { dag: fileName, status, error: failure }),
    ),
  );
};

/**
 * The row of a trigger about to start a run (answered 200 if it does), for the coordinator to
 * write with the run's D1 copy: one D1 batch instead of the run's and the log's. `handOn()` once
 * the coordinator took it, so that this middleware doesn't write it again; otherwise (a refusal,
 * a stale copy) the middleware records the attempt as it ended.
 */
export async function acceptedEntry(
  c: Context<AppEnv>,
  fileName: string,
): Promise<{ entry: Omit<NewWebhookRequest, "run_id">; handOn: () => void } | undefined> {
  const inbound = c.get("inboundLog");
  if (!inbound) return undefined;
  const entry = {
    ...entryOf(c, fileName, inbound, "accepted", 200),
    ...describeError(undefined, 200),
    ...(await bodyOf(c, "accepted")),
  };
  return {
    entry,
    handOn: () => {
      inbound.handedOn = true;
    },
  };
}

/** What every row has, from the request and how it ended. */
function entryOf(
  c: Context<AppEnv>,
  fileName: string,
  { id, receivedAt }: { id: string; receivedAt: string },
  outcome: WebhookOutcome,
  status: number,
): Omit<NewWebhookRequest, "run_id" | "error_code" | "message" | "body" | "body_bytes" | "body_truncated"> {
  return {
    id,
    dag_name: fileName,
    received_at: receivedAt,
    client_ip: clientIpOf(c).slice(0, 100),
    method: c.req.method,
    outcome,
    status_code: status,
    headers: JSON.stringify(redactHeaders(c.req.raw.headers)),
    content_type: (c.req.header("Content-Type") ?? "").slice(0, 200),
    replay_of: null,
    replayed_by: null,
  };
}

const clientIpOf = (c: Context<AppEnv>) => c.req.header("CF-Connecting-IP") ?? "";

function outcomeOf(status: number): WebhookOutcome {
  if (status >= 200 && status < 300) return "accepted";
  if (status === 429) return "rate_limited";
  return status >= 500 ? "failed" : "refused";
}

function firstRateLimitedIn(key: string, at: number): boolean {
  if (at - (rateLimitedRecorded.get(key) ?? 0) < RATE_LIMITED_RECORD_EVERY_MS) return false;
  if (rateLimitedRecorded.size >= 10_000) rateLimitedRecorded.clear();
  rateLimitedRecorded.set(key, at);
  return true;
}

/** The refusal's code and message as the sender got them; an unexpected error's text stays in the log line. */
function describeError(error: Error | undefined, status: number): Pick<NewWebhookRequest, "error_code" | "message"> {
  if (error instanceof ApiError) return { error_code: error.code, message: error.message.slice(0, 1000) };
  if (error instanceof HTTPException && status < 500) return { error_code: "bad_request", message: error.message };
  if (status >= 500) return { error_code: "internal_error", message: "internal error" };
  return { error_code: null, message: "" };
}

async function runIdOf(answer: Response): Promise<string | null> {
  const body: unknown = await answer.json().catch(() => null);
  const runId = typeof body === "object" && body !== null ? Reflect.get(body, "dagRunId") : undefined;
  return typeof runId === "string" ? runId : null;
}

/**
 * The body the trigger read (never one it didn't: a body refused for its size stays unread),
 * redacted, then cut to its bound.
 */
async function bodyOf(
  c: Context<AppEnv>,
  outcome: WebhookOutcome,
): Promise<Pick<NewWebhookRequest, "body" | "body_bytes" | "body_truncated">> {
  const declared = Number(c.req.header("Content-Length") ?? 0) || 0;
  if (Object.keys(c.req.bodyCache).length === 0) return { body: null, body_bytes: declared, body_truncated: false };
  const raw = new Uint8Array(await c.req.arrayBuffer());
  const limit = outcome === "accepted" ? MAX_STORED_BODY_BYTES : MAX_REFUSED_BODY_BYTES;
  return { ...storableBody(raw, c.req.header("Content-Type") ?? "", limit), body_bytes: raw.byteLength };
}

/** Redacted first (over the whole body, so a cut can't split a credential out of view), then cut. */
export function storableBody(
  raw: Uint8Array,
  contentType: string,
  limit: number,
): { body: string; body_truncated: boolean } {
  const redacted = new TextEncoder().encode(redactBody(new TextDecoder().decode(raw), contentType));
  if (redacted.byteLength <= limit) return { body: new TextDecoder().decode(redacted), body_truncated: false };
  // A cut inside a multi-byte character leaves a replacement character, not an error.
  return { body: new TextDecoder().decode(redacted.subarray(0, limit)), body_truncated: true };
}

/** The stored headers the DAG forwards (WEBHOOK_HEADERS), as the trigger chooses them: credentials never. */
export function forwardedFromStored(stored: Record<string, string>, wanted: readonly string[]): string | undefined {
  if (wanted.length === 0) return undefined;
  const never = new Set<string>(["authorization", "cookie", ...SIGNATURE_HEADERS]);
  const chosen = wanted.filter((name) => !never.has(name) && name in stored).map((name) => [name, stored[name]!]);
  return JSON.stringify(Object.fromEntries(chosen));
}

/** Retention, run by the cron tick: older than WEBHOOK_LOG_DAYS, or beyond WEBHOOK_LOG_MAX_PER_DAG. */
export async function pruneInboundLog(env: Cloudflare.Env, at: number): Promise<number> {
  const { maxPerDag, days } = config(env).webhookLog;
  const pruned = await pruneWebhookRequests(env.DB, maxPerDag, new Date(at - days * 86_400_000).toISOString());
  if (pruned > 0) log.info("pruned the webhook inbound log", { pruned });
  return pruned;
}
