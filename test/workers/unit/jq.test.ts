/**
 * jq steps run in the Worker on jq 1.7.1 (WebAssembly) and print what Dagu prints. Every expected
 * text here is what the Dagu 1.30.2 binary printed for the same filter and input (its step log,
 * `~/.local/share/dagu/logs/<dag>/…/<step>.out`), unless a comment says otherwise.
 */
import { describe, expect, it } from "vitest";
import { goDecimal, goJson } from "../../../src/domain/go-json.ts";
import type { StepOutcome } from "../../../src/domain/run.ts";
import type { HandOff } from "../../../src/executors/executor.ts";
import { printResults } from "../../../src/executors/jq.ts";
import { runJqProcess } from "../../../src/executors/jq-wasm.ts";
import { api, nodeOf, ok, runWithoutRunner, unique, userWithRole, waitForRun } from "../helpers.ts";

/** What a jq step prints for this filter and input, through the executor. */
async function jq(filter: string, input: string, config: Record<string, unknown> = {}): Promise<StepOutcome> {
  const outcome: StepOutcome | HandOff = await runWithoutRunner({
    executor: "jq",
    command: filter,
    script: input,
    config: config as never,
    stdoutCapture: { limit: 1024 * 1024, keep: "head" },
  });
  if ("handOff" in outcome) throw new Error("a jq step never hands off");
  return outcome;
}

describe("the jq engine", () => {
  it("is jq 1.7.1 itself: its builtins, regular expressions and dates", () => {
    const run = runJqProcess(
      [
        "-c",
        "--",
        '[(.s | test("b+")), (.s | sub("b+"; "X")), (.when | fromdate), (1425599507 | todate), ([limit(2; repeat(1))] | length), ({"a":1} | pick(.a)), (try error("x") catch .)]',
      ],
      '{"s": "abbc", "when": "2015-03-05T23:51:47Z"}',
    );
    expect(run).toEqual({
      exitCode: 0,
      stdout: '[true,"aXc",1425599507,"2015-03-05T23:51:47Z",2,{"a":1},"x"]\n',
      stderr: "",
    });
  });

  it("sees no environment and no files: `$ENV` is empty, as Dagu's gojq has it", () => {
    // Dagu 1.30.2: `$ENV.NAME, ($ENV|has("PATH"))` → null, false (with NAME in the DAG's env).
    expect(runJqProcess(["-c", "--", '[$ENV, env, ($ENV|has("PATH")), [inputs]]'], "null")).toEqual({
      exitCode: 0,
      stdout: "[{},{},false,[]]\n",
      stderr: "",
    });
    expect(runJqProcess(["-c", "--", 'include "x"; .'], "null")).toMatchObject({ exitCode: 3 });
  });

  it("stops a filter whose output outgrows the limit instead of exhausting the Worker", () => {
    const run = runJqProcess(["-c", "--", "repeat(1)"], "null", { maxOutputBytes: 1000, maxHeapBytes: 64 << 20 });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/output larger than 1000 bytes/);
  });
});

describe("jq output as Dagu prints it", () => {
  it("indents JSON by four spaces, sorts keys by code point, escapes as Go does", () => {
    // Dagu 1.30.2: `executor: jq`, `command: .`, this input.
    const input = '{"b": 1, "a": {"z": [1, 2, {"y": "<&>"}], "c": null}, "n": 1.5, "big": 1000000, "e": [], "o": {}}';
    expect(printResults(JSON.stringify(JSON.parse(input)), false).stdout).toBe(
      '{\n    "a": {\n        "c": null,\n        "z": [\n            1,\n            2,\n            {\n                "y": "\\u003c\\u0026\\u003e"\n            }\n        ]\n    },\n    "b": 1,\n    "big": 1000000,\n    "e": [],\n    "n": 1.5,\n    "o": {}\n}\n',
    );
    expect(goJson({ é: 1, Z: 2, a: 3, 𝔸: 4, ｚ: 5 })).toBe('{"Z":2,"a":3,"é":1,"ｚ":5,"𝔸":4}');
    expect(goJson("a\u0001\b\f\u007f\u2029")).toBe('"a\\u0001\\b\\f\u007f\\u2029"');
  });

  it("prints numbers as Go's encoding/json, and raw numbers in full (as Dagu 2.x)", () => {
    // Dagu 1.30.2, non-raw, `.[]` of this input.
    const numbers: number[] = JSON.parse(
      "[123456, 1234567, 0.0001, -0.00001, 1e100, 12345678901234567890, 1.0, -0, 1e-7, 1e21, 123e-20]",
    );
    expect(numbers.map((n) => goJson(n))).toEqual([
      "123456",
      "1234567",
      "0.0001",
      "-0.00001",
      "1e+100",
      "12345678901234567000",
      "1",
      "-0",
      "1e-7",
      "1e+21",
      "1.23e-18",
    ]);
    // Dagu 2.x writes a raw float64 with strconv.FormatFloat(v, 'f', -1, 64) (its fix #1754);
    // Dagu 1.30.2 printed these as 1.234567e+06, 1e-05 and 1e+21.
    expect([1234567, 0.00001, 1e21, -0, 0.1].map(goDecimal)).toEqual([
      "1234567",
      "0.00001",
      "1000000000000000000000",
      "-0",
      "0.1",
    ]);
  });

  it("raw: strings as they are, null as an empty line, the rest as compact JSON", () => {
    // Dagu 1.30.2, raw: `.data[]` of [1, "two", null, true, {"k": "v", "a": [1]}], and a string with a newline.
    expect(printResults('1\n"two"\nnull\ntrue\n{"k":"v","a":[1]}\n"line\\nnext"\n["<"]', true).stdout).toBe(
      '1\ntwo\n\ntrue\n{"a":[1],"k":"v"}\nline\nnext\n["\\u003c"]\n',
    );
  });

  it("hands the filter its input with keys sorted, as gojq walks a Go map", async () => {
    // Dagu 1.30.2: `[.[]], to_entries[0].key` of {"b": 1, "a": 2, "c": 3}.
    expect((await jq("[.[]], to_entries[0].key", '{"b": 1, "a": 2, "c": 3}')).stdout).toBe(
      '[\n    2,\n    1,\n    3\n]\n"a"\n',
    );
  });

  it("dates: strptime with an offset, fromdate, strftime and gmtime", async () => {
    // Dagu 1.30.2 (gojq applies a `%z` offset; jq 1.7.1's C library would not, here it is applied).
    const outcome = await jq(
      '(.a | strptime("%Y-%m-%dT%H:%M:%S%z") | mktime), (.b | fromdate), (.c | strptime("%d %b %Y") | mktime), (1425599507 | strftime("%A, %B %d, %Y")), (1425599507 | gmtime), (.c | strptime("%d %b %Y"))',
      '{"a": "2024-05-01T12:00:00+0200", "b": "2015-03-05T23:51:47Z", "c": "05 Mar 2015"}',
    );
    expect(outcome.stdout).toBe(
      '1714557600\n1425599507\n1425513600\n"Thursday, March 05, 2015"\n[\n    2015,\n    2,\n    5,\n    23,\n    51,\n    47,\n    4,\n    63\n]\n[\n    2015,\n    2,\n    5,\n    0,\n    0,\n    0,\n    4,\n    63\n]\n',
    );
  });

  it("a number jq can't hold is left out with Go's message, as Dagu does", async () => {
    // Dagu 1.30.2: `1e1000` → stderr "failed to marshal jq output: json: unsupported value: +Inf".
    const outcome = await jq("1, 1e1000, 2", "null");
    expect(outcome).toMatchObject({
      exitCode: 0,
      stdout: "1\n2\n",
      stderr: "failed to marshal jq output: json: unsupported value: +Inf",
    });
  });

  it("config.raw is read as Dagu reads it (weakly typed), and anything else fails the step", async () => {
    expect((await jq(".a", '{"a": "x"}', { raw: "true" })).stdout).toBe("x\n");
    expect((await jq(".a", '{"a": "x"}', { raw: 0 })).stdout).toBe('"x"\n');
    expect(await jq(".a", '{"a": "x"}', { raw: "maybe" })).toMatchObject({
      exitCode: 1,
      error: "jq: config.raw must be true or false, got 'maybe'",
    });
  });

  it("a missing filter succeeds with gojq's message; bad input or a filter jq can't compile fails", async () => {
    // Dagu 1.30.2: no command → succeeded, stderr 'failed to run jq query: missing query (try ".")'.
    expect(await jq("", '{"a": 1}')).toMatchObject({
      exitCode: 0,
      stdout: "",
      stderr: 'failed to run jq query: missing query (try ".")',
    });
    // Dagu 1.30.2: failed, "unexpected end of JSON input" (the engine's own words differ below).
    expect(await jq(".", "")).toMatchObject({
      exitCode: 1,
      error: expect.stringMatching(/^jq: the input is not JSON: /),
    });
    expect(await jq(".", "1 2")).toMatchObject({ exitCode: 1 });
    expect(await jq("foo(1)", "null")).toMatchObject({
      exitCode: 1,
      error: "the filter doesn't compile: foo/1 is not defined at <top-level>, line 1:",
    });
  });
});

describe("jq steps through the API", () => {
  it("run in the Worker and print what the Dagu 1.30.2 binary printed for the same DAG", async () => {
    const client = api((await userWithRole("manager")).token);
    const name = unique("jq-steps");
    // The same file ran on the Dagu 1.30.2 binary: each expectation below is its step log.
    const spec = `type: graph
env:
  - GREETING: "hi <you> & me"
steps:
  - name: producer
    command: echo '{"items":[{"id":2,"name":"b"},{"id":1,"name":"a","tags":["x"]}],"count":2}'
    output: DATA
  - name: pretty
    executor: jq
    command: '.items | sort_by(.id)'
    script: \${DATA}
    depends: [producer]
    output: SORTED
  - name: names
    executor:
      type: jq
      config:
        raw: true
    command: '.items[].name, .count, .missing, (.items[1] | {tags, id})'
    script: \${DATA}
    depends: [producer]
    output: NAMES
  - name: expanded
    executor: jq
    command: '.greeting, .n'
    script: '{"greeting": "\${GREETING}", "n": 1.5}'
  - name: runtime-error
    executor: jq
    command: '.[] | 10 / .'
    script: '[5, 2, 0]'
  - name: bad-input
    executor: jq
    command: '.'
    script: '{"a": 1,}'
    continueOn:
      failure: true
  - name: bad-filter
    executor: jq
    command: '.a |'
    script: '{}'
    continueOn:
      failure: true
`;
    await ok(client.POST("/dags", { body: { name, spec } }), 201);
    const { dagRunId } = await ok(
      client.POST("/dags/{fileName}/start", { params: { path: { fileName: name } }, body: {} }),
    );
    const run = await waitForRun((await userWithRole("viewer")).token, name, dagRunId);
    const log = async (stepName: string, stream: "stdout" | "stderr" = "stdout") =>
      (
        await ok(
          client.GET("/dag-runs/{name}/{dagRunId}/steps/{stepName}/log", {
            params: { path: { name, dagRunId, stepName }, query: { stream } },
          }),
        )
      ).content;

    const sorted =
      '[\n    {\n        "id": 1,\n        "name": "a",\n        "tags": [\n            "x"\n        ]\n    },\n    {\n        "id": 2,\n        "name": "b"\n    }\n]';
    expect(await log("pretty")).toBe(`${sorted}\n`);
    expect(nodeOf(run, "pretty").output).toBe(sorted);
    expect(await log("names")).toBe('b\na\n2\n\n{"id":1,"tags":["x"]}\n');
    expect(nodeOf(run, "names").output).toBe('b\na\n2\n\n{"id":1,"tags":["x"]}');
    expect(await log("expanded")).toBe('"hi \\u003cyou\\u003e \\u0026 me"\n1.5\n');
    // Dagu: succeeded, the results before the error, the error on stderr (gojq words it
    // "cannot divide number (10) by: number (0)"; jq's own words are below).
    expect(nodeOf(run, "runtime-error").statusLabel).toBe("succeeded");
    expect(await log("runtime-error")).toBe("2\n5\n");
    expect(await log("runtime-error", "stderr")).toBe(
      "failed to run jq query: number (10) and number (0) cannot be divided because the divisor is zero",
    );
    // Dagu: failed, "invalid character '}' looking for beginning of object key string" and "unexpected EOF".
    expect(nodeOf(run, "bad-input")).toMatchObject({
      statusLabel: "failed",
      error: expect.stringMatching(/^jq: the input is not JSON/),
    });
    expect(nodeOf(run, "bad-filter")).toMatchObject({
      statusLabel: "failed",
      error: expect.stringMatching(/^the filter doesn't compile: syntax error, unexpected end of file/),
    });
    expect(run.statusLabel).toBe("partially_succeeded");
  });
});
