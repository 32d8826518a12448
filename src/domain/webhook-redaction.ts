/**
 * What the webhook inbound log may keep of a request: its headers and body with every
 * credential replaced by REDACTED. Credentials are recognised by name (a header or field whose
 * name contains `token`, `secret`, `signature`, `password`, …), so a sender's shared secret,
 * Slack's legacy `token` form field or an `Authorization` header never reach a stored row.
 */
import { type JsonNode, parseJson, stringifyJson } from "./json-text.ts";

export const REDACTED = "[redacted]";

/** Header names: any of these inside the name (separators ignored) makes its value a credential. */
const CREDENTIAL_HEADER_WORDS = ["auth", "token", "secret", "signature", "password", "key", "cookie", "credential"];
/**
 * Body field names: stricter than headers, since payloads carry plenty of ordinary `key`s and
 * `author`s; what remains names a secret in every API we know of.
 */
const CREDENTIAL_FIELD_WORDS = [
  "token",
  "secret",
  "password",
  "passwd",
  "signature",
  "apikey",
  "accesskey",
  "privatekey",
  "credential",
  "authorization",
  "cookie",
];

const squash = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, "");
const mentionsAny = (name: string, words: readonly string[]) => {
  const squashed = squash(name);
  return words.some((word) => squashed.includes(word));
};

export const isCredentialHeader = (name: string): boolean => mentionsAny(name, CREDENTIAL_HEADER_WORDS);
export const isCredentialField = (name: string): boolean => mentionsAny(name, CREDENTIAL_FIELD_WORDS);

/**
 * Names that end like a credential. A run's payload loses its top-level fields so named (the
 * webhook-body.ts rules); the log's "contains" would be too wide there, since steps read the
 * payload: `token_type`, `total_tokens`, Slack's `authorizations`, GitHub's
 * `personal_access_token_request` or `access_tokens_url` are data, not credentials.
 */
const CREDENTIAL_NAME_ENDINGS = [
  "token",
  "secret",
  "secrets",
  "password",
  "passwd",
  "passphrase",
  "signature",
  "credential",
  "credentials",
  "authorization",
  "cookie",
  "apikey",
  "accesskey",
  "privatekey",
  "secretkey",
  "signingkey",
];

/** A payload field that carries a sender's credential: Slack's legacy `token`, `api_key`, `client_secret`, Mailgun's `signature`… */
export const isPayloadCredential = (name: string): boolean => {
  const squashed = squash(name);
  return CREDENTIAL_NAME_ENDINGS.some((ending) => squashed.endsWith(ending));
};

/** A quick test on the raw text: a body naming no credential needs no parsing. */
const MAY_NAME_A_CREDENTIAL = new RegExp(
  CREDENTIAL_FIELD_WORDS.map((word) => word.split("").join("[-_.]?")).join("|"),
  "i",
);

const MAX_HEADERS = 100;
const MAX_HEADER_VALUE = 1024;

/** The request's headers, lower-cased, credentials redacted, at most 100 of at most 1 KiB each. */
export function redactHeaders(headers: Headers): Record<string, string> {
  const kept: Record<string, string> = {};
  let count = 0;
  for (const [name, value] of headers) {
    if (++count > MAX_HEADERS) break;
    kept[name] = isCredentialHeader(name)
      ? REDACTED
      : value.length > MAX_HEADER_VALUE
        ? `${value.slice(0, MAX_HEADER_VALUE)}…`
        : value;
  }
  return kept;
}

/**
 * The body with the values of credential-named fields redacted, at any depth: a form's fields
 * (and GitHub's form variant, JSON in a `payload` field), JSON exactly as sent otherwise (numbers
 * and key order kept; compacted only when something was redacted). Text that is neither keeps
 * its JSON-like `"name": "value"` pairs redacted. Unchanged when no credential is named.
 */
export function redactBody(text: string, contentType: string): string {
  if (!MAY_NAME_A_CREDENTIAL.test(text)) return text;
  if (/^application\/x-www-form-urlencoded\b/i.test(contentType)) return redactForm(text);
  return redactJsonText(text);
}

function redactForm(text: string): string {
  const fields = new URLSearchParams(text);
  let changed = false;
  const kept = new URLSearchParams();
  for (const [name, value] of fields) {
    const redacted = isCredentialField(name) ? REDACTED : name === "payload" ? redactJsonText(value) : value;
    changed ||= redacted !== value;
    kept.append(name, redacted);
  }
  return changed ? kept.toString() : text;
}

function redactJsonText(text: string): string {
  let tree: JsonNode;
  try {
    tree = parseJson(text);
  } catch {
    return redactJsonLikePairs(text);
  }
  const changed = { value: false };
  const redacted = redactNode(tree, changed);
  return changed.value ? stringifyJson(redacted) : text;
}

function redactNode(node: JsonNode, changed: { value: boolean }): JsonNode {
  switch (node.type) {
    case "object":
      return {
        type: "object",
        entries: node.entries.map(([key, value]) => {
          if (!isCredentialField(key)) return [key, redactNode(value, changed)];
          changed.value = true;
          return [key, { type: "string", value: REDACTED }];
        }),
      };
    case "array":
      return { type: "array", items: node.items.map((item) => redactNode(item, changed)) };
    default:
      return node;
  }
}

const JSON_PAIR = /"((?:[^"\\]|\\.)*)"(\s*:\s*)("(?:[^"\\]|\\.)*"|[^,}\]\s]+)/g;

/** Not JSON (e.g. cut short): the values of `"credential": value` pairs all the same. */
function redactJsonLikePairs(text: string): string {
  return text.replace(JSON_PAIR, (pair, key: string, colon: string) =>
    isCredentialField(key) ? `"${key}"${colon}"${REDACTED}"` : pair,
  );
}
