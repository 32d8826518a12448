/**
 * Dagu 2.x's `action: template.render` (internal/runtime/builtin/template): the step's template,
 * a Go text/template (./go-template.ts) with Dagu's functions (./template-functions.ts) and
 * `missingkey=error`, rendered with `with.data` as dot; the result is the step's stdout, exactly
 * (no newline added), so `output:` captures it.
 *
 * As in Dagu: the template text is never expanded (`${VAR}` in it is text); `data` is, each
 * string in it (`name: ${NAME}`), before rendering; the template is trimmed of surrounding
 * whitespace when the DAG is read (Dagu trims every step script), so a `template: |` block
 * renders without its final newline.
 */
import { isMap, isScalar, isSeq, Scalar, type Node as YamlNode } from "yaml";
import { executeTemplate, parseTemplate, TemplateParseError } from "./go-template.ts";
import { goValueOfYaml } from "./go-values.ts";
import { DAGU_TEMPLATE_FUNCTIONS, goTrimSpace } from "./template-functions.ts";

/** A template renders at most this much (a runaway `range` or `repeat` fails the step instead). */
export const MAX_RENDERED_BYTES = 16 * 1024 * 1024;
const MAX_STEPS = 5_000_000;

/** The template text Dagu renders: the step's script, trimmed as Dagu trims scripts. */
export const daguTemplateText = (script: string) => goTrimSpace(script);

/** Renders the template with this data (the step's expanded `with.data`); throws Go's error message. */
export function renderDaguTemplate(script: string, data: unknown): string {
  const template = parseTemplate(daguTemplateText(script), DAGU_TEMPLATE_FUNCTIONS);
  return executeTemplate(template, goValueOfYaml(data ?? {}), DAGU_TEMPLATE_FUNCTIONS, {
    maxOutputBytes: MAX_RENDERED_BYTES,
    maxSteps: MAX_STEPS,
  });
}

/**
 * What keeps a template step from running as Dagu runs it, found when the DAG is validated: a
 * template that doesn't parse (Dagu would fail the step when it runs) or uses what dagflare
 * doesn't render (`{{define}}`, a sprig function it lacks), and data that isn't a map.
 */
export function templateStepProblems(step: {
  script: string | undefined;
  config: Readonly<Record<string, unknown>>;
}): { field: "script" | "executor"; message: string }[] {
  const problems: { field: "script" | "executor"; message: string }[] = [];
  const text = daguTemplateText(step.script ?? "");
  if (text === "") {
    problems.push({ field: "script", message: "a template step needs its template (with.template)" });
  } else {
    try {
      parseTemplate(text, DAGU_TEMPLATE_FUNCTIONS);
    } catch (error) {
      if (!(error instanceof TemplateParseError)) throw error;
      const prefix = error.refused ? "" : "the template doesn't parse (Go's text/template): ";
      problems.push({ field: "script", message: prefix + error.message });
    }
  }
  const { data, ...others } = step.config;
  if (data !== undefined && data !== null && (typeof data !== "object" || Array.isArray(data)))
    problems.push({ field: "executor", message: "a template's data must be a map of values (`data: {name: …}`)" });
  for (const name of Object.keys(others))
    problems.push({ field: "executor", message: `'${name}' of a template step is not supported (it takes data)` });
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Data as Dagu's YAML reads it.

/**
 * Where a plain scalar of `with.data` reads as another value in Dagu than here, or as a Go type
 * the step can't be given: Dagu reads YAML with goccy/go-yaml, where `1e3` is text, `017` is
 * octal (15), `1_000` is a number and `1.0` is a float64 (which prints and compares unlike the
 * integer 1, and which reaches the Worker as 1). Each is refused with what to write instead.
 */
export function templateDataProblems(node: unknown): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  const visit = (current: unknown, path: (string | number)[]) => {
    if (isMap(current)) {
      for (const pair of current.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        visit(pair.value, [...path, key]);
      }
    } else if (isSeq(current)) {
      for (const [index, item] of current.items.entries()) visit(item, [...path, index]);
    } else if (isScalar(current) && current.type === Scalar.PLAIN && current.source !== undefined) {
      const problem = plainScalarProblem(current.source, current.value);
      if (problem) problems.push({ path, message: problem });
    }
  };
  visit(node as YamlNode, []);
  return problems;
}

type GoYamlValue =
  | { kind: "null" | "text" | "infinity" | "nan" }
  | { kind: "bool"; value: boolean }
  | { kind: "integer"; value: bigint }
  | { kind: "float"; value: number };

const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

function plainScalarProblem(source: string, value: unknown): string | undefined {
  const go = goccyValue(source);
  const quote = `quote it ('${source}') to have the text`;
  switch (go.kind) {
    case "text":
      return typeof value === "string" ? undefined : `Dagu's YAML reads ${source} as text, not a number: ${quote}`;
    case "null":
      return value === null ? undefined : `Dagu's YAML reads ${source} as null: ${quote}`;
    case "bool":
      return value === go.value ? undefined : `Dagu's YAML reads ${source} as ${go.value}: ${quote}`;
    case "infinity":
    case "nan":
      return `${source} (a float infinity or NaN) can't be passed to a template here: ${quote}`;
    case "integer":
      if (go.value > MAX_EXACT || go.value < -MAX_EXACT)
        return `${source} is beyond the integers dagflare keeps exactly (±2^53): ${quote}`;
      return value === Number(go.value)
        ? undefined
        : `Dagu's YAML reads ${source} as ${go.value}: ${quote}, or write ${go.value}`;
    case "float":
      if (Number.isInteger(go.value))
        return `Dagu's YAML reads ${source} as a float64, which dagflare can't tell from the integer ${go.value} once read (it prints and compares differently): write ${go.value}, or ${quote}`;
      return value === go.value ? undefined : `Dagu's YAML reads ${source} as ${go.value}: ${quote}`;
  }
}

const NULLS = new Set(["null", "Null", "NULL", "~"]);
const TRUES = new Set(["true", "True", "TRUE"]);
const FALSES = new Set(["false", "False", "FALSE"]);

/** What goccy/go-yaml (Dagu's YAML reader) makes of a plain scalar (its token.New and ToNumber). */
function goccyValue(text: string): GoYamlValue {
  // An empty value (`key:`) is null too.
  if (NULLS.has(text) || text === "") return { kind: "null" };
  if (TRUES.has(text) || FALSES.has(text)) return { kind: "bool", value: TRUES.has(text) };
  if ([".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF"].includes(text)) return { kind: "infinity" };
  if ([".nan", ".NaN", ".NAN"].includes(text)) return { kind: "nan" };
  if (text.startsWith("_") || text.split(".").length > 2) return { kind: "text" };
  const negative = text.startsWith("-");
  const unsigned = text.replace(/^\+/, "").replace(/^-/, "").replaceAll("_", "");
  const signed = negative ? `-${unsigned}` : unsigned;
  let base = 10;
  let digits = unsigned;
  if (/^0[xob]/.test(unsigned)) {
    base = unsigned[1] === "x" ? 16 : unsigned[1] === "o" ? 8 : 2;
    digits = unsigned.slice(2);
  } else if (unsigned.startsWith("0") && unsigned.length > 1 && !unsigned.includes(".")) {
    base = 8;
    digits = unsigned.slice(1);
  } else if (unsigned.includes(".")) {
    // strconv.ParseFloat of the text (Go's decimal syntax).
    if (!/^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(signed)) return { kind: "text" };
    const value = Number(signed);
    return Number.isFinite(value) ? { kind: "float", value } : { kind: "text" };
  }
  if (digits === "" || [...digits].some((char) => Number.isNaN(Number.parseInt(char, base)))) return { kind: "text" };
  let value = 0n;
  for (const char of digits) value = value * BigInt(base) + BigInt(Number.parseInt(char, base));
  return { kind: "integer", value: negative ? -value : value };
}
