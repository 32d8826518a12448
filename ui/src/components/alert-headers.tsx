/**
 * The secret parts of an alert's request: headers as name/value rows and the Standard Webhooks
 * signing secret. Saved values never come back from the server (it sends them redacted); a saved
 * one shows masked until replaced, and is sent back redacted so the server keeps it.
 */
import { useId, useRef } from "preact/hooks";
import { generateSigningSecret, type HeaderRow, headerRow } from "./alert-policy-draft.ts";
import { CopyButton } from "./copy-button.tsx";

type HeadersProps = { rows: HeaderRow[]; onChange: (rows: HeaderRow[]) => void; readOnly: boolean };

export function HeadersEditor({ rows, onChange, readOnly }: HeadersProps) {
  const update = (key: number, patch: Partial<HeaderRow>) =>
    onChange(rows.map((row) => (row.key === key ? { ...row, ...patch } : row)));
  return (
    <fieldset class="headers-editor">
      <legend>Headers</legend>
      {rows.length === 0 && <p class="muted small-text">No headers. content-type: application/json is always sent.</p>}
      {rows.length > 0 && (
        <ul class="header-rows">
          {rows.map((row, index) => {
            // Every row's fields and buttons say which row they belong to. The key field is named by
            // its position (a name made of its own value would change with every keystroke); the rest
            // by the header's name once it has one.
            const position = `row ${index + 1}`;
            const which = row.name.trim() || position;
            return (
              <li key={row.key} class="header-row">
                <input
                  aria-label={`Header key, ${position}`}
                  class="mono"
                  placeholder="Authorization"
                  value={row.name}
                  readOnly={row.stored || readOnly}
                  onInput={(event) => update(row.key, { name: event.currentTarget.value })}
                />
                {row.stored ? (
                  <input
                    aria-label={`Header value, ${which}`}
                    class="mono"
                    type="password"
                    value={row.value}
                    readOnly
                    title="Saved; the server never shows it again"
                  />
                ) : (
                  <input
                    aria-label={`Header value, ${which}`}
                    class="mono"
                    placeholder={row.placeholder ?? "value, or {{env.ALERT_SECRET_NAME}}"}
                    value={row.value}
                    readOnly={readOnly}
                    onInput={(event) => update(row.key, { value: event.currentTarget.value })}
                  />
                )}
                {!readOnly && (
                  <span class="row">
                    {row.stored && (
                      <button
                        type="button"
                        class="button small"
                        aria-label={`Replace the value of header ${which}`}
                        onClick={() => update(row.key, { stored: false, value: "" })}
                      >
                        Replace
                      </button>
                    )}
                    <button
                      type="button"
                      class="button small"
                      aria-label={`Remove header ${which}`}
                      onClick={() => onChange(rows.filter((other) => other.key !== row.key))}
                    >
                      Remove
                    </button>
                  </span>
                )}
              </li>
            );
          })}
        </ul>
      )}
      {!readOnly && (
        <div class="row">
          <button type="button" class="button small" onClick={() => onChange([...rows, headerRow()])}>
            Add header
          </button>
          <span class="muted small-text">
            Saved values are encrypted and shown masked. <code>{"{{env.ALERT_SECRET_…}}"}</code> in a value names a
            Worker secret.
          </span>
        </div>
      )}
    </fieldset>
  );
}

/** `onChange` gets what is typed or generated; "" (after Replace secret) means unsigned unless something is entered. */
type SecretProps = { value: string; stored: boolean; onChange: (value: string) => void; readOnly: boolean };

export function SigningSecretField({ value, stored, onChange, readOnly }: SecretProps) {
  const inputId = useId();
  const input = useRef<HTMLInputElement>(null);
  return (
    <div class="stack">
      {stored ? (
        <div class="row">
          <span>Signing secret</span>
          <span class="badge">set</span>
          {!readOnly && (
            <button
              type="button"
              class="button small"
              onClick={() => onChange("")}
              title="Enter a new secret, or leave it empty to stop signing"
            >
              Replace secret
            </button>
          )}
        </div>
      ) : (
        <div class="stack tight">
          <label for={inputId}>Signing secret (optional)</label>
          <span class="row">
            <input
              id={inputId}
              ref={input}
              class="mono grow"
              placeholder="whsec_…"
              value={value}
              readOnly={readOnly}
              onInput={(event) => onChange(event.currentTarget.value.trim())}
            />
            {!readOnly && (
              <button type="button" class="button small" onClick={() => onChange(generateSigningSecret())}>
                Generate
              </button>
            )}
            {value && <CopyButton text={value} label="Copy signing secret" selectTarget={input} />}
          </span>
        </div>
      )}
      <p class="muted small-text">
        With a secret, each request carries Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature)
        so the receiver can check it came from here.
        {!stored && value && " Copy it now: once saved it is not shown again."}
      </p>
    </div>
  );
}
