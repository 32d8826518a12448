/**
 * What an alert says about a failed step's output: the tail of its stderr, then of its stdout,
 * bounded, with the run's secrets replaced. A secret is the value of an env var or param whose
 * name says it is one (`API_TOKEN`, `DB_PASSWORD`, `AWS_SECRET_ACCESS_KEY`, …): the people an
 * alert reaches are not all the people who may read the run.
 */
import type { KeyValue } from "./dag-spec.ts";

/** At most this many bytes of output reach an alert. */
export const MAX_FAILURE_OUTPUT_BYTES = 2048;
export const REDACTED_SECRET = "[redacted]";

const SECRET_NAME = /(SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH)/i;
/** Shorter values would blank ordinary words: `AUTH=on` is not a secret worth hiding. */
const MIN_SECRET_LENGTH = 6;

/** The values of the variables whose names say they are secrets, longest first (so a longer one isn't cut by a shorter). */
export function secretValues(variables: readonly KeyValue[]): string[] {
  const values = variables
    .filter(({ key, value }) => SECRET_NAME.test(key) && value.length >= MIN_SECRET_LENGTH)
    .map(({ value }) => value);
  return [...new Set(values)].sort((a, b) => b.length - a.length);
}

/** The text with every secret value replaced (by `[redacted]`, or the caller's mark). */
export function redactSecrets(text: string, secrets: readonly string[], mark = REDACTED_SECRET): string {
  return secrets.reduce((redacted, secret) => redacted.replaceAll(secret, mark), text);
}

/** The end of a text within `maxBytes` of UTF-8, cut at a line start when one is near, never inside a character. */
export function tailOf(text: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.byteLength <= maxBytes) return text;
  let start = bytes.byteLength - maxBytes;
  while (start < bytes.byteLength && (bytes[start]! & 0xc0) === 0x80) start++; // not inside a character
  const tail = new TextDecoder().decode(bytes.subarray(start));
  const line = tail.indexOf("\n");
  return line >= 0 && line < 200 ? tail.slice(line + 1) : tail;
}

/** The failed step's output for an alert: stderr's tail, then stdout's, labelled when both are there; redacted. */
export function failureOutput(stderr: string, stdout: string, secrets: readonly string[]): string {
  const err = stderr.trimEnd();
  const out = stdout.trimEnd();
  const both = err !== "" && out !== "";
  const half = both ? MAX_FAILURE_OUTPUT_BYTES / 2 : MAX_FAILURE_OUTPUT_BYTES;
  const parts = [
    err && `${both ? "stderr:\n" : ""}${tailOf(redactSecrets(err, secrets), half)}`,
    out && `${both ? "stdout:\n" : ""}${tailOf(redactSecrets(out, secrets), half)}`,
  ];
  return parts.filter((part) => part !== "").join("\n");
}
