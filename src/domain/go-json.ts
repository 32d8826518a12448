/**
 * JSON values printed as Dagu prints them: Dagu is written in Go, and its jq step formats each
 * result with Go's encoding/json and strconv. Checked against what the Dagu 1.30.2 binary printed
 * (test/workers/unit/go-json.test.ts):
 * - object keys sorted by code point (a Go map has no order of its own);
 * - `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c`…, control characters as `\n`, `\b`, `\u0001`;
 * - numbers in the shortest form that reads back the same, with an exponent below 1e-6 and from
 *   1e21 (`1e-7`, `1e+21`), and `-0` kept.
 */

export type GoJsonValue = null | boolean | number | string | GoJsonValue[] | { [key: string]: GoJsonValue };

/** Go's encoding/json has no text for these (its Marshal fails: `json: unsupported value: +Inf`). */
export class UnsupportedNumberError extends Error {
  readonly value: number;
  constructor(value: number) {
    super(`json: unsupported value: ${goFloatName(value)}`);
    this.value = value;
  }
}

/** `json.Marshal` (no indent) or `json.MarshalIndent(value, "", indent)`. */
export function goJson(value: GoJsonValue, indent = ""): string {
  return write(value, indent, "");
}

function write(value: GoJsonValue, indent: string, prefix: string): string {
  if (value === null) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return goJsonNumber(value);
  if (typeof value === "string") return goJsonString(value);
  const inner = prefix + indent;
  const open = indent === "" ? "" : `\n${inner}`;
  const separator = indent === "" ? "," : `,\n${inner}`;
  const close = indent === "" ? "" : `\n${prefix}`;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[${open}${value.map((item) => write(item, indent, inner)).join(separator)}${close}]`;
  }
  const keys = Object.keys(value).sort(compareCodePoints);
  if (keys.length === 0) return "{}";
  const colon = indent === "" ? ":" : ": ";
  const entries = keys.map((key) => `${goJsonString(key)}${colon}${write(value[key]!, indent, inner)}`);
  return `{${open}${entries.join(separator)}${close}}`;
}

/** A float64 as encoding/json writes it. */
export function goJsonNumber(value: number): string {
  if (!Number.isFinite(value)) throw new UnsupportedNumberError(value);
  // JavaScript switches to an exponent at the same bounds (1e-6, 1e21) and spells it the same.
  return Object.is(value, -0) ? "-0" : String(value);
}

/** `strconv.FormatFloat(value, 'f', -1, 64)`: every digit, never an exponent (`1e21` is 22 digits). */
export function goDecimal(value: number): string {
  if (!Number.isFinite(value)) return goFloatName(value);
  const sign = value < 0 || Object.is(value, -0) ? "-" : "";
  const [mantissa = "0", exponentText = "0"] = Math.abs(value).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  // The decimal point goes after `point` digits (negative: zeros come first).
  const point = Number(exponentText) + 1;
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return sign + digits + "0".repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

function goFloatName(value: number): string {
  return Number.isNaN(value) ? "NaN" : value > 0 ? "+Inf" : "-Inf";
}

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\b": "\\b",
  "\f": "\\f",
};

/** A string as encoding/json quotes it: with its default HTML escaping, or without (Encoder.SetEscapeHTML(false)). */
export function goJsonString(text: string, escapeHtml = true): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    const short = SHORT_ESCAPES[char];
    const html = escapeHtml && (char === "<" || char === ">" || char === "&");
    if (short) out += short;
    else if (code < 0x20 || html || code === 0x2028 || code === 0x2029)
      out += `\\u${code.toString(16).padStart(4, "0")}`;
    // Go holds strings as UTF-8, where a lone surrogate can't be: it became U+FFFD when read.
    else if (code >= 0xd800 && code <= 0xdfff) out += "\ufffd";
    else out += char;
  }
  return `${out}"`;
}

/** Orders strings as Go compares them: by UTF-8 bytes, which is by code point (not UTF-16 unit). */
export function compareCodePoints(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(j)!;
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return a.length - i - (b.length - j);
}
