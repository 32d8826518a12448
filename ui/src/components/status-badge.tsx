import type { Schemas } from "../api/client.ts";

/** A run's or a step's status, as the API labels them (Dagu's names). */
export type StatusLabel = Schemas["DAGRunSummary"]["statusLabel"] | Schemas["Node"]["statusLabel"];

/** Each status's words; each has one colour (styles.css, .status-<label>). */
const LABELS: Record<StatusLabel, string> = {
  not_started: "not started",
  running: "running",
  failed: "failed",
  aborted: "aborted",
  succeeded: "succeeded",
  queued: "queued",
  partially_succeeded: "partial success",
  skipped: "skipped",
};

/** Statuses that will still change: pages showing them refresh themselves. */
const ACTIVE_STATUSES: ReadonlySet<StatusLabel> = new Set<StatusLabel>(["running", "queued", "not_started"]);

export function isActive(statusLabel: StatusLabel | undefined): boolean {
  return statusLabel !== undefined && ACTIVE_STATUSES.has(statusLabel);
}

export function StatusBadge({ status }: { status: StatusLabel | undefined }) {
  const label = status ?? "none";
  return (
    <span class={`badge status-${label}`} data-status={label}>
      {/* A label this UI doesn't know yet (a newer server) still reads well. */}
      {status ? (LABELS[status] ?? status.replaceAll("_", " ")) : "never run"}
    </span>
  );
}
