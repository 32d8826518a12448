/**
 * The wire shapes of runs (Dagu's DAGRunSummary, DAGRunDetails, Node, the history grid and
 * outputs): the only place a run's D1 row or coordinator view becomes what the API answers.
 */
import type { NodeView, RunView } from "../../coordinator/dag-coordinator.ts";
import type { RunRow } from "../../db/runs.ts";
import { parseDagSpec, type StepSpec } from "../../domain/dag-spec.ts";
import { formatParams } from "../../domain/params.ts";
import { NODE_STATUS, RUN_STATUS, runStatusLabel } from "../../domain/status.ts";
import { stepView } from "./dag.ts";

type SummaryFields = Pick<RunRow, "dag_name" | "run_id" | "status" | "queued_at" | "started_at" | "finished_at">;

export function runSummary(row: SummaryFields) {
  return {
    rootDAGRunName: row.dag_name,
    rootDAGRunId: row.run_id,
    dagRunId: row.run_id,
    name: row.dag_name,
    status: row.status,
    statusLabel: runStatusLabel(row.status) ?? "not_started",
    queuedAt: row.queued_at ?? "",
    startedAt: row.started_at ?? "",
    finishedAt: row.finished_at ?? "",
    log: `/api/v2/dag-runs/${row.dag_name}/${row.run_id}/log`,
  };
}

/** The DAG's latest run, or Dagu's shape for "this DAG has never run". */
export function latestRunSummary(dagName: string, row: RunRow | undefined) {
  if (row) return runSummary(row);
  return {
    rootDAGRunName: dagName,
    rootDAGRunId: "",
    dagRunId: "",
    name: dagName,
    status: RUN_STATUS.not_started,
    statusLabel: "not_started" as const,
    startedAt: "",
    finishedAt: "",
    log: "",
  };
}

/**
 * The step definitions of runs, from the spec each started with. A spec is parsed once per
 * lookup, however many runs share it: a page of 100 runs of one DAG version costs one parse.
 */
export function stepLookup(): (run: RunView) => Map<string, StepSpec> {
  const bySpec = new Map<string, Map<string, StepSpec>>();
  return (run) => {
    let steps = bySpec.get(run.spec);
    if (!steps) {
      const parsed = parseDagSpec(run.spec);
      const definitions = parsed.ok ? [...parsed.spec.steps, ...Object.values(parsed.spec.handlerOn)] : [];
      steps = new Map(definitions.map((step) => [step.name, step]));
      bySpec.set(run.spec, steps);
    }
    return steps;
  };
}

export function runDetails(run: RunView, steps: Map<string, StepSpec>) {
  const handler = (kind: NodeView["kind"]) => {
    const node = run.handlerNodes.find((candidate) => candidate.kind === kind);
    return node ? nodeView(run, node, steps.get(node.name)) : undefined;
  };
  return {
    ...runSummary({ ...run, dag_name: run.dagName, run_id: run.id }),
    params: formatParams(run.params),
    trigger: run.trigger,
    triggeredBy: run.triggered_by,
    webhookPayload: run.payload,
    webhookHeaders: run.headers,
    nodes: run.nodes.map((node) => nodeView(run, node, steps.get(node.name))),
    onSuccess: handler("success"),
    onFailure: handler("failure"),
    onCancel: handler("abort"),
    onExit: handler("exit"),
  };
}

function nodeView(run: RunView, node: NodeView, step: StepSpec | undefined) {
  const logPath = `/api/v2/dag-runs/${run.dagName}/${run.id}/steps/${encodeURIComponent(node.name)}/log`;
  return {
    // A step the run's spec doesn't define (it can't happen for a valid stored spec) shows by name.
    step: step ? stepView(step) : { name: node.name, depends: [] as string[], preconditions: [] as never[] },
    stdout: `${logPath}?stream=stdout`,
    stderr: `${logPath}?stream=stderr`,
    startedAt: node.started_at ?? "",
    finishedAt: node.finished_at ?? "",
    status: node.status,
    statusLabel: node.statusLabel,
    retryCount: node.retry_count,
    // Dagu counts every run that ended, a repeating step's repeats too (rows copied before repeats existed have none).
    doneCount:
      (node.repeat_count ?? 0) + (node.status === NODE_STATUS.succeeded || node.status === NODE_STATUS.failed ? 1 : 0),
    error: node.error ?? undefined,
    exitCode: node.exit_code,
    output: node.output,
  };
}

/**
 * Dagu's history grid: one row per step (then per handler that ran), with the step's status in
 * each of the listed runs, oldest run first; a step a run didn't have shows as not_started.
 */
export function historyGrid(newestFirst: RunView[]) {
  const runs = [...newestFirst].reverse();
  const names = new Map<string, number[]>();
  for (const node of runs.flatMap((run) => [...run.nodes, ...run.handlerNodes])) names.set(node.name, []);
  runs.forEach((run, index) => {
    for (const node of [...run.nodes, ...run.handlerNodes]) names.get(node.name)![index] = node.status;
  });
  return [...names].map(([name, history]) => ({
    name,
    history: Array.from(runs, (_, index) => history[index] ?? NODE_STATUS.not_started),
  }));
}

/** Dagu's outputs document: the `output:` variables the run's steps set. */
export function runOutputs(run: RunView, steps: Map<string, StepSpec>) {
  const outputs = Object.fromEntries(
    run.nodes.flatMap((node) => {
      // Keyed as Dagu's outputs.json: `output.key`, else the variable in camelCase; `omit` leaves it out.
      const key = steps.get(node.name)?.outputKey;
      return key && node.output !== null ? [[key, node.output]] : [];
    }),
  );
  return {
    metadata: {
      dagName: run.dagName,
      dagRunId: run.id,
      attemptId: run.id,
      status: run.statusLabel,
      completedAt: run.finished_at ?? "",
      params: formatParams(run.params),
    },
    outputs,
  };
}
