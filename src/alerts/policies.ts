/**
 * Alert policies: what they are on the wire, how they are stored (header values and the signing
 * secret encrypted), and which events they match.
 */
import { z } from "@hono/zod-openapi";
import { decrypt, encrypt } from "../auth/encryption.ts";
import { config } from "../config.ts";
import type { PolicyRow, PolicyWrite } from "../db/alerts.ts";
import { parseJsonColumn, StringMap } from "../db/json.ts";
import { ApiError } from "../errors.ts";
import { DESTINATION_KINDS } from "./destinations.ts";
import { maskedUrl, URL_MASK } from "./secret-urls.ts";
import { checkTemplate, type TemplateProblem } from "./template.ts";
import { EVENT_TYPES, type EventType } from "./tokens.ts";

/** What every response shows instead of a header value or signing secret; sent back, it keeps the stored one. */
export const REDACTED = "••••••••";

export const OptionsSchema = z
  .strictObject({
    thresholdSeconds: z
      .number()
      .int()
      .min(1)
      .optional()
      .openapi({ description: "JOB_LONG_RUNNING: alert once a run has run this long" }),
    consecutiveFailureThreshold: z
      .number()
      .int()
      .min(1)
      .max(100)
      .optional()
      .openapi({ description: "JOB_FAILURE: alert only after this many failed runs in a row" }),
    remindEveryMinutes: z.number().int().min(5).max(10_080).optional().openapi({
      description: "JOB_FAILURE: while the DAG's latest run is still a failure, remind every this many minutes",
    }),
    remindAtMost: z
      .number()
      .int()
      .min(1)
      .max(100)
      .optional()
      .openapi({ description: "JOB_FAILURE: at most this many reminders per failure (default 3)" }),
    renotifyIntervalMinutes: z
      .number()
      .int()
      .min(1)
      .optional()
      .openapi({ description: "Send the same kind of alert about the same DAG at most once per this many minutes" }),
    throttle: z
      .strictObject({
        max: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .openapi({ description: "At most this many alerts per window about one DAG" }),
        windowMinutes: z.number().int().min(1).max(1440).openapi({
          description: "The window, aligned to the clock in UTC (60: each clock hour; 1440: each UTC day)",
        }),
      })
      .optional()
      .openapi({
        description:
          "Every event type: at most max alerts per window about one DAG (events about no DAG count together); the rest are held back and counted in one digest alert ({{held_count}}) when the window closes",
      }),
    includeDescriptionInNotification: z
      .boolean()
      .optional()
      .openapi({ description: "Fill {{alert_policy_description}}" }),
    metric: z
      .enum(["failed_runs", "run_count", "mean_duration_seconds"])
      .optional()
      .openapi({ description: "INSIGHTS_METRIC: what to watch" }),
    threshold: z
      .number()
      .min(0)
      .optional()
      .openapi({ description: "INSIGHTS_METRIC: alert when the metric crosses this" }),
    windowMinutes: z
      .number()
      .int()
      .min(1)
      .max(10_080)
      .optional()
      .openapi({ description: "INSIGHTS_METRIC: the window" }),
  })
  .openapi("AlertPolicyOptions");

export const PolicyInput = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    description: z.string().max(2000).optional(),
    enabled: z.boolean().optional(),
    eventTypes: z.array(z.enum(EVENT_TYPES)).min(1),
    dagNames: z.array(z.string().min(1).max(200)).max(1000).optional(),
    tags: z.array(z.string().min(1).max(100)).max(100).optional(),
    options: OptionsSchema.optional(),
    webhook: z.strictObject({
      url: z.string().url().max(2000),
      destination: z
        .enum(["auto", ...DESTINATION_KINDS])
        .optional()
        .openapi({
          description:
            "What the URL is (default auto: by its host). It decides how values are escaped and how the body is fitted to the destination's limits; a generic destination gets the body as written.",
        }),
      headers: z
        .record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, "not a valid header name"), z.string().max(8192))
        .optional(),
      body: z
        .string()
        .min(2)
        .max(64 * 1024)
        .openapi({ description: "The JSON body template, as text, with {{token}}s" }),
      signingSecret: z
        .string()
        .regex(/^(whsec_[A-Za-z0-9+/]{22,}={0,2}|••••••••)$/, "must be whsec_ followed by base64 (at least 16 bytes)")
        .optional()
        .openapi({ description: "Standard Webhooks signing secret (whsec_…)" }),
    }),
  })
  .openapi("AlertPolicyInput");

export type PolicyInput = z.infer<typeof PolicyInput>;

export const PolicySchema = PolicyInput.extend({
  id: z.string(),
  description: z.string(),
  enabled: z.boolean(),
  dagNames: z.array(z.string()),
  tags: z.array(z.string()),
  options: OptionsSchema,
  webhook: z.object({
    url: z.string(),
    destination: z.enum(["auto", ...DESTINATION_KINDS]),
    headers: z.record(z.string(), z.string()),
    body: z.string(),
    signingSecret: z.string().optional(),
  }),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
}).openapi("AlertPolicy");

export type Policy = z.infer<typeof PolicySchema>;

/** Checks what a schema can't: the template, the URL's scheme and the options the event types need. */
export function validatePolicy(env: Cloudflare.Env, input: PolicyInput): { warnings: string[] } {
  const template = checkTemplate(input.webhook.body);
  if (!template.ok) throw templateError(template.errors);
  checkUrl(env, input.webhook.url);
  for (const [name, value] of Object.entries(input.webhook.headers ?? {})) {
    for (const match of value.matchAll(/\{\{\s*([^}\s]+)\s*\}\}/g)) {
      if (!/^env\.ALERT_SECRET_[A-Z0-9_]+$/.test(match[1]!)) {
        throw new ApiError(
          "bad_request",
          `header ${name}: only {{env.ALERT_SECRET_*}} tokens may be used in headers, not {{${match[1]}}}`,
        );
      }
    }
  }
  const options = input.options ?? {};
  if (input.eventTypes.includes("JOB_LONG_RUNNING") && options.thresholdSeconds === undefined) {
    throw new ApiError("bad_request", "options.thresholdSeconds is required for JOB_LONG_RUNNING");
  }
  if (
    input.eventTypes.includes("INSIGHTS_METRIC") &&
    (options.metric === undefined || options.threshold === undefined)
  ) {
    throw new ApiError("bad_request", "options.metric and options.threshold are required for INSIGHTS_METRIC");
  }
  return { warnings: template.warnings };
}

export function templateError(errors: TemplateProblem[]): ApiError {
  const first = errors[0]!;
  return new ApiError("bad_request", `webhook.body: ${first.message} (line ${first.line}, col ${first.column})`, {
    templateErrors: errors,
  });
}

/** https only, except plain http to this machine where a dev var allows it (`npm run dev`, the tests). */
export function checkUrl(env: Cloudflare.Env, url: string): void {
  const parsed = new URL(url);
  if (parsed.protocol === "https:") return;
  const local = parsed.hostname === "127.0.0.1" || parsed.hostname === "localhost" || parsed.hostname === "[::1]";
  if (parsed.protocol === "http:" && local && config(env).alerts.allowLocalHttp) return;
  throw new ApiError(
    "bad_request",
    "webhook.url must be https (plain http only to 127.0.0.1/localhost, and only in development)",
  );
}

/** The row to store: header values and the secret encrypted; redacted values keep what is stored. */
export async function toPolicyWrite(
  env: Cloudflare.Env,
  id: string,
  input: PolicyInput,
  previous?: PolicyRow,
): Promise<PolicyWrite> {
  const previousUrl = previous && (await destinationOf(env, previous));
  // The URL sent back as shown (masked) is the stored one; a URL with a mask in it is no other.
  let url = input.webhook.url;
  if (url.includes(URL_MASK) || url.includes(encodeURIComponent(URL_MASK))) {
    if (!previous || !previousUrl || url.replaceAll(encodeURIComponent(URL_MASK), URL_MASK) !== previous.url) {
      throw new ApiError("bad_request", "webhook.url: enter the whole URL (its masked part is kept only unchanged)");
    }
    url = previousUrl;
  }
  const keepsRedacted =
    Object.values(input.webhook.headers ?? {}).includes(REDACTED) || input.webhook.signingSecret === REDACTED;
  if (keepsRedacted && previousUrl && new URL(previousUrl).origin !== new URL(url).origin) {
    // Otherwise anyone allowed to edit the policy could send its stored secrets to a host of their choosing.
    throw new ApiError(
      "bad_request",
      "the URL now points at another host: enter the header values and signing secret again",
    );
  }
  const stored = previous?.headers ? await decryptHeaders(env, previous.headers) : {};
  const headers = Object.fromEntries(
    Object.entries(input.webhook.headers ?? {}).map(([name, value]) => [
      name,
      value === REDACTED ? (stored[name] ?? "") : value,
    ]),
  );
  const masked = maskedUrl(url);
  let signingSecret: string | null = null;
  if (input.webhook.signingSecret === REDACTED) signingSecret = previous?.signing_secret ?? null;
  else if (input.webhook.signingSecret) signingSecret = await encrypt(env, input.webhook.signingSecret);
  return {
    id,
    name: input.name,
    description: input.description ?? "",
    enabled: input.enabled === false ? 0 : 1,
    event_types: [...new Set(input.eventTypes)],
    dag_names: input.dagNames ?? [],
    tags: input.tags ?? [],
    options: input.options ?? {},
    url: masked ?? url,
    url_secret: masked === undefined ? null : await encrypt(env, url),
    header_names: Object.keys(headers),
    headers: Object.keys(headers).length > 0 ? await encrypt(env, JSON.stringify(headers)) : null,
    body: input.webhook.body,
    signing_secret: signingSecret,
    destination: input.webhook.destination ?? "auto",
  };
}

/** The decrypted destination, headers and signing secret, for sending only. */
export async function secretsOf(
  env: Cloudflare.Env,
  row: PolicyRow,
): Promise<{ url: string; headers: Record<string, string>; signingSecret: string | undefined }> {
  return {
    url: await destinationOf(env, row),
    headers: row.headers ? await decryptHeaders(env, row.headers) : {},
    signingSecret: row.signing_secret ? await decrypt(env, row.signing_secret) : undefined,
  };
}

/** The policy's whole destination URL (decrypted when it carries a credential). */
async function destinationOf(env: Cloudflare.Env, row: Pick<PolicyRow, "url" | "url_secret">): Promise<string> {
  return row.url_secret ? decrypt(env, row.url_secret) : row.url;
}

/** Whether the policy wants this event: its type, and the DAG filter (names or tags; empty = all) unless `ignoreDags`. */
export function matches(
  row: PolicyRow,
  eventType: EventType,
  dag: { name: string; tags: string[] } | undefined,
  ignoreDags = false,
): boolean {
  if (row.enabled !== 1 || !row.event_types.includes(eventType)) return false;
  if (ignoreDags) return true;
  const { dag_names: names, tags } = row;
  if (names.length === 0 && tags.length === 0) return true;
  if (!dag) return false;
  return names.includes(dag.name) || dag.tags.some((tag) => tags.includes(tag));
}

async function decryptHeaders(env: Cloudflare.Env, encrypted: string): Promise<Record<string, string>> {
  return parseJsonColumn(StringMap, await decrypt(env, encrypted), "alert_policies.headers");
}
