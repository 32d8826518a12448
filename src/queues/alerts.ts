/**
 * The ALERTS queue: an `event` message fans out into one delivery per matching policy; a
 * `deliver` message makes one attempt and, when the answer allows it, schedules the next one on
 * the retry schedule. Deliveries are at-least-once and never dropped silently: what exhausts
 * its retries (or the queue's) ends `failed` in the delivery log, and a delivery whose message
 * was lost is queued again by the every-minute tick once it is overdue (alerts/overdue.ts).
 * Every row that is pending says when its next attempt is due; each attempt is claimed once
 * (claimDelivery), so a message that turns up twice sends once.
 */

import { nextDelay, type Rendered, renderDelivery, retrySchedule, send } from "../alerts/deliver.ts";
import type { AlertMessage } from "../alerts/events.ts";
import { overdueBefore } from "../alerts/overdue.ts";
import { matches } from "../alerts/policies.ts";
import { isDigest, windowOf } from "../alerts/throttle.ts";
import type { EventType } from "../alerts/tokens.ts";
import {
  claimDelivery,
  createDeliveries,
  type DeliveryTarget,
  failIfPending,
  findDelivery,
  findEvent,
  findPolicy,
  hasDeliverySince,
  listPolicies,
  type PolicyRow,
  recordAttempt,
  takeOverdueDeliveries,
} from "../db/alerts.ts";
import { findDag } from "../db/dags.ts";
import { lastFinishedRunsFailed } from "../db/runs.ts";
import { now } from "../db/time.ts";
import { log } from "../log.ts";

export async function consumeAlerts(batch: MessageBatch<AlertMessage>, env: Cloudflare.Env): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        if (message.body.kind === "event") {
          await fanOut(env, message.body.eventId, message.attempts > 1);
          message.ack();
          return;
        }
        const next = await attemptDelivery(env, message.body);
        // The next attempt is a new message: it carries the delivery's new attempt count.
        if (next)
          await env.ALERTS.send(
            { ...message.body, attempts: next.attempts },
            { contentType: "json", delaySeconds: next.delaySeconds },
          );
        message.ack();
      } catch (error) {
        log.error("alert message failed; the queue retries it", { message: message.body, error });
        message.retry({ delaySeconds: 5 });
      }
    }),
  );
}

/** Messages the queue gave up on: their deliveries are marked failed, not lost. */
export async function consumeDeadAlerts(batch: MessageBatch<AlertMessage>, env: Cloudflare.Env): Promise<void> {
  for (const message of batch.messages) {
    const body = message.body;
    if (body.kind === "deliver") {
      await failIfPending(
        env.DB,
        body.deliveryId,
        { at: now(), statusCode: null, durationMs: 0, error: "gave up: the queue could not process this delivery" },
        now(),
      );
    } else {
      log.error("alert event could not be fanned out; it stays in alert_events", { eventId: body.eventId });
    }
    message.ack();
  }
}

/**
 * Creates the event's deliveries (once per policy, however often this runs) and queues the new
 * ones; a redelivered message (an earlier fan-out may have failed half-way) queues every pending one.
 * A throttled policy past its alerts for the window holds the event for the window's digest.
 */
async function fanOut(env: Cloudflare.Env, eventId: string, redelivered: boolean): Promise<void> {
  // Most events match no policy: find that out with one read before loading anything else.
  const [event, all] = await Promise.all([findEvent(env.DB, eventId), listPolicies(env.DB)]);
  if (!event) return;
  const type = event.type;
  const candidates = all.filter((policy) => policy.enabled === 1 && policy.event_types.includes(type));
  if (candidates.length === 0 && !redelivered) return;
  const facts = event.context;
  const dagRow = event.dag_name ? await findDag(env.DB, event.dag_name) : null;
  const dag = dagRow
    ? { name: dagRow.name, tags: dagRow.tags }
    : event.dag_name
      ? { name: event.dag_name, tags: [] }
      : undefined;
  const digest = isDigest(event.id);
  const targets: DeliveryTarget[] = [];
  for (const policy of candidates) {
    // An event about one policy (long-running, metric, digest) was already filtered by that policy.
    if (facts.forPolicy !== undefined && facts.forPolicy !== policy.id) continue;
    const wanted = facts.forPolicy !== undefined ? matches(policy, type, undefined, true) : matches(policy, type, dag);
    if (!wanted) continue;
    // A digest stands for alerts that passed these checks already: it is never filtered again, nor throttled.
    if (digest) targets.push({ policyId: policy.id });
    else if (
      (await thresholdReached(env, policy, type, dagRow?.id)) &&
      !(await notifiedRecently(env, policy, type, event.dag_name))
    ) {
      const { throttle } = policy.options;
      targets.push({
        policyId: policy.id,
        throttle: throttle && { max: throttle.max, ...windowOf(throttle, event.created_at) },
      });
    }
  }
  const ids = await createDeliveries(env.DB, event, targets, now(), redelivered);
  if (ids.length > 0)
    await env.ALERTS.sendBatch(
      ids.map((deliveryId) => ({
        body: { kind: "deliver", deliveryId, from: 0, attempts: 0 } satisfies AlertMessage,
        contentType: "json" as const,
      })),
    );
}

/** `consecutiveFailureThreshold`: a JOB_FAILURE alerts only once the DAG's last N finished runs all failed. */
async function thresholdReached(
  env: Cloudflare.Env,
  policy: PolicyRow,
  type: EventType,
  dagId: string | undefined,
): Promise<boolean> {
  const threshold = policy.options.consecutiveFailureThreshold ?? 1;
  if (type !== "JOB_FAILURE" || threshold <= 1 || !dagId) return true;
  return lastFinishedRunsFailed(env.DB, dagId, threshold);
}

/** `renotifyIntervalMinutes`: the same kind of alert about the same DAG is not repeated sooner. */
async function notifiedRecently(
  env: Cloudflare.Env,
  policy: PolicyRow,
  type: EventType,
  dagName: string | null,
): Promise<boolean> {
  const minutes = policy.options.renotifyIntervalMinutes;
  if (!minutes) return false;
  const since = new Date(Date.now() - minutes * 60_000).toISOString();
  return hasDeliverySince(env.DB, policy.id, type, dagName, since);
}

/** A claim outlives the longest attempt (the request timeout) with room to record it. */
const CLAIM_MS = 60_000;

/**
 * One attempt, if the delivery is still where the message expects it and nobody else holds it;
 * returns when to try next (and the attempt count then), or nothing when it is done.
 */
async function attemptDelivery(
  env: Cloudflare.Env,
  message: Extract<AlertMessage, { kind: "deliver" }>,
): Promise<{ delaySeconds: number; attempts: number } | undefined> {
  const claimedAt = Date.now();
  if (
    !(await claimDelivery(
      env.DB,
      message.deliveryId,
      message.attempts,
      new Date(claimedAt).toISOString(),
      new Date(claimedAt + CLAIM_MS).toISOString(),
    ))
  )
    return undefined;
  const delivery = await findDelivery(env.DB, message.deliveryId);
  const [policy, event] = delivery
    ? await Promise.all([findPolicy(env.DB, delivery.policy_id), findEvent(env.DB, delivery.event_id)])
    : [null, null];
  if (!delivery || !policy || !event) return undefined;
  let request: Rendered;
  try {
    request = await renderDelivery(env, policy, event.type, event.context, delivery.id);
  } catch (error) {
    const reason = `could not render: ${error instanceof Error ? error.message : String(error)}`;
    await recordAttempt(
      env.DB,
      delivery.id,
      { at: now(), statusCode: null, durationMs: 0, error: reason },
      "failed",
      now(),
      null,
    );
    return undefined;
  }
  const result = await send(env, request);
  const attempts = message.attempts + 1;
  const made = attempts - message.from;
  const delay = result.outcome === "retry" ? nextDelay(retrySchedule(env), made, result.retryAfterSeconds) : undefined;
  const status = result.outcome === "delivered" ? "delivered" : delay === undefined ? "failed" : "pending";
  const attempt =
    result.outcome === "retry" && delay === undefined
      ? { ...result.attempt, error: `${result.attempt.error}; gave up after ${made} attempts` }
      : result.attempt;
  const nextAttemptAt = delay === undefined ? null : new Date(Date.now() + delay * 1000).toISOString();
  await recordAttempt(env.DB, delivery.id, attempt, status, now(), nextAttemptAt);
  return delay === undefined ? undefined : { delaySeconds: delay, attempts };
}

/** How many overdue deliveries one tick queues again; the next tick takes the rest. */
const SWEEP_LIMIT = 500;
/** Queues.sendBatch takes at most 100 messages. */
const SEND_BATCH_MAX = 100;

/**
 * Queues again the pending deliveries whose next attempt is overdue at `at` — their message was
 * lost (a local queue dies with its process), or is so late it may as well be — with the message
 * the lost one was: the same delivery, attempt count and schedule. Returns their ids.
 */
export async function resendOverdueDeliveries(env: Cloudflare.Env, at: number): Promise<string[]> {
  const overdue = await takeOverdueDeliveries(env.DB, overdueBefore(at), new Date(at).toISOString(), SWEEP_LIMIT);
  for (let start = 0; start < overdue.length; start += SEND_BATCH_MAX)
    await env.ALERTS.sendBatch(
      overdue.slice(start, start + SEND_BATCH_MAX).map((row) => ({
        body: {
          kind: "deliver",
          deliveryId: row.id,
          from: row.retry_from,
          attempts: row.attempts,
        } satisfies AlertMessage,
        contentType: "json" as const,
      })),
    );
  if (overdue.length > 0) log.warn("alert deliveries were overdue; queued again", { count: overdue.length });
  return overdue.map((row) => row.id);
}
