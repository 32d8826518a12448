import { useLocation } from "preact-iso";
import { api, must } from "../api/client.ts";
import { urlPart } from "../components/alert-policy-draft.ts";
import { EmptyState, ErrorBanner, Loading, Page } from "../components/page.tsx";
import { useSession } from "../lib/session.tsx";
import { useApi } from "../lib/use-api.ts";

/** Alert policies: which events send which request where. */
export function AlertsPage() {
  const session = useSession();
  const { route } = useLocation();
  const policies = useApi(() => must(api.GET("/alert-policies")).then((answer) => answer.alertPolicies), []);
  const newButton = session.can("manager") && (
    <button type="button" class="button primary" onClick={() => route("/alerts/new")}>
      New alert policy
    </button>
  );

  return (
    <Page
      title="Alert policies"
      subtitle="Templated HTTP requests sent when runs fail, succeed, run long, or dagflare itself has a problem."
      actions={newButton}
    >
      <ErrorBanner error={policies.error} />
      {!policies.data ? (
        policies.loading && <Loading />
      ) : policies.data.length === 0 ? (
        <EmptyState title="No alert policies yet">
          <p>
            An alert policy sends an HTTP request to a URL you choose (Discord, Slack, Jira, Linear, PagerDuty, Teams or
            your own service) when an event happens: a run fails, succeeds or runs too long, a schedule can't start a
            run, a DAG's spec is broken, the step runner is down, or a run metric crosses a threshold. You write the
            JSON body, with tokens like <code>{"{{alert_summary}}"}</code>, and every delivery is logged with the
            destination's answer.
          </p>
          {newButton || <p>A manager or admin can create one.</p>}
        </EmptyState>
      ) : (
        <div class="table-scroll">
          <table class="cards">
            <caption class="sr-only">Alert policies</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Events</th>
                <th scope="col">DAGs</th>
                <th scope="col">Destination</th>
                <th scope="col">Enabled</th>
              </tr>
            </thead>
            <tbody>
              {policies.data.map((policy) => (
                <tr key={policy.id} data-policy-id={policy.id}>
                  <td>
                    <a href={`/alerts/${encodeURIComponent(policy.id)}`}>
                      <strong>{policy.name}</strong>
                    </a>
                    {policy.description && <div class="muted small-text">{policy.description}</div>}
                  </td>
                  <td data-label="Events">
                    <span>
                      {policy.eventTypes.map((type) => (
                        <span key={type} class="tag mono">
                          {type}
                        </span>
                      ))}
                    </span>
                  </td>
                  <td data-label="DAGs">
                    {policy.dagNames.length === 0 && policy.tags.length === 0 ? (
                      <span class="muted">all DAGs</span>
                    ) : (
                      <span>
                        {policy.dagNames.join(", ")}
                        {policy.tags.length > 0 && <div class="muted small-text">tagged {policy.tags.join(", ")}</div>}
                      </span>
                    )}
                  </td>
                  <td data-label="Destination">
                    <span class="mono">{urlPart(policy.webhook?.url ?? "", "host")}</span>
                  </td>
                  <td data-label="Enabled">
                    {policy.enabled ? (
                      <span class="badge status-succeeded">enabled</span>
                    ) : (
                      <span class="badge">disabled</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}
