/**
 * The webhook panel's IP allowlist: one CIDR (IPv4 or IPv6) or address a line; an empty list
 * admits every address. The server checks and canonicalises each entry and names a bad one.
 */
import { useState } from "preact/hooks";
import type { Schemas } from "../api/client.ts";

type AllowedIpsProps = {
  webhook: Schemas["WebhookDetails"];
  busy: boolean;
  onSave: (allowedIps: string[]) => Promise<void>;
  onFailure: (error: unknown) => void;
};

export function WebhookAllowedIps({ webhook, busy, onSave, onFailure }: AllowedIpsProps) {
  const [text, setText] = useState(webhook.allowedIps.join("\n"));
  const entries = text
    .split(/[\s,]+/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");

  const submit = (event: Event) => {
    event.preventDefault();
    void onSave(entries).catch(onFailure);
  };

  return (
    <details class="webhook-allowed-ips" open={webhook.allowedIps.length > 0}>
      <summary>
        Allowed addresses{" "}
        <span class="muted">
          (
          {webhook.allowedIps.length === 0
            ? "any"
            : `${webhook.allowedIps.length} range${webhook.allowedIps.length === 1 ? "" : "s"}`}
          )
        </span>
      </summary>
      <form class="stack" onSubmit={submit}>
        <label>
          IP ranges (CIDR, one a line)
          <textarea
            name="allowedIps"
            rows={Math.min(8, Math.max(3, entries.length + 1))}
            spellcheck={false}
            placeholder={"192.30.252.0/22\n2606:50c0::/32"}
            value={text}
            onInput={(event) => setText(event.currentTarget.value)}
          />
        </label>
        <p class="muted small-text">
          Triggers from any other address (CF-Connecting-IP) are refused with 403 and count as failed attempts. Leave
          empty to accept every address.
        </p>
        <div class="row">
          <button type="submit" class="button" disabled={busy}>
            Save addresses
          </button>
        </div>
      </form>
    </details>
  );
}
