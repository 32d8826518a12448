/**
 * Sending one delivery: render the policy's template for the event, add its headers (and a
 * Standard Webhooks signature when it has a signing secret), POST it, and decide from the answer
 * whether it was delivered, must be retried (408, 429, 5xx, network errors, timeouts) or failed
 * for good (3xx — redirects are not followed — and other 4xx, render failures).
 */
import { standardWebhookSignature } from "../auth/webhook-signatures.ts";
import { config } from "../config.ts";
import type { Attempt, PolicyRow } from "../db/alerts.ts";
import { redactSecrets } from "../domain/failure-output.ts";
import { tokenValues } from "./context.ts";
import { destinationKind, renderBody } from "./destinations.ts";
import type { EventFacts } from "./events.ts";
import { REDACTED, secretsOf } from "./policies.ts";
import { checkTemplate } from "./template.ts";
import type { EventType } from "./tokens.ts";

const MAX_RESPONSE_BODY = 20 * 1024;

export type Rendered = {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The policy's secret values as sent (header values, the signing secret): never kept from an answer. */
  secrets: string[];
};
export type SendResult = {
  attempt: Attempt;
  outcome: "delivered" | "retry" | "permanent";
  retryAfterSeconds?: number;
  responseHeaders: Record<string, string>;
  responseBody: string;
};

/** The request a delivery sends; `id` is the delivery's (Standard Webhooks' webhook-id). */
export async function renderDelivery(
  env: Cloudflare.Env,
  policy: PolicyRow,
  type: EventType,
  facts: EventFacts,
  id: string,
  isSample = false,
): Promise<Rendered> {
  const template = checkTemplate(policy.body);
  if (!template.ok) throw new Error(`the body template is invalid: ${template.errors[0]!.message}`);
  const { url, headers: stored, signingSecret } = await secretsOf(env, policy);
  const kind = destinationKind(policy.destination, url);
  const body = renderBody(template.tree, policy.body, kind, tokenValues(env, policy, type, facts, isSample));
  const secretValues = Object.fromEntries(
    Object.entries(config(env).alerts.secrets).map(([name, value]) => [`env.${name}`, value]),
  );
  const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "dagflare-alerts" };
  // A header's {{env.ALERT_SECRET_*}} is resolved here and only here; nothing else of env is reachable.
  for (const [name, value] of Object.entries(stored))
    headers[name.toLowerCase()] = value.replace(
      /\{\{\s*(env\.ALERT_SECRET_[A-Z0-9_]+)\s*\}\}/g,
      (_whole, token: string) => secretValues[token] ?? "",
    );
  if (signingSecret) Object.assign(headers, await standardWebhookHeaders(signingSecret, id, body));
  const secrets = [
    ...Object.keys(stored).map((name) => headers[name.toLowerCase()]!),
    ...(signingSecret ? [signingSecret] : []),
  ];
  // The URL's credential (a Slack or Discord token) is a secret too: an answer echoing it keeps none.
  if (policy.url_secret) secrets.push(url, ...new URL(url).pathname.split("/").filter((part) => part.length >= 16));
  return { url, headers, body, secrets: secrets.filter((value) => value.length >= 4) };
}

/** POSTs a rendered delivery and classifies the answer. */
export async function send(env: Cloudflare.Env, request: Rendered): Promise<SendResult> {
  const at = new Date().toISOString();
  const started = Date.now();
  const { timeoutMs } = config(env).alerts;
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: "POST",
      headers: request.headers,
      body: request.body,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const timedOut = error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError");
    const message = timedOut
      ? `no answer within ${timeoutMs / 1000} s`
      : `request failed: ${error instanceof Error ? error.message : String(error)}`;
    return {
      attempt: { at, statusCode: null, durationMs: Date.now() - started, error: message },
      outcome: "retry",
      responseHeaders: {},
      responseBody: "",
    };
  }
  // A destination may echo what it got (a debugging proxy, an error page): its answer keeps no secret.
  const text = redactSecrets(await response.text(), request.secrets, REDACTED);
  const responseBody = text.length > MAX_RESPONSE_BODY ? `${text.slice(0, MAX_RESPONSE_BODY)}…` : text;
  const attempt: Attempt = { at, statusCode: response.status, durationMs: Date.now() - started, responseBody };
  const responseHeaders = Object.fromEntries(
    [...response.headers].map(([name, value]) => [name, redactSecrets(value, request.secrets, REDACTED)]),
  );
  const status = response.status;
  if (status >= 200 && status < 300) return { attempt, outcome: "delivered", responseHeaders, responseBody };
  if (status === 429)
    return {
      attempt: { ...attempt, error: "rate limited" },
      outcome: "retry",
      retryAfterSeconds: retryAfter(response.headers, text),
      responseHeaders,
      responseBody,
    };
  if (status === 408 || status >= 500)
    return { attempt: { ...attempt, error: `HTTP ${status}` }, outcome: "retry", responseHeaders, responseBody };
  const why = status >= 300 && status < 400 ? `HTTP ${status}: redirects are not followed` : `HTTP ${status}`;
  return { attempt: { ...attempt, error: why }, outcome: "permanent", responseHeaders, responseBody };
}

/** The retry schedule in seconds (var ALERTS_RETRY_SCHEDULE, comma-separated; tests use a short one). */
export function retrySchedule(env: Cloudflare.Env): number[] {
  return [...config(env).alerts.retrySchedule];
}

/** Seconds to wait before the next attempt, with ±10 % jitter so retries of many alerts don't stampede. */
export function nextDelay(schedule: number[], attemptsSoFar: number, retryAfterSeconds?: number): number | undefined {
  if (attemptsSoFar >= schedule.length) return undefined;
  const planned = schedule[attemptsSoFar]!;
  const base = retryAfterSeconds === undefined ? planned : Math.max(planned, retryAfterSeconds);
  return Math.min(43_200, Math.round(base * (0.9 + Math.random() * 0.2)));
}

/** `Retry-After` in seconds or as an HTTP date; Discord's JSON `retry_after` (seconds) too. */
export function retryAfter(headers: Headers, body: string): number | undefined {
  const header = headers.get("retry-after");
  if (header) {
    const seconds = Number(header);
    if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
    const date = Date.parse(header);
    if (!Number.isNaN(date)) return Math.max(0, Math.ceil((date - Date.now()) / 1000));
  }
  try {
    const parsed: unknown = JSON.parse(body);
    if (
      typeof parsed === "object" &&
      parsed !== null &&
      "retry_after" in parsed &&
      typeof parsed.retry_after === "number"
    )
      return Math.max(0, Math.ceil(parsed.retry_after));
  } catch {
    // not JSON
  }
  return undefined;
}

/** The Standard Webhooks headers of a signed request. */
async function standardWebhookHeaders(secret: string, id: string, body: string): Promise<Record<string, string>> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  return {
    "webhook-id": id,
    "webhook-timestamp": timestamp,
    "webhook-signature": await standardWebhookSignature(secret, id, timestamp, new TextEncoder().encode(body)),
  };
}
