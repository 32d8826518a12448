/**
 * Alerts that come from watching rather than from a single happening, checked by the
 * every-minute cron tick: runs that have been running longer than a policy's `thresholdSeconds`
 * (once per run and policy), metric thresholds over a window (once per crossing), reminders
 * of a failure while the DAG stays failed (`remindEveryMinutes`, at most `remindAtMost` times),
 * and the digests of throttled alerts once their window has closed (`throttle`).
 */
import {
  failureDeliveriesSince,
  findEvent,
  findRunFailureEvent,
  isMetricAbove,
  listClosedHeldGroups,
  listPolicies,
  type PolicyRow,
  releaseHeld,
  setMetricAbove,
} from "../db/alerts.ts";
import { listRunningStartedBefore, listStillFailing, runStatsSince } from "../db/runs.ts";
import { emitEvent } from "./events.ts";
import { matches } from "./policies.ts";
import { digestId } from "./throttle.ts";
import type { EventType } from "./tokens.ts";

export async function runMonitors(env: Cloudflare.Env, at: number): Promise<void> {
  const policies = (await listPolicies(env.DB)).filter((policy) => policy.enabled === 1);
  const wants = (policy: PolicyRow, type: EventType) => policy.event_types.includes(type);
  await Promise.all([
    ...policies.filter((policy) => wants(policy, "JOB_LONG_RUNNING")).map((policy) => longRunning(env, policy, at)),
    ...policies.filter((policy) => wants(policy, "INSIGHTS_METRIC")).map((policy) => metric(env, policy, at)),
    ...policies
      .filter((policy) => wants(policy, "JOB_FAILURE") && policy.options.remindEveryMinutes)
      .map((policy) => reminders(env, policy, at)),
    digests(env, policies, at),
  ]);
}

/**
 * One digest per (policy, DAG, window) of the alerts a throttle held back, once the window has
 * closed: the latest held event's type and facts, with how many were held and when. Emitted
 * before the held rows are deleted, so a failure between the two sends nothing twice: the digest's
 * id is stable. A policy disabled since sends nothing, so its held alerts are dropped; a deleted
 * one's went with it. Each window's digest goes out when that window closes, whatever the
 * throttle is now.
 */
async function digests(env: Cloudflare.Env, enabled: PolicyRow[], at: number): Promise<void> {
  for (const group of await listClosedHeldGroups(env.DB, new Date(at).toISOString())) {
    const policy = enabled.find((candidate) => candidate.id === group.policy_id);
    const latest = policy && (await findEvent(env.DB, group.latest_event_id));
    if (policy && latest) {
      await emitEvent(env, {
        id: digestId(policy.id, group.dag_name, group.window_start),
        type: latest.type,
        facts: {
          ...latest.context,
          forPolicy: policy.id,
          heldCount: group.held_count,
          windowStart: group.window_start,
          windowEnd: group.window_end,
        },
      });
    }
    await releaseHeld(env.DB, group.policy_id, group.event_ids);
  }
}

/** At most this many reminders of one failure, unless the policy says otherwise. */
export const DEFAULT_REMIND_AT_MOST = 3;

/**
 * While a DAG's latest finished run is a failure the policy alerted about, the policy reminds
 * every `remindEveryMinutes`, at most `remindAtMost` times; a later run (failed or not) ends
 * the reminders of this one. Each reminder repeats the failure's own facts.
 */
async function reminders(env: Cloudflare.Env, policy: PolicyRow, at: number): Promise<void> {
  const every = policy.options.remindEveryMinutes!;
  const most = policy.options.remindAtMost ?? DEFAULT_REMIND_AT_MOST;
  for (const failing of await listStillFailing(env.DB)) {
    if (!matches(policy, "JOB_FAILURE", { name: failing.dag_name, tags: failing.dag_tags })) continue;
    const sent = await failureDeliveriesSince(env.DB, policy.id, failing.dag_name, failing.finished_at);
    // Not alerted about (yet, or at all: consecutiveFailureThreshold), or reminded enough.
    if (sent.count === 0 || sent.count > most || !sent.last) continue;
    if (at - Date.parse(sent.last) < every * 60_000) continue;
    const failure = await findRunFailureEvent(env.DB, failing.run_id);
    if (!failure) continue;
    await emitEvent(env, {
      id: `remind.${policy.id}.${failing.run_id}.${sent.count}`,
      type: "JOB_FAILURE",
      facts: { ...failure.context, reminder: sent.count, remindersAtMost: most, forPolicy: policy.id },
    });
  }
}

/**
 * Runs of the policy's DAGs still running past the threshold: one event per (run, policy), so
 * each alerts once. The event names its policy, and the fan-out then takes the DAG filter as
 * applied: it is applied here.
 */
async function longRunning(env: Cloudflare.Env, policy: PolicyRow, at: number): Promise<void> {
  const { thresholdSeconds } = policy.options;
  if (!thresholdSeconds) return;
  const before = new Date(at - thresholdSeconds * 1000).toISOString();
  for (const run of await listRunningStartedBefore(env.DB, before)) {
    if (!matches(policy, "JOB_LONG_RUNNING", { name: run.dag_name, tags: run.dag_tags })) continue;
    await emitEvent(env, {
      id: `long.${run.dag_id}.${run.run_id}.${policy.id}`,
      type: "JOB_LONG_RUNNING",
      facts: {
        dagName: run.dag_name,
        runId: run.run_id,
        runStatus: "running",
        trigger: run.trigger,
        triggeredBy: run.triggered_by,
        params: run.params,
        startedAt: run.started_at,
        durationMs: at - Date.parse(run.started_at),
        forPolicy: policy.id,
      },
    });
  }
}

/**
 * failed_runs / run_count / mean_duration_seconds over the window, across the policy's DAGs (by
 * name; all when it names none). Fires when the value crosses the threshold upwards, and again
 * only after it has been back below it: the window the crossing happened in names the event.
 */
async function metric(env: Cloudflare.Env, policy: PolicyRow, at: number): Promise<void> {
  const { metric, threshold, windowMinutes = 60 } = policy.options;
  if (!metric || threshold === undefined) return;
  const since = new Date(at - windowMinutes * 60_000).toISOString();
  const row = await runStatsSince(env.DB, since, policy.dag_names);
  const value =
    metric === "failed_runs"
      ? (row?.failed ?? 0)
      : metric === "run_count"
        ? (row?.runs ?? 0)
        : Math.round((row?.mean_seconds ?? 0) * 10) / 10;
  const above = value > threshold;
  if ((await isMetricAbove(env.DB, policy.id)) === above) return;
  // The alert first, then the state: a failure between them repeats the alert, never loses it.
  if (above) {
    await emitEvent(env, {
      id: `metric.${policy.id}.${Math.floor(at / 60_000)}`,
      type: "INSIGHTS_METRIC",
      facts: { metric, threshold, value, forPolicy: policy.id },
    });
  }
  await setMetricAbove(env.DB, policy.id, above, new Date(at).toISOString());
}
