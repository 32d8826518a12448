/**
 * A policy's delivery log, newest first: each delivery's event, run, status and attempts (what
 * the destination answered), with Replay for managers. Refreshes itself while one is pending.
 */
import { useState } from "preact/hooks";
import { isOverdue } from "../../../src/alerts/overdue.ts";
import { api, must, type Schemas } from "../api/client.ts";
import { useSession } from "../lib/session.tsx";
import { useAction } from "../lib/use-action.ts";
import { useApi } from "../lib/use-api.ts";
import { dagHref, runHref } from "./links.ts";
import { EmptyState, ErrorBanner, Loading } from "./page.tsx";
import { Time } from "./time.tsx";

type Delivery = Schemas["AlertDelivery"];

/** A delivery's status in the run badge colours: delivered like succeeded, pending like running. */
const STATUS_CLASS: Record<Delivery["status"], string> = {
  delivered: "status-succeeded",
  failed: "status-failed",
  pending: "status-running",
};

export function AlertDeliveries({ policyId }: { policyId: string }) {
  const deliveries = useApi(
    () =>
      must(api.GET("/alert-policies/{id}/deliveries", { params: { path: { id: policyId }, query: { limit: 100 } } })),
    [policyId],
    {
      poll: (data) => data.deliveries.some((delivery) => delivery.status === "pending"),
    },
  );
  return (
    <section class="card" aria-labelledby="deliveries-title">
      <div class="card-header">
        <h2 id="deliveries-title">Deliveries</h2>
        <button type="button" class="button small" onClick={() => void deliveries.reload()}>
          Refresh
        </button>
      </div>
      <ErrorBanner error={deliveries.error} />
      {!deliveries.data ? (
        deliveries.loading && <Loading />
      ) : deliveries.data.deliveries.length === 0 ? (
        <EmptyState title="No deliveries yet">
          Every alert this policy sends is logged here with the destination's answers. “Send test” requests are not
          logged.
        </EmptyState>
      ) : (
        <ul class="delivery-list">
          {deliveries.data.deliveries.map((delivery) => (
            <DeliveryItem key={delivery.id} delivery={delivery} onReplayed={deliveries.reload} />
          ))}
        </ul>
      )}
    </section>
  );
}

function DeliveryItem({ delivery, onReplayed }: { delivery: Delivery; onReplayed: () => Promise<unknown> }) {
  const session = useSession();
  const [open, setOpen] = useState(false);
  const { run, busy: replaying, error } = useAction();
  const attemptsId = `attempts-${delivery.id}`;
  // A pending one is replayable only once its next attempt is overdue (its message was lost).
  const due = delivery.status === "pending" ? delivery.nextAttemptAt : null;
  const stuck = delivery.status === "pending" && (due === null || isOverdue(due, Date.now()));
  const replayRefusal =
    delivery.status !== "pending" || stuck || due === null
      ? undefined
      : `Still being sent: next attempt due ${new Date(due).toLocaleString()}`;

  const replay = () =>
    run(async () => {
      await must(api.POST("/alert-deliveries/{id}/replay", { params: { path: { id: delivery.id } } }));
      await onReplayed();
    });

  return (
    <li class="delivery" data-delivery-id={delivery.id} data-status={delivery.status}>
      <div class="delivery-summary">
        <span class={`badge ${STATUS_CLASS[delivery.status]}`}>{delivery.status}</span>
        <code>{delivery.eventType}</code>
        <span class="delivery-subject">
          {delivery.dagName && delivery.dagRunId ? (
            <a href={runHref(delivery.dagName, delivery.dagRunId)}>
              {delivery.dagName} / <span class="mono">{delivery.dagRunId}</span>
            </a>
          ) : delivery.dagName ? (
            <a href={dagHref(delivery.dagName)}>{delivery.dagName}</a>
          ) : (
            <span class="muted">no DAG</span>
          )}
        </span>
        <span class="muted small-text">
          <Time value={delivery.createdAt} />
        </span>
        <span class="delivery-actions">
          <button
            type="button"
            class="button small"
            aria-expanded={open}
            aria-controls={open ? attemptsId : undefined}
            onClick={() => setOpen(!open)}
          >
            {delivery.attempts.length === 1 ? "1 attempt" : `${delivery.attempts.length} attempts`}
          </button>
          {session.can("manager") && (
            <button
              type="button"
              class="button small"
              onClick={replay}
              disabled={replaying || replayRefusal !== undefined}
              title={
                replayRefusal ??
                (stuck
                  ? "Its next attempt is overdue: send it now; the new attempts are added below"
                  : "Send it again; the new attempts are added below")
              }
            >
              Replay
            </button>
          )}
        </span>
      </div>
      <ErrorBanner error={error} />
      {open && (
        <ol id={attemptsId} class="attempts">
          {delivery.attempts.length === 0 && <li class="muted">No attempt yet: it is queued.</li>}
          {delivery.attempts.map((attempt, index) => (
            <li key={`${attempt.at}-${index}`} class="attempt">
              <div class="row small-text">
                <strong>Attempt {index + 1}</strong>
                <span
                  class={`badge ${attempt.statusCode !== null && attempt.statusCode < 300 ? "status-succeeded" : "status-failed"}`}
                >
                  {attempt.statusCode === null ? "no answer" : `HTTP ${attempt.statusCode}`}
                </span>
                <span>{attempt.durationMs} ms</span>
                <Time value={attempt.at} />
              </div>
              {attempt.error && <p class="error-text">{attempt.error}</p>}
              {attempt.responseBody ? (
                <pre class="attempt-body">{attempt.responseBody}</pre>
              ) : (
                <p class="muted small-text">Empty response body.</p>
              )}
            </li>
          ))}
        </ol>
      )}
    </li>
  );
}
