/**
 * JSON kept exactly as it was sent. `JSON.parse` rounds integers beyond 2^53 and reorders
 * integer-like object keys; a webhook payload must reach the run with neither changed. Here
 * numbers keep their digits and objects their key order.
 *
 * Input is first checked by the native parser (fast, with a precise error); this parser then
 * builds the exact tree, and refuses nesting deeper than MAX_DEPTH rather than exhausting the stack.
 */
export type JsonNode =
  | { type: "object"; entries: [key: string, value: JsonNode][] }
  | { type: "array"; items: JsonNode[] }
  | { type: "string"; value: string }
  /** A number, `true`, `false` or `null`, as written. */
  | { type: "literal"; text: string };

export const MAX_DEPTH = 256;

export class JsonTextError extends Error {}

const WHITESPACE = /[ \t\n\r]*/y;
const LITERAL = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
// Unrolled (no alternation per character), so a 1 MiB string costs no backtracking stack.
const STRING = /"[^"\\]*(?:\\.[^"\\]*)*"/y;

/** Parses JSON text; throws JsonTextError (with the native parser's message) when it isn't JSON. */
export function parseJson(text: string): JsonNode {
  try {
    JSON.parse(text);
  } catch (error) {
    throw new JsonTextError(error instanceof Error ? error.message : String(error));
  }
  let position = 0;

  const skipWhitespace = () => {
    WHITESPACE.lastIndex = position;
    WHITESPACE.test(text);
    position = WHITESPACE.lastIndex;
  };
  const token = (pattern: RegExp): string => {
    pattern.lastIndex = position;
    const match = pattern.exec(text)![0];
    position += match.length;
    return match;
  };
  const string = (): string => {
    const quoted = token(STRING);
    return quoted.includes("\\") ? (JSON.parse(quoted) as string) : quoted.slice(1, -1);
  };

  /** `depth`: how many arrays and objects this value would be inside of, counting itself. */
  const value = (depth: number): JsonNode => {
    skipWhitespace();
    const first = text[position];
    if ((first === "{" || first === "[") && depth > MAX_DEPTH)
      throw new JsonTextError(`JSON nested deeper than ${MAX_DEPTH} levels`);
    let node: JsonNode;
    if (first === "{") {
      position++;
      const entries: [string, JsonNode][] = [];
      skipWhitespace();
      while (text[position] !== "}") {
        skipWhitespace();
        const key = string();
        skipWhitespace();
        position++; // ':'
        entries.push([key, value(depth + 1)]);
        skipWhitespace();
        if (text[position] === ",") position++;
      }
      position++;
      node = { type: "object", entries };
    } else if (first === "[") {
      position++;
      const items: JsonNode[] = [];
      skipWhitespace();
      while (text[position] !== "]") {
        items.push(value(depth + 1));
        skipWhitespace();
        if (text[position] === ",") position++;
      }
      position++;
      node = { type: "array", items };
    } else if (first === '"') {
      node = { type: "string", value: string() };
    } else {
      node = { type: "literal", text: token(LITERAL) };
    }
    skipWhitespace();
    return node;
  };

  return value(1);
}

/** Brackets outside strings (strings are matched whole and skipped). */
const STRUCTURE = /"[^"\\]*(?:\\.[^"\\]*)*"|[[\]{}]/g;
const STRING_OR_WHITESPACE = /"[^"\\]*(?:\\.[^"\\]*)*"|[ \t\n\r]+/g;

/** Valid JSON text without its insignificant whitespace; everything else byte for byte. */
export function compactJson(text: string): string {
  return text.replace(STRING_OR_WHITESPACE, (match) => (match[0] === '"' ? match : ""));
}

/** How deeply arrays and objects nest in valid JSON text (0 for a scalar); linear, no recursion. */
export function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  for (const match of text.matchAll(STRUCTURE)) {
    const char = match[0];
    if (char === "[" || char === "{") deepest = Math.max(deepest, ++depth);
    else if (char === "]" || char === "}") depth--;
  }
  return deepest;
}

/** Compact JSON text of a node: no whitespace, digits and key order as parsed. */
export function stringifyJson(node: JsonNode): string {
  switch (node.type) {
    case "object":
      return `{${node.entries.map(([key, item]) => `${JSON.stringify(key)}:${stringifyJson(item)}`).join(",")}}`;
    case "array":
      return `[${node.items.map(stringifyJson).join(",")}]`;
    case "string":
      return JSON.stringify(node.value);
    case "literal":
      return node.text;
  }
}

/** An object's member (the last one, as JSON.parse would keep), or `undefined`. */
export function memberOf(node: JsonNode, key: string): JsonNode | undefined {
  if (node.type !== "object") return undefined;
  for (let index = node.entries.length - 1; index >= 0; index--) {
    if (node.entries[index]![0] === key) return node.entries[index]![1];
  }
  return undefined;
}

/** Follows `a.b.0.c`-style segments: keys in objects, indices in arrays. */
export function atPath(node: JsonNode, segments: readonly string[]): JsonNode | undefined {
  let current: JsonNode | undefined = node;
  for (const segment of segments) {
    if (current?.type === "array") current = /^\d+$/.test(segment) ? current.items[Number(segment)] : undefined;
    else current = current && memberOf(current, segment);
    if (!current) return undefined;
  }
  return current;
}
