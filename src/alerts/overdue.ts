/**
 * When a pending delivery counts as stuck. Its next attempt waits in a queue message, due at the
 * row's `next_attempt_at`; a message may arrive a little late (a batch, a busy consumer), so only
 * one later than the grace is taken for lost. Then the every-minute tick queues the delivery
 * again, and Replay may send it: a lost message is made up for within about two minutes (the
 * grace, then the next tick). A copy that meets the original sends nothing twice: an attempt is
 * claimed once (claimDelivery in src/db/alerts.ts).
 *
 * No Workers imports: the admin UI uses it too, to offer Replay for a stuck delivery.
 */

export const OVERDUE_GRACE_MS = 60_000;

/** Due before this time (RFC 3339), a pending delivery's next attempt is overdue at `now`. */
export function overdueBefore(now: number): string {
  return new Date(now - OVERDUE_GRACE_MS).toISOString();
}

/** Whether a next attempt due at `nextAttemptAt` is overdue at `now`. */
export function isOverdue(nextAttemptAt: string, now: number): boolean {
  return nextAttemptAt < overdueBefore(now);
}
