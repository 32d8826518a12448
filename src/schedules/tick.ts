/**
 * The cron trigger fires every minute; each tick starts the DAGs that are due. A tick for minute
 * M starts every non-suspended DAG whose schedule matches M, exactly once per (DAG, M): the run
 * id is derived from M, and a DAG's coordinator refuses an id it has used, so a tick that fires
 * twice starts nothing twice. The next tick also looks back at M for DAGs created during M,
 * after M's tick had run. The same tick queues again the alert deliveries whose message is overdue.
 */
import { emitEvent } from "../alerts/events.ts";
import { runMonitors } from "../alerts/monitors.ts";
import { startRun } from "../coordinator/index.ts";
import { type DagRow, listScheduledDags, recordTickFailure } from "../db/dags.ts";
import { now } from "../db/time.ts";
import { nextScheduledRun } from "../domain/dag-spec.ts";
import { ApiError } from "../errors.ts";
import { log } from "../log.ts";
import { resendOverdueDeliveries } from "../queues/alerts.ts";

const MINUTE_MS = 60_000;

export type TickReport = {
  minute: string;
  started: string[];
  alreadyStarted: string[];
  failed: { dag: string; error: string }[];
  /** Alert deliveries whose next attempt was overdue, queued again. */
  resentDeliveries: string[];
};

export async function runScheduleTick(env: Cloudflare.Env, scheduledTime: number): Promise<TickReport> {
  const minute = Math.floor(scheduledTime / MINUTE_MS) * MINUTE_MS;
  const previous = minute - MINUTE_MS;
  const report: TickReport = {
    minute: new Date(minute).toISOString(),
    started: [],
    alreadyStarted: [],
    failed: [],
    resentDeliveries: [],
  };
  const due: { dag: DagRow; at: number }[] = [];
  for (const dag of await listScheduledDags(env.DB)) {
    if (isDue(dag, minute)) due.push({ dag, at: minute });
    // Created during the previous minute, perhaps after that minute's tick ran: catch it up.
    const created = Date.parse(dag.created_at);
    if (created >= previous && created < minute && isDue(dag, previous)) due.push({ dag, at: previous });
  }
  // Recorded before the handler returns: every start is awaited, none is left to waitUntil.
  await Promise.all(
    due.map(async ({ dag, at }) => {
      const scheduledFor = new Date(at).toISOString();
      try {
        await startRun(env, dag, {
          runId: scheduleRunId(at),
          trigger: "schedule",
          triggeredBy: `schedule:${scheduledFor}`,
        });
        report.started.push(dag.name);
      } catch (error) {
        if (error instanceof ApiError && error.code === "already_exists") {
          report.alreadyStarted.push(dag.name);
          return;
        }
        const message = error instanceof Error ? error.message : String(error);
        report.failed.push({ dag: dag.name, error: message });
        log.error("a scheduled run did not start", { dag: dag.name, scheduledFor, error: message });
        await Promise.all([
          recordTickFailure(env.DB, dag.id, scheduledFor, message, now()),
          emitEvent(env, {
            id: `tick.${dag.id}.${scheduledFor}`,
            type: "TICK_FAILURE",
            facts: { dagName: dag.name, scheduledFor, error: message },
          }),
        ]).catch((recordError: unknown) =>
          log.error("recording a failed tick failed too", { dag: dag.name, scheduledFor, error: recordError }),
        );
      }
    }),
  );
  // Long-running runs and metric thresholds are watched on the same minute. Lateness is measured
  // on the clock, not on the minute the tick stands for: a message is late in real time.
  const [, resent] = await Promise.all([
    runMonitors(env, scheduledTime).catch((error: unknown) => log.error("alert monitors failed", { error })),
    resendOverdueDeliveries(env, Date.now()).catch((error: unknown) => {
      log.error("queueing overdue alert deliveries again failed", { error });
      return [];
    }),
  ]);
  report.resentDeliveries = resent;
  return report;
}

/** Whether one of the DAG's schedules fires at exactly this minute. */
function isDue(dag: DagRow, minute: number): boolean {
  return dag.schedules.some((expression) => nextScheduledRun(expression, new Date(minute - 1))?.getTime() === minute);
}

/** `schedule-20261124T0840Z`: one id per scheduled minute, which is what makes ticks idempotent. */
export function scheduleRunId(minute: number): string {
  return `schedule-${new Date(minute).toISOString().slice(0, 16).replace(/[-:]/g, "")}Z`;
}
