const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["day", 86_400_000],
  ["hour", 3_600_000],
  ["minute", 60_000],
  ["second", 1000],
];

/** Dagu sends "" or "-" for a time that hasn't happened (a run not finished yet). */
function parseTime(value: string | null | undefined): Date | undefined {
  if (!value || value === "-") return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function fromNow(date: Date, now = Date.now()): string {
  const delta = date.getTime() - now;
  for (const [unit, ms] of UNITS) {
    if (Math.abs(delta) >= ms || unit === "second") return relative.format(Math.round(delta / ms), unit);
  }
  return "";
}

/** A time as "3 minutes ago", with the exact time on hover and for screen readers. */
export function Time({ value, fallback = "—" }: { value: string | null | undefined; fallback?: string }) {
  const date = parseTime(value);
  if (!date) return <span class="muted">{fallback}</span>;
  return (
    <time dateTime={date.toISOString()} title={absolute.format(date)}>
      {fromNow(date)}
    </time>
  );
}

/** How long something took (or has been taking), e.g. "1 m 05 s". */
export function formatDuration(
  startedAt: string | undefined,
  finishedAt: string | undefined,
  now = Date.now(),
): string {
  const start = parseTime(startedAt);
  if (!start) return "—";
  const end = parseTime(finishedAt)?.getTime() ?? now;
  const ms = Math.max(0, end - start.getTime());
  if (ms < 1000) return `${ms} ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} m ${String(seconds % 60).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} m`;
}
