/**
 * Records what Go's own text/template renders for the cases of
 * test/workers/fixtures/go-text-template.json, the oracle of dagflare's Go template engine
 * (src/domain/go-template.ts; test/workers/unit/template-render.test.ts compares them).
 *
 * There is no Go toolchain here, and Dagu 1.30.2 renders no user templates, but kubectl does:
 * `kubectl annotate --local -f object.json -o go-template-file=…` renders a template with Go's
 * text/template against a local object, no cluster needed (`--allow-missing-template-keys=false`
 * is Dagu's missingkey=error). The object is the case's data plus the three keys kubectl needs
 * (apiVersion, kind, metadata); kubectl reads an integral JSON number as an int64 and any other
 * as a float64, which the test reproduces. kubectl adds no functions but `exists`, so sprig's are
 * tested from their Go source instead.
 *
 *   KUBECTL=/path/to/kubectl npx node scripts/record-go-templates.ts   (kubectl 1.33: Go 1.24)
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type JsonNode, parseJson, stringifyJson } from "../src/domain/json-text.ts";

const FIXTURE = join(import.meta.dirname, "..", "test", "workers", "fixtures", "go-text-template.json");
const kubectl = process.env.KUBECTL ?? "kubectl";
const folder = mkdtempSync(join(tmpdir(), "go-template-"));

type Outcome = { output: string } | { error: { kind: "parse" | "exec"; message: string } };

/** Renders `template` against `data` (a JSON object, numbers as written) with kubectl. */
function render(template: string, data: JsonNode): Outcome {
  const entries = data.type === "object" ? data.entries : [];
  const object: JsonNode = {
    type: "object",
    entries: [
      ["apiVersion", { type: "string", value: "example.com/v1" }],
      ["kind", { type: "string", value: "Thing" }],
      ["metadata", { type: "object", entries: [["name", { type: "string", value: "t" }]] }],
      ...entries,
    ],
  };
  writeFileSync(join(folder, "object.json"), stringifyJson(object));
  writeFileSync(join(folder, "template.txt"), template);
  try {
    const output = execFileSync(
      kubectl,
      ["annotate", "--local", "-f", join(folder, "object.json"), "x=y", "--allow-missing-template-keys=false"].concat([
        "-o",
        `go-template-file=${join(folder, "template.txt")}`,
      ]),
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    return { output };
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? error).trim();
    const kind = stderr.startsWith("error: error parsing template") ? "parse" : "exec";
    // What follows kubectl's own words and Go's `template: output:` prefix.
    const message = stderr.replace(/^error: error (parsing|executing) template .*?(, |: )template: output:/s, "");
    return { error: { kind, message } };
  }
}

const member = (node: JsonNode | undefined, key: string): JsonNode | undefined =>
  node?.type === "object" ? node.entries.find(([name]) => name === key)?.[1] : undefined;

/** A JSON value (without numbers beyond 2^53) as a tree, to put outcomes into the fixture. */
function tree(value: unknown): JsonNode {
  if (Array.isArray(value)) return { type: "array", items: value.map(tree) };
  if (typeof value === "string") return { type: "string", value };
  if (value !== null && typeof value === "object")
    return { type: "object", entries: Object.entries(value).map(([key, item]) => [key, tree(item)]) };
  return { type: "literal", text: JSON.stringify(value) };
}

/** `object` with `key` set (replaced, or added at the end). */
function withMember(object: JsonNode, key: string, value: JsonNode): JsonNode {
  if (object.type !== "object") throw new Error("expected an object");
  const entries = object.entries.filter(([name]) => name !== key);
  return { type: "object", entries: [...entries, [key, value]] };
}

// The fixture is kept as a tree, so its data keeps every number as written (9007199254740993).
let fixture = parseJson(readFileSync(FIXTURE, "utf8"));
const shared = member(fixture, "data")!;
const cases = member(fixture, "cases");
if (cases?.type !== "array") throw new Error("the fixture has no cases");

const recorded = cases.items.map((entry) => {
  if (entry.type !== "object") throw new Error("a case is an object");
  const template = member(entry, "template");
  if (template?.type !== "string") throw new Error("a case has a template");
  const outcome = render(template.value, member(entry, "data") ?? shared);
  const input: JsonNode = {
    type: "object",
    entries: entry.entries.filter(([key]) => key !== "output" && key !== "error"),
  };
  return "output" in outcome
    ? withMember(input, "output", tree(outcome.output))
    : withMember(input, "error", tree(outcome.error));
});
fixture = withMember(fixture, "cases", { type: "array", items: recorded });

// printf of many numbers: one action per number, each line Go's output for it.
const printf = JSON.parse(stringifyJson(member(fixture, "printf")!));
for (const kind of ["floats", "integers"] as const) {
  const section = printf[kind];
  const template = section.literals
    .map((literal: string) => `{{printf ${JSON.stringify(section.format)}${` ${literal}`.repeat(section.verbs)}}}`)
    .join("\n");
  const outcome = render(template, { type: "object", entries: [] });
  if (!("output" in outcome)) throw new Error(`printf of ${kind}: ${JSON.stringify(outcome.error)}`);
  section.lines = outcome.output.split("\n");
}
fixture = withMember(fixture, "printf", tree(printf));

writeFileSync(FIXTURE, `${stringifyJson(fixture)}\n`);
console.log(`recorded ${recorded.length} cases and the printf sections in ${FIXTURE}; format it with Biome`);
