/**
 * The wire shapes of runs (Dagu's DAGRunSummary, DAGRunDetails, Node): the only place a run's
 * D1 row or coordinator view becomes what the API answers.
 */
import type { RunRow } from "../../db/runs.ts";
import { RUN_STATUS, runStatusLabel } from "../../domain/status.ts";

export function runSummary(row: RunRow) {
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
