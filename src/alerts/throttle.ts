/**
 * A policy's throttle (`options.throttle`): at most `max` alerts per window about one DAG (events
 * about no DAG count together); the fan-out holds back the rest, and once the window has closed
 * the every-minute tick sends one digest alert that says how many were held. Windows follow the
 * clock, in UTC: a window starts at a multiple of its length counted from the Unix epoch, so 60
 * minutes is each clock hour and 1440 each UTC day.
 */

const MINUTE_MS = 60_000;

export type Throttle = { max: number; windowMinutes: number };

/** ISO 8601 UTC, like every stored time. */
export type ThrottleWindow = { start: string; end: string };

/**
 * The window an event counts in, by the time it happened rather than the time it is fanned out:
 * a message the queue delivers again, later, is judged in the same window as the first time.
 */
export function windowOf(throttle: Throttle, eventTime: string): ThrottleWindow {
  const length = throttle.windowMinutes * MINUTE_MS;
  const start = Math.floor(Date.parse(eventTime) / length) * length;
  return { start: new Date(start).toISOString(), end: new Date(start + length).toISOString() };
}

/** What every digest's id starts with: no other event's does. */
export const DIGEST_ID_PREFIX = "digest.";

/** One digest per (policy, DAG, window): a tick that emits it again records nothing twice. */
export function digestId(policyId: string, dagName: string | null, windowStart: string): string {
  return `${DIGEST_ID_PREFIX}${policyId}.${dagName ?? ""}.${windowStart}`;
}

export function isDigest(eventId: string): boolean {
  return eventId.startsWith(DIGEST_ID_PREFIX);
}
