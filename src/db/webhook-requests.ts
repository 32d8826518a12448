/** The webhook inbound log in D1: one row per trigger attempt against an existing DAG. */

import type { NewWebhookRequest, WebhookOutcome, WebhookRequestRow } from "../domain/webhook-request.ts";

export {
  type NewWebhookRequest,
  WEBHOOK_OUTCOMES,
  type WebhookOutcome,
  type WebhookRequestRow,
} from "../domain/webhook-request.ts";

/**
 * Records one attempt, in one statement: the DAG's id comes from its name (no row for a name
 * that isn't a DAG), and its `webhook.storeBodies: false` drops the body in the same place.
 */
export async function insertWebhookRequest(db: D1Database, entry: NewWebhookRequest): Promise<boolean> {
  const { meta } = await insertWebhookRequestStatement(db, entry).run();
  return meta.changes > 0;
}

/**
 * The statement of `insertWebhookRequest`, for a batch (a coordinator writes a started run's row
 * with the run, by the DAG's id). A row whose id is there already is left as it is: a batch sent
 * again after a lost answer, or the trigger's own fallback for the same request, adds nothing.
 */
export function insertWebhookRequestStatement(db: D1Database, entry: NewWebhookRequest): D1PreparedStatement {
  const dag = entry.dag_id === undefined ? "d.name" : "d.id";
  return db
    .prepare(
      `INSERT INTO webhook_requests (id, dag_id, received_at, client_ip, method, outcome, status_code, error_code,
         message, run_id, headers, content_type, body, body_bytes, body_truncated, replay_of, replayed_by)
       SELECT ?1, d.id, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,
         CASE WHEN json_extract(d.webhook_options, '$.storeBodies') IS 0 THEN NULL ELSE ?13 END,
         ?14,
         CASE WHEN json_extract(d.webhook_options, '$.storeBodies') IS 0 THEN 0 ELSE ?15 END,
         ?16, ?17
       FROM dags d WHERE ${dag} = ?2
       ON CONFLICT (id) DO NOTHING`,
    )
    .bind(
      entry.id,
      entry.dag_id ?? entry.dag_name,
      entry.received_at,
      entry.client_ip,
      entry.method,
      entry.outcome,
      entry.status_code,
      entry.error_code,
      entry.message,
      entry.run_id,
      entry.headers,
      entry.content_type,
      entry.body,
      entry.body_bytes,
      entry.body_truncated ? 1 : 0,
      entry.replay_of,
      entry.replayed_by,
    );
}

export type WebhookRequestFilter = {
  outcome?: WebhookOutcome | undefined;
  /** ISO time: only requests received at or after it. */
  since?: string | undefined;
  /** Only requests older than this position (the previous page's last one). */
  before?: { receivedAt: string; id: string } | undefined;
};

/** One page, newest first; `limit + 1` rows are read so the caller knows whether more follow. */
export async function listWebhookRequests(
  db: D1Database,
  dagId: string,
  filter: WebhookRequestFilter,
  limit: number,
): Promise<WebhookRequestRow[]> {
  const { results } = await db
    .prepare(
      `SELECT * FROM webhook_requests
       WHERE dag_id = ?1
         AND (?2 IS NULL OR outcome = ?2)
         AND (?3 IS NULL OR received_at >= ?3)
         AND (?4 IS NULL OR received_at < ?4 OR (received_at = ?4 AND id < ?5))
       ORDER BY received_at DESC, id DESC
       LIMIT ?6`,
    )
    .bind(
      dagId,
      filter.outcome ?? null,
      filter.since ?? null,
      filter.before?.receivedAt ?? null,
      filter.before?.id ?? null,
      limit,
    )
    .all<WebhookRequestRow>();
  return results;
}

export function findWebhookRequest(db: D1Database, dagId: string, id: string): Promise<WebhookRequestRow | null> {
  return db
    .prepare("SELECT * FROM webhook_requests WHERE dag_id = ?1 AND id = ?2")
    .bind(dagId, id)
    .first<WebhookRequestRow>();
}

/**
 * Retention: rows received before `before` go, and beyond the newest `maxPerDag` accepted and the
 * newest `maxPerDag` other requests of each DAG — refusals (a flood of wrong tokens) can't push
 * the accepted, replayable requests out. Returns how many rows were deleted.
 */
export async function pruneWebhookRequests(db: D1Database, maxPerDag: number, before: string): Promise<number> {
  const [byAge, byCount] = await db.batch([
    db.prepare("DELETE FROM webhook_requests WHERE received_at < ?1").bind(before),
    db
      .prepare(
        `DELETE FROM webhook_requests WHERE id IN (
           SELECT id FROM (
             SELECT id, ROW_NUMBER() OVER (
               PARTITION BY dag_id, outcome = 'accepted' ORDER BY received_at DESC, id DESC
             ) AS position
             FROM webhook_requests
           ) WHERE position > ?1
         )`,
      )
      .bind(maxPerDag),
  ]);
  return (byAge?.meta.changes ?? 0) + (byCount?.meta.changes ?? 0);
}
