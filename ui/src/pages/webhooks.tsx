import { api, must } from "../api/client.ts";
import { AdminOnly } from "../components/admin-only.tsx";
import { dagHref } from "../components/links.ts";
import { EmptyState, ErrorBanner, Loading, Page } from "../components/page.tsx";
import { Time } from "../components/time.tsx";
import { AUTH_MODE_LABELS, SIGNATURE_SCHEMES } from "../components/webhook-labels.ts";
import { useSession } from "../lib/session.tsx";
import { useApi } from "../lib/use-api.ts";

export function WebhooksPage() {
  return (
    <AdminOnly title="Webhooks" message="Only admins can see webhooks.">
      <WebhookList />
    </AdminOnly>
  );
}

/** Read-only: a webhook is created, regenerated, signed or disabled on its DAG's page. */
function WebhookList() {
  const session = useSession();
  // The server turns webhooks off without logins: nobody could be given a token.
  const off = session.status === "signed-in" && session.authMode === "none";
  const webhooks = useApi(async () => (off ? [] : (await must(api.GET("/webhooks"))).webhooks), [off]);

  return (
    <Page title="Webhooks" subtitle="Every DAG's webhook. Create, regenerate, sign or disable one on its DAG's page.">
      <ErrorBanner error={webhooks.error} />
      {off ? (
        <EmptyState title="Webhooks are off">AUTH_MODE is none, so the server accepts no webhook triggers.</EmptyState>
      ) : webhooks.loading ? (
        <Loading />
      ) : webhooks.data?.length === 0 ? (
        <EmptyState title="No webhooks yet — create one from a DAG's page">
          <a href="/dags">Go to DAGs</a>
        </EmptyState>
      ) : (
        webhooks.data && (
          <div class="table-scroll">
            <table class="cards">
              <caption class="sr-only">Webhooks, one per DAG</caption>
              <thead>
                <tr>
                  <th scope="col">DAG</th>
                  <th scope="col">Token</th>
                  <th scope="col">Status</th>
                  <th scope="col">Auth</th>
                  <th scope="col">Signature</th>
                  <th scope="col">Created</th>
                  <th scope="col">Updated</th>
                  <th scope="col">Last used</th>
                </tr>
              </thead>
              <tbody>
                {webhooks.data.map((webhook) => (
                  <tr key={webhook.id}>
                    <td>
                      <a href={dagHref(webhook.dagName)}>{webhook.dagName}</a>
                    </td>
                    <td data-label="Token">
                      <code>{webhook.tokenPrefix}…</code>
                    </td>
                    <td data-label="Status">
                      <span class={webhook.enabled ? "badge on" : "badge off"}>
                        {webhook.enabled ? "enabled" : "disabled"}
                      </span>
                    </td>
                    <td data-label="Auth">{AUTH_MODE_LABELS[webhook.authMode]}</td>
                    <td data-label="Signature">
                      {webhook.signature ? (
                        SIGNATURE_SCHEMES[webhook.signature.scheme].name
                      ) : (
                        <span class="muted">—</span>
                      )}
                    </td>
                    <td data-label="Created">
                      <Time value={webhook.createdAt} />
                    </td>
                    <td data-label="Updated">
                      <Time value={webhook.updatedAt} />
                    </td>
                    <td data-label="Last used">
                      <Time value={webhook.lastUsedAt} fallback="never" />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      )}
    </Page>
  );
}
