import { api, must, type Schemas } from "../api/client.ts";
import { useApi } from "../lib/use-api.ts";
import { LogView } from "./log-view.tsx";
import { Loading } from "./page.tsx";

const LOG_STREAMS = ["stdout", "stderr"] as const;
export type LogStream = (typeof LOG_STREAMS)[number];

type Props = {
  dagName: string;
  dagRunId: string;
  /** A sub-DAG run's log is read under the run at the top of its tree. */
  root?: { name: string; dagRunId: string } | undefined;
  /** The stream asked for (a tab clicked, or the URL); undefined: the one that explains the step best. */
  stream: LogStream | undefined;
  /** The URL that shows the other stream, so the tab is a link (and the choice survives a reload). */
  streamHref: (stream: LogStream) => string;
  /** The step's node in the run: its status says whether the log still grows. */
  node: Schemas["Node"];
};

/**
 * A step's error, then its stdout and stderr as tabs, each from its tail. A failed step opens on
 * stderr when it wrote anything there: that is where the reason usually is.
 */
export function StepLog({ dagName, dagRunId, root, node, stream, streamHref }: Props) {
  const stepName = node.step.name;
  const live = node.statusLabel === "running";
  const load = (which: LogStream, tail: number | undefined) =>
    must(
      root
        ? api.GET("/dag-runs/{name}/{dagRunId}/sub-dag-runs/{subDAGRunId}/steps/{stepName}/log", {
            params: {
              path: { name: root.name, dagRunId: root.dagRunId, subDAGRunId: dagRunId, stepName },
              query: { stream: which, tail },
            },
          })
        : api.GET("/dag-runs/{name}/{dagRunId}/steps/{stepName}/log", {
            params: { path: { name: dagName, dagRunId, stepName }, query: { stream: which, tail } },
          }),
    );
  // Only a failed step with no stream asked for needs to know whether stderr has anything (one line is enough).
  const probeStderr = stream === undefined && node.statusLabel === "failed";
  const stderrLines = useApi(
    async () => (probeStderr ? (await load("stderr", 1)).totalLines : 0),
    [dagName, dagRunId, stepName, probeStderr, node.finishedAt],
  );
  const shown: LogStream = stream ?? ((stderrLines.data ?? 0) > 0 ? "stderr" : "stdout");

  return (
    <div class="stack">
      {node.error && (
        <p class="error step-error-line">
          <strong>Error:</strong> <span class="mono">{node.error}</span>
        </p>
      )}
      <div>
        <nav class="tabs log-tabs" aria-label={`Output of ${stepName}`}>
          {LOG_STREAMS.map((option) => (
            <a key={option} href={streamHref(option)} aria-current={option === shown ? "page" : undefined}>
              {option}
            </a>
          ))}
        </nav>
        {probeStderr && stderrLines.data === undefined && !stderrLines.error ? (
          <Loading />
        ) : (
          <LogView
            key={`${dagRunId}/${stepName}/${shown}`}
            label={`${shown} of ${stepName}`}
            load={(tail) => load(shown, tail)}
            live={live}
            revision={`${node.statusLabel} ${node.startedAt} ${node.finishedAt}`}
            emptyText={
              node.statusLabel === "not_started"
                ? "This step hasn't run."
                : live
                  ? `Nothing on ${shown} yet.`
                  : `Nothing on ${shown}.`
            }
          />
        )}
      </div>
    </div>
  );
}
