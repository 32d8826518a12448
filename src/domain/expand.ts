/**
 * How the Worker expands a DAG's text — env and params values, a precondition's condition, http
 * command, script and config — the way Dagu 1.30.2 expands it (./parameter-expansion.ts):
 * `${VAR}`, bare `$VAR`, Dagu's JSON field access (`${VAR.a.b}`, array indices written both ways,
 * `${VAR.items.0.name}` and `${VAR.items[0].name}`) and the shell's parameter operators
 * (`${VAR:-default}`, `${VAR#prefix}`, `${VAR:0:3}`, `${#VAR}`, `$((…))`, …).
 *
 * Only the given scope is consulted — params, env, step outputs, the webhook payload and the
 * run's built-ins — never the Worker's bindings or secrets. A missing variable or path expands
 * to the empty string; an object or array expands to its compact JSON text, with numbers as
 * written (no rounding of big integers) and keys in their order. The result is never expanded
 * again: a value that looks like `${OTHER}` stays as it is.
 *
 * Shell text (a command step's command and script) is not expanded here: its references become
 * environment variables (./shell-refs.ts) and the shell applies the operators itself.
 */
import { atPath, type JsonNode, parseJson, stringifyJson } from "./json-text.ts";
import { expandLikeDagu } from "./parameter-expansion.ts";

export type Scope = ReadonlyMap<string, string>;

/**
 * `${NAME}` with an optional JSON path, the reference shell text binds (./shell-refs.ts). Path
 * segments exclude the characters of shell parameter operators (`${X:-default}`, `${X#prefix}`,
 * …), so those stay shell syntax for the shell to apply.
 */
export const REFERENCE_SOURCE = String.raw`\$\{([A-Za-z_][A-Za-z0-9_]*)((?:\.[^.[\]}\s:#%/=?+]+|\[\d+\])*)\}`;

export function expand(template: string, scope: Scope): string {
  return expandLikeDagu(template, {
    get: (name) => scope.get(name),
    field: (name, path) => {
      const raw = scope.get(name);
      const tree = raw === undefined ? null : parsed(raw);
      return tree?.type === "object" || tree?.type === "array" ? resolve(raw, path) : undefined;
    },
  });
}

/** Expands every string inside a JSON-like value (HTTP executor config, for instance). */
export function expandDeep<T>(value: T, scope: Scope): T {
  if (typeof value === "string") return expand(value, scope) as T;
  if (Array.isArray(value)) return value.map((item) => expandDeep(item, scope)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, expandDeep(item, scope)])) as T;
  }
  return value;
}

/** The value of `${NAME<path>}` given NAME's raw value: the text itself, a JSON field, or "" when missing. */
export function resolve(raw: string | undefined, path: string): string {
  if (raw === undefined) return "";
  if (path === "") return raw;
  const tree = parsed(raw);
  const node = tree && atPath(tree, pathSegments(path));
  if (!node) return "";
  return node.type === "string" ? node.value : stringifyJson(node);
}

/** The last few values parsed for path access: a step usually reads several fields of one payload. */
const recentTrees = new Map<string, JsonNode | null>();

function parsed(raw: string): JsonNode | null {
  let tree = recentTrees.get(raw);
  if (tree === undefined) {
    try {
      tree = parseJson(raw);
    } catch {
      tree = null; // not JSON: every path is missing
    }
    if (recentTrees.size >= 4) recentTrees.delete(recentTrees.keys().next().value!);
    recentTrees.set(raw, tree);
  }
  return tree;
}

function pathSegments(path: string): string[] {
  return [...path.matchAll(/\.([^.[\]]+)|\[(\d+)\]/g)].map((match) => match[1] ?? match[2]!);
}
