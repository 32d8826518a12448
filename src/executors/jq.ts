/**
 * Dagu's jq step, run in the Worker: 1.x `executor: jq` (the filter in `command`, the JSON in
 * `script`, `config: {raw}`) and 2.x `action: jq.filter` (`with: {filter, data, raw}`, read as
 * the same by ../domain/step-forms.ts). The filter runs on jq 1.7.1 (./jq-wasm.ts); its results
 * are printed as Dagu prints them (../domain/go-json.ts), so `output:` captures the same text:
 * one result a line, as JSON indented by four spaces with sorted keys, or with `raw` strings as
 * they are, `null` as an empty line and numbers in full (as Dagu 2.x; 1.30.2 wrote 1.234567e+06).
 *
 * As in Dagu: input that isn't one JSON value, or a filter jq can't compile, fails the step; an
 * error while the filter runs is written to stderr (`failed to run jq query: …`) and the step
 * still succeeds with what was printed before it. Dagu reads the input into Go maps, so the
 * filter sees every object's keys sorted; it does here too.
 */
import { type GoJsonValue, goDecimal, goJson, UnsupportedNumberError } from "../domain/go-json.ts";
import type { StepOutcome } from "../domain/run.ts";
import { capLog, capStdout, type Executor } from "./executor.ts";
import { runJqProcess } from "./jq-wasm.ts";

/** jq's exit codes (jq 1.7.1, src/main.c). */
const JQ_COMPILE_ERROR = 3;
const JQ_RUNTIME_ERROR = 5;

const failure = (error: string): StepOutcome => ({ exitCode: 1, stdout: "", stderr: error, error });

export const jqExecutor: Executor = {
  async run(invocation) {
    if (invocation.refusal) return failure(invocation.refusal);
    const raw = weakBoolean(invocation.config.raw ?? false);
    if (raw === undefined)
      return failure(`jq: config.raw must be true or false, got '${String(invocation.config.raw)}'`);
    const filter = invocation.command;
    // gojq (Dagu's jq) reports a missing filter only when it runs it: the step succeeds.
    if (filter.trim() === "")
      return { exitCode: 0, stdout: "", stderr: 'failed to run jq query: missing query (try ".")' };
    let input: GoJsonValue;
    try {
      input = JSON.parse(invocation.script ?? "");
    } catch (error) {
      return failure(`jq: the input is not JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
    // goJson writes keys sorted: jq reads them in the order gojq walks a Go map.
    const run = runJqProcess(["-c", "-M", "--", filter], goJson(input));
    if (run.exitCode !== 0 && run.exitCode !== JQ_RUNTIME_ERROR) {
      const message = run.stderr.trim() || `jq exited with code ${run.exitCode}`;
      const reason = run.exitCode === JQ_COMPILE_ERROR ? "the filter doesn't compile" : "jq failed";
      return { exitCode: 1, stdout: "", stderr: capLog(message), error: `${reason}: ${firstLine(message)}` };
    }
    const printed = printResults(run.stdout, raw);
    const stderr = [
      printed.stderr,
      run.exitCode === JQ_RUNTIME_ERROR ? `failed to run jq query: ${withoutJqPrefix(run.stderr)}` : "",
    ].join("");
    return { exitCode: 0, stdout: capStdout(printed.stdout, invocation.stdoutCapture), stderr: capLog(stderr) };
  },
};

/** Each of jq's compact results (one a line) as Dagu prints it. */
export function printResults(compact: string, raw: boolean): { stdout: string; stderr: string } {
  let stdout = "";
  let stderr = "";
  for (const line of compact.split("\n")) {
    if (line === "") continue;
    const value = JSON.parse(line) as GoJsonValue;
    try {
      stdout += `${raw ? rawText(value) : goJson(value, "    ")}\n`;
    } catch (error) {
      if (!(error instanceof UnsupportedNumberError)) throw error;
      stderr += `failed to marshal jq output: ${error.message}`;
    }
  }
  return { stdout, stderr };
}

/** Dagu's raw mode: strings as they are, null as nothing, numbers in full, the rest as compact JSON. */
function rawText(value: GoJsonValue): string {
  if (value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number") return goDecimal(value);
  return goJson(value);
}

/** As Dagu decodes a config flag (mapstructure, weakly typed): booleans, numbers, strconv.ParseBool's strings. */
export function weakBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0;
  if (typeof value !== "string") return undefined;
  if (["1", "t", "T", "TRUE", "true", "True"].includes(value)) return true;
  if (["0", "f", "F", "FALSE", "false", "False", ""].includes(value)) return false;
  return undefined;
}

/** jq's `jq: error (at <stdin>:0): ` before a run-time error's message. */
function withoutJqPrefix(stderr: string): string {
  return stderr.trim().replace(/^jq: error \(at [^)]*\)(?: \(not a string\))?: /, "");
}

function firstLine(text: string): string {
  return text.replace(/^jq: error: /, "").split("\n")[0]!;
}
