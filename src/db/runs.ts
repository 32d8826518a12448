import type { RunTrigger } from "../domain/run.ts";

export type RunRow = {
  dag_name: string;
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

/** Writes the coordinator's current view of a run; newer `updated_at` wins, so retries can't go back in time. */
export async function upsertRun(db: D1Database, row: RunRow): Promise<void> {
  await db
    .prepare(
      `INSERT INTO dag_runs (dag_name, run_id, status, params, trigger, triggered_by, queued_at, started_at, finished_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
       ON CONFLICT (dag_name, run_id) DO UPDATE SET
         status = excluded.status, params = excluded.params, queued_at = excluded.queued_at,
         started_at = excluded.started_at, finished_at = excluded.finished_at, updated_at = excluded.updated_at
       WHERE excluded.updated_at >= dag_runs.updated_at`,
    )
    .bind(row.dag_name, row.run_id, row.status, row.params, row.trigger, row.triggered_by, row.queued_at, row.started_at, row.finished_at, row.updated_at)
    .run();
}

export type RunFilter = {
  dagName?: string | undefined;
  nameContains?: string | undefined;
  runId?: string | undefined;
  status?: number | undefined;
  from?: string | undefined;
  to?: string | undefined;
};

export async function listRuns(db: D1Database, filter: RunFilter, page: { limit: number; offset: number }): Promise<{ rows: RunRow[]; total: number }> {
  const where = `(?1 IS NULL OR dag_name = ?1)
    AND (?2 IS NULL OR instr(lower(dag_name), lower(?2)) > 0)
    AND (?3 IS NULL OR instr(run_id, ?3) > 0)
    AND (?4 IS NULL OR status = ?4)
    AND (?5 IS NULL OR queued_at >= ?5)
    AND (?6 IS NULL OR queued_at <= ?6)`;
  const binds = [filter.dagName ?? null, filter.nameContains ?? null, filter.runId ?? null, filter.status ?? null, filter.from ?? null, filter.to ?? null];
  const [rows, count] = await db.batch<RunRow | { n: number }>([
    db.prepare(`SELECT * FROM dag_runs WHERE ${where} ORDER BY queued_at DESC, run_id DESC LIMIT ?7 OFFSET ?8`).bind(...binds, page.limit, page.offset),
    db.prepare(`SELECT COUNT(*) AS n FROM dag_runs WHERE ${where}`).bind(...binds),
  ]);
  return { rows: rows!.results as RunRow[], total: (count!.results[0] as { n: number }).n };
}

export function findRun(db: D1Database, dagName: string, runId: string): Promise<RunRow | null> {
  return db.prepare("SELECT * FROM dag_runs WHERE dag_name = ?1 AND run_id = ?2").bind(dagName, runId).first<RunRow>();
}

export function findLatestRun(db: D1Database, dagName: string): Promise<RunRow | null> {
  return db.prepare("SELECT * FROM dag_runs WHERE dag_name = ?1 ORDER BY queued_at DESC, run_id DESC LIMIT 1").bind(dagName).first<RunRow>();
}

/** The latest run of each of these DAGs, for DAG lists. */
export async function latestRuns(db: D1Database, dagNames: string[]): Promise<Map<string, RunRow>> {
  if (dagNames.length === 0) return new Map();
  const { results } = await db
    .prepare(
      `SELECT r.* FROM dag_runs r JOIN (SELECT value AS name FROM json_each(?1)) d ON r.dag_name = d.name
       WHERE r.run_id = (SELECT run_id FROM dag_runs WHERE dag_name = r.dag_name ORDER BY queued_at DESC, run_id DESC LIMIT 1)`,
    )
    .bind(JSON.stringify(dagNames))
    .all<RunRow>();
  return new Map(results.map((row) => [row.dag_name, row]));
}

export async function deleteRunsOf(db: D1Database, dagName: string): Promise<void> {
  await db.prepare("DELETE FROM dag_runs WHERE dag_name = ?1").bind(dagName).run();
}
