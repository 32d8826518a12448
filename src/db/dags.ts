import { z } from "zod";
import type { DagRecord } from "../domain/dag-spec.ts";
import { parseJsonColumn, StringList } from "./json.ts";

/** A `dags` row as D1 returns it: the JSON columns still text. */
type DagColumns = {
  id: string;
  name: string;
  spec: string;
  description: string;
  tags: string;
  schedules: string;
  suspended: number;
  webhook_options: string;
  created_at: string;
  updated_at: string;
};

/** The spec's `webhook:` settings as stored (rows written before they existed hold `{}`). */
export const WebhookOptionsColumn = z.object({
  forwardHeaders: z.array(z.string()).optional(),
  headerValues: z.enum(["text", "list"]).optional(),
  runIdHeader: z.string().optional(),
  /** false: the inbound log keeps no request bodies of this DAG (absent: it does). */
  storeBodies: z.boolean().optional(),
  maxPayloadSize: z.number().optional(),
  schema: z.unknown().optional(),
  events: z.array(z.string()).optional(),
});
export type WebhookOptions = z.infer<typeof WebhookOptionsColumn>;

export type DagRow = {
  /** Stable across renames: keys the DAG's coordinator and its runs. */
  id: string;
  name: string;
  spec: string;
  description: string;
  tags: string[];
  schedules: string[];
  suspended: number;
  webhook_options: WebhookOptions;
  created_at: string;
  updated_at: string;
};

function dagRow(row: DagColumns): DagRow {
  return {
    ...row,
    tags: parseJsonColumn(StringList, row.tags, "dags.tags"),
    schedules: parseJsonColumn(StringList, row.schedules, "dags.schedules"),
    webhook_options: parseJsonColumn(WebhookOptionsColumn, row.webhook_options, "dags.webhook_options"),
  };
}

export type DagFilter = { name?: string | undefined; tag?: string | undefined };

const FILTER = `(?1 IS NULL OR instr(lower(name), lower(?1)) > 0)
  AND (?2 IS NULL OR EXISTS (SELECT 1 FROM json_each(dags.tags) WHERE lower(value) = lower(?2)))`;

export async function listDags(
  db: D1Database,
  filter: DagFilter,
  page: { limit: number; offset: number; descending: boolean },
): Promise<{ rows: DagRow[]; total: number }> {
  const order = page.descending ? "DESC" : "ASC";
  const [rows, count] = await db.batch<DagColumns | { n: number }>([
    db
      .prepare(`SELECT * FROM dags WHERE ${FILTER} ORDER BY lower(name) ${order}, name ${order} LIMIT ?3 OFFSET ?4`)
      .bind(filter.name ?? null, filter.tag ?? null, page.limit, page.offset),
    db.prepare(`SELECT COUNT(*) AS n FROM dags WHERE ${FILTER}`).bind(filter.name ?? null, filter.tag ?? null),
  ]);
  return { rows: (rows!.results as DagColumns[]).map(dagRow), total: (count!.results[0] as { n: number }).n };
}

/** Every DAG that matches, for orderings SQL can't compute (the next scheduled run). */
export async function listAllDags(db: D1Database, filter: DagFilter): Promise<DagRow[]> {
  const { results } = await db
    .prepare(`SELECT * FROM dags WHERE ${FILTER}`)
    .bind(filter.name ?? null, filter.tag ?? null)
    .all<DagColumns>();
  return results.map(dagRow);
}

export async function findDag(db: D1Database, name: string): Promise<DagRow | null> {
  const row = await db.prepare("SELECT * FROM dags WHERE name = ?1").bind(name).first<DagColumns>();
  return row && dagRow(row);
}

/** A DAG's stored columns ?1–?7, JSON columns encoded: the one writing twin of `dagRow`. */
const dagColumns = (dag: DagRecord, at: string) => [
  dag.name,
  dag.spec,
  dag.description,
  JSON.stringify(dag.tags),
  JSON.stringify(dag.schedules),
  at,
  JSON.stringify(dag.webhook),
];

/** Inserts the DAG unless the name is taken; returns whether it was inserted. */
export async function insertDag(db: D1Database, dag: DagRecord, at: string): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `INSERT INTO dags (id, name, spec, description, tags, schedules, webhook_options, created_at, updated_at)
       VALUES (?8, ?1, ?2, ?3, ?4, ?5, ?7, ?6, ?6) ON CONFLICT DO NOTHING`,
    )
    .bind(...dagColumns(dag, at), crypto.randomUUID())
    .run();
  return meta.changes > 0;
}

/** Replaces the spec of an existing DAG; returns whether the DAG exists. */
export async function updateDag(db: D1Database, dag: DagRecord, at: string): Promise<boolean> {
  const { meta } = await db
    .prepare(
      "UPDATE dags SET spec = ?2, description = ?3, tags = ?4, schedules = ?5, webhook_options = ?7, updated_at = ?6 WHERE name = ?1",
    )
    .bind(...dagColumns(dag, at))
    .run();
  return meta.changes > 0;
}

/** Creates or replaces: how DAG files from the repository's `dags/` folder are loaded. */
export async function upsertDag(
  db: D1Database,
  dag: DagRecord,
  at: string,
): Promise<"created" | "updated" | "unchanged"> {
  const existing = await findDag(db, dag.name);
  if (existing?.spec === dag.spec) return "unchanged";
  if (existing) return (await updateDag(db, dag, at)) ? "updated" : "unchanged";
  return (await insertDag(db, dag, at)) ? "created" : "unchanged";
}

/** Renames with the new spec (its `name:` follows the file name); `false` if missing or the name is taken. */
export async function renameDag(db: D1Database, from: string, to: string, spec: string, at: string): Promise<boolean> {
  const { meta } = await db
    .prepare("UPDATE OR IGNORE dags SET name = ?2, spec = ?3, updated_at = ?4 WHERE name = ?1")
    .bind(from, to, spec, at)
    .run();
  return meta.changes > 0;
}

/** Deletes the DAG and (by cascade) its runs' D1 copies; returns the deleted row. */
export async function deleteDag(db: D1Database, name: string): Promise<DagRow | null> {
  const row = await db.prepare("DELETE FROM dags WHERE name = ?1 RETURNING *").bind(name).first<DagColumns>();
  return row && dagRow(row);
}

/** DAGs with a schedule that isn't suspended: the candidates of a schedule tick. */
export async function listScheduledDags(db: D1Database): Promise<DagRow[]> {
  const { results } = await db
    .prepare("SELECT * FROM dags WHERE suspended = 0 AND schedules <> '[]'")
    .all<DagColumns>();
  return results.map(dagRow);
}

/** Suspends or resumes a DAG's schedule; returns whether the DAG exists. */
export async function setSuspended(db: D1Database, name: string, suspended: boolean, at: string): Promise<boolean> {
  const { meta } = await db
    .prepare("UPDATE dags SET suspended = ?2, updated_at = ?3 WHERE name = ?1")
    .bind(name, suspended ? 1 : 0, at)
    .run();
  return meta.changes > 0;
}

export async function recordTickFailure(
  db: D1Database,
  dagId: string,
  scheduledFor: string,
  error: string,
  at: string,
): Promise<void> {
  await db
    .prepare("INSERT INTO tick_failures (dag_id, scheduled_for, error, recorded_at) VALUES (?1, ?2, ?3, ?4)")
    .bind(dagId, scheduledFor, error, at)
    .run();
}

/** The DAGs whose YAML contains `text` (case-insensitive), by name. */
export async function searchDagSpecs(db: D1Database, text: string): Promise<DagRow[]> {
  const { results } = await db
    .prepare("SELECT * FROM dags WHERE instr(lower(spec), lower(?1)) > 0 ORDER BY lower(name), name")
    .bind(text)
    .all<DagColumns>();
  return results.map(dagRow);
}

/** Every tag any DAG has, once each, sorted. */
export async function listTags(db: D1Database): Promise<string[]> {
  const { results } = await db
    .prepare("SELECT DISTINCT value AS tag FROM dags, json_each(dags.tags) ORDER BY value")
    .all<{ tag: string }>();
  return results.map((row) => row.tag);
}
