/**
 * Alert events: what happened, recorded in D1 with everything a template may need, then
 * announced on the ALERTS queue by id (a failure message can exceed a queue message's 128 KB).
 */
import { insertEvent } from "../db/alerts.ts";
import { now } from "../db/time.ts";
import type { RunFinishedEvent } from "../domain/run.ts";
import type { EventType } from "./tokens.ts";

/** The facts of an event; token values are derived from them when a delivery is rendered. */
export type EventFacts = {
  dagName?: string | undefined;
  runId?: string | undefined;
  runStatus?: string | undefined;
  trigger?: string | undefined;
  triggeredBy?: string | undefined;
  params?: string | undefined;
  startedAt?: string | null | undefined;
  finishedAt?: string | null | undefined;
  durationMs?: number | undefined;
  failedSteps?: string[] | undefined;
  error?: string | undefined;
  /** The first failed step that says why, and the tail of its stderr/stdout (redacted, ≤ 2 KB). */
  failedStep?: string | undefined;
  failureOutput?: string | undefined;
  /** A reminder of a JOB_FAILURE (1, 2, …) and how many the policy sends at most. */
  reminder?: number | undefined;
  remindersAtMost?: number | undefined;
  /** JOB_RECOVERED: the failed run this success follows. */
  recoveredFrom?: string | undefined;
  /** TICK_FAILURE: the minute the run was for. */
  scheduledFor?: string | undefined;
  /** CODE_LOCATION_ERROR: the validation errors. */
  errors?: string[] | undefined;
  /** AGENT_UNAVAILABLE: the runner's address. */
  agentUrl?: string | undefined;
  /** INSIGHTS_METRIC. */
  metric?: string | undefined;
  threshold?: number | undefined;
  value?: number | undefined;
  /** An event about one policy only (long-running, metric, digest): no other policy matches it. */
  forPolicy?: string | undefined;
  /**
   * A throttle's digest (alerts/throttle.ts): how many alerts the policy held back about the DAG
   * in the window, whose latest this event repeats.
   */
  heldCount?: number | undefined;
  windowStart?: string | undefined;
  windowEnd?: string | undefined;
};

export type AlertEvent = { id: string; type: EventType; facts: EventFacts };

/**
 * `deliver`: `attempts` is how many attempts the delivery has when this message is due (it
 * claims only a delivery in that state); `from` is where the current retry schedule began.
 */
export type AlertMessage =
  | { kind: "event"; eventId: string }
  | { kind: "deliver"; deliveryId: string; from: number; attempts: number };

/** Records the event (once: its id is stable) and announces it — unless no policy takes its type. */
export async function emitEvent(env: Cloudflare.Env, event: AlertEvent): Promise<void> {
  const recorded = await insertEvent(env.DB, {
    id: event.id,
    type: event.type,
    dag_name: event.facts.dagName ?? null,
    run_id: event.facts.runId ?? null,
    context: event.facts,
    created_at: now(),
  });
  if (recorded)
    await env.ALERTS.send({ kind: "event", eventId: event.id } satisfies AlertMessage, { contentType: "json" });
}

/**
 * A finished run's alerts: JOB_SUCCESS for a success (a partial one too), and JOB_RECOVERED
 * too when the DAG's previous finished run had failed; JOB_FAILURE for a failure; a run
 * stopped by hand alerts nothing. A run alerts once, after its last retry: the coordinator
 * emits these only when the run has a final status.
 */
export function runAlerts(dagId: string, finished: RunFinishedEvent): AlertEvent[] {
  const type: EventType | undefined =
    finished.status === "failed"
      ? "JOB_FAILURE"
      : finished.status === "succeeded" || finished.status === "partially_succeeded"
        ? "JOB_SUCCESS"
        : undefined;
  if (!type) return [];
  const alert = runAlert(dagId, finished, type);
  if (type !== "JOB_SUCCESS" || !finished.recoveredFrom) return [alert];
  const recovered = runAlert(dagId, finished, "JOB_RECOVERED");
  return [alert, { ...recovered, facts: { ...recovered.facts, recoveredFrom: finished.recoveredFrom } }];
}

function runAlert(dagId: string, finished: RunFinishedEvent, type: EventType): AlertEvent {
  return {
    id: `run.${dagId}.${finished.runId}.${finished.finishedAt}${type === "JOB_RECOVERED" ? ".recovered" : ""}`,
    type,
    facts: {
      dagName: finished.dagName,
      runId: finished.runId,
      runStatus: finished.status,
      trigger: finished.trigger,
      triggeredBy: finished.triggeredBy,
      startedAt: finished.startedAt,
      finishedAt: finished.finishedAt,
      durationMs: finished.durationMs,
      failedSteps: finished.failedSteps,
      error: finished.error,
      failedStep: finished.failedStep,
      failureOutput: finished.failureOutput,
    },
  };
}
