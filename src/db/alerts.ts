/** Alert policies, events and deliveries in D1. */
import { z } from "zod";
import { DESTINATION_KINDS, type DestinationChoice } from "../alerts/destinations.ts";
import type { EventFacts } from "../alerts/events.ts";
import { DIGEST_ID_PREFIX, type ThrottleWindow } from "../alerts/throttle.ts";
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
  throttle: z.object({ max: z.number(), windowMinutes: z.number() }).optional(),
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
  /** While pending: when the next attempt is due (its queue message's time); NULL once ended. */
  next_attempt_at: string | null;
  /** The attempt count its retry schedule counts from: 0, or the count at its latest replay. */
  retry_from: number;
  /** While an attempt is being made: until when its consumer holds it (claimDelivery). */
  claimed_until: string | null;
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

/** A policy to create a delivery for; a throttled one only while it has room in the event's window. */
export type DeliveryTarget = { policyId: string; throttle?: ({ max: number } & ThrottleWindow) | undefined };

/**
 * Creates the (event, policy) deliveries that don't exist yet and returns only those: an event
 * announced twice must not have its deliveries sent twice. For a throttled policy the delivery
 * is created only while fewer than `max` deliveries about the event's DAG belong to the window
 * (digests aside), and otherwise the event is held for the window's digest. The count and the
 * insert are one statement, in one batch with the hold, and D1 runs statements one at a time:
 * fan-outs at the same moment can't both take the last place. An event held once stays held
 * (it is never delivered too), and one delivered is never held.
 */
export async function createDeliveries(
  db: D1Database,
  event: EventRow,
  targets: DeliveryTarget[],
  at: string,
  includePending = false,
): Promise<string[]> {
  const insert = db.prepare(
    `INSERT OR IGNORE INTO alert_deliveries (id, policy_id, event_id, event_type, dag_name, run_id, status, next_attempt_at, created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7, ?7)`,
  );
  // The window is the events' time (alert_events.created_at); the deliveries' own time only
  // narrows the search to the policy's recent ones, through its index: a delivery is made after its event.
  const insertWithinThrottle = db.prepare(
    `INSERT OR IGNORE INTO alert_deliveries (id, policy_id, event_id, event_type, dag_name, run_id, status, next_attempt_at, created_at, updated_at)
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7, ?7
     WHERE NOT EXISTS (SELECT 1 FROM alert_held WHERE policy_id = ?2 AND event_id = ?3)
       AND (SELECT COUNT(*) FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id
            WHERE d.policy_id = ?2 AND d.dag_name IS ?5 AND d.created_at >= ?8
              AND e.created_at >= ?8 AND e.created_at < ?9 AND d.event_id NOT LIKE ?11) < ?10`,
  );
  const hold = db.prepare(
    `INSERT OR IGNORE INTO alert_held (policy_id, event_id, dag_name, window_start, window_end, held_at)
     SELECT ?1, ?2, ?3, ?4, ?5, ?6
     WHERE NOT EXISTS (SELECT 1 FROM alert_deliveries WHERE event_id = ?2 AND policy_id = ?1)`,
  );
  const statements: D1PreparedStatement[] = [];
  const inserts: { id: string; statement: number }[] = [];
  for (const { policyId, throttle } of targets) {
    const id = deliveryId(event.id, policyId);
    inserts.push({ id, statement: statements.length });
    const delivery = [id, policyId, event.id, event.type, event.dag_name, event.run_id, at] as const;
    if (!throttle) {
      statements.push(insert.bind(...delivery));
      continue;
    }
    statements.push(
      insertWithinThrottle.bind(...delivery, throttle.start, throttle.end, throttle.max, `${DIGEST_ID_PREFIX}%`),
      // Right after its insert: held exactly when the throttle refused the delivery.
      hold.bind(policyId, event.id, event.dag_name, throttle.start, throttle.end, at),
    );
  }
  const results = statements.length === 0 ? [] : await db.batch(statements);
  if (!includePending)
    return inserts.filter(({ statement }) => results[statement]!.meta.changes > 0).map(({ id }) => id);
  // After a failed fan-out, deliveries it created may never have been queued: send the pending ones again.
  const { results: pending } = await db
    .prepare(
      "SELECT id FROM alert_deliveries WHERE event_id = ?1 AND status = 'pending' AND json_array_length(attempts) = 0",
    )
    .bind(event.id)
    .all<{ id: string }>();
  return pending.map((row) => row.id);
}

/** The alerts a policy's throttle held back about one DAG in one window: what its digest sums up. */
export type HeldGroup = {
  policy_id: string;
  dag_name: string | null;
  window_start: string;
  window_end: string;
  held_count: number;
  /** The held event that happened last: the digest repeats its type and facts. */
  latest_event_id: string;
  event_ids: string[];
};

/** Every held group whose window had closed by `at`. */
export async function listClosedHeldGroups(db: D1Database, at: string): Promise<HeldGroup[]> {
  // With one max() in the query, SQLite takes the bare e.id from the row that has the maximum.
  const { results } = await db
    .prepare(
      `SELECT h.policy_id, h.dag_name, h.window_start, h.window_end, COUNT(*) AS held_count,
              e.id AS latest_event_id, MAX(e.created_at) AS latest_at, json_group_array(h.event_id) AS event_ids
       FROM alert_held h JOIN alert_events e ON e.id = h.event_id
       WHERE h.window_end <= ?1
       GROUP BY h.policy_id, h.dag_name, h.window_start, h.window_end`,
    )
    .bind(at)
    .all<Omit<HeldGroup, "event_ids"> & { event_ids: string }>();
  return results.map((row) => ({
    ...row,
    event_ids: parseJsonColumn(StringList, row.event_ids, "alert_held.event_id"),
  }));
}

/** Forgets these held events of the policy (their digest is out, or will never be). */
export async function releaseHeld(db: D1Database, policyId: string, eventIds: string[]): Promise<void> {
  await db
    .prepare("DELETE FROM alert_held WHERE policy_id = ?1 AND event_id IN (SELECT value FROM json_each(?2))")
    .bind(policyId, JSON.stringify(eventIds))
    .run();
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
 * Takes a pending delivery for one attempt; returns whether this caller may send.
 *
 * The rule that makes duplicate messages harmless: an attempt is named by the delivery's attempt
 * count, and it is claimed once. A message may make attempt n+1 only while the row still has
 * exactly n attempts (the count the message carries) and no live claim: a compare-and-set in one
 * statement, so of two messages for one attempt — the original retry arriving late after the
 * tick queued a copy of it, a replay, a redelivery — exactly one sends. The claim lasts while it
 * sends; recordAttempt adds the attempt and releases it, so the other then finds the count moved
 * on and does nothing. A claim whose holder died mid-send lapses at `until` (past the request
 * timeout), and the attempt may then be made again: at least once, never lost.
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

/**
 * Appends an attempt, sets the status and releases the claim; `nextAttemptAt` is when the next
 * one is due while the delivery stays pending (null once it has ended).
 */
export async function recordAttempt(
  db: D1Database,
  id: string,
  attempt: Attempt,
  status: DeliveryRow["status"],
  at: string,
  nextAttemptAt: string | null,
): Promise<void> {
  await db
    .prepare(
      "UPDATE alert_deliveries SET attempts = json_insert(attempts, '$[#]', json(?2)), status = ?3, next_attempt_at = ?5, claimed_until = NULL, updated_at = ?4 WHERE id = ?1",
    )
    .bind(id, JSON.stringify(attempt), status, at, nextAttemptAt)
    .run();
}

/** Gives up on a delivery the queue could not process — unless it was delivered after all. */
export async function failIfPending(db: D1Database, id: string, attempt: Attempt, at: string): Promise<void> {
  await db
    .prepare(
      "UPDATE alert_deliveries SET attempts = json_insert(attempts, '$[#]', json(?2)), status = 'failed', next_attempt_at = NULL, claimed_until = NULL, updated_at = ?3 WHERE id = ?1 AND status = 'pending'",
    )
    .bind(id, JSON.stringify(attempt), at)
    .run();
}

/**
 * Makes a delivery pending again, its next attempt due `at` on a fresh retry schedule: one that
 * has ended, or one stuck pending (due before `overdueBefore`, nobody sending it). Only while it
 * still has `attempts` attempts, so a replay is not queued over an attempt made meanwhile.
 * Returns whether it was.
 */
export async function scheduleReplay(
  db: D1Database,
  id: string,
  attempts: number,
  at: string,
  overdueBefore: string,
): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `UPDATE alert_deliveries SET status = 'pending', next_attempt_at = ?3, retry_from = ?2, updated_at = ?3
       WHERE id = ?1 AND json_array_length(attempts) = ?2
         AND (status <> 'pending' OR ((next_attempt_at IS NULL OR next_attempt_at < ?4) AND (claimed_until IS NULL OR claimed_until < ?3)))`,
    )
    .bind(id, attempts, at, overdueBefore)
    .run();
  return meta.changes > 0;
}

/** Puts back the status of an ended delivery whose replay could not be queued. */
export async function unscheduleReplay(
  db: D1Database,
  id: string,
  status: Exclude<DeliveryRow["status"], "pending">,
  at: string,
): Promise<void> {
  await db
    .prepare("UPDATE alert_deliveries SET status = ?2, next_attempt_at = NULL, updated_at = ?3 WHERE id = ?1")
    .bind(id, status, at)
    .run();
}

/** A delivery the sweep queues again, with what its message carries. */
export type OverdueDelivery = { id: string; retry_from: number; attempts: number };

/**
 * Takes up to `limit` pending deliveries whose next attempt was due before `overdueBefore` and
 * that nobody is sending, oldest first, and makes each due again `at` (the message the caller
 * queues now): a copy that is itself lost is taken again one grace later, not on every tick.
 * One statement, on the partial index of pending deliveries by due time.
 */
export async function takeOverdueDeliveries(
  db: D1Database,
  overdueBefore: string,
  at: string,
  limit: number,
): Promise<OverdueDelivery[]> {
  const { results } = await db
    .prepare(
      `UPDATE alert_deliveries SET next_attempt_at = ?2
       WHERE id IN (SELECT id FROM alert_deliveries
                    WHERE status = 'pending' AND next_attempt_at < ?1 AND (claimed_until IS NULL OR claimed_until < ?2)
                    ORDER BY next_attempt_at LIMIT ?3)
       RETURNING id, retry_from, json_array_length(attempts) AS attempts`,
    )
    .bind(overdueBefore, at, limit)
    .all<OverdueDelivery>();
  return results;
}

/**
 * Deliveries of a policy's JOB_FAILURE alerts about a DAG since a time: how many, and the
 * latest's time (reminders). A throttle's digest is no reminder: it isn't counted.
 */
export async function failureDeliveriesSince(
  db: D1Database,
  policyId: string,
  dagName: string,
  since: string,
): Promise<{ count: number; last: string | null }> {
  const row = await db
    .prepare(
      `SELECT COUNT(*) AS count, MAX(created_at) AS last FROM alert_deliveries
       WHERE policy_id = ?1 AND event_type = 'JOB_FAILURE' AND dag_name = ?2 AND created_at >= ?3 AND event_id NOT LIKE ?4`,
    )
    .bind(policyId, dagName, since, `${DIGEST_ID_PREFIX}%`)
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
