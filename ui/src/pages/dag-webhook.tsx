/**
 * The DAG page's webhook panel, the seed's flow: Create Webhook → the token once, with a copy
 * button, a warning and a ready curl command (copy button too); afterwards only its prefix, its
 * enabled switch and times, with Regenerate and Delete. Signed senders (GitHub, Slack, Standard Webhooks) get
 * their own signing secret, also shown once. Operators and up also see the inbound log (Recent
 * requests) with Replay.
 */
import { useState } from "preact/hooks";
import { API_BASE, api, must, type Schemas } from "../api/client.ts";
import { CopyButton } from "../components/copy-button.tsx";
import { ConfirmDialog } from "../components/dialog.tsx";
import { ErrorBanner, Loading } from "../components/page.tsx";
import { SecretOnce } from "../components/secret-once.tsx";
import { Snippet } from "../components/snippet.tsx";
import { Time } from "../components/time.tsx";
import { WebhookAllowedIps } from "../components/webhook-allowed-ips.tsx";
import { AUTH_MODE_LABELS, SIGNATURE_SCHEMES, type SignatureScheme } from "../components/webhook-labels.ts";
import { WebhookRequests } from "../components/webhook-requests.tsx";
import { useSession } from "../lib/session.tsx";
import { useApi } from "../lib/use-api.ts";

type Webhook = Schemas["WebhookDetails"];
type Revealed = { kind: "token" | "signing secret"; value: string };
type Pending = "regenerate" | "delete" | "rotate-signing" | "remove-signing" | null;
type Changed = { webhook: Webhook; token?: string; signingSecret?: string } | Webhook | undefined;

const schemeLabel = (scheme: SignatureScheme) =>
  `${SIGNATURE_SCHEMES[scheme].name} (${SIGNATURE_SCHEMES[scheme].header})`;

export function WebhookPanel({ dagName }: { dagName: string }) {
  const session = useSession();
  if (session.status !== "signed-in") return null;
  return (
    <section class="card webhook-panel" aria-labelledby="webhook-title">
      <h2 id="webhook-title">Webhook</h2>
      {session.authMode === "none" ? (
        <p class="muted">
          Webhooks need builtin authentication (AUTH_MODE=builtin): with AUTH_MODE=none anyone could trigger any DAG.
        </p>
      ) : session.can("admin") ? (
        <WebhookManager dagName={dagName} />
      ) : (
        <p class="muted">Only admins create and manage webhook tokens.</p>
      )}
      {session.authMode !== "none" && session.can("operator") && <WebhookRequests dagName={dagName} />}
    </section>
  );
}

function WebhookManager({ dagName }: { dagName: string }) {
  const path = { params: { path: { fileName: dagName } } };
  // Dagu's GET /dags/{fileName}/webhook answers 404 for a DAG without one, an error in the
  // console of every such DAG's page: the list says the same with a 200.
  const webhook = useApi(
    async (): Promise<Webhook | null> =>
      (await must(api.GET("/webhooks"))).webhooks.find((candidate) => candidate.dagName === dagName) ?? null,
    [dagName],
  );
  const [revealed, setRevealed] = useState<Revealed>();
  const [pending, setPending] = useState<Pending>(null);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  /** Runs a change, then shows the webhook as the server now has it; a failure is the caller's to show. */
  const change = async (action: () => Promise<Changed>) => {
    setBusy(true);
    setError(undefined);
    try {
      const result = await action();
      if (result && "token" in result && result.token) setRevealed({ kind: "token", value: result.token });
      else if (result && "signingSecret" in result && result.signingSecret)
        setRevealed({ kind: "signing secret", value: result.signingSecret });
      else setRevealed(undefined);
      await webhook.reload();
    } finally {
      setBusy(false);
    }
  };
  /** A change started by a button of the panel itself: its failure shows in the panel. */
  const changeHere = (action: () => Promise<Changed>) => void change(action).catch(setError);
  const toggle = (enabled: boolean) =>
    changeHere(() => must(api.POST("/dags/{fileName}/webhook/toggle", { ...path, body: { enabled } })));

  if (webhook.loading && webhook.data === undefined) return <Loading />;
  if (webhook.error) return <ErrorBanner error={webhook.error} />;
  const current = webhook.data ?? null;
  const triggerUrl = `${location.origin}${API_BASE}/webhooks/${encodeURIComponent(dagName)}`;
  // A secret on screen is gone once read: "Done" (or leaving the page) forgets it.
  const done = (
    <button type="button" class="button" onClick={() => setRevealed(undefined)}>
      Done
    </button>
  );

  return (
    <div class="stack">
      {revealed?.kind === "token" && (
        <SecretOnce secret={revealed.value} what="token">
          <p class="muted">Trigger a run (the JSON body becomes WEBHOOK_PAYLOAD):</p>
          <Snippet
            class="curl"
            copyLabel="Copy command"
            text={`curl -X POST ${triggerUrl} \\
  -H "Authorization: Bearer ${revealed.value}" \\
  -H "Content-Type: application/json" \\
  -d '{"branch": "main", "commit": "abc123"}'`}
          />
          {done}
        </SecretOnce>
      )}
      {revealed?.kind === "signing secret" && (
        <SecretOnce secret={revealed.value} what="signing secret">
          <p class="muted">Paste it where the sender asks for its webhook secret.</p>
          {done}
        </SecretOnce>
      )}
      <ErrorBanner error={error} />
      {current === null ? (
        <>
          <p>
            Give CI/CD pipelines, GitHub or any HTTP client a token that starts this DAG (and only this DAG) with a{" "}
            <code>POST</code> to <code>{triggerUrl}</code>.
          </p>
          <div>
            <button
              type="button"
              class="button primary"
              disabled={busy}
              onClick={() => changeHere(() => must(api.POST("/dags/{fileName}/webhook", path)))}
            >
              Create Webhook
            </button>
          </div>
        </>
      ) : (
        <>
          <dl class="facts">
            <dt>Token</dt>
            <dd>
              <code>{current.tokenPrefix}…</code>
            </dd>
            <dt>State</dt>
            <dd>
              <label class="switch">
                <input
                  type="checkbox"
                  role="switch"
                  aria-checked={current.enabled}
                  checked={current.enabled}
                  disabled={busy}
                  onChange={(event) => toggle(event.currentTarget.checked)}
                />
                {/* The one control for the state: its name stays, aria-checked says on or off. */}
                Enabled
              </label>
              {!current.enabled && (
                <span class="muted small-text">Triggers are refused (403) until enabled again.</span>
              )}
            </dd>
            <dt>Endpoint</dt>
            <dd>
              <span class="mono">POST {triggerUrl}</span> <CopyButton text={triggerUrl} label="Copy URL" />
            </dd>
            <dt>Created</dt>
            <dd>
              <Time value={current.createdAt} />
            </dd>
            <dt>Updated</dt>
            <dd>
              <Time value={current.updatedAt} />
            </dd>
            <dt>Last used</dt>
            <dd>
              <Time value={current.lastUsedAt} fallback="never" />
            </dd>
            <dt>Accepts</dt>
            <dd>
              {AUTH_MODE_LABELS[current.authMode]}
              {current.signature && ` · ${schemeLabel(current.signature.scheme)}`}
            </dd>
          </dl>
          <div class="row">
            <button type="button" class="button" disabled={busy} onClick={() => setPending("regenerate")}>
              Regenerate
            </button>
            <button type="button" class="button" disabled={busy} onClick={() => setPending("delete")}>
              Delete
            </button>
          </div>
          <SignedSenders
            // Shown afresh whenever the server's signing settings change (set up, removed).
            key={`${current.signature?.scheme ?? "none"}:${current.authMode}`}
            webhook={current}
            busy={busy}
            onConfigure={(body) => change(() => must(api.PUT("/dags/{fileName}/webhook/signature", { ...path, body })))}
            onFailure={setError}
            onAsk={setPending}
          />
          <WebhookAllowedIps
            key={current.allowedIps.join(" ")}
            webhook={current}
            busy={busy}
            onSave={(allowedIps) =>
              change(() => must(api.PUT("/dags/{fileName}/webhook/allowed-ips", { ...path, body: { allowedIps } })))
            }
            onFailure={setError}
          />
        </>
      )}
      <ConfirmDialog
        open={pending === "regenerate"}
        title="Regenerate the webhook token?"
        confirmLabel="Regenerate"
        onClose={() => setPending(null)}
        onConfirm={() => change(() => must(api.POST("/dags/{fileName}/webhook/regenerate", path)))}
      >
        <p>The current token stops working at once. Every sender must be given the new one, which is shown once.</p>
      </ConfirmDialog>
      <ConfirmDialog
        open={pending === "delete"}
        title="Delete the webhook?"
        confirmLabel="Delete"
        danger
        onClose={() => setPending(null)}
        onConfirm={() => change(async () => void (await must(api.DELETE("/dags/{fileName}/webhook", path))))}
      >
        <p>Its token stops working at once. You can create a new webhook later (with a new token).</p>
      </ConfirmDialog>
      <ConfirmDialog
        open={pending === "rotate-signing"}
        title="Rotate the signing secret?"
        confirmLabel="Rotate signing secret"
        onClose={() => setPending(null)}
        onConfirm={() => change(() => must(api.POST("/dags/{fileName}/webhook/signature/regenerate", path)))}
      >
        <p>Signatures made with the current secret stop being accepted at once. The new secret is shown once.</p>
      </ConfirmDialog>
      <ConfirmDialog
        open={pending === "remove-signing"}
        title="Stop accepting signed requests?"
        confirmLabel="Remove signing"
        danger
        onClose={() => setPending(null)}
        onConfirm={() => change(() => must(api.DELETE("/dags/{fileName}/webhook/signature", path)))}
      >
        <p>Only the token will be accepted; senders that sign without it will be refused.</p>
      </ConfirmDialog>
    </div>
  );
}

type SignatureBody = { scheme: SignatureScheme; authMode: "token_or_signature" | "signature"; secret?: string };

/** Signed senders: GitHub, Slack or Standard Webhooks sign each request instead of sending the token. */
type SignedSendersProps = {
  webhook: Webhook;
  busy: boolean;
  onConfigure: (body: SignatureBody) => Promise<void>;
  onFailure: (error: unknown) => void;
  onAsk: (pending: Pending) => void;
};

function SignedSenders({ webhook, busy, onConfigure, onFailure, onAsk }: SignedSendersProps) {
  const [scheme, setScheme] = useState<SignatureScheme>(webhook.signature?.scheme ?? "github");
  const [authMode, setAuthMode] = useState<SignatureBody["authMode"]>(
    webhook.authMode === "signature" ? "signature" : "token_or_signature",
  );
  const [slackSecret, setSlackSecret] = useState("");

  const submit = (event: Event) => {
    event.preventDefault();
    void onConfigure(scheme === "slack" ? { scheme, authMode, secret: slackSecret } : { scheme, authMode }).then(
      () => setSlackSecret(""),
      onFailure,
    );
  };

  return (
    <details class="signed-senders" open={webhook.signature !== null}>
      <summary>Signed senders (GitHub, Slack, Standard Webhooks)</summary>
      <form class="stack" onSubmit={submit}>
        <p class="muted">
          Senders that sign their requests can trigger this DAG without the token: the signature over the exact body
          proves the request came from them.
        </p>
        <label>
          Scheme
          <select value={scheme} onChange={(event) => setScheme(event.currentTarget.value as SignatureScheme)}>
            {(Object.keys(SIGNATURE_SCHEMES) as SignatureScheme[]).map((key) => (
              <option key={key} value={key}>
                {schemeLabel(key)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Accept
          <select
            value={authMode}
            onChange={(event) => setAuthMode(event.currentTarget.value as SignatureBody["authMode"])}
          >
            <option value="token_or_signature">{AUTH_MODE_LABELS.token_or_signature}</option>
            <option value="signature">{AUTH_MODE_LABELS.signature}</option>
          </select>
        </label>
        {scheme === "slack" && (
          <label>
            Slack signing secret
            <input
              type="password"
              autoComplete="off"
              required
              minLength={16}
              value={slackSecret}
              onInput={(event) => setSlackSecret(event.currentTarget.value)}
            />
          </label>
        )}
        <p class="muted small-text">
          The secret goes in {SIGNATURE_SCHEMES[scheme].secretGoesIn}.
          {scheme !== "slack" && " dagflare generates it and shows it once."}
        </p>
        <div class="row">
          <button type="submit" class="button" disabled={busy}>
            {webhook.signature ? "Update signing" : "Set up signing"}
          </button>
          {webhook.signature && webhook.signature.scheme !== "slack" && (
            <button type="button" class="button" disabled={busy} onClick={() => onAsk("rotate-signing")}>
              Rotate signing secret
            </button>
          )}
          {webhook.signature && (
            <button type="button" class="button" disabled={busy} onClick={() => onAsk("remove-signing")}>
              Remove signing
            </button>
          )}
        </div>
      </form>
    </details>
  );
}
