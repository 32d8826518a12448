/**
 * Sub-DAGs as Dagu 1.30.2 runs them (checked with the binary): a step that calls a DAG starts a
 * run of it — one per item with `parallel:` — and ends as the run(s) end. Its stdout, which
 * `output:` captures, is Dagu's JSON: for one call `{name, dagRunId, params, outputs, status}`,
 * for a fan-out `{summary: {total, succeeded, failed}, results: [...], outputs: [...]}` where
 * `outputs` holds the outputs of the runs that succeeded. A fan-out fails when any run failed,
 * after every item ran.
 */
import type { ParallelSpec, StepSpec } from "./dag-spec.ts";
import { MAX_PARALLEL_ITEMS } from "./dag-spec.ts";
import { expand, type Scope } from "./expand.ts";
import type { FinalStatus } from "./progress.ts";

/**
 * How deep calls may nest: a run at this depth calls no further. Calls between stored DAGs are
 * checked for cycles when a DAG is saved; a name computed at run time (`call: ${TARGET}`) is
 * stopped here.
 */
export const MAX_SUB_DAG_DEPTH = 10;

/** A sub-DAG run's link to the step that waits for it. */
export type ParentLink = {
  dagId: string;
  dagName: string;
  runId: string;
  step: string;
  attempt: number;
  /** The item of a `parallel:` step (0 for a single call). */
  item: number;
  /** 1 for a run called by a top-level run, 2 for one it calls, … */
  depth: number;
  /** The run at the top of the tree (Dagu's root DAG-run). */
  rootDagName: string;
  rootRunId: string;
};

/** What a finished sub-DAG run tells the step that waits for it. */
export type SubRunNotice = {
  childRunId: string;
  status: FinalStatus;
  /** The params it ran with, as Dagu's result shows them (`K=V` joined by spaces, unquoted); absent when it never ran. */
  params?: string | undefined;
  /**
   * Its steps' `output:` variables by name, as Dagu's sub-DAG result lists them — with Dagu
   * 1.30.2's `DAGU_CONTINUE_ON.<step>: "false"` for each step that failed the run.
   */
  outputs: Record<string, string>;
  error: string | undefined;
};

/** What a calling step is told of a run that could not start, or is gone: it failed, for this reason. */
export function failedNotice(childRunId: string, error: string): SubRunNotice {
  return { childRunId, status: "failed", outputs: {}, error };
}

/** One call a step makes: the DAG (name expanded) and its params (Dagu's string form, expanded). */
export type SubDagCallTarget = { dag: string; params: string };

/**
 * The calls a step makes when it starts, expanded with its variables, or why it can't. Items
 * that give the same DAG and params are one call, as in Dagu (which runs each distinct call once).
 */
export function plannedCalls(step: StepSpec, scope: Scope): { calls: SubDagCallTarget[] } | { problem: string } {
  const call = step.subDag!;
  if (!call.parallel) return { calls: [{ dag: expand(call.dag, scope), params: expand(call.params, scope) }] };
  const items = parallelItems(call.parallel, scope);
  if ("problem" in items) return items;
  const calls = new Map<string, SubDagCallTarget>();
  for (const item of items.items) {
    // ${ITEM} (and ${ITEM.field} of an object item) is the item; without params the item is the params.
    const itemScope = new Map(scope).set("ITEM", item);
    const target = {
      dag: expand(call.dag, itemScope),
      params: call.params === "" ? item : expand(call.params, itemScope),
    };
    calls.set(JSON.stringify(target), target);
  }
  return { calls: [...calls.values()] };
}

function parallelItems(parallel: ParallelSpec, scope: Scope): { items: string[] } | { problem: string } {
  if (parallel.items) return { items: parallel.items.map((item) => expand(item, scope)) };
  const value = expand(parallel.variable!, scope);
  const items = itemsOfValue(value);
  if ("problem" in items) return { problem: `parallel: ${parallel.variable} ${items.problem}` };
  if (items.items.length === 0) return { problem: `parallel: ${parallel.variable} holds no items` };
  if (items.items.length > MAX_PARALLEL_ITEMS) {
    return {
      problem: `parallel: ${parallel.variable} holds ${items.items.length} items, more than ${MAX_PARALLEL_ITEMS} (Dagu's limit)`,
    };
  }
  return items;
}

/**
 * The items a variable holds: a JSON array (strings as they are, other values as JSON), or
 * lines of text (one item per non-empty line, as a command's output lists them), or one word.
 * Dagu also guesses at commas, semicolons, pipes, tabs, quotes and spaces in one line; that
 * guess is refused here rather than made, so a value is never split differently from Dagu.
 */
export function itemsOfValue(value: string): { items: string[] } | { problem: string } {
  const text = value.trim();
  if (text.startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { problem: `is not a valid JSON array: ${preview(text)}` };
    }
    if (Array.isArray(parsed)) {
      return {
        items: parsed.map((item) => (typeof item === "string" ? item : item === null ? "null" : JSON.stringify(item))),
      };
    }
  }
  if (text.startsWith("{")) return { problem: `holds a JSON object, not an array of items: ${preview(text)}` };
  if (text.includes("\n")) {
    return {
      items: text
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== ""),
    };
  }
  if (/[\s,;|"]/.test(text)) {
    return {
      problem: `holds one line that Dagu would split by guessing its separator: ${preview(text)}; give a JSON array or one item per line`,
    };
  }
  return { items: text === "" ? [] : [text] };
}

function preview(text: string): string {
  return text.length > 80 ? `'${text.slice(0, 80)}…'` : `'${text}'`;
}

/** A finished call as Dagu's sub-DAG result shows it (`params` left out when empty, as Go's omitempty). */
export type CallResult = {
  name: string;
  dagRunId: string;
  params?: string;
  outputs: Record<string, string>;
  status: string;
};

/** The step's stdout for its finished calls (in item order), and whether it succeeded. */
export function callStepOutcome(
  parallel: boolean,
  results: readonly CallResult[],
): { stdout: string; succeeded: boolean; error: string | undefined } {
  // A queued run (dag.enqueue) is as far as its step goes.
  const failed = results.filter((result) => result.status !== "succeeded" && result.status !== "queued");
  const error =
    failed.length === 0
      ? undefined
      : parallel
        ? `${failed.length} of ${results.length} sub-DAG runs did not succeed (first: ${failed[0]!.name} ${failed[0]!.dagRunId}, ${failed[0]!.status})`
        : `sub-DAG run ${failed[0]!.name} ${failed[0]!.dagRunId} ${failed[0]!.status}`;
  const document = parallel
    ? {
        summary: { total: results.length, succeeded: results.length - failed.length, failed: failed.length },
        results: results.map(sortedOutputs),
        outputs: results
          .filter((result) => result.status === "succeeded")
          .map((result) => sortedOutputs(result).outputs),
      }
    : sortedOutputs(results[0]!);
  // Dagu prints it indented by two spaces, with a final newline; its maps' keys sorted.
  return { stdout: `${JSON.stringify(document, null, 2)}\n`, succeeded: failed.length === 0, error };
}

function sortedOutputs(result: CallResult): CallResult {
  const keys = Object.keys(result.outputs).sort();
  const { params, ...rest } = result;
  return {
    name: rest.name,
    dagRunId: rest.dagRunId,
    ...(params ? { params } : {}),
    outputs: Object.fromEntries(keys.map((key) => [key, result.outputs[key]!])),
    status: rest.status,
  };
}

/** A run's params as Dagu's sub-DAG result shows them: `K=V` (positional `1=V`), unquoted, joined by spaces. */
export function resultParams(params: readonly { key: string; value: string }[]): string {
  return params.map(({ key, value }) => `${key}=${value}`).join(" ");
}
