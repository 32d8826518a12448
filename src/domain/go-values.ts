/**
 * Go values as a text/template sees them (./go-template.ts), each with the Go type it would have
 * in Dagu: a template's result depends on it. `eq .count 3` compares a uint64 with an int (fine)
 * but `eq .count 3.0` is an error; Dagu's `add` takes only `int`s; `printf "%d"` of a float64
 * prints `%!d(float64=1.5)`; a float64 prints as `1e+06` where an integer prints `1000000`.
 *
 * - `null`: Go's nil (a nil interface: a data key written `~`, a missing map entry's zero value);
 * - `boolean`, `string` (Go strings are bytes: lengths and indexes count UTF-8 bytes);
 * - `number`: a float64; every Go integer is a `GoInt`, so a JavaScript number is never an integer;
 * - `GoInt`: `int` (literals, lengths, indexes), `int64` (sprig's arithmetic, negative YAML
 *   integers), `uint64` (non-negative YAML integers), `uint8` (a byte of a string);
 * - `GoSlice`: `[]interface {}` (YAML lists, `list`), `[]string` (`split`), `[]int` (`until`),
 *   `[][]interface {}` (`chunk`);
 * - `Map`: `map[string]interface {}` (YAML maps, `dict`); Go orders its keys when printing.
 */

export type GoValue = null | boolean | string | number | GoInt | GoSlice | GoMap;
export type GoMap = Map<string, GoValue>;
export type GoIntType = "int" | "int64" | "uint64" | "uint8";

export class GoInt {
  readonly type: GoIntType;
  readonly value: bigint;
  /** Wraps around as Go's arithmetic does (two's complement in the type's width). */
  constructor(type: GoIntType, value: bigint) {
    this.type = type;
    this.value = wrapInteger(type, value);
  }
  get signed(): boolean {
    return this.type === "int" || this.type === "int64";
  }
}

export class GoSlice {
  readonly elem: "interface {}" | "string" | "int" | "[]interface {}";
  readonly items: readonly GoValue[];
  /** A nil slice prints as `[]` but is JSON `null` and equals nil. */
  readonly isNil: boolean;
  constructor(elem: GoSlice["elem"], items: readonly GoValue[], isNil = false) {
    this.elem = elem;
    this.items = items;
    this.isNil = isNil;
  }
}

function wrapInteger(type: GoIntType, value: bigint): bigint {
  if (type === "uint8") return BigInt.asUintN(8, value);
  return type === "uint64" ? BigInt.asUintN(64, value) : BigInt.asIntN(64, value);
}

/**
 * Go's nil map, where a nil is passed for a map parameter: reads find nothing; sprig's `set`
 * refuses to write to it, as Go panics.
 */
export const NIL_MAP: GoMap = new Map();

export const goInt = (value: number | bigint, type: GoIntType = "int") => new GoInt(type, BigInt(value));
export const isGoMap = (value: GoValue): value is GoMap => value instanceof Map;

/** Go's name for the value's type, as `%T` prints it. */
export function goTypeName(value: GoValue): string {
  if (value === null) return "<nil>";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "string") return "string";
  if (typeof value === "number") return "float64";
  if (value instanceof GoInt) return value.type;
  if (value instanceof GoSlice) return `[]${value.elem}`;
  return "map[string]interface {}";
}

/** reflect's Kind name (sprig's `kindOf`). */
export function goKindName(value: GoValue): string {
  if (value === null) return "invalid";
  if (value instanceof GoSlice) return "slice";
  if (isGoMap(value)) return "map";
  return goTypeName(value);
}

/** The length Go's `len` gives: bytes of a string, items of a slice or map; undefined for others. */
export function goLength(value: GoValue): number | undefined {
  if (typeof value === "string") return utf8Length(value);
  if (value instanceof GoSlice) return value.items.length;
  if (isGoMap(value)) return value.size;
  return undefined;
}

/** text/template's truth: not the zero value of its type (an empty string, slice or map is false). */
export function goTruth(value: GoValue): boolean {
  if (value === null) return false;
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0;
  if (value instanceof GoInt) return value.value !== 0n;
  return goLength(value)! > 0;
}

/** reflect.DeepEqual, for the values a template meets: same type, same contents. */
export function goDeepEqual(a: GoValue, b: GoValue): boolean {
  if (a === null || b === null) return a === b;
  if (goTypeName(a) !== goTypeName(b)) return false;
  if (a instanceof GoInt) return a.value === (b as GoInt).value;
  if (a instanceof GoSlice) {
    const other = b as GoSlice;
    return a.items.length === other.items.length && a.items.every((item, i) => goDeepEqual(item, other.items[i]!));
  }
  if (isGoMap(a)) {
    const other = b as GoMap;
    return a.size === other.size && [...a].every(([key, item]) => other.has(key) && goDeepEqual(item, other.get(key)!));
  }
  return a === b;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

export const utf8Bytes = (text: string): Uint8Array => encoder.encode(text);
export const utf8Length = (text: string): number => encoder.encode(text).byteLength;
/** Bytes back to text; a cut through a character becomes U+FFFD (Go would keep the broken bytes). */
export const utf8Text = (bytes: Uint8Array): string => decoder.decode(bytes);

/**
 * JSON-like data (a step's `with.data`, after expansion) as the Go values Dagu's YAML decoder
 * (goccy/go-yaml) gives it: a non-negative integer is a uint64, a negative one an int64, a
 * number with a fraction a float64. An integer written as a float (`1.0`) reads as the integer 1
 * here, so the DAG's validation refuses it (../domain/template-render.ts).
 */
export function goValueOfYaml(value: unknown): GoValue {
  if (value === null || value === undefined) return null;
  if (typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) return value;
    return new GoInt(value < 0 ? "int64" : "uint64", BigInt(value));
  }
  if (Array.isArray(value)) return new GoSlice("interface {}", value.map(goValueOfYaml));
  return new Map(Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, goValueOfYaml(item)]));
}
