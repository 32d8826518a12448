/** Alert policies, events and deliveries in D1. */

export type PolicyRow = {
  id: string;
  name: string;
  description: string;
  enabled: number;
  event_types: string;
  dag_names: string;
  tags: string;
  options: string;
  url: string;
  header_names: string;
  headers: string | null;
  body: string;
  signing_secret: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
};

export type PolicyWrite = Omit<PolicyRow, "created_by" | "created_at" | "updated_at">;

export type EventRow = {
  id: string;
  type: string;
  dag_name: string | null;
  run_id: string | null;
  context: string;
  created_at: string;
};

export type Attempt = {
  at: string;
  statusCode: number | null;
  durationMs: number;
  error?: string;
  responseBody?: string;
};

export type DeliveryRow = {
  id: string;
  policy_id: string;
  event_id: string;
  event_type: string;
  dag_name: string | null;
  run_id: string | null;
  status: "pending" | "delivered" | "failed";
  attempts: string;
  created_at: string;
  updated_at: string;
};

export async function listPolicies(db: D1Database): Promise<PolicyRow[]> {
  const { results } = await db.prepare("SELECT * FROM alert_policies ORDER BY lower(name)").all<PolicyRow>();
  return results;
}

export function findPolicy(db: D1Database, id: string): Promise<PolicyRow | null> {
  return db.prepare("SELECT * FROM alert_policies WHERE id = ?1").bind(id).first<PolicyRow>();
}

/** Inserts unless the name is taken; returns whether it was inserted. */
export async function insertPolicy(
  db: D1Database,
  policy: PolicyWrite,
  createdBy: string,
  at: string,
): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `INSERT INTO alert_policies (id, name, description, enabled, event_types, dag_names, tags, options, url, header_names, headers, body, signing_secret, created_by, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15) ON CONFLICT DO NOTHING`,
    )
    .bind(...policyBindings(policy), createdBy, at)
    .run();
  return meta.changes > 0;
}

/** Replaces a policy; `false` when it is gone or the new name is taken. */
export async function updatePolicy(db: D1Database, policy: PolicyWrite, at: string): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `UPDATE OR IGNORE alert_policies SET name = ?2, description = ?3, enabled = ?4, event_types = ?5, dag_names = ?6, tags = ?7,
         options = ?8, url = ?9, header_names = ?10, headers = ?11, body = ?12, signing_secret = ?13, updated_at = ?14
       WHERE id = ?1`,
    )
    .bind(...policyBindings(policy), at)
    .run();
  return meta.changes > 0;
}

const policyBindings = (policy: PolicyWrite) => [
  policy.id,
  policy.name,
  policy.description,
  policy.enabled,
  policy.event_types,
  policy.dag_names,
  policy.tags,
  policy.options,
  policy.url,
  policy.header_names,
  policy.headers,
  policy.body,
  policy.signing_secret,
];

export async function deletePolicy(db: D1Database, id: string): Promise<boolean> {
  const { meta } = await db.prepare("DELETE FROM alert_policies WHERE id = ?1").bind(id).run();
  return meta.changes > 0;
}

/**
 * Records an event once (its id is stable), and only while some enabled policy takes its type:
 * most runs interest no policy, and they then cost this one statement. Returns whether the
 * event is recorded (now, or by an earlier call whose announcement may have failed).
 */
export async function insertEvent(db: D1Database, event: EventRow): Promise<boolean> {
  const [inserted, existing] = await db.batch<{ found: number }>([
    db
      .prepare(
        `INSERT OR IGNORE INTO alert_events (id, type, dag_name, run_id, context, created_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6
         WHERE EXISTS (SELECT 1 FROM alert_policies p, json_each(p.event_types) t WHERE p.enabled = 1 AND t.value = ?2)`,
      )
      .bind(event.id, event.type, event.dag_name, event.run_id, event.context, event.created_at),
    db.prepare("SELECT 1 AS found FROM alert_events WHERE id = ?1").bind(event.id),
  ]);
  return inserted!.meta.changes > 0 || existing!.results.length > 0;
}

export function findEvent(db: D1Database, id: string): Promise<EventRow | null> {
  return db.prepare("SELECT * FROM alert_events WHERE id = ?1").bind(id).first<EventRow>();
}

/**
 * Creates the (event, policy) deliveries that don't exist yet and returns only those: an event
 * announced twice must not have its deliveries sent twice.
 */
export async function createDeliveries(
  db: D1Database,
  event: EventRow,
  policyIds: string[],
  at: string,
  includePending = false,
): Promise<string[]> {
  const insert = db.prepare(
    `INSERT OR IGNORE INTO alert_deliveries (id, policy_id, event_id, event_type, dag_name, run_id, status, created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7)`,
  );
  const ids = policyIds.map((policyId) => deliveryId(event.id, policyId));
  const results =
    ids.length === 0
      ? []
      : await db.batch(
          ids.map((id, index) =>
            insert.bind(id, policyIds[index], event.id, event.type, event.dag_name, event.run_id, at),
          ),
        );
  if (!includePending) return ids.filter((_id, index) => results[index]!.meta.changes > 0);
  // After a failed fan-out, deliveries it created may never have been queued: send the pending ones again.
  const { results: pending } = await db
    .prepare(
      "SELECT id FROM alert_deliveries WHERE event_id = ?1 AND status = 'pending' AND json_array_length(attempts) = 0",
    )
    .bind(event.id)
    .all<{ id: string }>();
  return pending.map((row) => row.id);
}

/** Stable per (event, policy): a redelivered event message finds the same deliveries. */
export function deliveryId(eventId: string, policyId: string): string {
  return `${eventId}.${policyId}`;
}

export function findDelivery(db: D1Database, id: string): Promise<DeliveryRow | null> {
  return db.prepare("SELECT * FROM alert_deliveries WHERE id = ?1").bind(id).first<DeliveryRow>();
}

export async function listDeliveries(db: D1Database, policyId: string, limit: number): Promise<DeliveryRow[]> {
  const { results } = await db
    .prepare("SELECT * FROM alert_deliveries WHERE policy_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2")
    .bind(policyId, limit)
    .all<DeliveryRow>();
  return results;
}

/**
 * Takes a pending delivery for one attempt: only when it has exactly `attempts` attempts (the
 * message's view of it) and no one else holds it. Returns whether this caller may send.
 */
export async function claimDelivery(
  db: D1Database,
  id: string,
  attempts: number,
  now: string,
  until: string,
): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `UPDATE alert_deliveries SET claimed_until = ?4
       WHERE id = ?1 AND status = 'pending' AND json_array_length(attempts) = ?2 AND (claimed_until IS NULL OR claimed_until < ?3)`,
    )
    .bind(id, attempts, now, until)
    .run();
  return meta.changes > 0;
}

/** Appends an attempt, sets the status and releases the claim. */
export async function recordAttempt(
  db: D1Database,
  id: string,
  attempt: Attempt,
  status: DeliveryRow["status"],
  at: string,
): Promise<void> {
  await db
    .prepare(
      "UPDATE alert_deliveries SET attempts = json_insert(attempts, '$[#]', json(?2)), status = ?3, claimed_until = NULL, updated_at = ?4 WHERE id = ?1",
    )
    .bind(id, JSON.stringify(attempt), status, at)
    .run();
}

/** Gives up on a delivery the queue could not process — unless it was delivered after all. */
export async function failIfPending(db: D1Database, id: string, attempt: Attempt, at: string): Promise<void> {
  await db
    .prepare(
      "UPDATE alert_deliveries SET attempts = json_insert(attempts, '$[#]', json(?2)), status = 'failed', claimed_until = NULL, updated_at = ?3 WHERE id = ?1 AND status = 'pending'",
    )
    .bind(id, JSON.stringify(attempt), at)
    .run();
}

export async function setDeliveryStatus(
  db: D1Database,
  id: string,
  status: DeliveryRow["status"],
  at: string,
): Promise<void> {
  await db.prepare("UPDATE alert_deliveries SET status = ?2, updated_at = ?3 WHERE id = ?1").bind(id, status, at).run();
}
