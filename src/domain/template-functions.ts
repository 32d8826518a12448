/**
 * The functions a Dagu 2.x template can call (internal/cmn/templatefuncs): Go's builtins, then
 * slim-sprig's hermetic set (github.com/go-task/slim-sprig/v3) less what Dagu blocks (env, dates,
 * randomness…), with Dagu's own `split`, `join`, `count`, `add`, `empty`, `upper`, `lower`,
 * `trim` and `default` (the piped value last: `{{ .csv | split "," | join ";" }}`).
 *
 * Each is written from its Go source with its Go signature, so a template calls it as Go does:
 * `add` takes ints only (a YAML integer is a uint64, so `{{ .n | add 1 }}` fails in Dagu and
 * here), `first "abc"` fails with sprig's message. One deliberate difference, where Go's own
 * result is not fixed: `keys` and `values` give a map's entries in key order (Go: random order).
 * Dagu's functions dagflare doesn't run are refused by name when the DAG is validated
 * (UNSUPPORTED); a name Dagu doesn't have either fails as in Go (`function "x" not defined`).
 */
import { formatProblem, goQuote, goSprint, goSprintf, goSprintln, goString, isGoPrintable } from "./go-fmt.ts";
import { compareCodePoints, goJsonNumber, goJsonString, UnsupportedNumberError } from "./go-json.ts";
import { FunctionError, type FunctionSet, type ParamType, type TemplateFunction } from "./go-template.ts";
import {
  GoInt,
  type GoMap,
  GoSlice,
  type GoValue,
  goDeepEqual,
  goKindName,
  goLength,
  goTruth,
  goTypeName,
  isGoMap,
  NIL_MAP,
  utf8Bytes,
  utf8Length,
  utf8Text,
} from "./go-values.ts";

const define = (
  params: readonly ParamType[],
  call: (args: GoValue[]) => GoValue,
  variadic?: ParamType,
): TemplateFunction => ({ params, call, variadic });

const int = (value: bigint | number) => new GoInt("int", BigInt(value));
const int64 = (value: bigint | number) => new GoInt("int64", BigInt(value));
const strings = (items: readonly string[]) => new GoSlice("string", items);
const anySlice = (items: readonly GoValue[]) => new GoSlice("interface {}", items);
const asString = (value: GoValue | undefined) => value as string;
const asInt = (value: GoValue | undefined) => (value as GoInt).value;
const asMap = (value: GoValue | undefined) => value as GoMap;

/** What Go's runtime says when sprig dereferences a nil it didn't expect (a panic, caught by text/template). */
const NIL_DEREFERENCE = "runtime error: invalid memory address or nil pointer dereference";

/** A list too large to build here (Go would build it, slowly): refused rather than exhausting the Worker. */
const MAX_LIST_ITEMS = 1_000_000;
const MAX_STRING_BYTES = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Go's builtins (text/template/funcs.go).

type BasicKind = "bool" | "int" | "uint" | "float" | "string" | "invalid";

function basicKind(value: GoValue): BasicKind {
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return "float";
  if (typeof value === "string") return "string";
  if (value instanceof GoInt) return value.signed ? "int" : "uint";
  return "invalid";
}

const isNilValue = (value: GoValue) => value === null || value === NIL_MAP || (value instanceof GoSlice && value.isNil);

/** Go's `eq arg1 arg2…`: true when arg1 equals any of the others; an int and a uint compare by value. */
function equals(first: GoValue, others: readonly GoValue[]): boolean {
  if (others.length === 0) throw new FunctionError("missing argument for comparison");
  const k1 = basicKind(first);
  for (const other of others) {
    const k2 = basicKind(other);
    if (k1 !== k2) {
      if ((k1 === "int" || k1 === "uint") && (k2 === "int" || k2 === "uint")) {
        if ((first as GoInt).value === (other as GoInt).value) return true;
        continue;
      }
      if (first !== null && other !== null)
        throw new FunctionError(`incompatible types for comparison: ${goTypeName(first)} and ${goTypeName(other)}`);
      continue;
    }
    if (k1 === "invalid") {
      // Slices and maps compare only with nil.
      const sameKind = first === null || other === null || goKindName(first) === goKindName(other);
      if (!sameKind)
        throw new FunctionError(
          goSprintf("non-comparable types %s: %v, %s: %v", [first, goTypeName(first), goTypeName(other), other]),
        );
      if (isNilValue(first) || isNilValue(other)) {
        if (isNilValue(first) === isNilValue(other)) return true;
        continue;
      }
      throw new FunctionError(goSprintf("non-comparable type %s: %v", [other, goTypeName(other)]));
    }
    if (k1 === "int" || k1 === "uint" ? (first as GoInt).value === (other as GoInt).value : first === other)
      return true;
  }
  return false;
}

function lessThan(a: GoValue, b: GoValue): boolean {
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (k1 === "invalid" || k2 === "invalid") throw new FunctionError("invalid type for comparison");
  const integers = (k1 === "int" || k1 === "uint") && (k2 === "int" || k2 === "uint");
  if (k1 !== k2 && !integers)
    throw new FunctionError(`incompatible types for comparison: ${goTypeName(a)} and ${goTypeName(b)}`);
  if (k1 === "bool") throw new FunctionError("invalid type for comparison");
  if (integers) return (a as GoInt).value < (b as GoInt).value;
  if (k1 === "string") return compareCodePoints(a as string, b as string) < 0;
  return (a as number) < (b as number);
}

/** html, js, urlquery take their arguments as text: one string as it is, else as fmt.Sprint prints them. */
function argumentsText(args: readonly GoValue[]): string {
  if (args.length === 1 && typeof args[0] === "string") return args[0];
  return goSprint(args.map((arg) => (arg === null ? "<no value>" : arg)));
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  "\0": "\ufffd",
  '"': "&#34;",
  "'": "&#39;",
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
};

const JS_ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  "'": "\\'",
  '"': '\\"',
  "<": "\\u003C",
  ">": "\\u003E",
  "&": "\\u0026",
  "=": "\\u003D",
};

function jsEscape(text: string): string {
  let out = "";
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (JS_ESCAPES[char]) out += JS_ESCAPES[char];
    else if (code < 0x20) out += `\\u00${code.toString(16).toUpperCase().padStart(2, "0")}`;
    else if (code < 0x80 || isGoPrintable(char)) out += char;
    else out += `\\u${code.toString(16).toUpperCase().padStart(4, "0")}`;
  }
  return out;
}

/** url.QueryEscape: letters, digits and `-_.~` stay; a space is `+`; every other byte is %XX. */
function queryEscape(text: string): string {
  let out = "";
  for (const byte of utf8Bytes(text)) {
    const char = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(char)) out += char;
    else if (char === " ") out += "+";
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Go's `index`: item[i][j]…; a string gives a byte, a missing map key nil. */
function index(item: GoValue, indexes: readonly GoValue[]): GoValue {
  if (item === null) throw new FunctionError("index of untyped nil");
  let current: GoValue = item;
  for (const key of indexes) {
    if (current === null) throw new FunctionError("index of nil pointer");
    if (typeof current === "string" || current instanceof GoSlice) {
      const length: number = goLength(current)!;
      const position = indexArgument(key, length);
      // Go's check lets the length through; reflect then refuses it.
      if (position === length) throw new FunctionError("reflect: slice index out of range");
      current =
        typeof current === "string"
          ? new GoInt("uint8", BigInt(utf8Bytes(current)[position]!))
          : current.items[position]!;
    } else if (isGoMap(current)) {
      if (key === null) throw new FunctionError("value is nil; should be of type string");
      if (typeof key !== "string") throw new FunctionError(`value has type ${goTypeName(key)}; should be string`);
      current = current.get(key) ?? null;
    } else throw new FunctionError(`can't index item of type ${goTypeName(current)}`);
  }
  return current;
}

function indexArgument(key: GoValue, capacity: number): number {
  if (key === null) throw new FunctionError("cannot index slice/array with nil");
  if (!(key instanceof GoInt)) throw new FunctionError(`cannot index slice/array with type ${goTypeName(key)}`);
  const position = key.signed ? key.value : BigInt.asIntN(64, key.value);
  if (position < 0n || position > BigInt(capacity)) throw new FunctionError(`index out of range: ${position}`);
  return Number(position);
}

const GO_BUILTINS: ReadonlyMap<string, TemplateFunction> = new Map([
  ["and", { ...define(["any"], () => null, "any"), shortCircuit: true }],
  ["or", { ...define(["any"], () => null, "any"), shortCircuit: true }],
  ["not", define(["any"], ([value = null]) => !goTruth(value))],
  [
    "len",
    define(["any"], ([value = null]) => {
      if (value === null) throw new FunctionError("len of nil pointer");
      const length = goLength(value);
      if (length === undefined) throw new FunctionError(`len of type ${goTypeName(value)}`);
      return int(length);
    }),
  ],
  ["index", define(["any"], ([item = null, ...indexes]) => index(item, indexes), "any")],
  ["print", define([], (args) => goSprint(args), "any")],
  ["println", define([], (args) => goSprintln(args), "any")],
  ["printf", define(["string"], ([format, ...args]) => goSprintf(asString(format), args), "any")],
  ["eq", define(["any"], ([first = null, ...others]) => equals(first, others), "any")],
  ["ne", define(["any", "any"], ([a = null, b = null]) => !equals(a, [b]))],
  ["lt", define(["any", "any"], ([a = null, b = null]) => lessThan(a, b))],
  ["le", define(["any", "any"], ([a = null, b = null]) => lessThan(a, b) || equals(a, [b]))],
  ["gt", define(["any", "any"], ([a = null, b = null]) => !(lessThan(a, b) || equals(a, [b])))],
  ["ge", define(["any", "any"], ([a = null, b = null]) => !lessThan(a, b))],
  ["html", define([], (args) => argumentsText(args).replace(/["'&<>\0]/g, (char) => HTML_ESCAPES[char]!), "any")],
  ["js", define([], (args) => jsEscape(argumentsText(args)), "any")],
  ["urlquery", define([], (args) => queryEscape(argumentsText(args)), "any")],
]);

// ---------------------------------------------------------------------------------------------
// Go's strings and unicode, for text as Go treats it.

/** unicode.IsSpace. */
const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
const isGoSpace = (char: string) => GO_SPACE.test(char);

/** strings.TrimSpace: Go's whitespace (U+0085 is one, U+FEFF isn't, unlike JavaScript's trim). */
export function goTrimSpace(text: string): string {
  const chars = [...text];
  let start = 0;
  let end = chars.length;
  while (start < end && isGoSpace(chars[start]!)) start++;
  while (end > start && isGoSpace(chars[end - 1]!)) end--;
  return chars.slice(start, end).join("");
}

/** strings.Trim(text, cutset). */
function trimCutset(text: string, cutset: string): string {
  const cut = new Set(cutset);
  const chars = [...text];
  let start = 0;
  let end = chars.length;
  while (start < end && cut.has(chars[start]!)) start++;
  while (end > start && cut.has(chars[end - 1]!)) end--;
  return chars.slice(start, end).join("");
}

/**
 * Simple case mappings (Go maps one character to one): JavaScript's full mappings turn ß into SS
 * and İ into i̇, which Go doesn't; Greek letters with ypogegrammeni map to their titlecase form.
 */
const UPPER_EXCEPTIONS: ReadonlyMap<number, number> = new Map([
  ...[0x1f80, 0x1f90, 0x1fa0].flatMap((base) => Array.from({ length: 8 }, (_, i) => [base + i, base + 8 + i] as const)),
  [0x1fb3, 0x1fbc],
  [0x1fc3, 0x1fcc],
  [0x1ff3, 0x1ffc],
]);
const LOWER_EXCEPTIONS: ReadonlyMap<number, number> = new Map([[0x130, 0x69]]);
/** unicode.ToTitle differs from ToUpper for the Latin digraphs (ǆ → ǅ, not Ǆ). */
const TITLE_DIGRAPHS: ReadonlyMap<number, number> = new Map(
  [0x1c4, 0x1c7, 0x1ca, 0x1f1].flatMap((upper) =>
    [upper, upper + 1, upper + 2].map((code) => [code, upper + 1] as const),
  ),
);

function mapRune(char: string, full: string, exceptions: ReadonlyMap<number, number>): string {
  const exception = exceptions.get(char.codePointAt(0)!);
  if (exception !== undefined) return String.fromCodePoint(exception);
  return [...full].length === 1 ? full : char;
}

const goUpperRune = (char: string) => mapRune(char, char.toUpperCase(), UPPER_EXCEPTIONS);
const goUpper = (text: string) => [...text].map(goUpperRune).join("");
const goLower = (text: string) => [...text].map((char) => mapRune(char, char.toLowerCase(), LOWER_EXCEPTIONS)).join("");

/** strings.Title: the first letter of each word to title case (a word follows a separator). */
function goTitle(text: string): string {
  let previous = " ";
  return [...text]
    .map((char) => {
      const separator = isWordSeparator(previous);
      previous = char;
      if (!separator) return char;
      const digraph = TITLE_DIGRAPHS.get(char.codePointAt(0)!);
      return digraph === undefined ? goUpperRune(char) : String.fromCodePoint(digraph);
    })
    .join("");
}

function isWordSeparator(char: string): boolean {
  if (char.codePointAt(0)! <= 0x7f) return !/[0-9A-Za-z_]/.test(char);
  if (/[\p{L}\p{Nd}]/u.test(char)) return false;
  return isGoSpace(char);
}

/** strings.Replace(text, old, replacement, -1): an empty `old` matches before every character and at the end. */
function replaceAll(text: string, old: string, replacement: string): string {
  if (old !== "") return text.split(old).join(replacement);
  return replacement + [...text].map((char) => char + replacement).join("");
}

/** strings.Split: an empty separator splits into characters. */
const split = (text: string, separator: string): string[] => (separator === "" ? [...text] : text.split(separator));

function repeat(text: string, count: bigint): string {
  if (count < 0n) throw new FunctionError("strings: negative Repeat count");
  if (BigInt(utf8Length(text)) * count > BigInt(MAX_STRING_BYTES))
    throw new FunctionError(`dagflare renders at most ${MAX_STRING_BYTES} bytes from one repeat`);
  return text.repeat(Number(count));
}

/** s[start:end] on a Go string (bytes), with Go's panic when out of range. */
function byteSlice(text: string, start: number | undefined, end: number | undefined): string {
  const bytes = utf8Bytes(text);
  const from = start ?? 0;
  const to = end ?? bytes.length;
  if (to > bytes.length || to < 0)
    throw new FunctionError(`runtime error: slice bounds out of range [:${to}] with length ${bytes.length}`);
  if (from > to || from < 0) throw new FunctionError(`runtime error: slice bounds out of range [${from}:${to}]`);
  return utf8Text(bytes.slice(from, to));
}

/** Go's path.Clean. */
function cleanPath(path: string): string {
  if (path === "") return ".";
  const rooted = path.startsWith("/");
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
      else if (!rooted) parts.push("..");
    } else parts.push(part);
  }
  const joined = parts.join("/");
  if (rooted) return `/${joined}`;
  return joined === "" ? "." : joined;
}

function basePath(path: string): string {
  if (path === "") return ".";
  const trimmed = path.replace(/\/+$/, "");
  if (trimmed === "") return "/";
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

const dirPath = (path: string) => cleanPath(path.slice(0, path.lastIndexOf("/") + 1));

function extension(path: string): string {
  for (let i = path.length - 1; i >= 0 && path[i] !== "/"; i--) if (path[i] === ".") return path.slice(i);
  return "";
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

// ---------------------------------------------------------------------------------------------
// sprig's conversions (strings.go, numeric.go, defaults.go).

const MAX_INT64 = 2n ** 63n - 1n;
const MIN_INT64 = -(2n ** 63n);

/** strconv.ParseInt(text, base, 64), or undefined where Go returns an error. */
function parseInteger(text: string, base: number): bigint | undefined {
  const match = /^([+-]?)([0-9a-zA-Z]+)$/.exec(text);
  if (!match) return undefined;
  let value = 0n;
  for (const char of match[2]!) {
    const digit = Number.parseInt(char, 36);
    if (Number.isNaN(digit) || digit >= base) return undefined;
    value = value * BigInt(base) + BigInt(digit);
  }
  const signed = match[1] === "-" ? -value : value;
  return signed < MIN_INT64 || signed > MAX_INT64 ? undefined : signed;
}

/** strconv.ParseFloat for text a user writes: decimals with an exponent, inf, infinity, nan. */
function parseFloatText(text: string): number | undefined {
  if (/^[+-]?(inf|infinity)$/i.test(text)) return text.startsWith("-") ? -Infinity : Infinity;
  if (/^nan$/i.test(text)) return Number.NaN;
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

/** Go's int64(f) on amd64: truncation, with 0x8000000000000000 for what doesn't fit. */
function floatToInt64(value: number): bigint {
  if (!Number.isFinite(value) || value >= 2 ** 63 || value < -(2 ** 63)) return MIN_INT64;
  return BigInt(Math.trunc(value));
}

/** sprig's toInt64. */
function toInt64(value: GoValue | undefined): bigint {
  if (typeof value === "string") return parseInteger(value, 10) ?? 0n;
  if (value instanceof GoInt) return value.signed || value.value <= MAX_INT64 ? value.value : MAX_INT64;
  if (typeof value === "number") return floatToInt64(value);
  if (typeof value === "boolean") return value ? 1n : 0n;
  return 0n;
}

/** sprig's toFloat64. */
function toFloat64(value: GoValue | undefined): number {
  if (typeof value === "string") return parseFloatText(value) ?? 0;
  if (value instanceof GoInt) return Number(value.value);
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  return 0;
}

/** sprig's strval: a string as it is, anything else as %v prints it. */
const strval = (value: GoValue): string => (typeof value === "string" ? value : goString(value));

/** sprig's strslice: a list's non-nil items as strings, or the value as a one-item list. */
function strslice(value: GoValue): string[] {
  if (value instanceof GoSlice) return value.items.filter((item) => item !== null).map(strval);
  if (value === null) return [];
  return [strval(value)];
}

/** sprig's empty (for compact, coalesce, all, any): the zero value of its type. */
const sprigEmpty = (value: GoValue) => !goTruth(value);

/** Dagu's `empty` and `default`: the zero value, where a float64 -0 is not zero (reflect.Value.IsZero). */
function daguEmpty(value: GoValue): boolean {
  if (typeof value === "number") return Object.is(value, 0);
  return !goTruth(value);
}

/** A list's items, as sprig's list functions read them (reflect.TypeOf(v).Kind(); a nil makes Go panic). */
function listItems(value: GoValue | undefined, failure: (kind: string) => string): readonly GoValue[] {
  if (value === null || value === undefined) throw new FunctionError(NIL_DEREFERENCE);
  if (!(value instanceof GoSlice)) throw new FunctionError(failure(goKindName(value)));
  return value.items;
}

// ---------------------------------------------------------------------------------------------
// JSON (encoding/json, as sprig's toJson and fromJson use it).

function toJsonText(value: GoValue, indent: string, escapeHtml: boolean, prefix = ""): string {
  if (value === null) return "null";
  if (typeof value === "boolean") return String(value);
  if (typeof value === "string") return goJsonString(value, escapeHtml);
  if (typeof value === "number") return goJsonNumber(value);
  if (value instanceof GoInt) return value.value.toString();
  const inner = prefix + indent;
  const open = indent === "" ? "" : `\n${inner}`;
  const separator = indent === "" ? "," : `,\n${inner}`;
  const close = indent === "" ? "" : `\n${prefix}`;
  if (value instanceof GoSlice) {
    if (value.isNil) return "null";
    if (value.items.length === 0) return "[]";
    const items = value.items.map((item) => toJsonText(item, indent, escapeHtml, inner));
    return `[${open}${items.join(separator)}${close}]`;
  }
  if (value === NIL_MAP) return "null";
  const keys = [...value.keys()].sort(compareCodePoints);
  if (keys.length === 0) return "{}";
  const colon = indent === "" ? ":" : ": ";
  const entries = keys.map(
    (key) => `${goJsonString(key, escapeHtml)}${colon}${toJsonText(value.get(key)!, indent, escapeHtml, inner)}`,
  );
  return `{${open}${entries.join(separator)}${close}}`;
}

/** json.Marshal (or MarshalIndent); undefined where Go fails (NaN, ±Inf). */
function marshal(value: GoValue, indent = "", escapeHtml = true): string | undefined {
  try {
    return toJsonText(value, indent, escapeHtml);
  } catch (error) {
    if (error instanceof UnsupportedNumberError) return undefined;
    throw error;
  }
}

function mustMarshal(value: GoValue, indent = "", escapeHtml = true): string {
  const text = marshal(value, indent, escapeHtml);
  if (text === undefined) throw new FunctionError(`json: unsupported value: ${goString(value)}`);
  return text;
}

/** json.Unmarshal into an interface{}: numbers are float64s, objects maps. */
function fromJson(value: unknown): GoValue {
  if (value === null || typeof value !== "object") return value as GoValue;
  if (Array.isArray(value)) return anySlice(value.map(fromJson));
  return new Map(Object.entries(value).map(([key, item]) => [key, fromJson(item)]));
}

function mustFromJson(text: string): GoValue {
  try {
    return fromJson(JSON.parse(text));
  } catch (error) {
    throw new FunctionError(`invalid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// sprig's lists and dicts (list.go, dict.go).

/** untilStep: start, start+step, … before stop. */
function untilStep(start: bigint, stop: bigint, step: bigint): GoSlice {
  const items: GoValue[] = [];
  if ((stop < start && step >= 0n) || (stop >= start && step <= 0n)) return new GoSlice("int", items);
  const more = stop < start ? (i: bigint) => i > stop : (i: bigint) => i < stop;
  for (let i = start; more(i); i += step) {
    if (items.length >= MAX_LIST_ITEMS)
      throw new FunctionError(`dagflare builds lists of at most ${MAX_LIST_ITEMS} items`);
    items.push(int(i));
  }
  return new GoSlice("int", items);
}

/** sprig's seq: like the Unix command, numbers separated by spaces. */
function seq(params: readonly bigint[]): string {
  const list = (start: bigint, stop: bigint, step: bigint) =>
    untilStep(start, stop, step)
      .items.map((item) => String((item as GoInt).value))
      .join(" ");
  if (params.length === 1) {
    const end = params[0]!;
    const increment = end < 1n ? -1n : 1n;
    return list(1n, end + increment, increment);
  }
  if (params.length === 2) {
    const [start, end] = params as [bigint, bigint];
    const step = end < start ? -1n : 1n;
    return list(start, end + step, step);
  }
  if (params.length === 3) {
    const [start, step, end] = params as [bigint, bigint, bigint];
    if (end < start && step > 0n) return "";
    return list(start, end + (end < start ? -1n : 1n), step);
  }
  return "";
}

function chunk(size: bigint, list: GoValue | undefined): GoValue {
  const items = listItems(list, (kind) => `Cannot chunk type ${kind}`);
  if (items.length === 0) return new GoSlice("[]interface {}", []);
  if (size <= 0n) throw new FunctionError("runtime error: makeslice: len out of range");
  const chunks: GoValue[] = [];
  for (let i = 0; i < items.length; i += Number(size)) chunks.push(anySlice(items.slice(i, i + Number(size))));
  return new GoSlice("[]interface {}", chunks);
}

/** sprig's slice: list[start:end] (end defaults to its length); an empty list gives nil. */
function sliceList(list: GoValue | undefined, indices: readonly GoValue[]): GoValue {
  const items = listItems(list, (kind) => `list should be type of slice or array but ${kind}`);
  if (items.length === 0) return null;
  const start = indices.length > 0 ? Number(toInt64(indices[0])) : 0;
  const end = indices.length > 1 ? Number(toInt64(indices[1])) : items.length;
  if (start < 0 || end < start || end > items.length) throw new FunctionError("reflect: slice index out of range");
  return new GoSlice((list as GoSlice).elem, items.slice(start, end));
}

function interfaceConversion(value: GoValue, wanted: string): never {
  const actual = value === null ? "nil" : goTypeName(value);
  throw new FunctionError(`interface conversion: interface {} is ${actual}, not ${wanted}`);
}

/** sprig's dig: `dig "a" "b" default dict` walks nested maps, the default where a key is missing. */
function dig(args: readonly GoValue[]): GoValue {
  if (args.length < 3) throw new FunctionError("dig needs at least three arguments");
  let current = args[args.length - 1]!;
  const fallback = args[args.length - 2]!;
  const keys = args.slice(0, -2).map((key) => (typeof key === "string" ? key : interfaceConversion(key, "string")));
  for (const [i, key] of keys.entries()) {
    if (!isGoMap(current)) interfaceConversion(current, "map[string]interface {}");
    if (!current.has(key)) return fallback;
    current = current.get(key)!;
    if (i === keys.length - 1) return current;
  }
  return current;
}

const sortedEntries = (map: GoMap) =>
  [...map.keys()].sort(compareCodePoints).map((key) => [key, map.get(key)!] as const);

/** sprig's max and min: the int64 of each value, the one `better` prefers. */
function extreme(values: readonly (GoValue | undefined)[], better: (a: bigint, b: bigint) => boolean): bigint {
  let best = toInt64(values[0]);
  for (const value of values.slice(1)) {
    const candidate = toInt64(value);
    if (better(candidate, best)) best = candidate;
  }
  return best;
}

/** math.Max and math.Min: NaN wins, and +0 is above -0. */
function goMax(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.NaN;
  if (a === 0 && b === 0) return Object.is(a, -0) ? b : a;
  return Math.max(a, b);
}

function goMin(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.NaN;
  if (a === 0 && b === 0) return Object.is(a, -0) ? a : b;
  return Math.min(a, b);
}

// ---------------------------------------------------------------------------------------------
// The function set.

/** A sprig list function under each of its names (`first` and `mustFirst` behave alike here). */
const named = (names: readonly string[], fn: TemplateFunction) => names.map((name) => [name, fn] as const);

const listFunction = (name: string, body: (items: readonly GoValue[]) => GoValue) =>
  define(["any"], ([list]) => body(listItems(list, (kind) => `Cannot find ${name} on type ${kind}`)));

/** Dagu's functions (slim-sprig and Dagu's overrides), found before Go's builtins. */
const DAGU_FUNCTIONS: ReadonlyMap<string, TemplateFunction> = new Map<string, TemplateFunction>([
  // Dagu's overrides (the piped value last).
  ["split", define(["string", "string"], ([separator, text]) => strings(split(asString(text), asString(separator))))],
  [
    "join",
    define(["string", "any"], ([separator, list = null]) => {
      if (list === null) return "";
      if (!(list instanceof GoSlice)) throw new FunctionError(`join: unsupported type ${goTypeName(list)}`);
      return list.items.map((item) => (typeof item === "string" ? item : goString(item))).join(asString(separator));
    }),
  ],
  [
    "count",
    define(["any"], ([value = null]) => {
      if (value === null) return int(0);
      const length =
        typeof value === "string" || value instanceof GoSlice || isGoMap(value) ? goLength(value) : undefined;
      if (length === undefined) throw new FunctionError(`count: unsupported type ${goTypeName(value)}`);
      return int(length);
    }),
  ],
  ["add", define(["int", "int"], ([b, a]) => int(asInt(a) + asInt(b)))],
  ["empty", define(["any"], ([value = null]) => daguEmpty(value))],
  ["upper", define(["string"], ([text]) => goUpper(asString(text)))],
  ["lower", define(["string"], ([text]) => goLower(asString(text)))],
  ["trim", define(["string"], ([text]) => goTrimSpace(asString(text)))],
  ["default", define(["any", "any"], ([fallback = null, value = null]) => (daguEmpty(value) ? fallback : value))],

  // Strings.
  ["hello", define([], () => "Hello!")],
  ["title", define(["string"], ([text]) => goTitle(asString(text)))],
  [
    "substr",
    define(["int", "int", "string"], ([start, end, text]) => {
      const from = Number(asInt(start));
      const to = Number(asInt(end));
      if (from < 0) return byteSlice(asString(text), undefined, to);
      if (to < 0 || to > utf8Length(asString(text))) return byteSlice(asString(text), from, undefined);
      return byteSlice(asString(text), from, to);
    }),
  ],
  [
    "trunc",
    define(["int", "string"], ([count, text]) => {
      const c = Number(asInt(count));
      const length = utf8Length(asString(text));
      if (c < 0 && length + c > 0) return byteSlice(asString(text), length + c, undefined);
      if (c >= 0 && length > c) return byteSlice(asString(text), undefined, c);
      return asString(text);
    }),
  ],
  ["repeat", define(["int", "string"], ([count, text]) => repeat(asString(text), asInt(count)))],
  ...named(
    ["trimall", "trimAll"],
    define(["string", "string"], ([cutset, text]) => trimCutset(asString(text), asString(cutset))),
  ),
  [
    "trimSuffix",
    define(["string", "string"], ([suffix, text]) => {
      const value = asString(text);
      return value.endsWith(asString(suffix)) ? value.slice(0, value.length - asString(suffix).length) : value;
    }),
  ],
  [
    "trimPrefix",
    define(["string", "string"], ([prefix, text]) => {
      const value = asString(text);
      return value.startsWith(asString(prefix)) ? value.slice(asString(prefix).length) : value;
    }),
  ],
  ["contains", define(["string", "string"], ([part, text]) => asString(text).includes(asString(part)))],
  ["hasPrefix", define(["string", "string"], ([prefix, text]) => asString(text).startsWith(asString(prefix)))],
  ["hasSuffix", define(["string", "string"], ([suffix, text]) => asString(text).endsWith(asString(suffix)))],
  ["quote", define([], (args) => args.flatMap((arg) => (arg === null ? [] : [goQuote(strval(arg))])).join(" "), "any")],
  [
    "squote",
    define([], (args) => args.flatMap((arg) => (arg === null ? [] : [`'${goString(arg)}'`])).join(" "), "any"),
  ],
  ["cat", define([], (args) => args.flatMap((arg) => (arg === null ? [] : [goString(arg)])).join(" "), "any")],
  [
    "indent",
    define(["int", "string"], ([spaces, text]) => {
      const pad = repeat(" ", asInt(spaces));
      return pad + asString(text).replaceAll("\n", `\n${pad}`);
    }),
  ],
  [
    "nindent",
    define(["int", "string"], ([spaces, text]) => {
      const pad = repeat(" ", asInt(spaces));
      return `\n${pad}${asString(text).replaceAll("\n", `\n${pad}`)}`;
    }),
  ],
  [
    "replace",
    define(["string", "string", "string"], ([old, replacement, text]) =>
      replaceAll(asString(text), asString(old), asString(replacement)),
    ),
  ],
  ["plural", define(["string", "string", "int"], ([one, many, count]) => (asInt(count) === 1n ? one! : many!))],
  ["toString", define(["any"], ([value = null]) => strval(value))],
  ["toStrings", define(["any"], ([value = null]) => strings(strslice(value)))],
  [
    "splitList",
    define(["string", "string"], ([separator, text]) => strings(split(asString(text), asString(separator)))),
  ],
  ["atoi", define(["string"], ([text]) => int(parseInteger(asString(text), 10) ?? 0n))],
  ["int", define(["any"], ([value]) => int(toInt64(value)))],
  ["int64", define(["any"], ([value]) => int64(toInt64(value)))],
  ["float64", define(["any"], ([value]) => toFloat64(value))],
  ["toDecimal", define(["any"], ([value = null]) => int64(parseInteger(strval(value), 8) ?? 0n))],
  ["seq", define([], (args) => seq(args.map(asInt)), "int")],
  ["until", define(["int"], ([count]) => untilStep(0n, asInt(count), asInt(count) < 0n ? -1n : 1n))],
  [
    "untilStep",
    define(["int", "int", "int"], ([start, stop, step]) => untilStep(asInt(start), asInt(stop), asInt(step))),
  ],
  ["b64enc", define(["string"], ([text]) => base64(utf8Bytes(asString(text))))],
  [
    "adler32sum",
    define(["string"], ([text]) => {
      let a = 1;
      let b = 0;
      for (const byte of utf8Bytes(asString(text))) {
        a = (a + byte) % 65521;
        b = (b + a) % 65521;
      }
      return String(((b << 16) | a) >>> 0);
    }),
  ],

  // Paths (package path; path/filepath's are the same on Linux).
  ...named(
    ["base", "osBase"],
    define(["string"], ([path]) => basePath(asString(path))),
  ),
  ...named(
    ["dir", "osDir"],
    define(["string"], ([path]) => dirPath(asString(path))),
  ),
  ...named(
    ["clean", "osClean"],
    define(["string"], ([path]) => cleanPath(asString(path))),
  ),
  ...named(
    ["ext", "osExt"],
    define(["string"], ([path]) => extension(asString(path))),
  ),
  ...named(
    ["isAbs", "osIsAbs"],
    define(["string"], ([path]) => asString(path).startsWith("/")),
  ),

  // Arithmetic: int64s (wrapping as Go's), from anything sprig's toInt64 reads.
  ["add1", define(["any"], ([value]) => int64(toInt64(value) + 1n))],
  ["sub", define(["any", "any"], ([a, b]) => int64(toInt64(a) - toInt64(b)))],
  [
    "div",
    define(["any", "any"], ([a, b]) => {
      const divisor = toInt64(b);
      if (divisor === 0n) throw new FunctionError("runtime error: integer divide by zero");
      return int64(toInt64(a) / divisor);
    }),
  ],
  [
    "mod",
    define(["any", "any"], ([a, b]) => {
      const divisor = toInt64(b);
      if (divisor === 0n) throw new FunctionError("runtime error: integer divide by zero");
      return int64(toInt64(a) % divisor);
    }),
  ],
  [
    "mul",
    define(
      ["any"],
      ([first, ...rest]) =>
        int64(rest.reduce((product, value) => BigInt.asIntN(64, product * toInt64(value)), toInt64(first))),
      "any",
    ),
  ],
  ...named(
    ["max", "biggest"],
    define(["any"], (args) => int64(extreme(args, (a, b) => a > b)), "any"),
  ),
  ["min", define(["any"], (args) => int64(extreme(args, (a, b) => a < b)), "any")],
  ["maxf", define(["any"], ([first, ...rest]) => rest.map(toFloat64).reduce(goMax, toFloat64(first)), "any")],
  ["minf", define(["any"], ([first, ...rest]) => rest.map(toFloat64).reduce(goMin, toFloat64(first)), "any")],
  ["ceil", define(["any"], ([value]) => Math.ceil(toFloat64(value)))],
  ["floor", define(["any"], ([value]) => Math.floor(toFloat64(value)))],
  [
    "round",
    define(
      ["any", "int"],
      ([value, places, ...roundOn]) => {
        const p = Number(asInt(places));
        // 10^p as Go's math.Pow computes an integral power: exact up to 10^22, then one division.
        const pow = p >= 0 ? 10 ** p : 1 / 10 ** -p;
        const digit = pow * toFloat64(value);
        const fraction = digit - Math.trunc(digit);
        const threshold = roundOn.length > 0 ? (roundOn[0] as number) : 0.5;
        return (fraction >= threshold ? Math.ceil(digit) : Math.floor(digit)) / pow;
      },
      "float64",
    ),
  ],

  // Defaults and JSON.
  ["coalesce", define([], (args) => args.find((arg) => !sprigEmpty(arg)) ?? null, "any")],
  ["all", define([], (args) => args.every((arg) => !sprigEmpty(arg)), "any")],
  ["any", define([], (args) => args.some((arg) => !sprigEmpty(arg)), "any")],
  ...named(
    ["compact", "mustCompact"],
    listFunction("compact", (items) => anySlice(items.filter((item) => !sprigEmpty(item)))),
  ),
  [
    "ternary",
    define(["any", "any", "bool"], ([whenTrue = null, whenFalse = null, condition]) =>
      condition ? whenTrue : whenFalse,
    ),
  ],
  [
    "fromJson",
    define(["string"], ([text]) => {
      try {
        return mustFromJson(asString(text));
      } catch {
        return null;
      }
    }),
  ],
  ["mustFromJson", define(["string"], ([text]) => mustFromJson(asString(text)))],
  ["toJson", define(["any"], ([value = null]) => marshal(value) ?? "")],
  ["mustToJson", define(["any"], ([value = null]) => mustMarshal(value))],
  ["toPrettyJson", define(["any"], ([value = null]) => marshal(value, "  ") ?? "")],
  ["mustToPrettyJson", define(["any"], ([value = null]) => mustMarshal(value, "  "))],
  ...named(
    ["toRawJson", "mustToRawJson"],
    define(["any"], ([value = null]) => mustMarshal(value, "", false)),
  ),

  // Types.
  ["typeOf", define(["any"], ([value = null]) => goTypeName(value))],
  ["typeIs", define(["string", "any"], ([target, value = null]) => target === goTypeName(value))],
  [
    "typeIsLike",
    define(["string", "any"], ([target, value = null]) => {
      const type = goTypeName(value);
      return target === type || `*${target}` === type;
    }),
  ],
  ["kindOf", define(["any"], ([value = null]) => goKindName(value))],
  ["kindIs", define(["string", "any"], ([target, value = null]) => target === goKindName(value))],
  ["deepEqual", define(["any", "any"], ([a = null, b = null]) => goDeepEqual(a, b))],
  [
    "fail",
    define(["string"], ([message]) => {
      throw new FunctionError(asString(message));
    }),
  ],

  // Lists.
  ...named(
    ["list", "tuple"],
    define([], (args) => anySlice(args), "any"),
  ),
  ...named(
    ["first", "mustFirst"],
    listFunction("first", (items) => items[0] ?? null),
  ),
  ...named(
    ["last", "mustLast"],
    listFunction("last", (items) => items[items.length - 1] ?? null),
  ),
  ...named(
    ["rest", "mustRest"],
    listFunction("rest", (items) => new GoSlice("interface {}", items.slice(1), items.length === 0)),
  ),
  ...named(
    ["initial", "mustInitial"],
    listFunction("initial", (items) => new GoSlice("interface {}", items.slice(0, -1), items.length === 0)),
  ),
  ...named(
    ["reverse", "mustReverse"],
    listFunction("reverse", (items) => anySlice([...items].reverse())),
  ),
  ...named(
    ["uniq", "mustUniq"],
    listFunction("uniq", (items) =>
      anySlice(items.filter((item, i) => items.findIndex((other) => goDeepEqual(other, item)) === i)),
    ),
  ),
  ...named(
    ["without", "mustWithout"],
    define(
      ["any"],
      ([list, ...omit]) =>
        anySlice(
          listItems(list, (kind) => `Cannot find without on type ${kind}`).filter(
            (item) => !omit.some((other) => goDeepEqual(other, item)),
          ),
        ),
      "any",
    ),
  ),
  ...named(
    ["has", "mustHas"],
    define(["any", "any"], ([needle = null, haystack = null]) => {
      if (haystack === null) return false;
      return listItems(haystack, (kind) => `Cannot find has on type ${kind}`).some((item) => goDeepEqual(needle, item));
    }),
  ),
  ...named(
    ["append", "push", "mustAppend", "mustPush"],
    define(["any", "any"], ([list, value = null]) =>
      anySlice([...listItems(list, (kind) => `Cannot push on type ${kind}`), value]),
    ),
  ),
  ...named(
    ["prepend", "mustPrepend"],
    define(["any", "any"], ([list, value = null]) =>
      anySlice([value, ...listItems(list, (kind) => `Cannot prepend on type ${kind}`)]),
    ),
  ),
  [
    "concat",
    define(
      [],
      (lists) =>
        new GoSlice(
          "interface {}",
          lists.flatMap((list) => listItems(list, (kind) => `Cannot concat type ${kind} as list`)),
          lists.every((list) => goLength(list) === 0),
        ),
      "any",
    ),
  ],
  ...named(
    ["slice", "mustSlice"],
    define(["any"], ([list, ...indices]) => sliceList(list, indices), "any"),
  ),
  ...named(
    ["chunk", "mustChunk"],
    define(["int", "any"], ([size, list]) => chunk(asInt(size), list)),
  ),
  [
    "sortAlpha",
    define(["any"], ([list = null]) =>
      strings(list instanceof GoSlice ? strslice(list).sort(compareCodePoints) : [strval(list)]),
    ),
  ],

  // Dicts.
  [
    "dict",
    define(
      [],
      (args) => {
        const map: GoMap = new Map();
        for (let i = 0; i < args.length; i += 2) map.set(strval(args[i]!), i + 1 < args.length ? args[i + 1]! : "");
        return map;
      },
      "any",
    ),
  ],
  [
    "get",
    define(["map", "string"], ([map, key]) => (asMap(map).has(asString(key)) ? asMap(map).get(asString(key))! : "")),
  ],
  [
    "set",
    define(["map", "string", "any"], ([map, key, value = null]) => {
      if (map === NIL_MAP) throw new FunctionError("assignment to entry in nil map");
      asMap(map).set(asString(key), value);
      return asMap(map);
    }),
  ],
  [
    "unset",
    define(["map", "string"], ([map, key]) => {
      if (map !== NIL_MAP) asMap(map).delete(asString(key));
      return asMap(map);
    }),
  ],
  ["hasKey", define(["map", "string"], ([map, key]) => asMap(map).has(asString(key)))],
  [
    "pluck",
    define(
      ["string"],
      ([key, ...maps]) =>
        anySlice(maps.flatMap((map) => (asMap(map).has(asString(key)) ? [asMap(map).get(asString(key))!] : []))),
      "map",
    ),
  ],
  // Go lists a map's keys and values in a random order; here in key order.
  ["keys", define([], (maps) => strings(maps.flatMap((map) => [...asMap(map).keys()].sort(compareCodePoints))), "map")],
  ["values", define(["map"], ([map]) => anySlice(sortedEntries(asMap(map)).map(([, value]) => value)))],
  [
    "pick",
    define(
      ["map"],
      ([map, ...keys]) =>
        new Map(
          keys
            .filter((key) => asMap(map).has(asString(key)))
            .map((key) => [asString(key), asMap(map).get(asString(key))!]),
        ),
      "string",
    ),
  ],
  [
    "omit",
    define(["map"], ([map, ...keys]) => new Map([...asMap(map)].filter(([key]) => !keys.includes(key))), "string"),
  ],
  ["dig", define([], (args) => dig(args), "any")],
]);

/** Dagu's functions dagflare doesn't run, each with why. */
const UNSUPPORTED: ReadonlyMap<string, string> = new Map([
  ...[
    "regexMatch",
    "mustRegexMatch",
    "regexFind",
    "mustRegexFind",
    "regexFindAll",
    "mustRegexFindAll",
    "regexReplaceAll",
    "mustRegexReplaceAll",
    "regexReplaceAllLiteral",
    "mustRegexReplaceAllLiteral",
    "regexSplit",
    "mustRegexSplit",
    "regexQuoteMeta",
  ].map((name) => [name, "Go's regular expressions (RE2) differ from the Worker's; use a `run:` step"] as const),
  ...["sha1sum", "sha256sum"].map((name) => [name, "no hash functions in templates yet; use a `run:` step"] as const),
  ...["b64dec", "b32enc", "b32dec"].map((name) => [name, "only b64enc is available; decode in a `run:` step"] as const),
  ...["urlParse", "urlJoin"].map((name) => [name, "URL parsing is not available; use a `run:` step"] as const),
  ["splitn", "it gives a map[string]string, which dagflare's values don't have; use splitList"],
]);

/** Go's builtins and Dagu's functions: the set a Dagu 2.x template.render step calls. */
export const DAGU_TEMPLATE_FUNCTIONS: FunctionSet = {
  // Dagu's functions come first: sprig's `slice` replaces Go's.
  get: (name) => DAGU_FUNCTIONS.get(name) ?? (name === "call" ? undefined : GO_BUILTINS.get(name)),
  refusal: (name) => (name === "call" ? "a template's data holds no functions to call" : UNSUPPORTED.get(name)),
  literalProblem: (name, firstArgument) => (name === "printf" ? formatProblem(firstArgument) : undefined),
};
