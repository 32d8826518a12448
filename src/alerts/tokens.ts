/**
 * The `{{token}}` names of alert templates: Dagster+'s (seeds/dagster-webhook-alerts.md) where
 * they mean something here, plus dagflare's own. Each event type offers the global tokens and
 * its group's.
 */
import { nearestName } from "../domain/suggest.ts";

export const EVENT_TYPES = [
  "JOB_SUCCESS",
  "JOB_FAILURE",
  "JOB_RECOVERED",
  "JOB_LONG_RUNNING",
  "TICK_FAILURE",
  "CODE_LOCATION_ERROR",
  "AGENT_UNAVAILABLE",
  "INSIGHTS_METRIC",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export type TokenGroup = "global" | "job" | "tick" | "code_location" | "agent" | "insights";

export type TokenInfo = { name: string; group: TokenGroup; description: string; example: string };

const token = (group: TokenGroup, name: string, description: string, example: string): TokenInfo => ({
  name,
  group,
  description,
  example,
});

/** Where an alert's links point and what it calls the deployment (PUBLIC_URL, DEPLOYMENT_NAME). */
export type Deployment = { publicUrl: string; deploymentName: string };

/** The deployment the examples name when no real one is at hand (documentation, tests). */
const EXAMPLE_DEPLOYMENT: Deployment = { publicUrl: "https://dagflare.example.com", deploymentName: "prod" };

/**
 * Every token with its example, the deployment's tokens (and the links built on its URL) as
 * `deployment` renders them (src/alerts/context.ts): the editor's preview then shows this
 * deployment's values, not an invented one's.
 */
export function tokenReference({ publicUrl: base, deploymentName }: Deployment): TokenInfo[] {
  return [
    token("global", "alert_summary", "One line: what happened, naming the DAG", "Job deploy failed"),
    token(
      "global",
      "alert_content",
      "The details: error, failed steps, links",
      "Step 'build' failed: exit code 2\nRun: https://…",
    ),
    token("global", "deployment_name", "This deployment's name (var DEPLOYMENT_NAME)", deploymentName),
    token("global", "deployment_url", "This deployment's URL (var PUBLIC_URL)", base),
    token("global", "alert_policy_name", "The policy's name", "Critical Alerts"),
    token("global", "alert_policy_id", "The policy's id", "0193…"),
    token(
      "global",
      "alert_policy_description",
      "The policy's description (empty unless includeDescriptionInNotification)",
      "Pages the on-call",
    ),
    token("global", "notification_type", "JOB, TICK, CODE_LOCATION, AGENT or INSIGHTS", "JOB"),
    token("global", "dag_name", "The DAG the event is about (empty for the runner and metrics)", "deploy"),
    token(
      "global",
      "event_time",
      "When it happened, ISO 8601 UTC: the run's end, else its start, else now — never empty",
      "2026-01-08T10:05:00.000Z",
    ),
    token(
      "global",
      "event_action",
      "PagerDuty's event_action: resolve for a success or a recovery, trigger for everything else",
      "trigger",
    ),
    token(
      "global",
      "severity",
      "PagerDuty's severity: critical (runner unreachable), error (failures), warning (long runs, metrics), info (successes)",
      "error",
    ),
    token(
      "global",
      "is_sample",
      "true for a test send or preview (its alert_summary then starts with [TEST])",
      "false",
    ),
    token(
      "global",
      "held_count",
      "A throttle's digest: how many alerts about the DAG the policy held back in the window, this one the latest (empty on any other alert)",
      "3",
    ),
    token("job", "job_name", "The DAG's name", "deploy"),
    token("job", "run_id", "The run's id (dagRunId)", "01938f4e-…"),
    token("job", "run_link", "URL of the run's page", `${base}/runs/deploy/01938f4e-…`),
    token("job", "run_status", "SUCCESS, FAILURE, CANCELED or STARTED (long-running)", "FAILURE"),
    token("job", "failure_message", "The first failed step and its error", "Step 'build' failed: exit code 2"),
    token(
      "job",
      "failure_output",
      "The end of that step's stderr, then stdout (at most 2 KB; values of secret-named env vars and params redacted)",
      'npm ERR! missing script: "build"',
    ),
    token("job", "user_name", "Who or what started the run", "ada"),
    token("job", "user_email", "Their e-mail, when known (empty here: users have no e-mail)", ""),
    token("job", "partition_name", "Always empty: DAGs have no partitions", ""),
    token("job", "schedule_name", "The schedule that started the run, if one did", "0 2 * * *"),
    token("job", "sensor_name", "The webhook that started the run, if one did", "webhook:dagu_wh_7Kq9"),
    token("job", "elapsed_time", "How long the run took, for people", "5 minutes"),
    token("job", "start_time", "Start, ISO 8601 UTC (what Discord's timestamp needs)", "2026-01-08T10:00:00.000Z"),
    token("job", "end_time", "End, ISO 8601 UTC", "2026-01-08T10:05:00.000Z"),
    token("job", "start_time_human", "Start, as Dagster prints it", "Jan 8, 2026 10:00 AM"),
    token("job", "end_time_human", "End, as Dagster prints it", "Jan 8, 2026 10:05 AM"),
    token("job", "trigger", "manual, api, webhook, schedule or retry", "webhook"),
    token("job", "dag_run_params", "The run's params", "ENV=prod"),
    token("tick", "instigator_name", "The DAG whose schedule ticked", "nightly-report"),
    token("tick", "instigator_type", "schedule", "schedule"),
    token("tick", "failure_message", "Why the tick could not start a run", "params: …"),
    token("code_location", "location_name", "The DAG definition that failed to load", "deploy"),
    token("code_location", "location_link", "URL of its page", base ? `${base}/dags/deploy` : ""),
    token(
      "code_location",
      "failure_message",
      "The validation errors",
      "steps[2].depends: unknown step 'buidl' (line 14, col 9)",
    ),
    token("agent", "agent_url", "The step runner that could not be reached", "http://runner"),
    token("agent", "failure_message", "What went wrong reaching it", "the step runner is unreachable: …"),
    token("insights", "metric_name", "failed_runs, run_count or mean_duration_seconds", "failed_runs"),
    token("insights", "threshold", "The policy's threshold", "3"),
    token("insights", "computed_value", "The value over the window", "5"),
    token("insights", "insights_url", "URL of the runs list", base ? `${base}/runs` : ""),
  ];
}

export const TOKENS: readonly TokenInfo[] = tokenReference(EXAMPLE_DEPLOYMENT);

/** Dagster's asset tokens: no meaning here. Accepted (a pasted template still works) and rendered empty. */
export const ASSET_TOKENS = [
  "asset_key",
  "asset_name",
  "health_status",
  "materialization_status",
  "checks_status",
  "freshness_status",
];

export const GROUP_OF_EVENT: Record<EventType, TokenGroup> = {
  JOB_SUCCESS: "job",
  JOB_RECOVERED: "job",
  JOB_FAILURE: "job",
  JOB_LONG_RUNNING: "job",
  TICK_FAILURE: "tick",
  CODE_LOCATION_ERROR: "code_location",
  AGENT_UNAVAILABLE: "agent",
  INSIGHTS_METRIC: "insights",
};

export const NOTIFICATION_TYPE: Record<TokenGroup, string> = {
  global: "",
  job: "JOB",
  tick: "TICK",
  code_location: "CODE_LOCATION",
  agent: "AGENT",
  insights: "INSIGHTS",
};

const KNOWN = new Set(TOKENS.map((info) => info.name));

/** `env.ALERT_SECRET_*`: Worker secrets a header may name; nothing else of the environment. */
export const SECRET_TOKEN = /^env\.(ALERT_SECRET_[A-Z0-9_]+)$/;

export type TokenCheck = "known" | "asset" | "secret" | "unknown";

/** The token a misspelled name probably means (`alert_sumary` → `alert_summary`), if any is near enough. */
export function nearestToken(name: string): string | undefined {
  return nearestName(name, [...KNOWN, ...ASSET_TOKENS]);
}

export function classifyToken(name: string): TokenCheck {
  if (KNOWN.has(name)) return "known";
  if (ASSET_TOKENS.includes(name)) return "asset";
  if (SECRET_TOKEN.test(name)) return "secret";
  return "unknown";
}

/** The tokens an event type offers (the global ones and its group's). */
export function tokensFor(eventType: EventType): TokenInfo[] {
  const group = GROUP_OF_EVENT[eventType];
  return TOKENS.filter((info) => info.group === "global" || info.group === group);
}
