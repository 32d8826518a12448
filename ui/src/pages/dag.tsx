import { useRef, useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { ApiFailure, api, must, type Ok } from "../api/client.ts";
import { DagGraph } from "../components/dag-graph.tsx";
import { ConfirmDialog } from "../components/dialog.tsx";
import { FormDialog } from "../components/form-dialog.tsx";
import { dagHref, runHref } from "../components/links.ts";
import { EmptyState, ErrorBanner, Loading, Page } from "../components/page.tsx";
import { RunsTable } from "../components/runs-table.tsx";
import { isActive, StatusBadge } from "../components/status-badge.tsx";
import { useSession } from "../lib/session.tsx";
import { useAction } from "../lib/use-action.ts";
import { useApi } from "../lib/use-api.ts";
import { DagSpecEditor } from "./dag-spec.tsx";
import { WebhookPanel } from "./dag-webhook.tsx";

const RECENT_RUNS = 10;

/** One DAG: its graph coloured by the last run, recent runs, webhook, and (tab) its YAML spec. */
export function DagPage() {
  const { params } = useRoute();
  const name = params.name!;
  const tab = params.tab === "spec" ? "spec" : "overview";
  // Once opened, the editor stays mounted (hidden on the overview), so a tab switch keeps a draft.
  const specOpenedFor = useRef<string>(undefined);
  if (tab === "spec") specOpenedFor.current = name;
  const dag = useApi(() => must(api.GET("/dags/{fileName}", { params: { path: { fileName: name } } })), [name]);

  if (dag.error instanceof ApiFailure && dag.error.status === 404) {
    return (
      <Page title="No such DAG">
        <p>
          There is no DAG named <code>{name}</code>. <a href="/dags">All DAGs</a>
        </p>
      </Page>
    );
  }
  return (
    <Page
      title={name}
      subtitle={dag.data?.dag?.description || undefined}
      actions={
        dag.data && (
          <DagActions
            name={name}
            scheduled={(dag.data.dag?.schedule.length ?? 0) > 0}
            suspended={dag.data.suspended}
            defaultParams={dag.data.dag?.defaultParams ?? ""}
            onChange={dag.reload}
          />
        )
      }
    >
      <nav class="tabs" aria-label="DAG views">
        <a href={dagHref(name)} aria-current={tab === "overview" ? "page" : undefined}>
          Overview
        </a>
        <a href={`${dagHref(name)}/spec`} aria-current={tab === "spec" ? "page" : undefined}>
          Spec
        </a>
        <a href={`/runs?name=${encodeURIComponent(name)}`}>All runs</a>
      </nav>
      <ErrorBanner error={dag.error} />
      {specOpenedFor.current === name && (
        <div hidden={tab !== "spec"}>
          <DagSpecEditor name={name} onSaved={dag.reload} />
        </div>
      )}
      {tab === "overview" && <Overview name={name} details={dag.data} />}
    </Page>
  );
}

/** Rendered before the DAG's details arrive, so its runs and webhook load at the same time. */
function Overview({ name, details }: { name: string; details: Ok<"/dags/{fileName}", "get"> | undefined }) {
  const session = useSession();
  // The recent runs carry their nodes: the newest colours the graph.
  // Polled while a run is active, and slowly otherwise: webhook and scheduled runs start elsewhere.
  const history = useApi(
    () =>
      must(
        api.GET("/dags/{fileName}/dag-runs", { params: { path: { fileName: name }, query: { perPage: RECENT_RUNS } } }),
      ),
    [name],
    {
      poll: (data) => data.dagRuns.some((run) => isActive(run.statusLabel)),
      idlePollMs: 5000,
    },
  );
  const latest = history.data?.dagRuns[0];
  const statuses = new Map(latest?.nodes.map((node) => [node.step.name, node.statusLabel]));
  const spec = details?.dag;

  return (
    <div class="dag-overview">
      {details && details.errors.length > 0 && (
        <div class="error" role="alert">
          This DAG's spec is invalid: {details.errors.join("; ")}.{" "}
          <a href={`${dagHref(name)}/spec`}>Fix it in the editor</a>.
        </div>
      )}
      <div class="grid-2">
        <div class="stack">
          <section class="card" aria-labelledby="graph-title">
            <div class="card-header">
              <h2 id="graph-title">Steps</h2>
              {latest && (
                <span class="muted">
                  Last run <a href={runHref(name, latest.dagRunId)}>{latest.dagRunId}</a>{" "}
                  <StatusBadge status={latest.statusLabel} />
                </span>
              )}
            </div>
            {!details ? (
              <Loading />
            ) : spec ? (
              <DagGraph steps={spec.steps} type={spec.type} statuses={statuses} />
            ) : (
              <p class="muted">No valid spec to draw.</p>
            )}
          </section>
          <section class="card" aria-labelledby="runs-title">
            <div class="card-header">
              <h2 id="runs-title">Recent runs</h2>
              <a href={`/runs?name=${encodeURIComponent(name)}`}>All runs</a>
            </div>
            <ErrorBanner error={history.error} />
            {history.data ? (
              history.data.dagRuns.length > 0 ? (
                <RunsTable runs={history.data.dagRuns} showDag={false} compact caption={`Recent runs of ${name}`} />
              ) : (
                <EmptyState title="No runs yet">
                  {session.can("operator")
                    ? "Start one with “Run”, on a schedule, or through the webhook."
                    : "Runs appear here as they start."}
                </EmptyState>
              )
            ) : (
              <Loading />
            )}
          </section>
        </div>
        <div class="stack">
          <section class="card" aria-labelledby="about-title">
            <h2 id="about-title">Definition</h2>
            <dl class="facts">
              <dt>Schedule</dt>
              <dd class="mono">{spec?.schedule.map((schedule) => schedule.expression).join(", ") || "—"}</dd>
              {((spec?.schedule.length ?? 0) > 0 || details?.suspended) && (
                <>
                  <dt>State</dt>
                  <dd>{details?.suspended ? <span class="badge">suspended</span> : "active"}</dd>
                </>
              )}
              <dt>Parameters</dt>
              <dd class="mono">{spec?.defaultParams || "—"}</dd>
              <dt>Tags</dt>
              <dd>
                {spec?.tags.length
                  ? spec.tags.map((tag) => (
                      <a key={tag} class="tag" href={`/dags?tag=${encodeURIComponent(tag)}`}>
                        {tag}
                      </a>
                    ))
                  : "—"}
              </dd>
              <dt>Type</dt>
              <dd>{spec?.type ?? "—"}</dd>
            </dl>
          </section>
          <WebhookPanel dagName={name} />
        </div>
      </div>
    </div>
  );
}

/**
 * Run (with parameters), suspend/resume and delete, each for the roles that may. Suspending stops
 * only scheduled runs, so it is offered only for a DAG with a schedule (and Resume for a DAG
 * suspended before its schedule was removed, so that no suspension lingers unseen).
 */
function DagActions({
  name,
  scheduled,
  suspended,
  defaultParams,
  onChange,
}: {
  name: string;
  scheduled: boolean;
  suspended: boolean;
  defaultParams: string;
  onChange: () => Promise<unknown>;
}) {
  const session = useSession();
  const { route } = useLocation();
  const [dialog, setDialog] = useState<"run" | "delete" | null>(null);
  const { run, busy, error } = useAction();

  const toggleSuspended = () =>
    run(async () => {
      await must(
        api.POST("/dags/{fileName}/suspend", { params: { path: { fileName: name } }, body: { suspend: !suspended } }),
      );
      await onChange();
    });

  return (
    <>
      {session.can("operator") && (
        <>
          <button type="button" class="button primary" onClick={() => setDialog("run")}>
            Run
          </button>
          {(scheduled || suspended) && (
            <button
              type="button"
              class="button"
              disabled={busy}
              onClick={toggleSuspended}
              title={
                suspended ? "Start scheduled runs again" : "Stop scheduled runs (webhooks and manual runs still work)"
              }
            >
              {suspended ? "Resume schedule" : "Suspend schedule"}
            </button>
          )}
        </>
      )}
      {session.can("manager") && (
        <button type="button" class="button" onClick={() => setDialog("delete")}>
          Delete
        </button>
      )}
      <ErrorBanner error={error} />
      <RunDialog
        open={dialog === "run"}
        name={name}
        defaultParams={defaultParams}
        onClose={() => setDialog(null)}
        onStarted={(runId) => route(runHref(name, runId))}
      />
      <ConfirmDialog
        open={dialog === "delete"}
        title={`Delete ${name}?`}
        confirmLabel="Delete"
        danger
        onClose={() => setDialog(null)}
        onConfirm={async () => {
          await must(api.DELETE("/dags/{fileName}", { params: { path: { fileName: name } } }));
          route("/dags");
        }}
      >
        <p>The DAG, its run history and its webhook are deleted. Runs in progress stop at their next step.</p>
      </ConfirmDialog>
    </>
  );
}

function RunDialog({
  open,
  name,
  defaultParams,
  onClose,
  onStarted,
}: {
  open: boolean;
  name: string;
  defaultParams: string;
  onClose: () => void;
  onStarted: (runId: string) => void;
}) {
  const [params, setParams] = useState<string>();
  const value = params ?? defaultParams;
  const start = async () => {
    const { dagRunId } = await must(
      api.POST("/dags/{fileName}/start", {
        params: { path: { fileName: name } },
        body: value.trim() ? { params: value } : {},
      }),
    );
    onClose();
    onStarted(dagRunId);
  };
  return (
    <FormDialog open={open} title={`Run ${name}`} submitLabel="Start run" onSubmit={start} onClose={onClose}>
      <label>
        Parameters
        <input
          class="mono"
          name="params"
          value={value}
          placeholder='KEY=value OTHER="with spaces"'
          onInput={(event) => setParams(event.currentTarget.value)}
        />
      </label>
      <p class="muted">
        <code>KEY=value</code> pairs or a JSON object; they override the DAG's defaults.
      </p>
    </FormDialog>
  );
}
