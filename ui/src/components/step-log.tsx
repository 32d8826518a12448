import { api, must, type Schemas } from "../api/client.ts";
import { LogView } from "./log-view.tsx";

const LOG_STREAMS = ["stdout", "stderr"] as const;
export type LogStream = (typeof LOG_STREAMS)[number];

type Props = {
  dagName: string;
  dagRunId: string;
  /** A sub-DAG run's log is read under the run at the top of its tree. */
  root?: { name: string; dagRunId: string } | undefined;
  stream: LogStream;
  /** The URL that shows the other stream, so the tab is a link (and the choice survives a reload). */
  streamHref: (stream: LogStream) => string;
  /** The step's node in the run: its status says whether the log still grows. */
  node: Schemas["Node"];
};

/** A step's stdout and stderr, as tabs, each from its tail. */
export function StepLog({ dagName, dagRunId, root, node, stream, streamHref }: Props) {
  const stepName = node.step.name;
  const live = node.statusLabel === "running";
  const load = (tail: number | undefined) =>
    must(
      root
        ? api.GET("/dag-runs/{name}/{dagRunId}/sub-dag-runs/{subDAGRunId}/steps/{stepName}/log", {
            params: {
              path: { name: root.name, dagRunId: root.dagRunId, subDAGRunId: dagRunId, stepName },
              query: { stream, tail },
            },
          })
        : api.GET("/dag-runs/{name}/{dagRunId}/steps/{stepName}/log", {
            params: { path: { name: dagName, dagRunId, stepName }, query: { stream, tail } },
          }),
    );
  return (
    <div>
      <nav class="tabs log-tabs" aria-label={`Output of ${stepName}`}>
        {LOG_STREAMS.map((option) => (
          <a key={option} href={streamHref(option)} aria-current={option === stream ? "page" : undefined}>
            {option}
          </a>
        ))}
      </nav>
      <LogView
        key={`${dagRunId}/${stepName}/${stream}`}
        label={`${stream} of ${stepName}`}
        load={load}
        live={live}
        revision={`${node.statusLabel} ${node.startedAt} ${node.finishedAt}`}
        emptyText={
          node.statusLabel === "not_started"
            ? "This step hasn't run."
            : live
              ? `Nothing on ${stream} yet.`
              : `Nothing on ${stream}.`
        }
      />
    </div>
  );
}
