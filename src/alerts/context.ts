/** The token values of one delivery: from the event's facts, the policy and the deployment. */
import { config } from "../config.ts";
import type { PolicyOptions, PolicyRow } from "../db/alerts.ts";
import type { EventFacts } from "./events.ts";
import { type EventType, GROUP_OF_EVENT, NOTIFICATION_TYPE } from "./tokens.ts";

const RUN_STATUS: Record<string, string> = {
  succeeded: "SUCCESS",
  partially_succeeded: "SUCCESS",
  failed: "FAILURE",
  aborted: "CANCELED",
  running: "STARTED",
};

const DAY_MS = 86_400_000;

/** PagerDuty's severities (critical, error, warning, info), by how much each event needs a person. */
const SEVERITY: Record<EventType, string> = {
  JOB_FAILURE: "error",
  JOB_SUCCESS: "info",
  JOB_RECOVERED: "info",
  JOB_LONG_RUNNING: "warning",
  TICK_FAILURE: "error",
  CODE_LOCATION_ERROR: "error",
  AGENT_UNAVAILABLE: "critical",
  INSIGHTS_METRIC: "warning",
};

export function tokenValues(
  env: Pick<Cloudflare.Env, "DEPLOYMENT_NAME" | "PUBLIC_URL">,
  policy: Pick<PolicyRow, "id" | "name" | "description" | "options">,
  type: EventType,
  facts: EventFacts,
  isSample = false,
): Record<string, string> {
  const { publicUrl: base, deploymentName } = config(env).alerts;
  const options = policy.options;
  const dag = facts.dagName ?? "";
  // A sample's link goes to a page that says it is one, not to a run that doesn't exist.
  const runLink = !facts.runId
    ? ""
    : isSample
      ? `${base}/sample-run`
      : `${base}/runs/${encodeURIComponent(dag)}/${encodeURIComponent(facts.runId)}`;
  const failureMessage = facts.failedStep
    ? `Step '${facts.failedStep}' failed: ${facts.error ?? "no reason given"}`
    : (facts.error ?? "");
  const values: Record<string, string> = {
    deployment_name: deploymentName,
    deployment_url: base,
    alert_policy_name: policy.name,
    alert_policy_id: policy.id,
    alert_policy_description: options.includeDescriptionInNotification ? policy.description : "",
    notification_type: NOTIFICATION_TYPE[GROUP_OF_EVENT[type]],
    is_sample: String(isSample),
    dag_name: dag,
    event_time: facts.finishedAt || facts.startedAt || new Date().toISOString(),
    event_action: type === "JOB_SUCCESS" || type === "JOB_RECOVERED" ? "resolve" : "trigger",
    severity: SEVERITY[type],
  };
  const lines: string[] = [];
  switch (type) {
    case "JOB_SUCCESS":
    case "JOB_RECOVERED":
    case "JOB_FAILURE":
    case "JOB_LONG_RUNNING": {
      const failed = type === "JOB_FAILURE";
      values.alert_summary =
        type === "JOB_LONG_RUNNING"
          ? `Job ${dag} is running longer than ${humanDuration((options.thresholdSeconds ?? 0) * 1000)}`
          : type === "JOB_RECOVERED"
            ? `Job ${dag} recovered`
            : facts.reminder
              ? `Job ${dag} is still failing (reminder ${facts.reminder} of ${facts.remindersAtMost})`
              : `Job ${dag} ${failed ? "failed" : "succeeded"}`;
      Object.assign(values, {
        job_name: dag,
        run_id: facts.runId ?? "",
        run_link: runLink,
        run_status: RUN_STATUS[facts.runStatus ?? ""] ?? (facts.runStatus ?? "").toUpperCase(),
        failure_message: failureMessage,
        failure_output: facts.failureOutput ?? "",
        user_name: facts.triggeredBy ?? "",
        user_email: "",
        partition_name: "",
        schedule_name: facts.trigger === "schedule" ? (facts.triggeredBy ?? "") : "",
        sensor_name: facts.trigger === "webhook" ? (facts.triggeredBy ?? "") : "",
        elapsed_time: facts.durationMs === undefined ? "" : humanDuration(facts.durationMs),
        start_time: facts.startedAt ?? "",
        end_time: facts.finishedAt ?? "",
        start_time_human: humanTime(facts.startedAt),
        end_time_human: humanTime(facts.finishedAt),
        trigger: facts.trigger ?? "",
        dag_run_params: facts.params ?? "",
      });
      if (type === "JOB_RECOVERED" && facts.recoveredFrom)
        lines.push(`It succeeded after run ${facts.recoveredFrom} failed.`);
      if (failureMessage) lines.push(`Error: ${failureMessage}`);
      if (facts.failureOutput) lines.push(`Output (its end):\n${facts.failureOutput}`);
      if (facts.failedSteps?.length) lines.push(`Failed steps: ${facts.failedSteps.join(", ")}`);
      lines.push(
        `Run: ${facts.runId ?? ""} (${values.run_status}, ${values.elapsed_time || "not finished"}), started by ${facts.triggeredBy || facts.trigger || "?"}`,
      );
      if (runLink) lines.push(runLink);
      break;
    }
    case "TICK_FAILURE":
      values.alert_summary = `Schedule of ${dag} failed to start a run`;
      Object.assign(values, { instigator_name: dag, instigator_type: "schedule", failure_message: facts.error ?? "" });
      lines.push(`Scheduled for: ${facts.scheduledFor ?? ""}`, `Error: ${facts.error ?? ""}`);
      break;
    case "CODE_LOCATION_ERROR":
      values.alert_summary = `DAG ${dag} failed to load`;
      Object.assign(values, {
        location_name: dag,
        location_link: base ? `${base}/dags/${encodeURIComponent(dag)}` : "",
        failure_message: (facts.errors ?? []).join("\n"),
      });
      lines.push(...(facts.errors ?? []));
      break;
    case "AGENT_UNAVAILABLE":
      values.alert_summary = "The step runner is unreachable";
      Object.assign(values, { agent_url: facts.agentUrl ?? "", failure_message: facts.error ?? "" });
      lines.push(`Error: ${facts.error ?? ""}`);
      break;
    case "INSIGHTS_METRIC":
      values.alert_summary = `${facts.metric} is ${facts.value} (threshold ${facts.threshold})`;
      Object.assign(values, {
        metric_name: facts.metric ?? "",
        threshold: String(facts.threshold ?? ""),
        computed_value: String(facts.value ?? ""),
        insights_url: base ? `${base}/runs` : "",
      });
      lines.push(values.alert_summary);
      break;
  }
  values.held_count = facts.heldCount === undefined ? "" : String(facts.heldCount);
  if (facts.heldCount !== undefined && facts.windowStart && facts.windowEnd) {
    const held = heldBack(facts.heldCount, dag, facts.windowStart, facts.windowEnd, options.throttle);
    values.alert_summary = `${values.alert_summary} — the latest of ${held.count} held back ${held.when}`;
    lines.unshift(`${held.count} were held back ${held.when}; the details are the latest one's.`);
  }
  values.alert_content = lines.join("\n");
  // A test send or preview says so wherever its summary shows: every preset, every template using it.
  if (isSample) values.alert_summary = `[TEST] ${values.alert_summary}`;
  return values;
}

/**
 * A digest's words: "3 alerts about deploy" and "between 10:00 and 11:00 UTC (throttle: 2 per 60
 * minutes)" — with the dates when the window is a whole day or crosses midnight.
 */
function heldBack(
  count: number,
  dag: string,
  windowStart: string,
  windowEnd: string,
  throttle: PolicyOptions["throttle"],
): { count: string; when: string } {
  const start = new Date(windowStart);
  const end = new Date(windowEnd);
  const withinDay =
    end.getTime() - start.getTime() < DAY_MS &&
    start.toISOString().slice(0, 10) === new Date(end.getTime() - 1).toISOString().slice(0, 10);
  const at = (date: Date) => {
    const time = date.toISOString().slice(11, 16);
    if (withinDay) return time;
    const day = date.toLocaleString("en-US", { month: "short", day: "numeric", timeZone: "UTC" });
    return `${day} ${time}`;
  };
  const limit = throttle ? ` (throttle: ${throttle.max} per ${throttle.windowMinutes} minutes)` : "";
  return {
    count: `${count} alert${count === 1 ? "" : "s"}${dag ? ` about ${dag}` : ""}`,
    when: `between ${at(start)} and ${at(end)} UTC${limit}`,
  };
}

/** "5 minutes", "1 hour 2 minutes", "42 seconds". */
export function humanDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? "" : "s"}`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return `${hours} hour${hours === 1 ? "" : "s"}${rest ? ` ${rest} minute${rest === 1 ? "" : "s"}` : ""}`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Dagster's "Jan 8, 2026 10:00 AM" (UTC); written by hand, as toLocaleString costs ~0.1 ms a call. */
export function humanTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const hours = date.getUTCHours();
  const minutes = String(date.getUTCMinutes()).padStart(2, "0");
  const clock = `${hours % 12 === 0 ? 12 : hours % 12}:${minutes} ${hours < 12 ? "AM" : "PM"}`;
  return `${MONTHS[date.getUTCMonth()]} ${date.getUTCDate()}, ${date.getUTCFullYear()} ${clock}`;
}
