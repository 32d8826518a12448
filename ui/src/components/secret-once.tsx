import type { ComponentChildren } from "preact";
import { CopyButton } from "./copy-button.tsx";

/**
 * A secret the server returns in one response only (an API key, a webhook token, a signing
 * secret): visible as text so it can be selected even where the clipboard API is missing.
 */
export function SecretOnce({ secret, what, children }: { secret: string; what: string; children?: ComponentChildren }) {
  return (
    <div class="secret-once stack">
      <p class="notice" role="alert">
        Copy it now: this {what} won't be shown again.
      </p>
      <div class="secret">
        <code aria-label={what}>{secret}</code>
        <CopyButton text={secret} label={`Copy ${what}`} />
      </div>
      {children}
    </div>
  );
}
