import { useLocation } from "preact-iso";
import { api, must, type Schemas } from "../api/client.ts";
import { EmptyState, ErrorBanner, Loading, Page } from "../components/page.tsx";
import { RunsTable } from "../components/runs-table.tsx";
import { isActive } from "../components/status-badge.tsx";
import { useDagNames } from "../lib/dag-names.ts";
import { useApi } from "../lib/use-api.ts";

/** The API's status numbers are these labels' positions (Dagu's run statuses). */
const RUN_STATUSES = [
  "not_started",
  "running",
  "failed",
  "aborted",
  "succeeded",
  "queued",
  "partially_succeeded",
] as const satisfies readonly Schemas["RunStatusLabel"][];
const STATUS_CODES = new Map<string, number>(RUN_STATUSES.map((label, code) => [label, code]));
/** How a run started, as the API names it, and as the filter says it. */
const TRIGGERS: Record<Schemas["RunTrigger"], string> = {
  manual: "manual (a person)",
  api: "api (an API key)",
  webhook: "webhook",
  schedule: "schedule",
  retry: "retry",
  parent: "parent (a sub-DAG call)",
};
const isTrigger = (value: string | undefined): value is Schemas["RunTrigger"] =>
  value !== undefined && Object.hasOwn(TRIGGERS, value);
const PER_PAGE = 50;
const FILTER_KEYS = ["status", "name", "trigger", "from", "to"] as const;
type Filters = Record<(typeof FILTER_KEYS)[number] | "page", string>;

/**
 * Every run, newest first, filtered by status, DAG, trigger and day (each filter applied by the
 * server). The filters live in the query string (`?status=failed&name=nightly&trigger=webhook&from=2026-11-01`),
 * so a link shows the same runs.
 */
export function RunsPage() {
  const { query, path, route } = useLocation();
  const filters: Filters = {
    status: query.status ?? "",
    name: query.name ?? "",
    trigger: query.trigger ?? "",
    from: query.from ?? "",
    to: query.to ?? "",
    page: query.page ?? "",
  };
  const page = Math.max(1, Number.parseInt(filters.page, 10) || 1);
  const filtered = FILTER_KEYS.some((key) => filters[key] !== "");

  const runs = useApi(
    () => {
      const listQuery = {
        status: STATUS_CODES.get(filters.status),
        trigger: isTrigger(filters.trigger) ? filters.trigger : undefined,
        fromDate: unixSeconds(filters.from, 0),
        // "To" includes the whole day: up to the next midnight.
        toDate: unixSeconds(filters.to, 1),
        page,
        perPage: PER_PAGE,
      };
      // /dag-runs matches `name` as a substring; the per-DAG list matches the DAG exactly.
      return filters.name
        ? must(api.GET("/dag-runs/{name}", { params: { path: { name: filters.name }, query: listQuery } }))
        : must(api.GET("/dag-runs", { params: { query: listQuery } }));
    },
    [filters.status, filters.name, filters.trigger, filters.from, filters.to, page],
    { poll: (data) => data.dagRuns.some((run) => isActive(run.statusLabel)) },
  );
  const dagNames = useDagNames().data ?? [];
  // A link may name a DAG that is not listed (deleted, or the list failed): keep it selectable.
  if (filters.name && !dagNames.includes(filters.name)) dagNames.unshift(filters.name);

  const hrefWith = (changes: Partial<Filters>) => {
    const params = new URLSearchParams({ ...filters, ...changes });
    for (const [key, value] of [...params]) if (!value || (key === "page" && value === "1")) params.delete(key);
    return `${path}${params.size ? `?${params}` : ""}`;
  };
  // Another filter means other runs: back to the first page.
  const setFilter = (changes: Partial<Filters>) => route(hrefWith({ ...changes, page: "" }), true);
  const clearFilters = () => route(path, true);

  const pagination = runs.data?.pagination;
  return (
    <Page
      title="Runs"
      subtitle={pagination && `${pagination.totalRecords} ${pagination.totalRecords === 1 ? "run" : "runs"}`}
    >
      {/* biome-ignore lint/a11y/useSemanticElements: <search> is not in Preact's JSX types yet */}
      <div class="filters runs-filters" role="search" aria-label="Filter runs">
        <label>
          Status
          <select value={filters.status} onChange={(event) => setFilter({ status: event.currentTarget.value })}>
            <option value="">Any status</option>
            {RUN_STATUSES.map((status) => (
              <option key={status} value={status}>
                {status.replaceAll("_", " ")}
              </option>
            ))}
          </select>
        </label>
        <label>
          DAG
          <select value={filters.name} onChange={(event) => setFilter({ name: event.currentTarget.value })}>
            <option value="">All DAGs</option>
            {dagNames.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Trigger
          <select value={filters.trigger} onChange={(event) => setFilter({ trigger: event.currentTarget.value })}>
            <option value="">Any trigger</option>
            {(Object.keys(TRIGGERS) as Schemas["RunTrigger"][]).map((trigger) => (
              <option key={trigger} value={trigger}>
                {TRIGGERS[trigger]}
              </option>
            ))}
          </select>
        </label>
        <label>
          From
          <input
            type="date"
            value={filters.from}
            max={filters.to || undefined}
            onChange={(event) => setFilter({ from: event.currentTarget.value })}
          />
        </label>
        <label>
          To
          <input
            type="date"
            value={filters.to}
            min={filters.from || undefined}
            onChange={(event) => setFilter({ to: event.currentTarget.value })}
          />
        </label>
        {filtered && (
          <button type="button" class="button" onClick={clearFilters}>
            Clear filters
          </button>
        )}
      </div>
      <ErrorBanner error={runs.error} />
      {!runs.data ? (
        runs.loading && <Loading />
      ) : runs.data.dagRuns.length === 0 ? (
        filtered ? (
          <EmptyState title="No runs match these filters">
            <button type="button" class="button" onClick={clearFilters}>
              Clear filters
            </button>
          </EmptyState>
        ) : page > 1 ? (
          <EmptyState title="No runs on this page">
            <a href={hrefWith({ page: "1" })}>First page</a>
          </EmptyState>
        ) : (
          <EmptyState title="No runs yet">
            Runs appear here when a DAG starts: by hand from its page, on its schedule, or through its webhook.
          </EmptyState>
        )
      ) : (
        <>
          <RunsTable runs={runs.data.dagRuns} caption="Runs, newest first" />
          {pagination && pagination.totalPages > 1 && (
            <nav class="pagination" aria-label="Pages of runs">
              {pagination.prevPage > 0 && (
                <a class="button" href={hrefWith({ page: String(pagination.prevPage) })} rel="prev">
                  Previous
                </a>
              )}
              <span class="muted">
                Page {pagination.currentPage} of {pagination.totalPages}
              </span>
              {pagination.nextPage > 0 && (
                <a class="button" href={hrefWith({ page: String(pagination.nextPage) })} rel="next">
                  Next
                </a>
              )}
            </nav>
          )}
        </>
      )}
    </Page>
  );
}

/** A `YYYY-MM-DD` day (local time), `daysLater` days on, as unix seconds; undefined when unset. */
function unixSeconds(day: string, daysLater: number): number | undefined {
  const date = new Date(`${day}T00:00:00`);
  if (!day || Number.isNaN(date.getTime())) return undefined;
  date.setDate(date.getDate() + daysLater);
  return Math.floor(date.getTime() / 1000);
}
