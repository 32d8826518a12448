/**
 * The webhook panel's inbound log: the DAG's recent trigger attempts, newest first — time,
 * client address, outcome and code, the run each started — with its headers and body on demand
 * (credentials redacted by the server) and Replay for accepted requests. Operators and up.
 */
import { useState } from "preact/hooks";
import { api, must, type Schemas } from "../api/client.ts";
import { useAction } from "../lib/use-action.ts";
import { useApi } from "../lib/use-api.ts";
import { runHref } from "./links.ts";
import { EmptyState, ErrorBanner, Loading } from "./page.tsx";
import { SuccessNote } from "./success-note.tsx";
import { Time } from "./time.tsx";

type Summary = Schemas["WebhookRequestSummary"];
type Outcome = Summary["outcome"];

const OUTCOMES: Record<Outcome, { label: string; badge: string }> = {
  accepted: { label: "accepted", badge: "status-succeeded" },
  refused: { label: "refused", badge: "status-failed" },
  rate_limited: { label: "rate-limited", badge: "status-queued" },
  failed: { label: "failed", badge: "status-failed" },
};

const PAGE = 20;
/** The API's largest page. */
const MOST = 200;

/** Why an entry can't be replayed, or undefined when it can. */
function replayRefusal(entry: Summary): string | undefined {
  if (entry.outcome !== "accepted") return "Only accepted requests can be replayed";
  if (!entry.bodyStored) return "Its body was not stored (the DAG sets webhook.storeBodies: false)";
  if (entry.bodyTruncated) return "Its body was stored cut at 64 KiB";
  return undefined;
}

export function WebhookRequests({ dagName }: { dagName: string }) {
  const [outcome, setOutcome] = useState<Outcome | "">("");
  const [limit, setLimit] = useState(PAGE);
  const [replayed, setReplayed] = useState<string>();
  const requests = useApi(
    () =>
      must(
        api.GET("/dags/{fileName}/webhook/requests", {
          params: { path: { fileName: dagName }, query: { limit, ...(outcome ? { outcome } : {}) } },
        }),
      ),
    [dagName, outcome, limit],
    { idlePollMs: 5000, keepPrevious: true },
  );
  const data = requests.data;

  return (
    <section class="stack webhook-requests" aria-labelledby="webhook-requests-title">
      <div class="card-header">
        <h3 id="webhook-requests-title">Recent requests</h3>
        <div class="row">
          <label class="inline">
            Outcome
            <select value={outcome} onChange={(event) => setOutcome(event.currentTarget.value as Outcome | "")}>
              <option value="">all</option>
              {(Object.keys(OUTCOMES) as Outcome[]).map((key) => (
                <option key={key} value={key}>
                  {OUTCOMES[key].label}
                </option>
              ))}
            </select>
          </label>
          <button type="button" class="button small" onClick={() => void requests.reload()}>
            Refresh
          </button>
        </div>
      </div>
      <SuccessNote message={replayed} />
      <ErrorBanner error={requests.error} />
      {!data ? (
        requests.loading && <Loading />
      ) : data.requests.length === 0 ? (
        <EmptyState title={outcome ? `No ${OUTCOMES[outcome].label} requests` : "No requests yet"}>
          Every attempt to trigger this DAG — accepted, refused or rate-limited — is logged here, with its headers and
          body (credentials redacted).
        </EmptyState>
      ) : (
        <>
          <ul class="delivery-list">
            {data.requests.map((entry) => (
              <RequestItem
                key={entry.id}
                dagName={dagName}
                entry={entry}
                onReplayed={async (runId) => {
                  setReplayed(`Replayed as run ${runId}.`);
                  await requests.reload();
                }}
              />
            ))}
          </ul>
          {data.nextCursor && limit < MOST && (
            <div>
              <button type="button" class="button small" onClick={() => setLimit(Math.min(MOST, limit + PAGE * 2))}>
                Show older
              </button>
            </div>
          )}
        </>
      )}
    </section>
  );
}

type ItemProps = { dagName: string; entry: Summary; onReplayed: (runId: string) => Promise<void> };

function RequestItem({ dagName, entry, onReplayed }: ItemProps) {
  const [open, setOpen] = useState(false);
  const { run, busy, error } = useAction();
  const path = { params: { path: { fileName: dagName, id: entry.id } } };
  const refusal = replayRefusal(entry);
  const detailsId = `request-${entry.id}`;
  const replay = () =>
    run(async () => {
      const started = await must(api.POST("/dags/{fileName}/webhook/requests/{id}/replay", path));
      await onReplayed(started.dagRunId);
    });

  return (
    <li class="delivery" data-request-id={entry.id} data-outcome={entry.outcome}>
      <div class="delivery-summary">
        <span class={`badge ${OUTCOMES[entry.outcome].badge}`}>{OUTCOMES[entry.outcome].label}</span>
        <code>
          {entry.statusCode}
          {entry.errorCode && ` ${entry.errorCode}`}
        </code>
        <span class="delivery-subject">
          {entry.dagRunId ? (
            <a href={runHref(dagName, entry.dagRunId)}>
              run <span class="mono">{entry.dagRunId}</span>
            </a>
          ) : (
            <span class="muted">no run</span>
          )}
        </span>
        {entry.replayOf && <span class="muted small-text">replay</span>}
        <span class="muted small-text mono">{entry.clientIp || "unknown address"}</span>
        <span class="muted small-text">
          <Time value={entry.receivedAt} />
        </span>
        <span class="delivery-actions">
          <button
            type="button"
            class="button small"
            aria-expanded={open}
            aria-controls={open ? detailsId : undefined}
            onClick={() => setOpen(!open)}
          >
            Details
          </button>
          <button
            type="button"
            class="button small"
            onClick={replay}
            disabled={busy || refusal !== undefined}
            title={refusal ?? "Start a new run with this request's payload and forwarded headers"}
          >
            Replay
          </button>
        </span>
      </div>
      {entry.message && <p class="muted small-text request-message">{entry.message}</p>}
      <ErrorBanner error={error} />
      {open && <RequestDetails id={detailsId} dagName={dagName} requestId={entry.id} />}
    </li>
  );
}

function RequestDetails({ id, dagName, requestId }: { id: string; dagName: string; requestId: string }) {
  const details = useApi(
    () =>
      must(
        api.GET("/dags/{fileName}/webhook/requests/{id}", { params: { path: { fileName: dagName, id: requestId } } }),
      ),
    [dagName, requestId],
  );
  const data = details.data;
  return (
    <div id={id} class="request-details stack">
      <ErrorBanner error={details.error} />
      {!data ? (
        details.loading && <Loading />
      ) : (
        <>
          <h4>Headers</h4>
          <pre class="attempt-body request-headers">
            {Object.entries(data.headers)
              .map(([name, value]) => `${name}: ${value}`)
              .join("\n")}
          </pre>
          <h4>
            Body{" "}
            <span class="muted small-text">
              {data.bodyBytes} bytes{data.contentType && ` · ${data.contentType}`}
              {data.bodyTruncated && " · stored cut short"}
            </span>
          </h4>
          {data.body === null ? (
            <p class="muted small-text">
              {data.bodyBytes === 0
                ? "Empty."
                : "Not stored: the DAG keeps no bodies (webhook.storeBodies: false), or the request was refused before its body was read."}
            </p>
          ) : data.body === "" ? (
            <p class="muted small-text">Empty.</p>
          ) : (
            <pre class="attempt-body request-body">{data.body}</pre>
          )}
        </>
      )}
    </div>
  );
}
