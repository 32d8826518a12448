/**
 * Bounds on what a YAML document may cost before anything reads it as data. YAML lets a small
 * file describe a huge or endless tree: aliases to anchors that hold aliases ("billion laughs"),
 * an alias inside its own anchor (a cycle), and nesting deep enough to exhaust the parser's stack
 * (the `yaml` package recurses per level). Each is refused with a position, as a spec error.
 *
 * All walks here are iterative: no input can make them recurse.
 */
import { CST, type Document, isAlias, isMap, isPair, isScalar, isSeq, Lexer, type Node } from "yaml";

/** Nesting levels (block indentation steps, `- ` items on one line, flow brackets) a spec may use. */
export const MAX_YAML_DEPTH = 64;
/** Aliases (`*name`) in one file, all its documents together. */
export const MAX_YAML_ALIASES = 100;
/** Size of a document with every alias replaced by what it refers to (text characters, plus one per node). */
export const MAX_YAML_EXPANDED_SIZE = 1024 * 1024;

export const YAML_LIMITS_RULE = `at most ${MAX_YAML_ALIASES} aliases per file, expanding to at most ${MAX_YAML_EXPANDED_SIZE / 1024} KiB`;

export type YamlProblem = { message: string; offset: number; field?: string };

export type YamlScan = { problem: YamlProblem | undefined; aliases: number };

/**
 * What the text shows before it is parsed, read with `yaml`'s lexer (a loop, not recursion):
 * - too deep a nesting (the parser is what a deep document overflows). The depth counted for a
 *   place is the block indentation levels open there, the `- ` / `? ` indicators before it on
 *   its line and the flow brackets (`[`, `{`) open around it;
 * - too many aliases, and how many there are (none: aliasProblem() has nothing to do);
 * - more than `maxSteps` items in a document's top-level `steps:`, so a huge spec is refused
 *   without parsing it (the exact count, groups included, is made on the parsed document).
 */
export function scanYaml(source: string, maxSteps: number): YamlScan {
  let aliases = 0;
  const indents: number[] = [];
  let flow = 0;
  let indicators = 0;
  let atLineStart = true;
  let lineOffset = 0;
  let scalarFollows = false;
  let offset = 0;
  // The top-level `steps:` of the current document: where its items start, how many so far.
  let rootKey: string | undefined;
  let steps: { column: number | undefined; items: number; flowAt: number | undefined } | undefined;
  const problem = (message: string, at: number, field?: string): YamlScan => ({
    problem: field ? { message, offset: at, field } : { message, offset: at },
    aliases,
  });
  const tooManySteps = (at: number) =>
    problem(`more than ${maxSteps} steps: a DAG has at most ${maxSteps}`, at, "steps");

  for (const token of new Lexer().lex(source)) {
    const type = CST.tokenType(token);
    // Markers the lexer inserts are not source text; a scalar's text follows its marker.
    if (type === "doc-mode" || type === "flow-error-end") continue;
    if (type === "scalar" && token === CST.SCALAR) {
      scalarFollows = true;
      continue;
    }
    const start = offset;
    offset += token.length;
    if (type === "newline") {
      atLineStart = true;
      lineOffset = offset;
      indicators = 0;
      continue;
    }
    if (atLineStart && flow === 0 && type !== "comment" && type !== "byte-order-mark") {
      const indent = type === "space" ? token.length - token.trimStart().length : 0;
      while (indents.length > 0 && indents.at(-1)! >= indent) indents.pop();
      indents.push(indent);
    }
    atLineStart = false;
    if (scalarFollows) {
      scalarFollows = false;
      const column = start - lineOffset;
      if (column === 0 && flow === 0) {
        rootKey = token;
        steps = undefined;
      }
      // A block scalar's text runs to the end of its last line.
      if (token.endsWith("\n")) {
        atLineStart = true;
        lineOffset = offset;
        indicators = 0;
      }
      continue;
    }
    switch (type) {
      case "doc-start":
        indents.length = 0;
        rootKey = undefined;
        steps = undefined;
        continue;
      case "map-value-ind":
        if (rootKey === "steps" && flow === 0 && indents.length === 1 && indicators === 0) {
          steps = { column: undefined, items: 0, flowAt: undefined };
        }
        rootKey = undefined;
        continue;
      case "alias":
        if (++aliases > MAX_YAML_ALIASES)
          return problem(`more than ${MAX_YAML_ALIASES} aliases (${YAML_LIMITS_RULE})`, start);
        continue;
      case "comma":
        if (steps && steps.flowAt === flow - 1 && ++steps.items > maxSteps) return tooManySteps(start);
        continue;
      case "seq-item-ind":
        if (steps && flow === 0 && indicators === 0) {
          const column = start - lineOffset;
          steps.column ??= column;
          if (column === steps.column && ++steps.items > maxSteps) return tooManySteps(start);
        }
        indicators++;
        break;
      case "explicit-key-ind":
        indicators++;
        break;
      case "flow-seq-start":
      case "flow-map-start":
        if (steps && steps.column === undefined && steps.flowAt === undefined) steps.flowAt = flow;
        flow++;
        break;
      case "flow-seq-end":
      case "flow-map-end":
        if (flow > 0) flow--;
        if (steps && steps.flowAt === flow) steps = undefined;
        continue;
      default:
        continue;
    }
    if (indents.length + indicators + flow > MAX_YAML_DEPTH) {
      return problem(`nested deeper than ${MAX_YAML_DEPTH} levels`, start);
    }
  }
  return { problem: undefined, aliases };
}

type Frame = { node: unknown; children: unknown[] | undefined; size: number };

/**
 * Aliases that can't be read safely: one that names no anchor before it (`yaml` would throw
 * when reading it), one inside its own anchor (an endless tree), and a document whose aliases
 * expand it beyond MAX_YAML_EXPANDED_SIZE. (Their number is bounded by scanYaml().)
 */
export function aliasProblem(documents: readonly Document[]): YamlProblem | undefined {
  for (const document of documents) {
    // Anchors as `yaml` resolves them: the last one of that name before the alias, in document order.
    const anchors = new Map<string, Node>();
    const sizes = new Map<unknown, number>();
    let lastAlias: { offset: number } | undefined;
    const stack: Frame[] = [{ node: document.contents, children: undefined, size: 0 }];
    while (stack.length > 0) {
      const frame = stack.at(-1)!;
      const { node } = frame;
      if (frame.children === undefined) {
        // First visit: register its anchor, then its children (in reverse, so they pop in order).
        if (isScalar(node) || isMap(node) || isSeq(node)) {
          if (node.anchor) anchors.set(node.anchor, node);
        }
        if (isAlias(node)) {
          const offset = node.range?.[0] ?? 0;
          const target = anchors.get(node.source);
          if (!target)
            return { message: `alias *${node.source} refers to no anchor &${node.source} before it`, offset };
          const size = sizes.get(target);
          if (size === undefined)
            return { message: `alias *${node.source} is inside its own anchor (an endless structure)`, offset };
          lastAlias = { offset };
          stack.pop();
          addToParent(stack, size);
          continue;
        }
        frame.children =
          isMap(node) || isSeq(node) ? [...node.items].reverse() : isPair(node) ? [node.value, node.key] : [];
        frame.size = isScalar(node) ? 1 + scalarLength(node.value) : 1;
      }
      const child = frame.children.pop();
      if (child !== undefined) {
        if (child !== null) stack.push({ node: child, children: undefined, size: 0 });
        continue;
      }
      stack.pop();
      if (frame.size > MAX_YAML_EXPANDED_SIZE) {
        return {
          message: `aliases expand this document beyond ${MAX_YAML_EXPANDED_SIZE / 1024} KiB (${YAML_LIMITS_RULE})`,
          offset: lastAlias?.offset ?? 0,
        };
      }
      sizes.set(node, frame.size);
      addToParent(stack, frame.size);
    }
  }
  return undefined;
}

function addToParent(stack: Frame[], size: number): void {
  const parent = stack.at(-1);
  if (parent) parent.size += size;
}

function scalarLength(value: unknown): number {
  return typeof value === "string" ? value.length : value === null || value === undefined ? 0 : String(value).length;
}

/** 1-based line and column of `offset` in `source`. */
export function positionOf(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let at = source.indexOf("\n"); at !== -1 && at < offset; at = source.indexOf("\n", at + 1)) {
    line++;
    lineStart = at + 1;
  }
  return { line, column: offset - lineStart + 1 };
}
