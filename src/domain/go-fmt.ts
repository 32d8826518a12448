/**
 * Go's fmt and strconv for the values of ./go-values.ts: how a template prints a value (`{{.x}}`
 * is fmt.Fprint), and `print`, `println`, `printf`. Checked against Go's own text/template
 * (test/workers/unit/template-render.test.ts says how).
 *
 * printf takes the verbs %v %s %d %q %x %X %f %F %e %E %g %G %t %c %T and %%, with the flags
 * `-`, `+`, ` `, `0`, a width and a precision; a letter that is no verb prints as Go prints it
 * (`%!z(int=1)`). Go's verbs %b %o %O %U %p, the `#` flag, `*` widths and `[n]` argument
 * indexes are refused (UnsupportedFormatError) rather than printed differently.
 */

import { compareCodePoints } from "./go-json.ts";
import { GoInt, GoSlice, type GoValue, goTypeName, utf8Bytes } from "./go-values.ts";

/** A printf format dagflare doesn't render. */
export class UnsupportedFormatError extends Error {}

type Flags = {
  plus: boolean;
  minus: boolean;
  space: boolean;
  zero: boolean;
  width: number | undefined;
  precision: number | undefined;
};

const NO_FLAGS: Flags = {
  plus: false,
  minus: false,
  space: false,
  zero: false,
  width: undefined,
  precision: undefined,
};

/** Verbs Go gives a meaning dagflare doesn't render (the others it renders, or Go prints as bad verbs). */
const UNSUPPORTED_VERBS = new Set("bOoUp");

// ---------------------------------------------------------------------------------------------
// fmt.Sprint, Sprintln, Sprintf.

/** fmt.Sprint: a space between two operands when neither is a string. */
export function goSprint(args: readonly GoValue[]): string {
  let out = "";
  args.forEach((arg, index) => {
    const isString = typeof arg === "string";
    if (index > 0 && !isString && typeof args[index - 1] !== "string") out += " ";
    out += printArg(arg, "v", NO_FLAGS);
  });
  return out;
}

/** fmt.Sprintln: spaces between all operands, and a newline. */
export function goSprintln(args: readonly GoValue[]): string {
  return `${args.map((arg) => printArg(arg, "v", NO_FLAGS)).join(" ")}\n`;
}

/** A value as `%v` prints it (fmt.Sprint of one value). */
export const goString = (value: GoValue): string => printArg(value, "v", NO_FLAGS);

/** The directives of a printf format, for checking a format before it runs: the verbs it uses. */
export function formatProblem(format: string): string | undefined {
  try {
    for (const directive of directives(format)) {
      if (directive.kind === "verb" && UNSUPPORTED_VERBS.has(directive.verb)) return verbRefusal(directive.verb);
    }
    return undefined;
  } catch (error) {
    if (error instanceof UnsupportedFormatError) return error.message;
    throw error;
  }
}

const verbRefusal = (verb: string) =>
  `printf verb %${verb} is not supported by dagflare (it prints %v %s %d %q %x %X %f %e %g %t %c %T)`;

type Directive = { kind: "text"; text: string } | { kind: "verb"; verb: string; flags: Flags } | { kind: "noverb" };

function* directives(format: string): Generator<Directive> {
  let i = 0;
  while (i < format.length) {
    const percent = format.indexOf("%", i);
    if (percent < 0) {
      yield { kind: "text", text: format.slice(i) };
      return;
    }
    if (percent > i) yield { kind: "text", text: format.slice(i, percent) };
    i = percent + 1;
    const flags: Flags = { ...NO_FLAGS };
    for (; i < format.length; i++) {
      const c = format[i];
      if (c === "+") flags.plus = true;
      else if (c === "-") {
        flags.minus = true;
        flags.zero = false; // Go pads with zeros only on the left
      } else if (c === " ") flags.space = true;
      else if (c === "0") flags.zero = !flags.minus;
      else if (c === "#") throw new UnsupportedFormatError("the printf flag # is not supported by dagflare");
      else break;
    }
    const width = /^\d+/.exec(format.slice(i))?.[0];
    if (width !== undefined) {
      flags.width = Number(width);
      i += width.length;
    }
    if (format[i] === ".") {
      const precision = /^\d*/.exec(format.slice(i + 1))![0];
      flags.precision = precision === "" ? 0 : Number(precision);
      i += 1 + precision.length;
    }
    if (format[i] === "*" || format[i] === "[")
      throw new UnsupportedFormatError(
        `printf's ${format[i] === "*" ? "* width" : "[n] argument index"} is not supported by dagflare`,
      );
    if (i >= format.length) {
      yield { kind: "noverb" };
      return;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    yield { kind: "verb", verb, flags };
  }
}

/** fmt.Sprintf. Throws UnsupportedFormatError for what dagflare doesn't render (see above). */
export function goSprintf(format: string, args: readonly GoValue[]): string {
  let out = "";
  let next = 0;
  for (const directive of directives(format)) {
    if (directive.kind === "text") out += directive.text;
    else if (directive.kind === "noverb") out += "%!(NOVERB)";
    else if (directive.verb === "%") out += "%";
    else if (next >= args.length) out += `%!${directive.verb}(MISSING)`;
    else {
      if (UNSUPPORTED_VERBS.has(directive.verb)) throw new UnsupportedFormatError(verbRefusal(directive.verb));
      // As Go: %+v is %v (the plus asks for field names, which these values don't have).
      const flags = directive.verb === "v" ? { ...directive.flags, plus: false } : directive.flags;
      out += printArg(args[next++]!, directive.verb, flags);
    }
  }
  if (next < args.length) {
    const extra = args.slice(next).map((arg) => (arg === null ? "<nil>" : `${goTypeName(arg)}=${goString(arg)}`));
    out += `%!(EXTRA ${extra.join(", ")})`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// One operand (fmt's printArg / printValue).

function printArg(value: GoValue, verb: string, flags: Flags): string {
  if (verb === "T") return pad(goTypeName(value), flags);
  if (value === null) return verb === "v" ? pad("<nil>", flags) : badVerb(verb, value, flags);
  return printValue(value, verb, flags);
}

function printValue(value: GoValue, verb: string, flags: Flags): string {
  // A nil inside a slice or map prints as <nil> whatever the verb, unpadded (as Go's printValue).
  if (value === null) return "<nil>";
  if (typeof value === "boolean")
    return verb === "v" || verb === "t" ? pad(String(value), flags) : badVerb(verb, value, flags);
  if (typeof value === "string") return formatString(value, verb, flags);
  if (typeof value === "number") return formatFloatVerb(value, verb, flags);
  if (value instanceof GoInt) return formatInteger(value, verb, flags);
  if (value instanceof GoSlice) return `[${value.items.map((item) => printValue(item, verb, flags)).join(" ")}]`;
  const keys = [...value.keys()].sort(compareCodePoints);
  return `map[${keys.map((key) => `${printValue(key, verb, flags)}:${printValue(value.get(key)!, verb, flags)}`).join(" ")}]`;
}

function badVerb(verb: string, value: GoValue, flags: Flags): string {
  const shown = value === null ? "<nil>" : `${goTypeName(value)}=${printArg(value, "v", flags)}`;
  return `%!${verb}(${shown})`;
}

/** Pads to the width in runes: zeros (flag 0) or spaces on the left, or spaces on the right (flag -). */
function pad(text: string, flags: Flags): string {
  const missing = (flags.width ?? 0) - [...text].length;
  if (missing <= 0) return text;
  if (flags.minus) return text + " ".repeat(missing);
  return (flags.zero ? "0" : " ").repeat(missing) + text;
}

function formatString(text: string, verb: string, flags: Flags): string {
  const truncated = flags.precision === undefined ? text : [...text].slice(0, flags.precision).join("");
  switch (verb) {
    case "v":
    case "s":
      return pad(truncated, flags);
    case "q":
      return pad(goQuote(truncated, flags.plus), flags);
    case "x":
    case "X": {
      let bytes = utf8Bytes(text);
      if (flags.precision !== undefined) bytes = bytes.slice(0, flags.precision);
      const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0"));
      const joined = hex.join(flags.space ? " " : "");
      return pad(verb === "X" ? joined.toUpperCase() : joined, flags);
    }
    default:
      return badVerb(verb, text, flags);
  }
}

function formatInteger(value: GoInt, verb: string, flags: Flags): string {
  switch (verb) {
    case "v":
    case "d":
      return integerText(value.value, 10, flags);
    case "x":
      return integerText(value.value, 16, flags);
    case "X":
      return integerText(value.value, 16, flags).toUpperCase();
    case "c":
      return pad(runeText(value.value), flags);
    case "q":
      return pad(goQuoteRune(value.value, flags.plus), flags);
    default:
      return badVerb(verb, value, flags);
  }
}

/** fmt's fmtInteger: precision or zero flag for leading zeros, then the sign, then padding. */
function integerText(value: bigint, base: number, flags: Flags): string {
  const negative = value < 0n;
  let digits = (negative ? -value : value).toString(base);
  if (flags.precision !== undefined) {
    // Precision 0 and value 0 print nothing but the padding.
    if (flags.precision === 0 && value === 0n) return pad("", { ...flags, zero: false });
    digits = digits.padStart(flags.precision, "0");
  } else if (flags.zero && !flags.minus && flags.width !== undefined) {
    digits = digits.padStart(flags.width - (negative || flags.plus || flags.space ? 1 : 0), "0");
  }
  const sign = negative ? "-" : flags.plus ? "+" : flags.space ? " " : "";
  return pad(sign + digits, { ...flags, zero: false });
}

function runeText(code: bigint): string {
  const valid = code >= 0n && code <= 0x10ffffn && !(code >= 0xd800n && code <= 0xdfffn);
  return valid ? String.fromCodePoint(Number(code)) : "\ufffd";
}

function formatFloatVerb(value: number, verb: string, flags: Flags): string {
  switch (verb) {
    case "v":
      return floatText(value, "g", flags.precision ?? -1, flags);
    case "g":
    case "G":
      return floatText(value, verb, flags.precision ?? -1, flags);
    case "e":
    case "E":
    case "f":
      return floatText(value, verb, flags.precision ?? 6, flags);
    case "F":
      return floatText(value, "f", flags.precision ?? 6, flags);
    case "x":
    case "X":
      throw new UnsupportedFormatError(
        `printf's %${verb} of a float (hexadecimal floating point) is not supported by dagflare`,
      );
    default:
      return badVerb(verb, value, flags);
  }
}

/** fmt's fmtFloat: the sign where asked, zeros after the sign, Inf and NaN never zero-padded. */
function floatText(value: number, format: FloatFormat, precision: number, flags: Flags): string {
  const text = goFormatFloat(value, format, precision);
  const signed = text.startsWith("-") || text.startsWith("+");
  const number = signed ? text.slice(1) : text;
  let sign = signed ? text[0]! : "+";
  if (sign === "+" && flags.space && !flags.plus) sign = " ";
  if (number === "Inf" || number === "NaN") {
    const shown = number === "NaN" && !flags.space && !flags.plus ? number : sign + number;
    return pad(shown, { ...flags, zero: false });
  }
  if (!flags.plus && sign === "+") return pad(number, flags);
  // Zero padding goes between the sign and the digits.
  if (flags.zero && !flags.minus && flags.width !== undefined && flags.width > number.length + 1)
    return sign + "0".repeat(flags.width - number.length - 1) + number;
  return pad(sign + number, flags);
}

// ---------------------------------------------------------------------------------------------
// strconv.FormatFloat.

export type FloatFormat = "e" | "E" | "f" | "g" | "G";

/** A decimal: 0.digits × 10^point, digits without leading or trailing zeros ("" is zero). */
type Decimal = { digits: string; point: number };

/** strconv.FormatFloat(value, format, precision, 64); precision -1 is the shortest that reads back. */
export function goFormatFloat(value: number, format: FloatFormat, precision: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  const negative = value < 0 || Object.is(value, -0);
  const shortest = precision < 0;
  let decimal: Decimal;
  let digitsAfter = precision;
  if (shortest) {
    decimal = shortestDecimal(Math.abs(value));
    const count = decimal.digits.length;
    digitsAfter =
      format === "e" || format === "E"
        ? Math.max(count - 1, 0)
        : format === "f"
          ? Math.max(count - decimal.point, 0)
          : count;
  } else {
    decimal = exactDecimal(Math.abs(value));
    if (format === "e" || format === "E") decimal = rounded(decimal, precision + 1);
    else if (format === "f") decimal = rounded(decimal, decimal.point + precision);
    else {
      if (digitsAfter === 0) digitsAfter = 1;
      decimal = rounded(decimal, digitsAfter);
    }
  }
  const sign = negative ? "-" : "";
  if (format === "e" || format === "E") return sign + exponentForm(decimal, digitsAfter, format);
  if (format === "f") return sign + fixedForm(decimal, digitsAfter);
  // %g: an exponent when it is below -4 or at least the precision (6 for the shortest form).
  const count = decimal.digits.length;
  let exponentLimit = digitsAfter;
  if (exponentLimit > count && count >= decimal.point) exponentLimit = count;
  if (shortest) exponentLimit = 6;
  const exponent = decimal.point - 1;
  if (exponent < -4 || exponent >= exponentLimit) {
    const significant = Math.min(digitsAfter, count);
    return sign + exponentForm(decimal, significant - 1, format === "g" ? "e" : "E");
  }
  const significant = digitsAfter > decimal.point ? count : digitsAfter;
  return sign + fixedForm(decimal, Math.max(significant - decimal.point, 0));
}

function shortestDecimal(value: number): Decimal {
  if (value === 0) return { digits: "", point: 0 };
  // JavaScript gives the shortest digits that read back as the same double, as Go does.
  const [mantissa = "", exponent = "0"] = value.toExponential().split("e");
  return { digits: mantissa.replace(".", "").replace(/0+$/, ""), point: Number(exponent) + 1 };
}

/** Every digit of the double (a double is m × 2^e, so its decimal expansion ends). */
function exactDecimal(value: number): Decimal {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  let mantissa = bits & ((1n << 52n) - 1n);
  if (biased !== 0) mantissa |= 1n << 52n;
  if (mantissa === 0n) return { digits: "", point: 0 };
  const exponent = (biased === 0 ? 1 : biased) - 1075;
  let digits: string;
  let point: number;
  if (exponent >= 0) {
    digits = (mantissa << BigInt(exponent)).toString();
    point = digits.length;
  } else {
    digits = (mantissa * 5n ** BigInt(-exponent)).toString();
    point = digits.length + exponent;
  }
  return { digits: digits.replace(/0+$/, ""), point };
}

/** strconv's decimal.Round: keep `count` digits, an exact half rounding to even. */
function rounded(decimal: Decimal, count: number): Decimal {
  const { digits, point } = decimal;
  if (count < 0 || count >= digits.length) return decimal;
  const next = digits[count]!;
  const halfway = next === "5" && count + 1 === digits.length;
  const up = halfway ? count > 0 && Number(digits[count - 1]) % 2 === 1 : next >= "5";
  if (!up) {
    const kept = digits.slice(0, count).replace(/0+$/, "");
    return { digits: kept, point: kept === "" ? 0 : point };
  }
  let i = count - 1;
  while (i >= 0 && digits[i] === "9") i--;
  if (i < 0) return { digits: "1", point: point + 1 };
  return { digits: digits.slice(0, i) + String(Number(digits[i]) + 1), point };
}

function exponentForm({ digits, point }: Decimal, precision: number, letter: string): string {
  let out = digits[0] ?? "0";
  if (precision > 0) out += `.${digits.slice(1, precision + 1).padEnd(precision, "0")}`;
  const exponent = digits === "" ? 0 : point - 1;
  const magnitude = String(Math.abs(exponent)).padStart(2, "0");
  return `${out}${letter}${exponent < 0 ? "-" : "+"}${magnitude}`;
}

function fixedForm({ digits, point }: Decimal, precision: number): string {
  let out = point > 0 ? digits.slice(0, point).padEnd(point, "0") : "0";
  if (precision > 0) {
    out += ".";
    for (let i = 0; i < precision; i++) {
      const at = point + i;
      out += at >= 0 && at < digits.length ? digits[at] : "0";
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// strconv.Quote and QuoteRune.

/** unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
export const isGoPrintable = (char: string) => char === " " || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(char);

/** strconv.Quote (asciiOnly: QuoteToASCII, as `%+q`). */
export function goQuote(text: string, asciiOnly = false): string {
  let out = '"';
  for (const char of text) out += escapedRune(char, '"', asciiOnly);
  return `${out}"`;
}

/** strconv.QuoteRune: `'A'`, `'\x01'`. */
export function goQuoteRune(code: bigint, asciiOnly = false): string {
  return `'${escapedRune(runeText(code), "'", asciiOnly)}'`;
}

const RUNE_ESCAPES: Readonly<Record<string, string>> = {
  "\x07": "\\a",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\v": "\\v",
};

/** One character as Go quotes it between `quote`s (strconv's appendEscapedRune). */
export function escapedRune(char: string, quote: string, asciiOnly = false): string {
  if (char === quote || char === "\\") return `\\${char}`;
  let code = char.codePointAt(0)!;
  if (asciiOnly ? code < 0x80 && isGoPrintable(char) : isGoPrintable(char)) return char;
  const short = RUNE_ESCAPES[char];
  if (short) return short;
  if (code < 0x20 || code === 0x7f) return `\\x${code.toString(16).padStart(2, "0")}`;
  // A lone surrogate can't be in a Go string: reading it gave U+FFFD.
  if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd;
  return code < 0x10000 ? `\\u${code.toString(16).padStart(4, "0")}` : `\\U${code.toString(16).padStart(8, "0")}`;
}

/** A map's keys as Go ranges over them and prints them: sorted by bytes. */
export const sortedKeys = (map: ReadonlyMap<string, unknown>): string[] => [...map.keys()].sort(compareCodePoints);
