/**
 * Fitting a rendered body to a destination's limits. A body is rendered into a tree whose
 * strings keep their template text and their token values apart, so that a string over its
 * limit gives up room from its values — the largest first — and never from the text the
 * template wrote around them: a code block keeps its closing fence, a link its label.
 *
 * Destinations count differently: Discord and Slack in characters (code points), Jira and
 * Linear in UTF-16 units (Java and JavaScript strings), Teams and PagerDuty in bytes of the
 * request. Cuts fall on a character boundary and are marked with "...": ASCII, so that a cut
 * ASCII text stays a one-byte string, which V8 writes as JSON several times faster than one with
 * a "…" in it (measured: 0.2 ms against 1.5 ms for 100 KB of a build log).
 */

/** How a destination counts a text's length; `jsonBytes` is the UTF-8 size of the text as a JSON string. */
export type Measure = "codePoints" | "utf16" | "jsonBytes";

export const MARKER = "...";

/** A rendered tree: a template's JSON, its strings rendered as template text with token values between. */
export type Rendered = RenderedString | { type: "literal"; text: string } | RenderedArray | RenderedObject;
export type RenderedArray = { type: "array"; items: Rendered[] };
export type RenderedObject = { type: "object"; entries: [string, Rendered][] };
/**
 * `literals` has one more element than `values`: literal, value, literal, …, literal; `tails`
 * marks the values whose end matters more than their start (they are cut from the front).
 */
export type RenderedString = { type: "string"; literals: string[]; values: string[]; tails?: boolean[] };

/** A string node of fixed text, written by fitting (a placeholder, a repaired value). */
export function fixedString(text: string): RenderedString {
  return { type: "string", literals: [text], values: [] };
}

export function textOf(node: RenderedString): string {
  if (node.values.length === 0) return node.literals[0]!;
  let text = node.literals[0]!;
  for (let index = 0; index < node.values.length; index++) text += node.values[index]! + node.literals[index + 1]!;
  return text;
}

export function setText(node: RenderedString, text: string): void {
  node.literals = [text];
  node.values = [];
  node.tails = undefined;
}

/** The cost of one code point (`code`), or of a lone surrogate, in a measure. */
function costOf(measure: Measure, code: number, pair: boolean): number {
  if (measure === "codePoints") return 1;
  if (measure === "utf16") return pair ? 2 : 1;
  if (pair) return 4;
  if (code === 0x22 || code === 0x5c) return 2; // \" and \\
  if (code < 0x20) return code === 8 || code === 9 || code === 10 || code === 12 || code === 13 ? 2 : 6;
  if (code < 0x80) return 1;
  if (code < 0x800) return 2;
  if (code >= 0xd800 && code <= 0xdfff) return 6; // a lone surrogate is written \udxxx
  return 3;
}

/** The size of `text`, counted no further than just past `cap`: enough to compare it with a budget. */
export function sizeOf(text: string, measure: Measure, cap = Number.POSITIVE_INFINITY): number {
  if (measure === "utf16") return text.length;
  // Every UTF-16 unit costs at least 1 in the other measures: a text longer than the cap is over it.
  if (text.length > cap) return Math.floor(cap) + 1;
  return measure === "codePoints" ? codePoints(text) : jsonBytes(text);
}

/** What JSON.stringify writes for `text`, in UTF-8 bytes, quotes left out (one tight loop: it meets 100 KB values). */
function jsonBytes(text: string): number {
  let size = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) size += code === 0x22 || code === 0x5c ? 2 : code >= 0x20 ? 1 : SHORT_ESCAPES.has(code) ? 2 : 6;
    else if (code < 0x800) size += 2;
    else if (code >= 0xd800 && code <= 0xdbff && isLow(text.charCodeAt(index + 1))) {
      size += 4;
      index++;
    } else size += code >= 0xd800 && code <= 0xdfff ? 6 : 3;
  }
  return size;
}

/** Control characters JSON writes as \b, \t, \n, \f, \r. */
const SHORT_ESCAPES = new Set([8, 9, 10, 12, 13]);

function codePoints(text: string): number {
  let count = text.length;
  for (let index = 0; index < text.length - 1; index++) {
    if (isHigh(text.charCodeAt(index)) && isLow(text.charCodeAt(index + 1))) {
      count--;
      index++;
    }
  }
  return count;
}

const isHigh = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLow = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/**
 * `text` cut to at most `budget` (marker included), at a character boundary: its start is kept,
 * or with `keepEnd` its end (the tail of a step's output, where the error is). The cut backs off
 * from an unfinished escape — a trailing backslash, a half HTML entity (Slack's `&amp;`) — so the
 * marker is never read as part of one.
 */
export function cutTo(text: string, budget: number, measure: Measure, keepEnd = false): string {
  if (sizeOf(text, measure, budget) <= budget) return text;
  const room = budget - MARKER.length; // 3 in every measure: ASCII, no escapes
  if (room < 0) return "";
  if (keepEnd) {
    let size = 0;
    let start = text.length;
    if (measure === "utf16") {
      start = text.length - room;
      if (isLow(text.charCodeAt(start))) start++;
      size = room;
    }
    while (size < room && start > 0) {
      const code = text.charCodeAt(start - 1);
      const pair = isLow(code) && start > 1 && isHigh(text.charCodeAt(start - 2));
      const cost = costOf(measure, pair ? text.codePointAt(start - 2)! : code, pair);
      if (size + cost > room) break;
      size += cost;
      start -= pair ? 2 : 1;
    }
    let kept = text.slice(start);
    const entityEnd = kept.indexOf(";");
    if (entityEnd >= 0 && entityEnd < 8 && /^#?\w*;/.test(kept)) kept = kept.slice(entityEnd + 1);
    return MARKER + kept;
  }
  let size = 0;
  let end = 0;
  if (measure === "utf16") {
    // A unit is a unit: cut at the budget, one back when that would split a surrogate pair.
    end = isHigh(text.charCodeAt(room - 1)) ? room - 1 : room;
    size = room;
  }
  while (size < room && end < text.length) {
    const code = text.charCodeAt(end);
    const pair = isHigh(code) && end + 1 < text.length && isLow(text.charCodeAt(end + 1));
    const cost = costOf(measure, code, pair);
    if (size + cost > room) break;
    size += cost;
    end += pair ? 2 : 1;
  }
  let kept = text.slice(0, end);
  const entity = kept.lastIndexOf("&");
  if (entity >= 0 && kept.length - entity <= 8 && /^&#?\w*$/.test(kept.slice(entity))) kept = kept.slice(0, entity);
  if (kept.endsWith("\\") && !kept.endsWith("\\\\")) kept = kept.slice(0, -1);
  return kept + MARKER;
}

/**
 * Fits strings into `budget` together (one string alone is a list of one): the template text of
 * each is kept, and the room left is shared by their token values — a value smaller than an
 * equal share keeps all of it, the larger ones are cut to what remains, evenly. When the
 * template text alone is over the budget, each string is cut as a whole instead.
 */
export function fitStrings(nodes: RenderedString[], budget: number, measure: Measure): void {
  // Most strings are well within their budget: an upper bound of their size says so without counting.
  let bound = 0;
  const perUnit = measure === "jsonBytes" ? 6 : 1;
  for (const node of nodes) {
    for (const literal of node.literals) bound += literal.length * perUnit;
    for (const value of node.values) bound += value.length * perUnit;
  }
  if (bound <= budget) return;
  let fixed = 0;
  for (const node of nodes) for (const literal of node.literals) fixed += sizeOf(literal, measure);
  const room = budget - fixed;
  if (room < 0) {
    // The template's own text is too long: cut each string to its share of the budget.
    const share = Math.floor(budget / Math.max(1, nodes.length));
    for (const node of nodes) setText(node, cutTo(textOf(node), share, measure));
    return;
  }
  const slots: { node: RenderedString; index: number; size: number }[] = [];
  let total = 0;
  for (const node of nodes) {
    for (let index = 0; index < node.values.length; index++) {
      const size = sizeOf(node.values[index]!, measure, room + 1);
      slots.push({ node, index, size });
      total += size;
    }
  }
  if (total <= room) return;
  slots.sort((a, b) => a.size - b.size);
  let left = room;
  for (let position = 0; position < slots.length; position++) {
    const slot = slots[position]!;
    const share = Math.floor(left / (slots.length - position));
    if (slot.size <= share) {
      left -= slot.size;
      continue;
    }
    const cut = cutTo(slot.node.values[slot.index]!, share, measure, slot.node.tails?.[slot.index] === true);
    slot.node.values[slot.index] = cut;
    left -= sizeOf(cut, measure);
  }
}

// --- walking and editing the tree ------------------------------------------------------------

export type Path = readonly (string | number)[];

/** Whether a path matches a pattern like `embeds.*.fields.*.value` (`*`: any key or index). */
export function pathIs(path: Path, pattern: string): boolean {
  const segments = pattern.split(".");
  if (segments.length !== path.length) return false;
  return segments.every((segment, index) => segment === "*" || segment === String(path[index]));
}

/** Calls `visit` on every string with its path; `visit` may replace nothing, only edit the node. */
export function eachString(node: Rendered, visit: (node: RenderedString, path: Path) => void, path: Path = []): void {
  if (node.type === "string") visit(node, path);
  else if (node.type === "array")
    for (const [index, item] of node.items.entries()) eachString(item, visit, [...path, index]);
  else if (node.type === "object") for (const [key, value] of node.entries) eachString(value, visit, [...path, key]);
}

export function member(node: Rendered | undefined, key: string): Rendered | undefined {
  if (node?.type !== "object") return undefined;
  for (let index = node.entries.length - 1; index >= 0; index--) {
    if (node.entries[index]![0] === key) return node.entries[index]![1];
  }
  return undefined;
}

export function stringMember(node: Rendered | undefined, key: string): RenderedString | undefined {
  const found = member(node, key);
  return found?.type === "string" ? found : undefined;
}

export function arrayMember(node: Rendered | undefined, key: string): Rendered[] {
  const found = member(node, key);
  return found?.type === "array" ? found.items : [];
}

export function removeMember(node: Rendered | undefined, key: string): void {
  if (node?.type === "object") node.entries = node.entries.filter(([name]) => name !== key);
}

export function setMember(node: Rendered, key: string, value: Rendered): void {
  if (node.type !== "object") return;
  removeMember(node, key);
  node.entries.push([key, value]);
}

/** Keeps the first `most` items of an array member, and only those `keep` accepts. */
export function filterArray(
  node: Rendered | undefined,
  key: string,
  keep: (item: Rendered) => boolean,
  most = Number.POSITIVE_INFINITY,
): void {
  const found = member(node, key);
  if (found?.type === "array") found.items = found.items.filter(keep).slice(0, most);
}

export function stringify(node: Rendered): string {
  switch (node.type) {
    case "object":
      return `{${node.entries.map(([key, item]) => `${JSON.stringify(key)}:${stringify(item)}`).join(",")}}`;
    case "array":
      return `[${node.items.map(stringify).join(",")}]`;
    case "string":
      return JSON.stringify(textOf(node));
    case "literal":
      return node.text;
  }
}

/** An absolute http(s) URL a destination can link to: an empty or relative one is not. */
export function isWebUrl(text: string): boolean {
  if (!/^https?:\/\/[^\s/?#]+/i.test(text) || /\s/.test(text)) return false;
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

/** An ISO 8601 date and time with its zone, as Discord's and PagerDuty's `timestamp` want it. */
export function isIsoTime(text: string): boolean {
  return (
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(text) && !Number.isNaN(Date.parse(text))
  );
}
