/** Run and step statuses, as the API labels them (Dagu's names), each with one colour. */
const LABELS: Record<string, string> = {
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
const ACTIVE_STATUSES = new Set(["running", "queued", "not_started"]);

export function isActive(statusLabel: string | undefined): boolean {
  return statusLabel !== undefined && ACTIVE_STATUSES.has(statusLabel);
}

export function StatusBadge({ status }: { status: string | undefined }) {
  const label = status ?? "none";
  return (
    <span class={`badge status-${label}`} data-status={label}>
      {LABELS[label] ?? (status ? label.replaceAll("_", " ") : "never run")}
    </span>
  );
}
