/**
 * A webhook payload contract (`webhook: {schema: …}`): a subset of JSON Schema, checked by
 * walking the schema — no code is generated, because workerd forbids `new Function` (which is how
 * ajv compiles). A schema is checked once when its DAG is saved (`schemaProblems`): a keyword
 * outside the subset is refused there with its path, never ignored at trigger time.
 *
 * Supported: type (one or a list; "integer" is a number without a fraction), enum, const,
 * properties, required, additionalProperties (boolean or schema), items (one schema for every
 * item), minItems, maxItems, uniqueItems, minimum, maximum, exclusiveMinimum, exclusiveMaximum
 * (numbers, as in draft 6+), minLength, maxLength (in code points), pattern (ECMAScript, `u` flag,
 * unanchored), anyOf, oneOf, allOf, not; and the annotations $schema, $id, $comment, title,
 * description, default, examples, format, deprecated, readOnly, writeOnly, which assert nothing.
 */

export type SchemaFailure = {
  /** JSON Pointer into the payload ("" is the whole payload). */
  path: string;
  message: string;
};

const ASSERTIONS = new Set([
  "type",
  "enum",
  "const",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "minItems",
  "maxItems",
  "uniqueItems",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "minLength",
  "maxLength",
  "pattern",
  "anyOf",
  "oneOf",
  "allOf",
  "not",
]);
const ANNOTATIONS = new Set([
  "$schema",
  "$id",
  "$comment",
  "title",
  "description",
  "default",
  "examples",
  "format",
  "deprecated",
  "readOnly",
  "writeOnly",
]);
const TYPES = new Set(["null", "boolean", "object", "array", "number", "integer", "string"]);
const MAX_SCHEMA_DEPTH = 64;
/** Failures reported for one payload: enough to fix it, bounded for a hostile one. */
const MAX_FAILURES = 20;

export const SUPPORTED_KEYWORDS = [...ASSERTIONS].join(", ");

type Path = (string | number)[];
export type SchemaProblem = { path: Path; message: string };

/** Why a schema can't be used (empty when it can); paths are inside the schema. */
export function schemaProblems(schema: unknown, path: Path = [], depth = 0): SchemaProblem[] {
  if (typeof schema === "boolean") return [];
  if (!isObject(schema)) return [{ path, message: "a schema is an object (or true / false)" }];
  if (depth > MAX_SCHEMA_DEPTH) return [{ path, message: `the schema nests deeper than ${MAX_SCHEMA_DEPTH} levels` }];
  const problems: SchemaProblem[] = [];
  const problem = (key: string, message: string) => problems.push({ path: [...path, key], message });
  const sub = (value: unknown, at: Path) => problems.push(...schemaProblems(value, at, depth + 1));
  for (const [key, value] of Object.entries(schema)) {
    if (ANNOTATIONS.has(key)) continue;
    if (!ASSERTIONS.has(key)) {
      problem(
        key,
        `the keyword '${key}' is not supported by dagflare's payload schemas (supported: ${SUPPORTED_KEYWORDS})`,
      );
      continue;
    }
    switch (key) {
      case "type": {
        const types = Array.isArray(value) ? value : [value];
        if (types.length === 0 || !types.every((type) => typeof type === "string" && TYPES.has(type)))
          problem(key, `must be one of ${[...TYPES].join(", ")} (or a list of them)`);
        break;
      }
      case "enum":
        if (!Array.isArray(value) || value.length === 0) problem(key, "must be a non-empty list");
        break;
      case "const":
        break;
      case "properties":
        if (!isObject(value)) problem(key, "must be an object of schemas");
        else for (const [name, property] of Object.entries(value)) sub(property, [...path, key, name]);
        break;
      case "required":
        if (!Array.isArray(value) || !value.every((name) => typeof name === "string"))
          problem(key, "must be a list of property names");
        break;
      case "additionalProperties":
      case "items":
      case "not":
        if (Array.isArray(value)) problem(key, "must be one schema (tuple forms are not supported)");
        else sub(value, [...path, key]);
        break;
      case "anyOf":
      case "oneOf":
      case "allOf":
        if (!Array.isArray(value) || value.length === 0) problem(key, "must be a non-empty list of schemas");
        else for (const [index, item] of value.entries()) sub(item, [...path, key, index]);
        break;
      case "minimum":
      case "maximum":
      case "exclusiveMinimum":
      case "exclusiveMaximum":
        if (typeof value !== "number") problem(key, "must be a number");
        break;
      case "minLength":
      case "maxLength":
      case "minItems":
      case "maxItems":
        if (!Number.isInteger(value) || (value as number) < 0) problem(key, "must be a non-negative integer");
        break;
      case "uniqueItems":
        if (typeof value !== "boolean") problem(key, "must be true or false");
        break;
      case "pattern":
        if (typeof value !== "string") problem(key, "must be a regular expression (a string)");
        else if (!compilePattern(value)) problem(key, `'${value}' is not a valid regular expression`);
        break;
    }
  }
  return problems;
}

/** The payload's failures against a schema `schemaProblems` accepted; empty when it validates. */
export function validatePayload(schema: unknown, payload: unknown): SchemaFailure[] {
  const failures: SchemaFailure[] = [];
  check(schema, payload, "", failures);
  return failures.slice(0, MAX_FAILURES);
}

function check(schema: unknown, value: unknown, at: string, failures: SchemaFailure[]): void {
  if (failures.length >= MAX_FAILURES) return;
  if (schema === true) return;
  if (schema === false || !isObject(schema)) {
    failures.push({ path: at, message: "no value is allowed here" });
    return;
  }
  const fail = (message: string) => failures.push({ path: at, message });

  if (schema.type !== undefined) {
    const types = (Array.isArray(schema.type) ? schema.type : [schema.type]) as string[];
    if (!types.some((type) => hasType(value, type))) {
      fail(`must be ${types.join(" or ")}, not ${typeName(value)}`);
      return; // the other keywords would only repeat this one
    }
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((allowed) => deepEqual(allowed, value)))
    fail(`must be one of ${schema.enum.map((allowed) => JSON.stringify(allowed)).join(", ")}`);
  if ("const" in schema && !deepEqual(schema.const, value)) fail(`must be ${JSON.stringify(schema.const)}`);

  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) fail(`must be at least ${schema.minimum}`);
    if (typeof schema.maximum === "number" && value > schema.maximum) fail(`must be at most ${schema.maximum}`);
    if (typeof schema.exclusiveMinimum === "number" && value <= schema.exclusiveMinimum)
      fail(`must be more than ${schema.exclusiveMinimum}`);
    if (typeof schema.exclusiveMaximum === "number" && value >= schema.exclusiveMaximum)
      fail(`must be less than ${schema.exclusiveMaximum}`);
  }
  if (typeof value === "string") {
    const length = [...value].length;
    if (typeof schema.minLength === "number" && length < schema.minLength)
      fail(`must be at least ${schema.minLength} characters long`);
    if (typeof schema.maxLength === "number" && length > schema.maxLength)
      fail(`must be at most ${schema.maxLength} characters long`);
    if (typeof schema.pattern === "string" && !compilePattern(schema.pattern)?.test(value))
      fail(`must match the pattern ${schema.pattern}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === "number" && value.length < schema.minItems)
      fail(`must have at least ${schema.minItems} items`);
    if (typeof schema.maxItems === "number" && value.length > schema.maxItems)
      fail(`must have at most ${schema.maxItems} items`);
    if (schema.uniqueItems === true) {
      const duplicate = value.findIndex((item, index) => value.slice(0, index).some((other) => deepEqual(other, item)));
      if (duplicate >= 0) fail(`must not repeat an item (item ${duplicate} is a repeat)`);
    }
    if (schema.items !== undefined)
      for (const [index, item] of value.entries()) check(schema.items, item, `${at}/${index}`, failures);
  }
  if (isObject(value)) {
    const properties = isObject(schema.properties) ? schema.properties : {};
    if (Array.isArray(schema.required))
      for (const name of schema.required as string[])
        if (!Object.hasOwn(value, name)) failures.push({ path: `${at}/${pointerToken(name)}`, message: "is required" });
    for (const [name, item] of Object.entries(value)) {
      const where = `${at}/${pointerToken(name)}`;
      if (Object.hasOwn(properties, name)) check(properties[name], item, where, failures);
      else if (schema.additionalProperties === false)
        failures.push({ path: where, message: "is not an allowed property" });
      else if (schema.additionalProperties !== undefined) check(schema.additionalProperties, item, where, failures);
    }
  }

  if (Array.isArray(schema.allOf)) for (const part of schema.allOf) check(part, value, at, failures);
  if (Array.isArray(schema.anyOf) && !schema.anyOf.some((part) => passes(part, value)))
    fail(`must match at least one of the ${schema.anyOf.length} schemas of anyOf`);
  if (Array.isArray(schema.oneOf)) {
    const matching = schema.oneOf.filter((part) => passes(part, value)).length;
    if (matching !== 1) fail(`must match exactly one of the schemas of oneOf (it matches ${matching})`);
  }
  if (schema.not !== undefined && passes(schema.not, value)) fail("must not match the schema of not");
}

function passes(schema: unknown, value: unknown): boolean {
  const failures: SchemaFailure[] = [];
  check(schema, value, "", failures);
  return failures.length === 0;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case "null":
      return value === null;
    case "boolean":
      return typeof value === "boolean";
    case "number":
      return typeof value === "number";
    case "integer":
      return Number.isInteger(value);
    case "string":
      return typeof value === "string";
    case "array":
      return Array.isArray(value);
    case "object":
      return isObject(value);
    default:
      return false;
  }
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (Number.isInteger(value)) return "integer";
  return typeof value;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((item, index) => deepEqual(item, b[index]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key]))
    );
  }
  return false;
}

const patterns = new Map<string, RegExp | null>();
function compilePattern(source: string): RegExp | null {
  let compiled = patterns.get(source);
  if (compiled === undefined) {
    try {
      compiled = new RegExp(source, "u");
    } catch {
      compiled = null;
    }
    if (patterns.size > 1000) patterns.clear();
    patterns.set(source, compiled);
  }
  return compiled;
}

const pointerToken = (name: string) => name.replaceAll("~", "~0").replaceAll("/", "~1");

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
