import type { Schemas } from "../api/client.ts";
import { dagHref, runHref } from "./links.ts";
import { StatusBadge } from "./status-badge.tsx";
import { formatDuration, Time } from "./time.tsx";

/**
 * Runs, newest first: id (a link to the run), DAG, status, how and by whom it started, when and
 * how long. `compact` (a half-width card) leaves out the By column: who started a run shows
 * when pointing at its trigger, and on the run's page.
 */
export function RunsTable({
  runs,
  showDag = true,
  compact = false,
  caption,
}: {
  runs: Schemas["DAGRunSummary"][];
  showDag?: boolean;
  compact?: boolean;
  caption: string;
}) {
  return (
    <div class="table-scroll">
      <table class="runs-table cards">
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Run</th>
            {showDag && <th scope="col">DAG</th>}
            <th scope="col">Status</th>
            <th scope="col">Trigger</th>
            {!compact && <th scope="col">By</th>}
            <th scope="col">Started</th>
            <th scope="col">Duration</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr key={`${run.name}/${run.dagRunId}`} data-run-id={run.dagRunId} data-trigger={run.trigger}>
              <td>
                <a class="mono" href={runHref(run.name, run.dagRunId)}>
                  {run.dagRunId}
                </a>
              </td>
              {showDag && (
                <td data-label="DAG">
                  <a href={dagHref(run.name)}>{run.name}</a>
                </td>
              )}
              <td data-label="Status">
                <StatusBadge status={run.statusLabel} />
              </td>
              <td data-label="Trigger" title={compact && run.triggeredBy ? `by ${run.triggeredBy}` : undefined}>
                {run.trigger ?? <span class="muted">—</span>}
              </td>
              {!compact && (
                <td data-label="By">
                  {run.triggeredBy ? (
                    <span class="mono small-text">{run.triggeredBy}</span>
                  ) : (
                    <span class="muted">—</span>
                  )}
                </td>
              )}
              <td data-label="Started">
                <Time value={run.startedAt || run.queuedAt} fallback="not started" />
              </td>
              <td data-label="Duration">{formatDuration(run.startedAt, run.finishedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
