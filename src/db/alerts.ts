/** Alert policies, events and deliveries in D1. */
import { z } from "zod";
import { DESTINATION_KINDS, type DestinationChoice } from "../alerts/destinations.ts";
import type { EventFacts } from "../alerts/events.ts";
import { EVENT_TYPES, type EventType } from "../alerts/tokens.ts";
import { parseJsonColumn, StringList } from "./json.ts";

/**
 * Stored options, as the API's options schema (alerts/policies.ts) admitted them. Loose: an
 * option added there and not here still reaches its readers.
 */
const PolicyOptionsColumn = z.looseObject({
  thresholdSeconds: z.number().optional(),
  consecutiveFailureThreshold: z.number().optional(),
  renotifyIntervalMinutes: z.number().optional(),
  remindEveryMinutes: z.number().optional(),
  remindAtMost: z.number().optional(),
  includeDescriptionInNotification: z.boolean().optional(),
  metric: z.enum(["failed_runs", "run_count", "mean_duration_seconds"]).optional(),
  threshold: z.number().optional(),
  windowMinutes: z.number().optional(),
});
export type PolicyOptions = z.infer<typeof PolicyOptionsColumn>;

const EventTypesColumn = z.array(z.enum(EVENT_TYPES));

export type PolicyRow = {
  id: string;
  name: string;
  description: string;
  enabled: number;
  event_types: EventType[];
  dag_names: string[];
  tags: string[];
  options: PolicyOptions;
  /** The destination; masked (alerts/secret-urls.ts) when it carries a credential, which `url_secret` then holds. */
  url: string;
  /** Encrypted: the whole URL, when it carries a credential. */
  url_secret: string | null;
  header_names: string[];
  /** Encrypted JSON of the header values (src/auth/encryption.ts); decrypted only to send. */
  headers: string | null;
  body: string;
  /** Encrypted. */
  signing_secret: string | null;
  /** How the body is escaped and fitted (alerts/destinations.ts). */
  destination: DestinationChoice;
  created_by: string;
  created_at: string;
  updated_at: string;
};

type PolicyColumns = Omit<
  PolicyRow,
  "event_types" | "dag_names" | "tags" | "options" | "header_names" | "destination"
> & {
  destination: string;
  event_types: string;
  dag_names: string;
  tags: string;
  options: string;
  header_names: string;
};

function policyRow(row: PolicyColumns): PolicyRow {
  return {
    ...row,
    event_types: parseJsonColumn(EventTypesColumn, row.event_types, "alert_policies.event_types"),
    dag_names: parseJsonColumn(StringList, row.dag_names, "alert_policies.dag_names"),
    tags: parseJsonColumn(StringList, row.tags, "alert_policies.tags"),
    options: parseJsonColumn(PolicyOptionsColumn, row.options, "alert_policies.options"),
    header_names: parseJsonColumn(StringList, row.header_names, "alert_policies.header_names"),
    destination: parseDestination(row.destination),
  };
}

function parseDestination(value: string): DestinationChoice {
  const parsed = z.enum(["auto", ...DESTINATION_KINDS]).safeParse(value);
  if (!parsed.success) throw new Error(`alert_policies.destination: unknown destination kind '${value}'`);
  return parsed.data;
}

export type PolicyWrite = Omit<PolicyRow, "created_by" | "created_at" | "updated_at">;

/** The facts as emitEvent wrote them. Loose, like the options: a fact added to EventFacts and not here is kept. */
const EventFactsColumn: z.ZodType<EventFacts> = z.looseObject({
  dagName: z.string().optional(),
  runId: z.string().optional(),
  runStatus: z.string().optional(),
  trigger: z.string().optional(),
  triggeredBy: z.string().optional(),
  params: z.string().optional(),
  startedAt: z.string().nullish(),
  finishedAt: z.string().nullish(),
  durationMs: z.number().optional(),
  failedSteps: z.array(z.string()).optional(),
  error: z.string().optional(),
  scheduledFor: z.string().optional(),
  errors: z.array(z.string()).optional(),
  agentUrl: z.string().optional(),
  metric: z.string().optional(),
  threshold: z.number().optional(),
  value: z.number().optional(),
  forPolicy: z.string().optional(),
});

export type EventRow = {
  id: string;
  type: EventType;
  dag_name: string | null;
  run_id: string | null;
  context: EventFacts;
  created_at: string;
};

type EventColumns = Omit<EventRow, "type" | "context"> & { type: string; context: string };

function eventRow(row: EventColumns): EventRow {
  return {
    ...row,
    type: parseEventType(row.type),
    context: parseJsonColumn(EventFactsColumn, row.context, "alert_events.context"),
  };
}

function parseEventType(type: string): EventType {
  const parsed = z.enum(EVENT_TYPES).safeParse(type);
  if (!parsed.success) throw new Error(`alert_events.type: unknown event type '${type}'`);
  return parsed.data;
}

const AttemptColumn = z.object({
  at: z.string(),
  statusCode: z.number().nullable(),
  durationMs: z.number(),
  error: z.string().optional(),
  responseBody: z.string().optional(),
});
export type Attempt = z.infer<typeof AttemptColumn>;

export type DeliveryRow = {
  id: string;
  policy_id: string;
  event_id: string;
  event_type: string;
  dag_name: string | null;
  run_id: string | null;
  status: "pending" | "delivered" | "failed";
  attempts: Attempt[];
  created_at: string;
  updated_at: string;
};

type DeliveryColumns = Omit<DeliveryRow, "attempts"> & { attempts: string };

function deliveryRow(row: DeliveryColumns): DeliveryRow {
  return { ...row, attempts: parseJsonColumn(z.array(AttemptColumn), row.attempts, "alert_deliveries.attempts") };
}

export async function listPolicies(db: D1Database): Promise<PolicyRow[]> {
  const { results } = await db.prepare("SELECT * FROM alert_policies ORDER BY lower(name)").all<PolicyColumns>();
  return results.map(policyRow);
}

export async function findPolicy(db: D1Database, id: string): Promise<PolicyRow | null> {
  const row = await db.prepare("SELECT * FROM alert_policies WHERE id = ?1").bind(id).first<PolicyColumns>();
  return row && policyRow(row);
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
      `INSERT INTO alert_policies (id, name, description, enabled, event_types, dag_names, tags, options, url, header_names, headers, body, signing_secret, url_secret, destination, created_by, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?17) ON CONFLICT DO NOTHING`,
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
         options = ?8, url = ?9, header_names = ?10, headers = ?11, body = ?12, signing_secret = ?13, url_secret = ?14,
         destination = ?15, updated_at = ?16
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
  JSON.stringify(policy.event_types),
  JSON.stringify(policy.dag_names),
  JSON.stringify(policy.tags),
  JSON.stringify(policy.options),
  policy.url,
  JSON.stringify(policy.header_names),
  policy.headers,
  policy.body,
  policy.signing_secret,
  policy.url_secret,
  policy.destination,
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
      .bind(event.id, event.type, event.dag_name, event.run_id, JSON.stringify(event.context), event.created_at),
    db.prepare("SELECT 1 AS found FROM alert_events WHERE id = ?1").bind(event.id),
  ]);
  return inserted!.meta.changes > 0 || existing!.results.length > 0;
}

export async function findEvent(db: D1Database, id: string): Promise<EventRow | null> {
  const row = await db.prepare("SELECT * FROM alert_events WHERE id = ?1").bind(id).first<EventColumns>();
  return row && eventRow(row);
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

export async function findDelivery(db: D1Database, id: string): Promise<DeliveryRow | null> {
  const row = await db.prepare("SELECT * FROM alert_deliveries WHERE id = ?1").bind(id).first<DeliveryColumns>();
  return row && deliveryRow(row);
}

export async function listDeliveries(db: D1Database, policyId: string, limit: number): Promise<DeliveryRow[]> {
  const { results } = await db
    .prepare("SELECT * FROM alert_deliveries WHERE policy_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2")
    .bind(policyId, limit)
    .all<DeliveryColumns>();
  return results.map(deliveryRow);
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

/** Deliveries of a policy's JOB_FAILURE alerts about a DAG since a time: how many, and the latest's time (reminders). */
export async function failureDeliveriesSince(
  db: D1Database,
  policyId: string,
  dagName: string,
  since: string,
): Promise<{ count: number; last: string | null }> {
  const row = await db
    .prepare(
      `SELECT COUNT(*) AS count, MAX(created_at) AS last FROM alert_deliveries
       WHERE policy_id = ?1 AND event_type = 'JOB_FAILURE' AND dag_name = ?2 AND created_at >= ?3`,
    )
    .bind(policyId, dagName, since)
    .first<{ count: number; last: string | null }>();
  return row ?? { count: 0, last: null };
}

/** A run's JOB_FAILURE event: what a reminder repeats. */
export async function findRunFailureEvent(db: D1Database, runId: string): Promise<EventRow | null> {
  const row = await db
    .prepare("SELECT * FROM alert_events WHERE run_id = ?1 AND type = 'JOB_FAILURE' ORDER BY created_at LIMIT 1")
    .bind(runId)
    .first<EventColumns>();
  return row && eventRow(row);
}

/** Whether a delivery of this kind (policy, event type, DAG) was created after `since`: renotifyIntervalMinutes. */
export async function hasDeliverySince(
  db: D1Database,
  policyId: string,
  eventType: EventType,
  dagName: string | null,
  since: string,
): Promise<boolean> {
  const recent = await db
    .prepare(
      "SELECT 1 AS found FROM alert_deliveries WHERE policy_id = ?1 AND event_type = ?2 AND dag_name IS ?3 AND created_at > ?4 LIMIT 1",
    )
    .bind(policyId, eventType, dagName, since)
    .first();
  return recent !== null;
}

/** Whether the policy's metric was last seen above its threshold (never seen: not above). */
export async function isMetricAbove(db: D1Database, policyId: string): Promise<boolean> {
  const state = await db
    .prepare("SELECT above FROM alert_metric_state WHERE policy_id = ?1")
    .bind(policyId)
    .first<{ above: number }>();
  return state?.above === 1;
}

export async function setMetricAbove(db: D1Database, policyId: string, above: boolean, at: string): Promise<void> {
  await db
    .prepare(
      "INSERT INTO alert_metric_state (policy_id, above, changed_at) VALUES (?1, ?2, ?3) ON CONFLICT (policy_id) DO UPDATE SET above = ?2, changed_at = ?3",
    )
    .bind(policyId, above ? 1 : 0, at)
    .run();
}
