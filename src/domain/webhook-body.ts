/**
 * What a webhook trigger's body means. The seed's senders post their data bare
 * (`{"branch": "main"}`); Dagu's own clients wrap it (`{"payload": {...}, "dagRunId": "..."}`).
 * Both work: a JSON object whose keys are only `payload` and `dagRunId` is Dagu's envelope,
 * anything else is the payload itself. A string `dagRunId` at the top level names the run either way.
 *
 * A sender's credentials are not the run's data: the payload's top-level fields named like one
 * (Slack's legacy `token` form field, an `api_key`, a `client_secret`) are dropped, so no step,
 * run page or alert ever holds them. Nested objects are the sender's data model and are kept.
 */
import {
  compactJson,
  type JsonNode,
  JsonTextError,
  MAX_DEPTH,
  memberOf,
  nestingDepth,
  parseJson,
  stringifyJson,
} from "./json-text.ts";
import { isPayloadCredential } from "./webhook-redaction.ts";

/** The largest trigger body, as Dagu 2.x's default `webhooks.max_payload_size` (1 MiB). */
export const WEBHOOK_MAX_PAYLOAD_BYTES = 1024 * 1024;

export type WebhookBody = {
  /** Compact JSON text, exact: big integers and key order as sent. */
  payload: string;
  dagRunId: string | undefined;
};

const ENVELOPE_KEYS = new Set(["payload", "dagRunId"]);

/**
 * Throws JsonTextError for a body that isn't JSON, or an envelope whose dagRunId isn't a string.
 *
 * A body that is valid JSON is the JSON payload whatever its Content-Type says: `curl -d '{…}'`
 * labels it a form. Only a sender whose signed format *is* a form (`signedForm`: Slack's slash
 * commands, GitHub's form mode) has its form body read as a form, and so has a form-labelled
 * body that isn't JSON (`curl -d 'branch=dev'`). A form becomes a JSON object of its fields (the
 * last value of a repeated field wins); GitHub's form variant, a single `payload` field, is that
 * field's JSON.
 */
export function readWebhookBody(text: string, contentType = "", signedForm = false): WebhookBody {
  const labelledForm = /^application\/x-www-form-urlencoded\b/i.test(contentType);
  if (labelledForm && signedForm) return readForm(text);
  if (text.trim() === "") return { payload: "{}", dagRunId: undefined };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    if (labelledForm) return readForm(text);
    throw new JsonTextError(error instanceof Error ? error.message : String(error));
  }
  // Steps read fields of the payload with the exact parser, which refuses deeper nesting.
  if (nestingDepth(text) > MAX_DEPTH) throw new JsonTextError(`the JSON is nested deeper than ${MAX_DEPTH} levels`);
  if (value === null || typeof value !== "object" || Array.isArray(value))
    return { payload: compactJson(text), dagRunId: undefined };

  const fields = value as Record<string, unknown>;
  const dagRunId = typeof fields.dagRunId === "string" ? fields.dagRunId : undefined;
  if (!Object.keys(fields).every((key) => ENVELOPE_KEYS.has(key))) {
    // The exact tree only when a field must go: to drop it without rounding or reordering the rest.
    const payload = Object.keys(fields).some(isPayloadCredential)
      ? stringifyJson(withoutCredentials(parseJson(text)))
      : compactJson(text);
    return { payload, dagRunId };
  }
  if (fields.dagRunId !== undefined && dagRunId === undefined) throw new JsonTextError("dagRunId must be a string");
  // Only an envelope needs the exact tree: to cut its `payload` out without rounding or reordering.
  const payload = memberOf(parseJson(text), "payload");
  return { payload: payload ? stringifyJson(withoutCredentials(payload)) : "{}", dagRunId };
}

function withoutCredentials(node: JsonNode): JsonNode {
  if (node.type !== "object") return node;
  return { type: "object", entries: node.entries.filter(([key]) => !isPayloadCredential(key)) };
}

function readForm(text: string): WebhookBody {
  const fields = new URLSearchParams(text);
  const keys = [...new Set(fields.keys())];
  if (keys.length === 1 && keys[0] === "payload")
    return { payload: readWebhookBody(fields.get("payload")!).payload, dagRunId: undefined };
  const kept = keys.filter((key) => !isPayloadCredential(key));
  return {
    payload: JSON.stringify(Object.fromEntries(kept.map((key) => [key, fields.getAll(key).at(-1)!]))),
    dagRunId: undefined,
  };
}
