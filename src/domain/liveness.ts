/**
 * How the coordinator tells an executor that died from one that is busy. Whoever executes a
 * claimed attempt (the queue consumer; for a command step, the consumer polling the runner) sends
 * a sign of life every HEARTBEAT_MS. The coordinator's alarm finds an attempt silent for
 * EXECUTOR_SILENCE_MS and acts: a command whose process may still be running on the runner is
 * taken over by another consumer (the runner keeps the process; a takeover that finds none
 * reports it lost), anything else is "executor lost" and goes to its retry policy.
 *
 * Fencing: every claim and takeover raises the attempt's token, and only the holder of the
 * current token may report output or a result. A holder that can't get a sign of life
 * acknowledged for SELF_FENCE_MS stops its work first — before the coordinator, counting from
 * the last acknowledged sign, can decide it is lost — so one attempt never runs in two places.
 */

/** A holder's sign of life, while it executes. */
export const HEARTBEAT_MS = 5_000;
/** Silence after which the coordinator finds an attempt's executor lost (or its message never picked up). */
export const EXECUTOR_SILENCE_MS = 20_000;
/** A holder without an acknowledged sign of life for this long gives the attempt up. */
export const SELF_FENCE_MS = 15_000;
/** Takeovers of a command attempt in a row that found no consumer answering, before it is lost. */
export const MAX_TAKEOVERS = 3;
/** A dispatched attempt not picked up is sent again after this, doubling up to the cap (a backlog is not a loss). */
export const PICKUP_RECHECK_MAX_MS = 5 * 60_000;

/** When to look again at a dispatched attempt nobody claimed, after `times` looks. */
export function pickupRecheckMs(times: number): number {
  return Math.min(EXECUTOR_SILENCE_MS * 2 ** times, PICKUP_RECHECK_MAX_MS);
}
