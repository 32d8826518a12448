import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, must } from "../api/client.ts";
import { FormDialog } from "../components/form-dialog.tsx";
import { dagHref } from "../components/links.ts";
import { EmptyState, ErrorBanner, Loading, Page } from "../components/page.tsx";
import { isActive, StatusBadge } from "../components/status-badge.tsx";
import { Time } from "../components/time.tsx";
import { useDebounced } from "../lib/debounce.ts";
import { useSession } from "../lib/session.tsx";
import { useApi } from "../lib/use-api.ts";

const SEARCH_DELAY_MS = 250;

/** The first screen: every DAG by name, its last run and next schedule; search by name or tag. */
export function DagsPage() {
  const session = useSession();
  const { query, path, route } = useLocation();
  const search = query.q ?? "";
  const tag = query.tag ?? "";
  const [creating, setCreating] = useState(false);
  // The URL follows every keystroke; the list is asked for once typing pauses.
  const searched = useDebounced(search, SEARCH_DELAY_MS);

  const dags = useApi(
    () =>
      must(
        api.GET("/dags", { params: { query: { perPage: 1000, name: searched || undefined, tag: tag || undefined } } }),
      ),
    [searched, tag],
    {
      // A DAG that never ran has an empty latest run ("not_started"): nothing to wait for.
      poll: (data) =>
        data.dags.some((dag) => dag.latestDAGRun.dagRunId !== "" && isActive(dag.latestDAGRun.statusLabel)),
      idlePollMs: 10_000,
      keepPrevious: true,
    },
  );

  const setFilter = (next: { q?: string; tag?: string }) => {
    const params = new URLSearchParams({ q: search, tag, ...next });
    for (const [key, value] of [...params]) if (!value) params.delete(key);
    route(`${path}${params.size ? `?${params}` : ""}`, true);
  };

  return (
    <Page
      title="DAGs"
      actions={
        session.can("manager") && (
          <button type="button" class="button primary" onClick={() => setCreating(true)}>
            New DAG
          </button>
        )
      }
    >
      {/* biome-ignore lint/a11y/useSemanticElements: <search> is not in Preact's JSX types yet */}
      <div class="filters" role="search">
        <label>
          Search
          <input
            type="search"
            placeholder="Name contains…"
            value={search}
            onInput={(event) => setFilter({ q: event.currentTarget.value })}
          />
        </label>
        {tag && (
          <p class="row">
            Tag <span class="tag">{tag}</span>
            <button type="button" class="button small" onClick={() => setFilter({ tag: "" })}>
              Clear tag
            </button>
          </p>
        )}
      </div>
      <ErrorBanner error={dags.error} />
      {dags.loading && !dags.data ? (
        <Loading />
      ) : dags.data && dags.data.dags.length === 0 ? (
        search || tag ? (
          <EmptyState title="No DAG matches">Try another name, or clear the filters.</EmptyState>
        ) : (
          <EmptyState title="No DAGs yet">
            {session.can("manager")
              ? "Create one with “New DAG”, or push YAML files with npm run dags:push."
              : "An admin or manager can create one."}
          </EmptyState>
        )
      ) : (
        dags.data && (
          <div class="table-scroll">
            <table class="cards">
              <caption class="sr-only">DAGs</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Last run</th>
                  <th scope="col">Schedule</th>
                  <th scope="col">Next run</th>
                  <th scope="col">Tags</th>
                </tr>
              </thead>
              <tbody>
                {dags.data.dags.map(({ fileName, dag, latestDAGRun, nextRun, suspended, errors }) => (
                  <tr key={fileName} data-dag={fileName}>
                    <td>
                      <a href={dagHref(fileName)}>
                        <strong>{fileName}</strong>
                      </a>
                      {dag.description && <div class="muted small-text">{dag.description}</div>}
                      {errors.length > 0 && <div class="error-text">Invalid spec</div>}
                    </td>
                    <td data-label="Last run">
                      <StatusBadge status={latestDAGRun.dagRunId ? latestDAGRun.statusLabel : undefined} />
                      {latestDAGRun.startedAt && (
                        <div class="muted small-text">
                          <Time value={latestDAGRun.startedAt} />
                        </div>
                      )}
                    </td>
                    <td class="mono" data-label="Schedule">
                      {dag.schedule.map((schedule) => schedule.expression).join(", ") || <span class="muted">—</span>}
                    </td>
                    <td data-label="Next run">
                      {suspended ? <span class="badge">suspended</span> : <Time value={nextRun} />}
                    </td>
                    <td data-label="Tags">
                      {dag.tags.map((name) => (
                        <button
                          key={name}
                          type="button"
                          class="tag tag-button"
                          onClick={() => setFilter({ tag: name })}
                          title={`Only DAGs tagged ${name}`}
                        >
                          {name}
                        </button>
                      ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      )}
      <NewDagDialog
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(name) => route(`${dagHref(name)}/spec`)}
      />
    </Page>
  );
}

/** A new DAG starts from the server's starter spec; the editor opens on it. */
function NewDagDialog({
  open,
  onClose,
  onCreated,
}: {
  open: boolean;
  onClose: () => void;
  onCreated: (name: string) => void;
}) {
  const [name, setName] = useState("");
  const create = async () => {
    const created = await must(api.POST("/dags", { body: { name } }));
    setName("");
    onClose();
    onCreated(created.name);
  };
  return (
    <FormDialog open={open} title="New DAG" submitLabel="Create DAG" onSubmit={create} onClose={onClose}>
      <label>
        Name
        <input name="name" required value={name} onInput={(event) => setName(event.currentTarget.value)} />
      </label>
      <p class="muted">It starts with a one-step spec that you edit next.</p>
    </FormDialog>
  );
}
