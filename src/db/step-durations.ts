import type { StepDurationTally } from "../domain/step-durations.ts";

/** The steps one finish of a run ran, bucketed: what its final D1 copy adds to its DAG's histogram. */
export type StepDurationCount = StepDurationTally & {
  dag_id: string;
  run_id: string;
  /** The finish they belong to (a retried run finishes again, with the steps it re-ran). */
  finished_at: string;
};

/**
 * Counted when the DAG still exists (a deleted DAG's histogram went with it) and the run's D1
 * copy is older than the finish (a run's `updated_at` is its `finished_at` when it finishes,
 * and only grows): the rule by which the copy itself is written. The statements go in the batch
 * that writes the copies, before them, and a batch is one transaction: the copy that shows a
 * finish, or any later state of the run, commits with the count of that finish's steps. Writing
 * the finish again (a sync retried after its answer was lost, a coordinator restarted before it
 * noted the write) counts nothing.
 */
const NOT_YET_COUNTED = `EXISTS (SELECT 1 FROM dags WHERE id = ?1)
  AND NOT EXISTS (SELECT 1 FROM dag_runs WHERE dag_id = ?1 AND run_id = ?2 AND updated_at >= ?3)`;

/** The statements adding these finishes' steps to their DAGs' histograms: two per finish. */
export function countStepDurations(db: D1Database, counts: readonly StepDurationCount[]): D1PreparedStatement[] {
  const totals = db.prepare(
    `INSERT INTO step_duration_totals (dag_id, steps, seconds)
     SELECT ?1, ?4, ?5 WHERE ${NOT_YET_COUNTED}
     ON CONFLICT (dag_id) DO UPDATE SET steps = steps + excluded.steps, seconds = seconds + excluded.seconds`,
  );
  const buckets = db.prepare(
    `INSERT INTO step_duration_buckets (dag_id, le, steps)
     SELECT ?1, json_extract(b.value, '$.le'), json_extract(b.value, '$.steps') FROM json_each(?4) b WHERE ${NOT_YET_COUNTED}
     ON CONFLICT (dag_id, le) DO UPDATE SET steps = steps + excluded.steps`,
  );
  return counts
    .filter((count) => count.steps > 0)
    .flatMap((count) => [
      totals.bind(count.dag_id, count.run_id, count.finished_at, count.steps, count.seconds),
      buckets.bind(count.dag_id, count.run_id, count.finished_at, JSON.stringify(count.buckets)),
    ]);
}
