/**
 * The wire shapes of runs (Dagu's DAGRunSummary, DAGRunDetails, Node, the history grid and
 * outputs): the only place a run's D1 row or coordinator view becomes what the API answers.
 */
import type { NodeView, RunView } from "../../coordinator/dag-coordinator.ts";
import type { SubRunRecord } from "../../coordinator/run-store.ts";
import type { RunRow } from "../../db/runs.ts";
import { allSteps, parseDagSpec, type StepSpec } from "../../domain/dag-spec.ts";
import { formatParams } from "../../domain/params.ts";
import type { DagType } from "../../domain/plan.ts";
import { NODE_STATUS, RUN_STATUS, runStatusLabel } from "../../domain/status.ts";
import { stepView } from "./dag.ts";

type SummaryFields = Pick<
  RunRow,
  "dag_name" | "run_id" | "status" | "queued_at" | "started_at" | "finished_at" | "trigger" | "triggered_by"
>;

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
    // Required by Dagu 2.x's DAGRunSummary; dagflare has neither artifacts nor DAG auto-retries.
    artifactsAvailable: false,
    autoRetryCount: 0,
    trigger: row.trigger,
    triggeredBy: row.triggered_by,
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
    artifactsAvailable: false,
    autoRetryCount: 0,
  };
}

/**
 * The latest run of a DAG that never ran, as Dagu's DAG details show it: the summary's empty
 * shape with every step as a not_started node.
 */
export function neverRunDetails(dagName: string, steps: StepSpec[]) {
  return {
    ...latestRunSummary(dagName, undefined),
    nodes: steps.map((step) => ({
      step: stepView(step),
      stdout: "",
      stderr: "",
      startedAt: "",
      finishedAt: "",
      status: NODE_STATUS.not_started,
      statusLabel: "not_started" as const,
      retryCount: 0,
      doneCount: 0,
      exitCode: null,
      output: null,
    })),
  };
}

/** What a run's views need of the spec it started with: its steps by name, and its type. */
export type RunSpec = { steps: Map<string, StepSpec>; type: DagType };

/**
 * The specs of runs, from the spec each started with. A spec is parsed once per lookup,
 * however many runs share it: a page of 100 runs of one DAG version costs one parse.
 */
export function specLookup(): (run: RunView) => RunSpec {
  const bySpec = new Map<string, RunSpec>();
  return (run) => {
    let spec = bySpec.get(run.spec);
    if (!spec) {
      const parsed = parseDagSpec(run.spec);
      const definitions = parsed.ok ? allSteps(parsed.spec) : [];
      spec = {
        steps: new Map(definitions.map((step) => [step.name, step])),
        type: parsed.ok ? parsed.spec.type : "graph",
      };
      bySpec.set(run.spec, spec);
    }
    return spec;
  };
}

export function runDetails(run: RunView, { steps, type }: RunSpec) {
  const handler = (kind: NodeView["kind"]) => {
    const node = run.handlerNodes.find((candidate) => candidate.kind === kind);
    return node ? nodeView(run, node, steps.get(node.name)) : undefined;
  };
  const summary = runSummary({ ...run, dag_name: run.dagName, run_id: run.id });
  return {
    ...summary,
    // A sub-DAG run: its tree's root and the run whose step called it (Dagu's fields).
    ...(run.parent && {
      rootDAGRunName: run.parent.rootDagName,
      rootDAGRunId: run.parent.rootRunId,
      parentDAGRunName: run.parent.dagName,
      parentDAGRunId: run.parent.runId,
      parentStep: run.parent.step,
      log: subRunPath(run.parent.rootDagName, run.parent.rootRunId, run.id, "/log"),
    }),
    params: formatParams(run.params),
    type,
    webhookPayload: run.payload,
    webhookHeaders: run.headers,
    nodes: run.nodes.map((node) => nodeView(run, node, steps.get(node.name))),
    onSuccess: handler("success"),
    onFailure: handler("failure"),
    onCancel: handler("abort"),
    onExit: handler("exit"),
  };
}

/** The API path of a sub-DAG run (under its root), or of something of it. */
export function subRunPath(rootName: string, rootRunId: string, subRunId: string, rest = ""): string {
  return `/api/v2/dag-runs/${rootName}/${rootRunId}/sub-dag-runs/${subRunId}${rest}`;
}

/** Dagu's status number of a run a step started: not started yet is queued; a queued run (dag.enqueue) is as started. */
function subRunStatus(row: SubRunRecord): number {
  if (row.state === "running") return RUN_STATUS.running;
  if (row.state !== "finished") return RUN_STATUS.queued;
  return RUN_STATUS[(row.status ?? "failed") as keyof typeof RUN_STATUS] ?? RUN_STATUS.failed;
}

/** A run a step started, as Dagu's SubDAGRunDetail (with the called DAG's name, and why it failed to start). */
export function subRunView(row: SubRunRecord) {
  const status = subRunStatus(row);
  return {
    dagRunId: row.child_run_id,
    dagName: row.dag,
    params: row.params,
    status,
    statusLabel: runStatusLabel(status) ?? "failed",
    startedAt: row.started_at ?? "",
    finishedAt: row.finished_at ?? "",
    ...(row.error ? { error: row.error } : {}),
  };
}

function nodeView(run: RunView, node: NodeView, step: StepSpec | undefined) {
  const logPath = `/api/v2/dag-runs/${run.dagName}/${run.id}/steps/${encodeURIComponent(node.name)}/log`;
  const calls = step?.subDag ? run.subRuns.filter((row) => row.step === node.name) : [];
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
    // The runs a calling step started: this attempt's, and earlier attempts' (retries, repeats).
    ...(step?.subDag && {
      subRuns: calls.filter((row) => row.attempt === node.attempt).map(subRunView),
      subRunsRepeated: calls.filter((row) => row.attempt !== node.attempt).map(subRunView),
    }),
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
export function runOutputs(run: RunView, { steps }: RunSpec) {
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
