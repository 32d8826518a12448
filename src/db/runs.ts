import type { RunTrigger } from "../domain/run.ts";
import { RUN_STATUS } from "../domain/status.ts";
import { parseJsonColumn, StringList } from "./json.ts";
import { countStepDurations, type StepDurationCount } from "./step-durations.ts";
import { insertWebhookRequestStatement, type NewWebhookRequest } from "./webhook-requests.ts";

/** A run's D1 copy as the coordinator writes it. */
export type RunWrite = {
  dag_id: string;
  run_id: string;
  status: number;
  params: string;
  trigger: RunTrigger;
  triggered_by: string;
  queued_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
};

/** A run as read: with the DAG's current name (a rename keeps the runs). */
export type RunRow = RunWrite & { dag_name: string };

const SELECT_RUNS = "SELECT r.*, d.name AS dag_name FROM dag_runs r JOIN dags d ON d.id = r.dag_id";

/**
 * Writes the coordinator's current view of its runs, in one batch; newer `updated_at` wins, so
 * retries can't go back in time. A run whose DAG was deleted meanwhile is not written (nothing
 * to attach it to). The same batch adds the steps of runs that finished to the step duration
 * histogram, each finish once (countStepDurations), and the webhook inbound log's rows of the
 * triggers that started runs (src/webhooks/inbound-log.ts).
 */
export async function upsertRuns(
  db: D1Database,
  rows: RunWrite[],
  stepDurations: readonly StepDurationCount[] = [],
  inbound: readonly NewWebhookRequest[] = [],
): Promise<void> {
  const upsert = db.prepare(
    `INSERT INTO dag_runs (dag_id, run_id, status, params, trigger, triggered_by, queued_at, started_at, finished_at, updated_at)
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 WHERE EXISTS (SELECT 1 FROM dags WHERE id = ?1)
     ON CONFLICT (dag_id, run_id) DO UPDATE SET
       status = excluded.status, params = excluded.params, queued_at = excluded.queued_at,
       started_at = excluded.started_at, finished_at = excluded.finished_at, updated_at = excluded.updated_at
     WHERE excluded.updated_at >= dag_runs.updated_at`,
  );
  const statements = [
    ...countStepDurations(db, stepDurations),
    ...rows.map((row) =>
      upsert.bind(
        row.dag_id,
        row.run_id,
        row.status,
        row.params,
        row.trigger,
        row.triggered_by,
        row.queued_at,
        row.started_at,
        row.finished_at,
        row.updated_at,
      ),
    ),
    // After the runs: the log's run ids name rows that exist.
    ...inbound.map((entry) => insertWebhookRequestStatement(db, entry)),
  ];
  if (statements.length > 0) await db.batch(statements);
}

export type RunFilter = {
  dagName?: string | undefined;
  nameContains?: string | undefined;
  runId?: string | undefined;
  status?: number | undefined;
  trigger?: RunTrigger | undefined;
  from?: string | undefined;
  to?: string | undefined;
};

export async function listRuns(
  db: D1Database,
  filter: RunFilter,
  page: { limit: number; offset: number },
): Promise<{ rows: RunRow[]; total: number }> {
  const where = `(?1 IS NULL OR d.name = ?1)
    AND (?2 IS NULL OR instr(lower(d.name), lower(?2)) > 0)
    AND (?3 IS NULL OR instr(r.run_id, ?3) > 0)
    AND (?4 IS NULL OR r.status = ?4)
    AND (?5 IS NULL OR r.queued_at >= ?5)
    AND (?6 IS NULL OR r.queued_at <= ?6)
    AND (?7 IS NULL OR r.trigger = ?7)`;
  const binds = [
    filter.dagName ?? null,
    filter.nameContains ?? null,
    filter.runId ?? null,
    filter.status ?? null,
    filter.from ?? null,
    filter.to ?? null,
    filter.trigger ?? null,
  ];
  const [rows, count] = await db.batch<RunRow | { n: number }>([
    db
      .prepare(`${SELECT_RUNS} WHERE ${where} ORDER BY r.queued_at DESC, r.run_id DESC LIMIT ?8 OFFSET ?9`)
      .bind(...binds, page.limit, page.offset),
    db.prepare(`SELECT COUNT(*) AS n FROM dag_runs r JOIN dags d ON d.id = r.dag_id WHERE ${where}`).bind(...binds),
  ]);
  return { rows: rows!.results as RunRow[], total: (count!.results[0] as { n: number }).n };
}

export function findRun(db: D1Database, dagName: string, runId: string): Promise<RunRow | null> {
  return db.prepare(`${SELECT_RUNS} WHERE d.name = ?1 AND r.run_id = ?2`).bind(dagName, runId).first<RunRow>();
}

export function findLatestRun(db: D1Database, dagName: string): Promise<RunRow | null> {
  return db
    .prepare(`${SELECT_RUNS} WHERE d.name = ?1 ORDER BY r.queued_at DESC, r.run_id DESC LIMIT 1`)
    .bind(dagName)
    .first<RunRow>();
}

/** The latest run of each of these DAGs, for DAG lists. */
export async function latestRuns(db: D1Database, dagNames: string[]): Promise<Map<string, RunRow>> {
  if (dagNames.length === 0) return new Map();
  const { results } = await db
    .prepare(
      `${SELECT_RUNS} JOIN (SELECT value AS name FROM json_each(?1)) wanted ON d.name = wanted.name
       WHERE r.run_id = (SELECT run_id FROM dag_runs WHERE dag_id = r.dag_id ORDER BY queued_at DESC, run_id DESC LIMIT 1)`,
    )
    .bind(JSON.stringify(dagNames))
    .all<RunRow>();
  return new Map(results.map((row) => [row.dag_name, row]));
}

/** Prunes the D1 copies of a DAG's runs that finished before `cutoff` (the coordinator prunes its own). */
export async function deleteRunsFinishedBefore(db: D1Database, dagId: string, cutoff: string): Promise<void> {
  await db.prepare("DELETE FROM dag_runs WHERE dag_id = ?1 AND finished_at < ?2").bind(dagId, cutoff).run();
}

/** A run still running, with what a JOB_LONG_RUNNING alert tells about it and its DAG's tags (for policy filters). */
export type RunningRun = Pick<RunRow, "run_id" | "trigger" | "triggered_by" | "params" | "dag_name" | "dag_id"> & {
  started_at: string;
  dag_tags: string[];
};

/** Runs still running that started at or before `startedBefore`: the long-running monitor's candidates. */
export async function listRunningStartedBefore(db: D1Database, startedBefore: string): Promise<RunningRun[]> {
  const { results } = await db
    .prepare(
      `SELECT r.run_id, r.started_at, r.trigger, r.triggered_by, r.params, d.name AS dag_name, d.id AS dag_id,
              d.tags AS dag_tags
       FROM dag_runs r JOIN dags d ON d.id = r.dag_id WHERE r.status = ?2 AND r.started_at <= ?1`,
    )
    .bind(startedBefore, RUN_STATUS.running)
    .all<Omit<RunningRun, "dag_tags"> & { dag_tags: string }>();
  return results.map((row) => ({ ...row, dag_tags: parseJsonColumn(StringList, row.dag_tags, "dags.tags") }));
}

/** A DAG whose latest finished run failed: that run, and the DAG's tags (for policy filters). */
export type StillFailing = { dag_name: string; dag_tags: string[]; run_id: string; finished_at: string };

/** Every DAG whose latest finished run failed: the reminders' candidates. */
export async function listStillFailing(db: D1Database): Promise<StillFailing[]> {
  const { results } = await db
    .prepare(
      `SELECT d.name AS dag_name, d.tags AS dag_tags, r.run_id, r.finished_at
       FROM dag_runs r JOIN dags d ON d.id = r.dag_id
       WHERE r.status = ?1 AND r.run_id = (
         SELECT run_id FROM dag_runs WHERE dag_id = r.dag_id AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1)`,
    )
    .bind(RUN_STATUS.failed)
    .all<Omit<StillFailing, "dag_tags"> & { dag_tags: string }>();
  return results.map((row) => ({ ...row, dag_tags: parseJsonColumn(StringList, row.dag_tags, "dags.tags") }));
}

/** How many runs finished since then, how many of them failed, and their mean duration. */
export type RunStats = { runs: number; failed: number | null; mean_seconds: number | null };

/** Over the runs finished since `finishedSince`, of these DAGs (every DAG when `dagNames` is empty). */
export function runStatsSince(db: D1Database, finishedSince: string, dagNames: string[]): Promise<RunStats | null> {
  return db
    .prepare(
      `SELECT COUNT(*) AS runs, SUM(r.status = ?3) AS failed,
              AVG((julianday(r.finished_at) - julianday(r.started_at)) * 86400.0) AS mean_seconds
       FROM dag_runs r JOIN dags d ON d.id = r.dag_id
       WHERE r.finished_at >= ?1 AND (json_array_length(?2) = 0 OR d.name IN (SELECT value FROM json_each(?2)))`,
    )
    .bind(finishedSince, JSON.stringify(dagNames), RUN_STATUS.failed)
    .first<RunStats>();
}

/** Whether the DAG's last `count` finished runs all failed (and it has that many). */
export async function lastFinishedRunsFailed(db: D1Database, dagId: string, count: number): Promise<boolean> {
  const { results } = await db
    .prepare(
      "SELECT status FROM dag_runs WHERE dag_id = ?1 AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT ?2",
    )
    .bind(dagId, count)
    .all<{ status: number }>();
  return results.length === count && results.every((row) => row.status === RUN_STATUS.failed);
}

/** The runs now running or queued, oldest first, with their DAG's spec (for its maxActiveRuns). */
export async function listActiveRuns(db: D1Database, dagName?: string): Promise<(RunRow & { dag_spec: string })[]> {
  const { results } = await db
    .prepare(
      `SELECT r.*, d.name AS dag_name, d.spec AS dag_spec FROM dag_runs r JOIN dags d ON d.id = r.dag_id
       WHERE r.status IN (1, 5) AND (?1 IS NULL OR d.name = ?1) ORDER BY r.queued_at, r.run_id`,
    )
    .bind(dagName ?? null)
    .all<RunRow & { dag_spec: string }>();
  return results;
}

export type RunMetrics = {
  byStatus: { status: number; n: number }[];
  byDagStatus: { dag: string; status: number; n: number }[];
  byTrigger: { trigger: string; n: number }[];
  /** Finished runs' durations, counted into the histogram's upper bounds (seconds). */
  durations: { le: number; n: number }[];
  durationSum: number;
  durationCount: number;
  dags: number;
  deliveries: { status: string; n: number }[];
  /** Per DAG: steps counted at or under each bound (cumulative), every step counted, their seconds. */
  stepDurations: StepDurationSeries[];
};

export type StepDurationSeries = { dag: string; buckets: { le: number; n: number }[]; count: number; sum: number };

/**
 * What GET /metrics reports, from D1 in one batch: counts over the runs D1 keeps, and the step
 * duration histograms (kept apart, so pruning runs doesn't make them go down).
 */
export async function runMetrics(
  db: D1Database,
  bucketsSeconds: { runs: readonly number[]; steps: readonly number[] },
): Promise<RunMetrics> {
  const duration = "(julianday(finished_at) - julianday(started_at)) * 86400.0";
  const finished = "started_at IS NOT NULL AND finished_at IS NOT NULL";
  const [byStatus, byDagStatus, byTrigger, durations, totals, dags, deliveries, stepBuckets, stepTotals] =
    await db.batch([
      db.prepare("SELECT status, COUNT(*) AS n FROM dag_runs GROUP BY status ORDER BY status"),
      db.prepare(
        "SELECT d.name AS dag, r.status, COUNT(*) AS n FROM dag_runs r JOIN dags d ON d.id = r.dag_id GROUP BY d.name, r.status ORDER BY d.name, r.status",
      ),
      db.prepare("SELECT trigger, COUNT(*) AS n FROM dag_runs GROUP BY trigger ORDER BY trigger"),
      db
        .prepare(
          `SELECT b.value AS le, (SELECT COUNT(*) FROM dag_runs WHERE ${finished} AND ${duration} <= b.value) AS n
         FROM json_each(?1) b ORDER BY b.value`,
        )
        .bind(JSON.stringify(bucketsSeconds.runs)),
      db.prepare(`SELECT COALESCE(SUM(${duration}), 0) AS total, COUNT(*) AS n FROM dag_runs WHERE ${finished}`),
      db.prepare("SELECT COUNT(*) AS n FROM dags"),
      db.prepare("SELECT status, COUNT(*) AS n FROM alert_deliveries GROUP BY status ORDER BY status"),
      db
        .prepare(
          `SELECT d.name AS dag, b.value AS le,
           (SELECT COALESCE(SUM(s.steps), 0) FROM step_duration_buckets s WHERE s.dag_id = t.dag_id AND s.le <= b.value) AS n
         FROM step_duration_totals t JOIN dags d ON d.id = t.dag_id JOIN json_each(?1) b
         ORDER BY d.name, b.value`,
        )
        .bind(JSON.stringify(bucketsSeconds.steps)),
      db.prepare(
        "SELECT d.name AS dag, t.steps, t.seconds FROM step_duration_totals t JOIN dags d ON d.id = t.dag_id ORDER BY d.name",
      ),
    ]);
  const rows = <T>(result: D1Result | undefined) => (result?.results ?? []) as T[];
  const total = rows<{ total: number; n: number }>(totals)[0] ?? { total: 0, n: 0 };
  const stepBucketsByDag = new Map<string, { le: number; n: number }[]>();
  for (const { dag, le, n } of rows<{ dag: string; le: number; n: number }>(stepBuckets)) {
    const buckets = stepBucketsByDag.get(dag);
    if (buckets) buckets.push({ le, n });
    else stepBucketsByDag.set(dag, [{ le, n }]);
  }
  return {
    byStatus: rows(byStatus),
    byDagStatus: rows(byDagStatus),
    byTrigger: rows(byTrigger),
    durations: rows(durations),
    durationSum: total.total,
    durationCount: total.n,
    dags: rows<{ n: number }>(dags)[0]?.n ?? 0,
    deliveries: rows(deliveries),
    stepDurations: rows<{ dag: string; steps: number; seconds: number }>(stepTotals).map((row) => ({
      dag: row.dag,
      buckets: stepBucketsByDag.get(row.dag) ?? [],
      count: row.steps,
      sum: row.seconds,
    })),
  };
}
