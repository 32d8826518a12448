/**
 * Dagu 2.x's `action: template.render`, rendered in the Worker by dagflare's Go text/template.
 *
 * The oracle is Go itself: every case of ../fixtures/go-text-template.json holds what Go 1.24's
 * text/template rendered, or the error it gave (scripts/record-go-templates.ts records them
 * through kubectl's go-template printer; kubectl reads an integral JSON number as an int64, any
 * other as a float64). Then Dagu's own tests of the executor (internal/runtime/builtin/template,
 * internal/intg/template_test.go), Dagu's function set (slim-sprig with Dagu's overrides,
 * checked against their Go source), and what the step does around the template.
 */
import { describe, expect, it } from "vitest";
import { executeTemplate, parseTemplate, TemplateParseError } from "../../../src/domain/go-template.ts";
import { GoInt, GoSlice, type GoValue } from "../../../src/domain/go-values.ts";
import { buildInvocation } from "../../../src/domain/invocation.ts";
import { type JsonNode, parseJson } from "../../../src/domain/json-text.ts";
import type { StepOutcome } from "../../../src/domain/run.ts";
import { DAGU_TEMPLATE_FUNCTIONS } from "../../../src/domain/template-functions.ts";
import { MAX_RENDERED_BYTES, renderDaguTemplate } from "../../../src/domain/template-render.ts";
import fixtureText from "../fixtures/go-text-template.json?raw";
import { runWithoutRunner } from "../helpers.ts";
import { errorsOf, specOf } from "./spec-helpers.ts";

// ---------------------------------------------------------------------------------------------
// Go's text/template, case by case.

type Case = { name: string; template: string; output?: string; error?: { kind: "parse" | "exec"; message: string } };
type PrintfSection = { format: string; verbs: number; literals: string[]; lines: string[] };
const fixture = JSON.parse(fixtureText) as { cases: Case[]; printf: Record<"floats" | "integers", PrintfSection> };
const fixtureTree = parseJson(fixtureText);

const member = (node: JsonNode | undefined, key: string): JsonNode | undefined =>
  node?.type === "object" ? node.entries.find(([name]) => name === key)?.[1] : undefined;

/** JSON as kubectl hands it to Go: an integral number (that fits) is an int64, others float64s. */
function asKubectlReadsIt(node: JsonNode): GoValue {
  switch (node.type) {
    case "object":
      return new Map(node.entries.map(([key, value]) => [key, asKubectlReadsIt(value)]));
    case "array":
      return new GoSlice("interface {}", node.items.map(asKubectlReadsIt));
    case "string":
      return node.value;
    case "literal": {
      if (node.text === "null") return null;
      if (node.text === "true" || node.text === "false") return node.text === "true";
      const number = Number(node.text);
      if (!Number.isInteger(number) || Math.abs(number) >= 2 ** 63) return number;
      return new GoInt("int64", /[.eE]/.test(node.text) ? BigInt(number) : BigInt(node.text));
    }
  }
}

/** The object kubectl rendered: the case's data and the keys kubectl adds. */
function kubectlObject(index: number): GoValue {
  const cases = member(fixtureTree, "cases");
  const data = (cases?.type === "array" && member(cases.items[index], "data")) || member(fixtureTree, "data")!;
  const object = asKubectlReadsIt(data) as Map<string, GoValue>;
  object.set("apiVersion", "example.com/v1");
  object.set("kind", "Thing");
  object.set(
    "metadata",
    new Map<string, GoValue>([
      ["annotations", new Map([["x", "y"]])],
      ["name", "t"],
    ]),
  );
  return object;
}

const LIMITS = { maxOutputBytes: MAX_RENDERED_BYTES, maxSteps: 1_000_000 };

function render(template: string, data: GoValue): { output: string } | { error: { kind: string; message: string } } {
  try {
    const parsed = parseTemplate(template, DAGU_TEMPLATE_FUNCTIONS);
    return { output: executeTemplate(parsed, data, DAGU_TEMPLATE_FUNCTIONS, LIMITS) };
  } catch (error) {
    const kind = error instanceof TemplateParseError ? "parse" : "exec";
    return { error: { kind, message: (error as Error).message } };
  }
}

/** Cases Go renders and dagflare refuses, by design: each refusal names its construct. */
const REFUSED: Readonly<Record<string, RegExp>> = {
  "template keyword": /\{\{template\}\} is not supported by dagflare/,
  "define keyword": /\{\{define\}\} is not supported by dagflare/,
  "block keyword": /\{\{block\}\} is not supported by dagflare/,
  "printf float as int verb": /%x of a float \(hexadecimal floating point\) is not supported by dagflare/,
};

/**
 * Go's error words where dagflare's differ: Go 1.24 says "incompatible types for comparison";
 * Dagu is built with a later Go, whose message names the types, as dagflare's does.
 */
const goMessage = (message: string) =>
  message
    .replace(/^\d+(:\d+)?: /, "")
    .replace(/"output"/g, '"template"')
    .replace(/output:(\d+)/, "template:$1")
    .replace(/incompatible types for comparison$/, "incompatible types for comparison: ");

describe("Go's text/template, each case as Go rendered it", () => {
  it.each(fixture.cases.map((entry, index) => ({ ...entry, index })))(
    "$name",
    ({ name, template, output, error, index }) => {
      const result = render(template, kubectlObject(index));
      const refused = REFUSED[name];
      if (refused) {
        expect(result).toMatchObject({ error: { message: expect.stringMatching(refused) } });
      } else if (output !== undefined) {
        expect(result).toEqual({ output });
      } else {
        // The same kind of failure, and Go's message (after its place: `template:LINE:COL:`).
        expect(result).toMatchObject({ error: { kind: error!.kind } });
        expect("error" in result && result.error.message).toContain(goMessage(error!.message));
      }
    },
  );

  it.each(["floats", "integers"] as const)(
    "prints %s with printf's verbs, flags, widths and precisions as Go",
    (kind) => {
      const section = fixture.printf[kind];
      const template = section.literals
        .map((literal) => `{{printf ${JSON.stringify(section.format)}${` ${literal}`.repeat(section.verbs)}}}`)
        .join("\n");
      const result = render(template, null);
      expect("output" in result && result.output.split("\n")).toEqual(section.lines);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// Dagu's tests of its template executor.

/** What Dagu's step prints: the template trimmed, rendered with the data as Dagu's YAML reads it. */
function dagu(template: string, data: Record<string, unknown> = {}): string {
  try {
    return renderDaguTemplate(template, data);
  } catch (error) {
    return `error: ${(error as Error).message}`;
  }
}

describe("Dagu's own template tests (internal/runtime/builtin/template, internal/intg)", () => {
  it.each([
    ["BasicStdout", "Hello, World!", {}, "Hello, World!"],
    [
      "DataVariables",
      "Hello, {{ .name }}! You have {{ .count }} items.",
      { name: "Alice", count: 42 },
      "Hello, Alice! You have 42 items.",
    ],
    ["EmptyDataLiterals", "Just literal text, no variables.", {}, "Just literal text, no variables."],
    ["FuncMap_Split", `{{ range .items | split "," }}[{{ . }}]{{ end }}`, { items: "a,b,c" }, "[a][b][c]"],
    ["FuncMap_Join", `{{ .items | join ", " }}`, { items: ["a", "b", "c"] }, "a, b, c"],
    ["FuncMap_Count", "{{ .items | count }}", { items: ["a", "b", "c"] }, "3"],
    ["FuncMap_Add", "{{ 5 | add 3 }}", {}, "8"],
    [
      "FuncMap_Empty",
      "empty={{ .val | empty }},notempty={{ .other | empty }}",
      { val: "", other: "hello" },
      "empty=true,notempty=false",
    ],
    ["FuncMap_Upper", "{{ .val | upper }}", { val: "hello" }, "HELLO"],
    ["FuncMap_Lower", "{{ .val | lower }}", { val: "HELLO" }, "hello"],
    ["FuncMap_Trim", "[{{ .val | trim }}]", { val: "  hello  " }, "[hello]"],
    ["FuncMap_Default_WithEmptyValue", `{{ .val | default "N/A" }}`, { val: "" }, "N/A"],
    ["FuncMap_Default_WithNonEmptyValue", `{{ .val | default "N/A" }}`, { val: "present" }, "present"],
    ["FuncMap_PipelineChaining", `{{ .val | split "\\n" | count }}`, { val: "a\nb\nc" }, "3"],
    ["FuncMap_EmptySlice", "{{ .items | empty }}", { items: [] }, "true"],
    ["FuncMap_EmptyNil", "{{ .val | empty }}", { val: null }, "true"],
    ["SlimSprig_Get", `{{ get .app "owner" }}`, { app: { name: "test" } }, ""],
    ["SlimSprig_Dig", `{{ dig "a" "b" "fallback" .data }}`, { data: { a: { b: "found" } } }, "found"],
    ["SlimSprig_Replace", `{{ "hello world" | replace "world" "dagu" }}`, {}, "hello dagu"],
    ["SlimSprig_ListUniqSortAlpha", `{{ list "c" "a" "b" "a" | uniq | sortAlpha | join "," }}`, {}, "a,b,c"],
    ["SlimSprig_Has", `{{ list "a" "b" | has "a" }}`, {}, "true"],
    ["SlimSprig_Contains", `{{ contains "ell" "hello" }}`, {}, "true"],
    ["SlimSprig_HasPrefixSuffix", `{{ hasPrefix "hel" "hello" }},{{ hasSuffix "llo" "hello" }}`, {}, "true,true"],
    ["SlimSprig_Dict", `{{ $d := dict "key" "value" }}{{ get $d "key" }}`, {}, "value"],
    ["SlimSprig_ToString", "{{ 42 | toString }}", {}, "42"],
    ["SlimSprig_OverlapSplitPipeline", `{{ "a,b,c" | split "," | join ";" }}`, {}, "a;b;c"],
    ["SlimSprig_CrossLibraryPipeline", `{{ list "x" "y" "z" | join "-" }}`, {}, "x-y-z"],
    [
      "intg StdoutOnly (its final newline trimmed, as Dagu trims the template)",
      "{{ .greeting }}, world!\n",
      { greeting: "hello" },
      "hello, world!",
    ],
    ["intg DataFromPriorStep", "Hello, {{ .name }}!", { name: "Alice" }, "Hello, Alice!"],
    [
      "intg LiteralDollarPreservation",
      'export FOO=${BAR}\necho "{{ .name }}"\nvalue=`command`\n',
      { name: "test" },
      'export FOO=${BAR}\necho "test"\nvalue=`command`',
    ],
    [
      "intg CodeFenceDataPreserved",
      "{{ .issue_text }}\n",
      { issue_text: "```yaml\nenv:\n  TEST_FILE: ~/dagu-test.txt\n\nsteps:\n  - run: touch $TEST_FILE\n```\n" },
      "```yaml\nenv:\n  TEST_FILE: ~/dagu-test.txt\n\nsteps:\n  - run: touch $TEST_FILE\n```\n",
    ],
    [
      "intg ComplexTemplate",
      '# {{ .title }}\n{{ $items := .domains | split "," }}\nTotal: {{ $items | count }}\n{{ range $i, $d := $items }}\n{{ $i | add 1 }}. {{ $d | upper }}\n{{ end }}\n',
      { title: "Domain Report", domains: "example.com,test.org,demo.net" },
      "# Domain Report\n\nTotal: 3\n\n1. EXAMPLE.COM\n\n2. TEST.ORG\n\n3. DEMO.NET\n",
    ],
    [
      "intg ConditionalAndEmpty",
      "{{ if .items | empty }}No items found.{{ else }}Has items.{{ end }}\n",
      { items: "" },
      "No items found.",
    ],
    [
      "intg OmittedOptionalParamResolvesToEmptyString",
      "Hello, {{ .name }}!\nYou are {{ .age }} years old.\n{{- if .favorite_color }}\nYour favorite color is {{ .favorite_color }}.\n{{- end }}\n",
      { name: "tom", age: "21", favorite_color: "" },
      "Hello, tom!\nYou are 21 years old.",
    ],
    [
      "intg DefaultFunction",
      `{{ .name | default "Anonymous" }} ({{ .title | default "User" }})`,
      { name: "", title: "Admin" },
      "Anonymous (Admin)",
    ],
    [
      "intg SlimSprigStringFunctions",
      `{{ .name | trim | lower | replace " " "-" }}`,
      { name: "  My Service  " },
      "my-service",
    ],
    [
      "intg SlimSprigSafeMapAccess",
      'name={{ get .app "name" | default "unknown" }}\nowner={{ get .app "owner" | default "unknown" }}\n',
      { app: { name: "MyApp" } },
      "name=MyApp\nowner=unknown",
    ],
    [
      "intg SlimSprigListOperations",
      `{{ .domains | uniq | sortAlpha | join "," }}`,
      { domains: ["api.example.com", "api.example.com", "app.example.com"] },
      "api.example.com,app.example.com",
    ],
    [
      "intg SlimSprigFullExample",
      'app={{ .app.name | lower | replace " " "-" }}\nowner={{ get .app "owner" | default "unknown" }}\ndomains={{ get .app "domains" | default (list "localhost") | uniq | sortAlpha | join "," }}\n',
      { app: { name: "My Service", domains: ["api.example.com", "api.example.com", "app.example.com"] } },
      "app=my-service\nowner=unknown\ndomains=api.example.com,app.example.com",
    ],
    [
      "intg SlimSprigOverlapBehavior",
      'items={{ .csv | split "," | join ";" }}\nsum={{ 5 | add 3 }}\n',
      { csv: "a,b,c" },
      "items=a;b;c\nsum=8",
    ],
  ] as const)("%s", (_name, template, data, expected) => {
    expect(dagu(template, data)).toBe(expected);
  });

  it("fails on a missing key (missingkey=error), a parse error and Dagu's blocked functions", () => {
    expect(dagu("{{ .undefined_key }}", { name: "test" })).toBe(
      'error: template: template:1:3: executing "template" at <.undefined_key>: map has no entry for key "undefined_key"',
    );
    expect(dagu("{{ .foo")).toBe("error: template: template:1: unclosed action");
    for (const blocked of ['{{ env "HOME" }}', '{{ expandenv "$HOME" }}', "{{ now }}", "{{ randAlphaNum 10 }}"]) {
      expect(dagu(blocked)).toMatch(/^error: template: template:1: function "\w+" not defined$/);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Dagu's function set.

/** Dagu's list of its template functions (templatefuncs, TestFuncMap_SnapshotAllowedFunctions). */
const DAGU_FUNCTIONS =
  "add add1 adler32sum all any append atoi b32dec b32enc b64dec b64enc base biggest cat ceil chunk clean coalesce compact concat contains count deepEqual default dict dig dir div empty ext fail first float64 floor fromJson get has hasKey hasPrefix hasSuffix hello indent initial int int64 isAbs join keys kindIs kindOf last list lower max maxf min minf mod mul mustAppend mustChunk mustCompact mustFirst mustFromJson mustHas mustInitial mustLast mustPrepend mustPush mustRegexFind mustRegexFindAll mustRegexMatch mustRegexReplaceAll mustRegexReplaceAllLiteral mustRegexSplit mustRest mustReverse mustSlice mustToJson mustToPrettyJson mustToRawJson mustUniq mustWithout nindent omit osBase osClean osDir osExt osIsAbs pick pluck plural prepend push quote regexFind regexFindAll regexMatch regexQuoteMeta regexReplaceAll regexReplaceAllLiteral regexSplit repeat replace rest reverse round seq set sha1sum sha256sum slice sortAlpha split splitList splitn squote sub substr ternary title toDecimal toJson toPrettyJson toRawJson toString toStrings trim trimAll trimPrefix trimSuffix trimall trunc tuple typeIs typeIsLike typeOf uniq unset until untilStep upper urlJoin urlParse values without".split(
    " ",
  );

describe("Dagu's template functions", () => {
  it("runs each of Dagu's functions, or refuses it by name when the DAG is saved", () => {
    const unaccounted = DAGU_FUNCTIONS.filter(
      (name) => !DAGU_TEMPLATE_FUNCTIONS.get(name) && !DAGU_TEMPLATE_FUNCTIONS.refusal(name),
    );
    expect(unaccounted).toEqual([]);
    const refused = DAGU_FUNCTIONS.filter((name) => !DAGU_TEMPLATE_FUNCTIONS.get(name));
    expect(refused).toEqual([
      "b32dec",
      "b32enc",
      "b64dec",
      ...["mustRegexFind", "mustRegexFindAll", "mustRegexMatch", "mustRegexReplaceAll", "mustRegexReplaceAllLiteral"],
      ...["mustRegexSplit", "regexFind", "regexFindAll", "regexMatch", "regexQuoteMeta", "regexReplaceAll"],
      ...["regexReplaceAllLiteral", "regexSplit", "sha1sum", "sha256sum", "splitn", "urlJoin", "urlParse"],
    ]);
    expect(dagu('{{ regexMatch "a" "b" }}')).toBe(
      "error: template: template:1: the function regexMatch is not supported by dagflare: Go's regular expressions (RE2) differ from the Worker's; use a `run:` step",
    );
  });

  /** Data for the cases below, read as Dagu's YAML reads it: 5 is a uint64, -5 an int64. */
  const data = {
    n: 5,
    neg: -5,
    zero: 0,
    nothing: null,
    list: [1, 2, 3],
    name: "héllo",
    m: { b: 1, a: ["x<", 2.5], c: null },
  };

  it.each([
    // Dagu's overrides: the piped value last, Go's types (add takes ints; a YAML integer is a uint64).
    ['{{ join "," .nothing }}|{{ join "-" (until 3) }}|{{ join "," (list 1 .nothing "a") }}', "|0-1-2|1,<nil>,a"],
    ['{{ join "," .n }}', "error calling join: join: unsupported type uint64"],
    ["{{ count .name }} {{ count .m }} {{ count .nothing }}", "6 3 0"],
    ["{{ count 5 }}", "error calling count: count: unsupported type int"],
    ["{{ add 1 2 }} {{ add -1 1 }}", "3 0"],
    ["{{ .n | add 1 }}", "wrong type for value; expected int; got uint64"],
    ["{{ add1 1 | add 1 }}", "wrong type for value; expected int; got int64"],
    [
      '{{ empty 0 }} {{ empty 0.0 }} {{ empty .nothing }} {{ empty (list) }} {{ empty .zero }} {{ empty "x" }}',
      "true true true true true false",
    ],
    [
      '{{ default "d" .zero }} {{ .name | default "d" }} {{ default "d" }}',
      "wrong number of args for default: want 2 got 1",
    ],
    ['{{ default "d" .zero }} {{ .name | default "d" }}', "d héllo"],
    ['{{ upper "ßéа" }} {{ lower "İA" }} {{ trim "\\u0085 x\\u00a0\\ufeff" }}', "ßÉА ia x\u00a0\ufeff"],
    // Strings.
    [
      '{{ trimAll "$" "$$5.00$" }} {{ trimSuffix "-" "a-" }} {{ trimPrefix "-" "-a" }} {{ "ab" | repeat 3 }}',
      "5.00 a a ababab",
    ],
    ['{{ repeat -1 "x" }}', "error calling repeat: strings: negative Repeat count"],
    [
      '{{ substr 0 5 "hello world" }} {{ substr 6 -1 "hello world" }} {{ substr -1 5 "hello" }} {{ trunc 5 "hello world" }} {{ trunc -5 "hello world" }}',
      "hello world hello hello world",
    ],
    ['{{ substr 3 1 "hello" }}', "error calling substr: runtime error: slice bounds out of range [3:1]"],
    ['{{ title "hello world-foo_bar x.y ǆemal" }}', "Hello World-Foo_bar X.Y ǅemal"],
    [
      '{{ quote "a" 1 .nothing "é\\n" }} {{ squote "a" 1 }} {{ cat "a" 1 .nothing "b" }}',
      '"a" "1" "é\\n" \'a\' \'1\' a 1 b',
    ],
    ['{{ indent 2 "a\\nb" }}|{{ nindent 1 "x" }}', "  a\n  b|\n x"],
    ['{{ replace "" "-" "abc" }} {{ plural "one" "many" 1 }} {{ plural "one" "many" 2 }}', "-a-b-c- one many"],
    ['{{ splitList "," "a,b" }} {{ toStrings (list 1 "a" .nothing) }} {{ split "" "hé" }}', "[a b] [1 a] [h é]"],
    [
      '{{ atoi "42" }} {{ atoi "x" }} {{ int "12" }} {{ int 3.9 }} {{ int64 true }} {{ float64 "1.5" }} {{ int "0x10" }} {{ toDecimal "0777" }}',
      "42 0 12 3 1 1.5 0 511",
    ],
    [
      "{{ seq 3 }}|{{ seq 2 5 }}|{{ seq 0 2 10 }}|{{ seq 5 1 }}|{{ seq 0 }}",
      "1 2 3|2 3 4 5|0 2 4 6 8 10|5 4 3 2 1|1 0",
    ],
    [
      '{{ until 3 }} {{ until -2 }} {{ untilStep 0 10 3 }} {{ printf "%T" (until 1) }}',
      "[0 1 2] [0 -1] [0 3 6 9] []int",
    ],
    ['{{ b64enc "hello é" }} {{ adler32sum "hello" }}', "aGVsbG8gw6k= 103547413"],
    [
      '{{ base "/a/b.txt" }} {{ dir "/a/b.txt" }} {{ ext "/a/b.txt" }} {{ clean "a//b/../c/." }} {{ isAbs "/x" }} {{ base "" }} {{ dir "a" }} {{ osBase "/" }}',
      "b.txt /a .txt a/c true . . /",
    ],
    // Arithmetic: int64s, from anything sprig's toInt64 reads.
    [
      '{{ add1 5 }} {{ sub 5 3 }} {{ div 7 2 }} {{ mod -7 3 }} {{ mul 2 3 4 }} {{ max 1 5 3 }} {{ min 4 2 8 }} {{ biggest 1 9 }} {{ add1 "41" }}',
      "6 2 3 -1 24 5 2 9 42",
    ],
    ["{{ div 1 0 }}", "error calling div: runtime error: integer divide by zero"],
    [
      '{{ maxf 1 2.5 }} {{ minf 1.5 "0.5" }} {{ ceil 1.2 }} {{ floor 1.8 }} {{ round 3.14159 2 }} {{ round 2.5 0 }} {{ round 2.4 0 0.3 }}',
      "2.5 0.5 2 1 3.14 3 3",
    ],
    // Defaults and JSON.
    [
      '{{ coalesce .nothing "" 0 "x" }} {{ all 1 "a" true }} {{ all 1 "" }} {{ any 0 "" "a" }} {{ any }}',
      "x true false true false",
    ],
    ['{{ ternary "yes" "no" true }} {{ false | ternary "yes" "no" }}', "yes no"],
    [
      "{{ toJson .m }} {{ toJson .nothing }} {{ toJson (rest (list)) }} {{ toJson .n }}",
      '{"a":["x\\u003c",2.5],"b":1,"c":null} null null 5',
    ],
    [
      '{{ toPrettyJson (dict "a" (list 1)) }}|{{ toRawJson (dict "a" "<b>") }}',
      '{\n  "a": [\n    1\n  ]\n}|{"a":"<b>"}',
    ],
    [
      '{{ (fromJson "{\\"a\\": [1, 2.5]}").a }} {{ fromJson "bad" }} {{ printf "%T" (fromJson "1") }}',
      "[1 2.5] <no value> float64",
    ],
    ['{{ mustFromJson "bad" }}', "error calling mustFromJson: invalid JSON"],
    // Types.
    [
      '{{ typeOf 1 }} {{ typeOf .n }} {{ kindOf .list }} {{ typeOf (list) }} {{ kindIs "map" .m }} {{ typeIs "string" "x" }} {{ typeOf .nothing }} {{ kindOf .nothing }}',
      "int uint64 slice []interface {} true true <nil> invalid",
    ],
    ["{{ deepEqual (list 1 2) (list 1 2) }} {{ deepEqual 1 .n }} {{ deepEqual .neg -5 }}", "true false false"],
    ['{{ fail "boom" }}', "error calling fail: boom"],
    // Lists.
    [
      "{{ first .list }} {{ last .list }} {{ rest .list }} {{ initial .list }} {{ reverse .list }} {{ first (list) }}",
      "1 3 [2 3] [1 2] [3 2 1] <no value>",
    ],
    ['{{ first "abc" }}', "error calling first: Cannot find first on type string"],
    ["{{ first .nothing }}", "error calling first: runtime error: invalid memory address or nil pointer dereference"],
    [
      '{{ uniq (list 1 1 "1" 2) }} {{ without (list 1 2 3 2) 2 }} {{ has 2 .list }} {{ has 2 (list 1 2) }}',
      "[1 1 2] [1 3] false true",
    ],
    [
      '{{ compact (list 1 "" 0 "a" .nothing false) }} {{ append (list 1) 2 }} {{ prepend (list 1) 0 }} {{ concat (list 1) (list 2 3) }}',
      "[1 a] [1 2] [0 1] [1 2 3]",
    ],
    [
      "{{ slice (list 1 2 3 4) 1 3 }} {{ slice (list 1 2 3) 1 }} {{ slice (list) }} {{ chunk 2 (list 1 2 3 4 5) }}",
      "[2 3] [2 3] <no value> [[1 2] [3 4] [5]]",
    ],
    ['{{ sortAlpha (list "b" "a" 10 9) }} {{ sortAlpha "x" }}', "[10 9 a b] [x]"],
    // Dicts; Go lists keys and values in a random order, dagflare in key order.
    [
      '{{ dict "a" 1 "b" }} {{ $d := dict "a" 1 }}{{ $_ := set $d "b" 2 }}{{ $d }} {{ unset $d "a" }} {{ hasKey $d "b" }}',
      "map[a:1 b:] map[a:1 b:2] map[b:2] true",
    ],
    [
      '{{ pluck "a" (dict "a" 1) (dict "b" 2) (dict "a" 3) }} {{ keys (dict "b" 1 "a" 2) }} {{ values (dict "b" 1 "a" 2) }}',
      "[1 3] [a b] [2 1]",
    ],
    [
      '{{ pick (dict "a" 1 "b" 2 "c" 3) "a" "c" }} {{ omit (dict "a" 1 "b" 2) "a" }} {{ dig "a" "b" "def" (dict "a" (dict "x" 1)) }} {{ get .nothing "k" }}|',
      "map[a:1 c:3] map[b:2] def |",
    ],
    [
      '{{ dig "a" "b" "def" (dict "a" "x") }}',
      "error calling dig: interface conversion: interface {} is string, not map[string]interface {}",
    ],
    ['{{ set .nothing "k" 1 }}', "error calling set: assignment to entry in nil map"],
    // A range walks a copy of the map's entries, so changing the map in its body changes no turn.
    [
      '{{ $d := dict "a" 1 "b" 2 }}{{ range $k, $v := $d }}{{ $_ := unset $d "b" }}{{ $k }}={{ $v }} {{ end }}{{ $d }}',
      "a=1 b=2 map[a:1]",
    ],
  ])("%s", (template, expected) => {
    const rendered = dagu(template, data);
    if (expected.includes("error calling") || expected.startsWith("wrong")) expect(rendered).toContain(expected);
    else expect(rendered).toBe(expected);
  });
});

// ---------------------------------------------------------------------------------------------
// The step around the template.

describe("a template.render step", () => {
  const attempt = { dagId: "d", runId: "r", step: "s", attempt: 1 };

  it("is read from action: template.render; an unnamed one is template_N", () => {
    const step = specOf(
      "steps:\n  - action: template.render\n    with:\n      template: |\n        Hi {{ .name }}\n      data:\n        name: ${NAME}\n",
    ).steps[0]!;
    expect(step).toMatchObject({
      name: "template_1",
      script: "Hi {{ .name }}\n",
      executor: { type: "template", config: { data: { name: "${NAME}" } } },
    });
  });

  it("expands its data, never its template (Dagu: `${VAR}` in a template is text)", () => {
    const step = specOf(
      "steps:\n  - name: t\n    action: template.render\n    with:\n      template: 'export FOO=${BAR} {{ .name }} ${params.x}'\n      data:\n        name: ${NAME}\n        count: 3\n",
    ).steps[0]!;
    const scope = new Map([
      ["NAME", "Alice"],
      ["BAR", "bar"],
    ]);
    const invocation = buildInvocation({ attempt, step, scope, maxOutputSize: 100, leaseMs: 5000 });
    expect(invocation).toMatchObject({
      executor: "template",
      script: "export FOO=${BAR} {{ .name }} ${params.x}",
      config: { data: { name: "Alice", count: 3 } },
    });
  });

  it("prints what it rendered, exactly: no newline added, the template's surrounding space trimmed", async () => {
    const outcome = await template("\n  Hello, {{ .name }}!\n\n", { data: { name: "Alice" } });
    expect(outcome).toEqual({ exitCode: 0, stdout: "Hello, Alice!", stderr: "" });
    expect(await template("{{ .text }}", { data: { text: "ends with a newline\n" } })).toMatchObject({
      stdout: "ends with a newline\n",
    });
  });

  it("fails as Dagu's step fails: `template: execution error: …` with Go's message", async () => {
    expect(await template("{{ .missing }}", {})).toEqual({
      exitCode: 1,
      stdout: "",
      stderr:
        'template: execution error: template: template:1:3: executing "template" at <.missing>: map has no entry for key "missing"',
      error:
        'template: execution error: template: template:1:3: executing "template" at <.missing>: map has no entry for key "missing"',
    });
    expect(await template("{{ printf .format 1 }}", { data: { format: "%b" } })).toMatchObject({
      exitCode: 1,
      error: expect.stringContaining("printf verb %b is not supported by dagflare"),
    });
  });

  it("stops a template that renders too much or runs too long", async () => {
    expect(await template('{{ range until 100000 }}{{ "x" | repeat 1000 }}{{ end }}', {})).toMatchObject({
      exitCode: 1,
      error: expect.stringContaining(`the rendered text is larger than ${MAX_RENDERED_BYTES} bytes`),
    });
    expect(await template("{{ range 100000000 }}{{ end }}", {})).toMatchObject({
      exitCode: 1,
      error: expect.stringContaining("rendering stopped after 5000000 steps"),
    });
  });

  it("keeps the head of a large rendering for its output variable", async () => {
    const outcome = await template('{{ "ab" | repeat 10 }}', {}, { limit: 5, keep: "head" });
    expect(outcome).toMatchObject({ exitCode: 0, stdout: "ababa" });
  });
});

async function template(
  script: string,
  config: Record<string, unknown>,
  stdoutCapture: { limit: number; keep: "head" | "tail" } = { limit: 1024 * 1024, keep: "head" },
): Promise<StepOutcome> {
  const outcome = await runWithoutRunner({
    executor: "template",
    command: "",
    script,
    config: config as never,
    stdoutCapture,
  });
  if ("handOff" in outcome) throw new Error("a template step never hands off");
  return outcome;
}

// ---------------------------------------------------------------------------------------------
// Validation.

describe("a template.render step is checked when the DAG is saved", () => {
  const withTemplate = (template: string, extra = "") =>
    `steps:\n  - name: t\n    action: template.render\n    with:\n      template: ${JSON.stringify(template)}\n${extra}`;

  it("refuses a template that doesn't parse, with Go's message and the template's line", () => {
    expect(errorsOf(withTemplate("{{ if .x }}"))).toEqual([
      "steps[0].with.template: the template doesn't parse (Go's text/template): template: template:1: unexpected EOF (line 5, col 17)",
    ]);
    expect(errorsOf(withTemplate("{{ nope }}"))).toEqual([
      "steps[0].with.template: the template doesn't parse (Go's text/template): template: template:1: function \"nope\" not defined (line 5, col 17)",
    ]);
  });

  it("refuses what dagflare doesn't render, naming it", () => {
    const refusals = [
      ['{{ define "x" }}y{{ end }}', "{{define}} is not supported by dagflare"],
      ['{{ template "x" }}', "{{template}} is not supported by dagflare"],
      ['{{ block "x" . }}y{{ end }}', "{{block}} is not supported by dagflare"],
      ['{{ sha256sum "x" }}', "the function sha256sum is not supported by dagflare"],
      ["{{ call .f }}", "the function call is not supported by dagflare"],
      ['{{ printf "%08b" 5 }}', "printf verb %b is not supported by dagflare"],
      ['{{ printf "%#v" 5 }}', "the printf flag # is not supported by dagflare"],
      ['{{ printf "%*d" 5 1 }}', "printf's * width is not supported by dagflare"],
      ["{{ 1i }}", "the complex number 1i is not supported by dagflare"],
      ["{{ 0x1p-2 }}", "the hexadecimal floating-point number 0x1p-2 is not supported by dagflare"],
      ['{{ "\\xff" }}', 'the string "\\xff" is not supported by dagflare'],
      [`{{ ${"(".repeat(50_000)}1${")".repeat(50_000)} }}`, "the template is nested too deeply"],
    ];
    for (const [text, message] of refusals) {
      expect(errorsOf(withTemplate(text!))).toEqual([expect.stringContaining(message!)]);
    }
  });

  it("refuses data values Dagu's YAML reads differently, or as a type dagflare can't carry", () => {
    const errors = errorsOf(
      withTemplate(
        "{{ . }}",
        "      data:\n        float: 1.0\n        text: 1e3\n        octal: 017\n        digits: 1_000\n        big: 12345678901234567890\n        fine: [1.5, -3, 0x1F, yes, '1.0', .5, ~]\n        empty:\n        nested: {x: 2.0}\n",
      ),
    );
    expect(errors).toEqual([
      expect.stringMatching(
        /^steps\[0\]\.with\.data\.float: Dagu's YAML reads 1\.0 as a float64.*write 1, or quote it \('1\.0'\).* \(line 7, col 16\)$/,
      ),
      expect.stringMatching(/^steps\[0\]\.with\.data\.text: Dagu's YAML reads 1e3 as text, not a number/),
      expect.stringMatching(/^steps\[0\]\.with\.data\.octal: Dagu's YAML reads 017 as 15/),
      expect.stringMatching(/^steps\[0\]\.with\.data\.digits: Dagu's YAML reads 1_000 as 1000/),
      expect.stringMatching(
        /^steps\[0\]\.with\.data\.big: 12345678901234567890 is beyond the integers dagflare keeps exactly/,
      ),
      expect.stringMatching(/^steps\[0\]\.with\.data\.nested\.x: Dagu's YAML reads 2\.0 as a float64/),
    ]);
  });

  it("takes template and data; refuses template_ref, output (a file) and unknown options", () => {
    expect(
      errorsOf(withTemplate("x", "      template_ref: ${env.T}\n      output: out.txt\n      extra: 1\n")),
    ).toEqual([
      "steps[0].with.extra: unknown option 'extra' of template.render (it has template, data) (line 8, col 14)",
      expect.stringMatching(
        /^steps\[0\]\.with\.template_ref: 'template_ref' reads the template from a scoped reference/,
      ),
      expect.stringMatching(/^steps\[0\]\.with\.output: 'output' writes the result to a file/),
    ]);
    expect(errorsOf("steps:\n  - name: t\n    action: template.render\n    with:\n      data: {a: 1}\n")).toEqual([
      expect.stringMatching(/^steps\[0\]\.with\.template: template\.render needs 'template'/),
      expect.stringMatching(/^steps\[0\]: a step needs a command or a script/),
    ]);
    // `data:` left empty is no data (Dagu: an empty map).
    expect(specOf(withTemplate("x", "      data:\n")).steps[0]!.executor).toEqual({ type: "template", config: {} });
    expect(errorsOf(withTemplate("x", "      data: [1, 2]\n"))).toEqual([
      expect.stringMatching(/^steps\[0\]\.with\.data: expected a map of values for the template/),
    ]);
  });

  it("reads Dagu 2.0's `type: template` + `script` + `config: {data}` too, checked the same way", () => {
    const spec = specOf(
      "steps:\n  - name: t\n    type: template\n    script: '{{ .x }}'\n    config:\n      data: {x: 1}\n",
    );
    expect(spec.steps[0]).toMatchObject({
      script: "{{ .x }}",
      executor: { type: "template", config: { data: { x: 1 } } },
    });
    expect(
      errorsOf("steps:\n  - name: t\n    type: template\n    script: '{{ if }}'\n    config:\n      data: {x: 1.0}\n"),
    ).toEqual([
      expect.stringMatching(
        /^steps\[0\]\.script: the template doesn't parse .*missing value for if \(line 4, col 13\)$/,
      ),
      expect.stringMatching(/^steps\[0\]\.config\.data\.x: Dagu's YAML reads 1\.0 as a float64/),
    ]);
  });

  it("leaves `${…}` in a template alone (it is text), but not in its data", () => {
    expect(specOf(withTemplate("${params.name} {{ .x }}", "      data: {x: 1}\n")).steps).toHaveLength(1);
    expect(errorsOf(withTemplate("{{ .x }}", "      data: {x: '${params.name}'}\n"))).toEqual([
      expect.stringContaining("'${params.name}' (Dagu 2.x) is not supported yet"),
    ]);
  });
});
