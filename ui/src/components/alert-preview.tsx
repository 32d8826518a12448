/**
 * The body an alert would send, for a sample event. A saved policy without unsaved changes is
 * rendered by the server (POST /alert-policies/{id}/preview: a full sample event, exactly as it
 * would be sent). The API has no preview of a draft, and the draft test endpoint really sends,
 * so while editing the body is rendered here, with the server's own rendering code
 * (src/alerts/destinations.ts: escaped and fitted for the destination) and each token's example
 * value, which for the deployment's tokens and links is this deployment's (GET /alert-tokens).
 */
import { useRef } from "preact/hooks";
import { type DestinationChoice, destinationKind, renderBody } from "../../../src/alerts/destinations.ts";
import { checkTemplate, type TemplateCheck } from "../../../src/alerts/template.ts";
import { api, must } from "../api/client.ts";
import { prettyJson } from "../lib/format.ts";
import { useApi } from "../lib/use-api.ts";
import { DESTINATION_LABELS, type EventType, type TokenReference } from "./alert-policy-draft.ts";
import { exampleValues } from "./alert-token-picker.tsx";
import { CopyButton } from "./copy-button.tsx";
import { ErrorBanner } from "./page.tsx";

export { checkTemplate, type TemplateCheck };

type Rendered = { url: string; body: string };

type Props = {
  eventType: EventType;
  /** The draft's body, already checked (the page checks it once for the preview and the editor's error marks). */
  check: TemplateCheck;
  /** The template text `check` was made from. */
  body: string;
  url: string;
  destination: DestinationChoice;
  policyName: string;
  reference: TokenReference;
  /** Set when the policy is saved and unchanged: the server renders it. */
  saved?: { id: string; updatedAt: string };
};

export function AlertPreview({ eventType, check, body, url, destination, policyName, reference, saved }: Props) {
  return saved ? (
    <ServerPreview id={saved.id} version={saved.updatedAt} eventType={eventType} />
  ) : (
    <LocalPreview {...{ eventType, check, body, url, destination, policyName, reference }} />
  );
}

function LocalPreview({ eventType, check, body, url, destination, policyName, reference }: Omit<Props, "saved">) {
  if (!check.ok) {
    return (
      <div class="preview">
        <p class="muted small-text">The body can't be rendered until it is valid:</p>
        <ul class="spec-errors">
          {check.errors.map((error) => (
            <li key={`${error.line}:${error.column}:${error.message}`}>
              Line {error.line}, column {error.column}: {error.message}
            </li>
          ))}
        </ul>
      </div>
    );
  }
  const values = {
    ...exampleValues(reference, eventType),
    is_sample: "true",
    ...(policyName.trim() ? { alert_policy_name: policyName.trim() } : {}),
  };
  const kind = destinationKind(destination, url.trim());
  const fitted = kind === "generic" ? "" : ` Escaped and fitted for ${DESTINATION_LABELS[kind]}, as it will be sent.`;
  return (
    <RenderedRequest
      rendered={{ url, body: renderBody(check.tree, body, kind, values) }}
      caption={`Rendered as you type, with each token's example value and this deployment's name and URL.${fitted} Send test (and the saved policy's preview) use a full sample event.`}
      warnings={check.warnings}
    />
  );
}

function ServerPreview({ id, version, eventType }: { id: string; version: string; eventType: EventType }) {
  // `version` (the policy's updatedAt) renders it again after a save.
  const preview = useApi<Rendered>(
    () => must(api.POST("/alert-policies/{id}/preview", { params: { path: { id } }, body: { eventType } })),
    [id, version, eventType],
  );
  if (preview.error) return <ErrorBanner error={preview.error} />;
  if (!preview.data)
    return (
      <p class="muted" aria-busy="true">
        Rendering…
      </p>
    );
  return (
    <RenderedRequest
      rendered={preview.data}
      caption="The saved policy, rendered by the server for a sample event exactly as it would be sent."
    />
  );
}

function RenderedRequest({
  rendered,
  caption,
  warnings = [],
}: {
  rendered: Rendered;
  caption: string;
  warnings?: string[];
}) {
  const pre = useRef<HTMLPreElement>(null);
  return (
    <div class="preview">
      <p class="preview-request">
        <span class="badge">POST</span> <code>{rendered.url || "(no URL yet)"}</code>
      </p>
      {warnings.map((warning) => (
        <p key={warning} class="notice small-text">
          {warning}
        </p>
      ))}
      {/* Indented for reading; what is sent (and copied) is the compact form. */}
      <pre class="preview-body" tabIndex={0} aria-label="Rendered request" ref={pre}>
        {prettyJson(rendered.body)}
      </pre>
      <div class="row">
        <CopyButton text={rendered.body} label="Copy body" selectTarget={pre} />
        <p class="muted small-text">{caption}</p>
      </div>
    </div>
  );
}
