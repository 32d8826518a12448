/**
 * The wire shapes of DAGs (Dagu's DAGFile, DAGDetails, Step): the only place a DAG's row or
 * parsed spec becomes what the API answers.
 */
import type { DagRow } from "../../db/dags.ts";
import type { RunRow } from "../../db/runs.ts";
import type { DagSpec, StepSpec } from "../../domain/dag-spec.ts";
import { latestRunSummary } from "./run.ts";

/** One entry of the DAG list: the stored summary, its latest run and when the schedule next starts it. */
export function dagListItemView(row: DagRow, nextRun: Date | undefined, latest: RunRow | undefined) {
  return {
    fileName: row.name,
    dag: {
      name: row.name,
      description: row.description,
      schedule: row.schedules.map((expression) => ({ expression })),
      tags: row.tags,
    },
    latestDAGRun: latestRunSummary(row.name, latest),
    suspended: row.suspended === 1,
    // Omitted when there is none, as Dagu 2.x's DAGFile.nextRun (a date-time, never null).
    ...(nextRun && { nextRun: nextRun.toISOString() }),
    errors: [] as string[],
  };
}

const keyValueStrings = (entries: { key: string; value: string }[]) =>
  entries.map(({ key, value }) => `${key}=${value}`);

export function stepView(step: StepSpec) {
  return {
    name: step.name,
    id: step.id,
    description: step.description,
    command: step.command,
    script: step.script,
    dir: step.dir,
    depends: step.depends ?? [],
    output: step.output,
    preconditions: step.preconditions.map(({ condition, expected, negate }) => ({ condition, expected, negate })),
    timeoutSec: step.timeoutSec,
    executorConfig: step.executor,
  };
}

export function dagDetailsView(name: string, spec: DagSpec) {
  return {
    name,
    group: spec.group,
    description: spec.description,
    type: spec.type,
    schedule: spec.schedule.map((expression) => ({ expression })),
    tags: spec.tags,
    params: keyValueStrings(spec.params),
    defaultParams: keyValueStrings(spec.params).join(" "),
    env: keyValueStrings(spec.env),
    maxActiveRuns: spec.maxActiveRuns,
    timeoutSec: spec.timeoutSec,
    steps: spec.steps.map(stepView),
    handlerOn: Object.fromEntries(Object.entries(spec.handlerOn).map(([event, step]) => [event, stepView(step)])),
  };
}

/** The sub-DAGs of a multi-document file, in Dagu's `LocalDag` shape (checked with the DAG: no errors of their own). */
export function localDagsView(spec: DagSpec) {
  return spec.localDags.map((local) => ({
    name: local.name ?? "",
    dag: dagDetailsView(local.name ?? "", local),
    errors: [] as string[],
  }));
}
