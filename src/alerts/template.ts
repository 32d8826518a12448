/**
 * Alert body templates: JSON with `{{token}}`s in its strings. A template is parsed and checked
 * here; it is rendered on the parsed tree (destinations.ts): tokens are replaced inside string
 * values, which are then written out as JSON strings. Whatever a value holds (quotes, newlines,
 * backslashes, emoji, 100 KB of a stack trace), the result is valid JSON, and a value can never
 * add keys or change structure.
 *
 * `{{name | truncate:N}}` cuts a value to N characters (with "…"), for a template's own reasons;
 * fitting to a destination's limits needs none.
 */
import { type JsonNode, JsonTextError, parseJson } from "../domain/json-text.ts";
import { classifyToken, nearestToken, SECRET_TOKEN } from "./tokens.ts";

const TOKEN = /\{\{\s*([A-Za-z0-9_.]+)\s*(?:\|\s*truncate\s*:\s*(\d+)\s*)?\}\}/g;

export type TemplateProblem = { message: string; line: number; column: number };
export type TemplateCheck =
  | { ok: true; tree: JsonNode; tokens: string[]; warnings: string[] }
  | { ok: false; errors: TemplateProblem[] };

/** Parses and checks a body template: JSON, and only tokens that exist (asset tokens: a warning). */
export function checkTemplate(text: string): TemplateCheck {
  let tree: JsonNode;
  try {
    tree = parseJson(text);
  } catch (error) {
    if (!(error instanceof JsonTextError)) throw error;
    const position = Number(/position (\d+)/.exec(error.message)?.[1] ?? 0);
    return {
      ok: false,
      errors: [
        {
          message: `not JSON: ${error.message.replace(/ \(line \d+ column \d+\)$/, "")}`,
          ...lineAndColumn(text, position),
        },
      ],
    };
  }
  const errors: TemplateProblem[] = [];
  const warnings: string[] = [];
  const tokens = new Set<string>();
  for (const match of text.matchAll(TOKEN)) {
    const name = match[1]!;
    tokens.add(name);
    const kind = classifyToken(name);
    if (kind === "unknown") errors.push({ message: unknownTokenMessage(name), ...lineAndColumn(text, match.index) });
    else if (kind === "secret")
      errors.push({ message: `{{${name}}} may only be used in a header value`, ...lineAndColumn(text, match.index) });
    else if (kind === "asset")
      warnings.push(`{{${name}}} is a Dagster asset token; dagflare has no assets, so it renders empty`);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, tree, tokens: [...tokens], warnings };
}

function unknownTokenMessage(name: string): string {
  const suggestion = nearestToken(name);
  return suggestion ? `unknown token {{${name}}} (did you mean {{${suggestion}}}?)` : `unknown token {{${name}}}`;
}

/** A string's template text and its tokens' values (and names), apart: literal, value, literal, …, literal. */
export function renderParts(
  text: string,
  values: Readonly<Record<string, string>>,
): { literals: string[]; values: string[]; names: string[] } {
  const parts = { literals: [] as string[], values: [] as string[], names: [] as string[] };
  let from = 0;
  for (const match of text.matchAll(TOKEN)) {
    parts.literals.push(text.slice(from, match.index));
    parts.names.push(match[1]!);
    parts.values.push(tokenValue(values, match[1]!, match[2]));
    from = match.index + match[0].length;
  }
  parts.literals.push(text.slice(from));
  return parts;
}

function tokenValue(values: Readonly<Record<string, string>>, name: string, limit: string | undefined): string {
  const value = SECRET_TOKEN.test(name) ? "" : (values[name] ?? "");
  return limit === undefined ? value : truncate(value, Number(limit));
}

/** Cuts to at most `limit` characters (code points, so no emoji is split), ending with "…". */
export function truncate(value: string, limit: number): string {
  // UTF-16 length bounds the code point count: most values need no counting at all.
  if (value.length <= limit) return value;
  let end = 0;
  let count = 0;
  while (end < value.length && count < limit) {
    end += value.codePointAt(end)! > 0xffff ? 2 : 1;
    count++;
  }
  if (end >= value.length) return value;
  // Back to limit - 1 characters, to make room for the ellipsis.
  const last = value.codePointAt(end - 1)!;
  const cut = end - (last >= 0xdc00 && last <= 0xdfff ? 2 : 1);
  return `${value.slice(0, Math.max(0, cut))}…`;
}

export function lineAndColumn(text: string, position: number): { line: number; column: number } {
  const before = text.slice(0, position);
  const line = before.split("\n").length;
  return { line, column: position - before.lastIndexOf("\n") };
}
