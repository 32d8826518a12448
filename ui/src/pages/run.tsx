import { useEffect, useMemo, useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { ApiFailure, api, must, type Schemas } from "../api/client.ts";
import { DagGraph } from "../components/dag-graph.tsx";
import { ConfirmDialog } from "../components/dialog.tsx";
import { dagHref, runHref, subRunHref } from "../components/links.ts";
import { LogView } from "../components/log-view.tsx";
import { ErrorBanner, Loading, Page } from "../components/page.tsx";
import { JsonText, ParamsList, parseParams } from "../components/run-params.tsx";
import { isActive, StatusBadge } from "../components/status-badge.tsx";
import { type LogStream, StepLog } from "../components/step-log.tsx";
import { formatDuration, Time } from "../components/time.tsx";
import { useSession } from "../lib/session.tsx";
import { useApi } from "../lib/use-api.ts";

type Run = Schemas["DAGRunDetails"];
type RunNode = Schemas["Node"];

/** Statuses a finished run can be retried from; a succeeded run is started again from its DAG instead. */
const RETRYABLE_RUNS: ReadonlySet<Run["statusLabel"]> = new Set<Run["statusLabel"]>([
  "failed",
  "aborted",
  "partially_succeeded",
]);
const HANDLERS = [
  ["onSuccess", "on success"],
  ["onFailure", "on failure"],
  ["onCancel", "on cancel"],
  ["onExit", "on exit"],
] as const;

/**
 * One run: its graph, steps, logs, trigger and params, with Stop and Retry. Alerts link here
 * (`run_link`), so it loads everything from the URL; `?step=&stream=` pick the log shown.
 */
export function RunPage() {
  const { params, query } = useRoute();
  const dagName = params.dag!;
  const runId = params.runId!;
  // A sub-DAG run is shown under its tree's root: /runs/<root>/<root run>/sub/<run>.
  const subRunId = params.subRunId;
  const run = useApi(
    async () =>
      subRunId
        ? (
            await must(
              api.GET("/dag-runs/{name}/{dagRunId}/sub-dag-runs/{subDAGRunId}", {
                params: { path: { name: dagName, dagRunId: runId, subDAGRunId: subRunId } },
              }),
            )
          ).dagRunDetails
        : (await must(api.GET("/dag-runs/{name}/{dagRunId}", { params: { path: { name: dagName, dagRunId: runId } } })))
            .dagRunDetails,
    [dagName, runId, subRunId],
    { poll: (data) => isActive(data.statusLabel) },
  );

  // The title links to the DAG, so it isn't text Page can use for the tab; this effect runs
  // after Page's (children's effects run first) and names the tab.
  const shownDag = run.data?.name ?? (subRunId ? "" : dagName);
  const title = useMemo(
    () => (subRunId ? shownDag : <a href={dagHref(dagName)}>{dagName}</a>),
    [dagName, subRunId, shownDag],
  );
  useEffect(() => {
    document.title = `${shownDag || dagName} run · dagflare`;
  }, [dagName, shownDag]);

  // 400: the id can't be a run id (a mistyped link); 404: no such run.
  if (run.error instanceof ApiFailure && (run.error.status === 404 || run.error.status === 400)) {
    return (
      <Page title="No such run">
        <p>
          There is no run <code>{subRunId ?? runId}</code> {subRunId ? "under" : "of"} <code>{dagName}</code>.{" "}
          <a href="/runs">All runs</a>
        </p>
      </Page>
    );
  }
  return (
    <Page
      title={title}
      subtitle={
        <>
          {subRunId ? "Sub-DAG run" : "Run"} <span class="mono">{run.data?.dagRunId ?? subRunId ?? runId}</span>
        </>
      }
      actions={run.data && !isSubRun(run.data) && <RunActions run={run.data} onChange={run.reload} />}
    >
      <ErrorBanner error={run.error} />
      {run.data ? (
        <RunDetails run={run.data} stepQuery={query.step} streamQuery={query.stream} onChange={run.reload} />
      ) : (
        run.loading && <Loading />
      )}
    </Page>
  );
}

function RunDetails({
  run,
  stepQuery,
  streamQuery,
  onChange,
}: {
  run: Run;
  stepQuery?: string | undefined;
  streamQuery?: string | undefined;
  onChange: () => Promise<unknown>;
}) {
  const { path, route } = useLocation();
  const nodes = [...run.nodes, ...HANDLERS.flatMap(([key]) => run[key] ?? [])];
  const selected = nodes.find((node) => node.step.name === stepQuery) ?? defaultStep(run.nodes);
  // No stream in the URL: the log shows the stream that explains the step best (StepLog).
  const stream: LogStream | undefined = streamQuery === "stderr" || streamQuery === "stdout" ? streamQuery : undefined;

  const logHref = (stepName: string, nextStream?: LogStream) => {
    const search = new URLSearchParams({ step: stepName });
    if (nextStream) search.set("stream", nextStream);
    return `${path}?${search}`;
  };
  const showLog = (stepName: string) => {
    route(logHref(stepName));
    revealLog();
  };

  return (
    <>
      <div class="grid-2 run-overview">
        <section class="card" aria-labelledby="graph-title">
          <h2 id="graph-title">Graph</h2>
          {/* A chain implies each step's dependency on the one before: the run says which its DAG was. */}
          <DagGraph
            steps={run.nodes.map((node) => node.step)}
            type={run.type}
            statuses={new Map(run.nodes.map((node) => [node.step.name, node.statusLabel]))}
            selected={selected?.step.name}
            onSelect={showLog}
          />
        </section>
        <RunFacts run={run} />
      </div>
      <section class="card" aria-labelledby="steps-title">
        <h2 id="steps-title">Steps</h2>
        <StepsTable
          run={run}
          nodes={nodes}
          selected={selected?.step.name}
          logHref={(stepName) => logHref(stepName)}
          onShowLog={showLog}
          onChange={onChange}
        />
      </section>
      {selected && (
        <section class="card" id="step-log" aria-labelledby="log-title">
          <div class="card-header">
            <h2 id="log-title">
              Output of <span class="mono">{selected.step.name}</span>
            </h2>
            <StatusBadge status={selected.statusLabel} />
          </div>
          {(selected.step.command || selected.step.script) && (
            <pre class="step-command" tabIndex={0} aria-label={selected.step.command ? "Command" : "Script"}>
              {selected.step.command || selected.step.script}
            </pre>
          )}
          <StepLog
            dagName={run.name}
            dagRunId={run.dagRunId}
            root={isSubRun(run) ? { name: run.rootDAGRunName, dagRunId: run.rootDAGRunId } : undefined}
            node={selected}
            stream={stream}
            streamHref={(nextStream) => logHref(selected.step.name, nextStream)}
          />
        </section>
      )}
      <SubRuns run={run} />
      <RunEvents run={run} />
    </>
  );
}

/** A run a step of another run called: read, stopped and retried through its caller. */
function isSubRun(run: Run): boolean {
  return run.parentDAGRunId !== undefined;
}

/** The runs this run's steps called (their latest attempts), each linking to its page. */
function SubRuns({ run }: { run: Run }) {
  const calling = run.nodes.filter((node) => (node.subRuns?.length ?? 0) > 0);
  if (calling.length === 0) return null;
  return (
    <section class="card" aria-labelledby="sub-runs-title">
      <h2 id="sub-runs-title">Sub-DAG runs</h2>
      <div class="table-scroll">
        <table class="sub-runs-table">
          <caption class="sr-only">Runs the steps of this run called</caption>
          <thead>
            <tr>
              <th scope="col">Step</th>
              <th scope="col">DAG</th>
              <th scope="col">Run</th>
              <th scope="col">Status</th>
              <th scope="col" class="hide-narrow">
                Params
              </th>
            </tr>
          </thead>
          <tbody>
            {calling.flatMap((node) =>
              node.subRuns!.map((sub) => (
                <tr key={sub.dagRunId} data-sub-run={sub.dagRunId}>
                  <td class="mono">{node.step.name}</td>
                  <td class="mono">{sub.dagName}</td>
                  <td>
                    {/* A queued run (dag.enqueue) is the DAG's own; the others hang under this tree. */}
                    <a
                      class="mono"
                      href={
                        sub.statusLabel === "queued" && sub.startedAt !== ""
                          ? runHref(sub.dagName, sub.dagRunId)
                          : subRunHref(run.rootDAGRunName, run.rootDAGRunId, sub.dagRunId)
                      }
                    >
                      {sub.dagRunId}
                    </a>
                    {sub.error && <div class="error-text small-text">{sub.error}</div>}
                  </td>
                  <td>
                    <StatusBadge status={sub.statusLabel} />
                  </td>
                  <td class="hide-narrow mono small-text">{sub.params || <span class="muted">—</span>}</td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** On a phone the log is screens below the graph and the table: bring it into view. */
function revealLog() {
  requestAnimationFrame(() =>
    document.getElementById("step-log")?.scrollIntoView({ behavior: "smooth", block: "nearest" }),
  );
}

/** The step whose log one most likely wants: the first failure, else what is running, else the first step. */
function defaultStep(nodes: RunNode[]): RunNode | undefined {
  return (
    nodes.find((node) => node.statusLabel === "failed") ??
    nodes.find((node) => node.statusLabel === "running") ??
    nodes[0]
  );
}

function RunFacts({ run }: { run: Run }) {
  const params = parseParams(run.params);
  return (
    <section class="card" aria-labelledby="facts-title">
      <h2 id="facts-title">Run</h2>
      <dl class="facts">
        <dt>Status</dt>
        <dd>
          <StatusBadge status={run.statusLabel} />
        </dd>
        {run.parentDAGRunName && run.parentDAGRunId && (
          <>
            <dt>Called by</dt>
            <dd>
              <a
                class="mono"
                href={
                  run.parentDAGRunId === run.rootDAGRunId
                    ? runHref(run.rootDAGRunName, run.rootDAGRunId)
                    : subRunHref(run.rootDAGRunName, run.rootDAGRunId, run.parentDAGRunId)
                }
              >
                {run.parentDAGRunName}
              </a>{" "}
              step <span class="mono">{run.parentStep}</span>
            </dd>
          </>
        )}
        <dt>Trigger</dt>
        <dd>
          {run.trigger}
          {run.triggeredBy && (
            <>
              {" "}
              by <span class="mono">{run.triggeredBy}</span>
            </>
          )}
        </dd>
        <dt>Queued</dt>
        <dd>
          <Time value={run.queuedAt} />
        </dd>
        <dt>Started</dt>
        <dd>
          <Time value={run.startedAt} fallback="not yet" />
        </dd>
        <dt>Finished</dt>
        <dd>
          <Time value={run.finishedAt} fallback={isActive(run.statusLabel) ? "not yet" : "—"} />
        </dd>
        <dt>Duration</dt>
        <dd>{formatDuration(run.startedAt, run.finishedAt)}</dd>
        <dt>Params</dt>
        <dd>
          <ParamsList params={params} />
        </dd>
      </dl>
      {run.webhookPayload !== null && (
        <>
          <h3 class="payload-title">Webhook payload</h3>
          <JsonText text={run.webhookPayload} label="Webhook payload" />
        </>
      )}
      {run.webhookHeaders !== null && (
        <>
          <h3 class="payload-title">Forwarded headers</h3>
          <JsonText text={run.webhookHeaders} label="Forwarded headers" />
        </>
      )}
    </section>
  );
}

type StepsTableProps = {
  run: Run;
  nodes: RunNode[];
  selected: string | undefined;
  logHref: (stepName: string) => string;
  onShowLog: (stepName: string) => void;
  onChange: () => Promise<unknown>;
};

/** Each step (then each handler that ran): status, timing, retries, exit code and error; its name opens its log. */
function StepsTable({ run, nodes, selected, logHref, onShowLog, onChange }: StepsTableProps) {
  const session = useSession();
  const [retrying, setRetrying] = useState<string>();
  const canRetrySteps = session.can("operator") && RETRYABLE_RUNS.has(run.statusLabel) && !isSubRun(run);
  const handlerOf = new Map(
    HANDLERS.flatMap(([key, label]) => (run[key] ? [[run[key].step.name, label] as const] : [])),
  );
  return (
    <div class="table-scroll">
      <table class="steps-table">
        <caption class="sr-only">Steps of this run</caption>
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">Status</th>
            <th scope="col" class="hide-narrow">
              Started
            </th>
            <th scope="col">Duration</th>
            <th scope="col" class="hide-narrow">
              Retries
            </th>
            <th scope="col" class="hide-narrow">
              Exit code
            </th>
            <th scope="col">Error</th>
            {canRetrySteps && (
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {nodes.map((node) => {
            const name = node.step.name;
            const handler = handlerOf.get(name);
            return (
              <tr key={name} data-step={name} class={name === selected ? "selected" : undefined}>
                <td>
                  <a
                    class="mono"
                    href={logHref(name)}
                    aria-current={name === selected ? "true" : undefined}
                    title="Show this step's output"
                    onClick={revealLog}
                  >
                    {name}
                  </a>
                  {handler && <div class="muted small-text">handler {handler}</div>}
                </td>
                <td>
                  <StatusBadge status={node.statusLabel} />
                </td>
                <td class="hide-narrow">
                  <Time value={node.startedAt} />
                </td>
                <td>{formatDuration(node.startedAt, node.finishedAt)}</td>
                <td class="hide-narrow">{node.retryCount || <span class="muted">0</span>}</td>
                <td class="hide-narrow mono">{node.exitCode ?? <span class="muted">—</span>}</td>
                <td class="step-error">
                  {node.error ? <span class="error-text">{node.error}</span> : <span class="muted">—</span>}
                </td>
                {canRetrySteps && (
                  <td>
                    {!handler && node.statusLabel === "failed" && (
                      <button
                        type="button"
                        class="button small"
                        onClick={() => setRetrying(name)}
                        aria-label={`Retry step ${name}`}
                      >
                        Retry step
                      </button>
                    )}
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
      <ConfirmDialog
        open={retrying !== undefined}
        title={`Retry step ${retrying ?? ""}?`}
        confirmLabel="Retry step"
        onClose={() => setRetrying(undefined)}
        onConfirm={async () => {
          const stepName = retrying!;
          await must(
            api.POST("/dag-runs/{name}/{dagRunId}/retry", {
              params: { path: { name: run.name, dagRunId: run.dagRunId } },
              body: { dagRunId: run.dagRunId, stepName },
            }),
          );
          onShowLog(stepName);
          await onChange();
        }}
      >
        <p>
          Only this step runs again, in this run; the other steps keep their results. Then the run's handlers run again.
        </p>
      </ConfirmDialog>
    </div>
  );
}

/** Stop while the run is active, Retry once it has failed or was stopped (operators and up). */
function RunActions({ run, onChange }: { run: Run; onChange: () => Promise<unknown> }) {
  const session = useSession();
  const [dialog, setDialog] = useState<"stop" | "retry" | null>(null);
  if (!session.can("operator")) return null;
  // The path may say `latest`; the actions name the run itself.
  const path = { name: run.name, dagRunId: run.dagRunId };
  const close = () => setDialog(null);
  return (
    <>
      {isActive(run.statusLabel) && (
        <button type="button" class="button danger" onClick={() => setDialog("stop")}>
          Stop
        </button>
      )}
      {RETRYABLE_RUNS.has(run.statusLabel) && (
        <button type="button" class="button primary" onClick={() => setDialog("retry")}>
          Retry
        </button>
      )}
      <ConfirmDialog
        open={dialog === "stop"}
        title="Stop this run?"
        confirmLabel="Stop run"
        danger
        onClose={close}
        onConfirm={async () => {
          await must(api.POST("/dag-runs/{name}/{dagRunId}/stop", { params: { path } }));
          await onChange();
        }}
      >
        <p>Running steps are cancelled and the rest don't start; then the run's cancel and exit handlers run.</p>
      </ConfirmDialog>
      <ConfirmDialog
        open={dialog === "retry"}
        title="Retry this run?"
        confirmLabel="Retry run"
        onClose={close}
        onConfirm={async () => {
          // A retry re-runs this same run (the response has no body), so the page follows it here.
          await must(
            api.POST("/dag-runs/{name}/{dagRunId}/retry", { params: { path }, body: { dagRunId: run.dagRunId } }),
          );
          await onChange();
        }}
      >
        <p>
          Steps that succeeded keep their results; the others run again, in this run. Then the run's handlers run again.
        </p>
      </ConfirmDialog>
    </>
  );
}

/** The run's own event log (queued, started, each step's outcome, retries), opened on request. */
function RunEvents({ run }: { run: Run }) {
  const [open, setOpen] = useState(false);
  const load = (tail: number | undefined) =>
    must(
      api.GET("/dag-runs/{name}/{dagRunId}/log", {
        params: { path: { name: run.name, dagRunId: run.dagRunId }, query: { tail } },
      }),
    );
  return (
    <details class="card run-events" onToggle={(event) => setOpen(event.currentTarget.open)}>
      <summary>
        <h2>Run events</h2>
      </summary>
      {open && (
        <LogView
          key={run.dagRunId}
          label="Run events"
          load={load}
          live={isActive(run.statusLabel)}
          revision={run.statusLabel}
          emptyText="No events yet."
        />
      )}
    </details>
  );
}
