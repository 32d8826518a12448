import type { ComponentChildren } from "preact";
import { useRef } from "preact/hooks";
import { CopyButton } from "./copy-button.tsx";

/**
 * A secret the server returns in one response only (an API key, a webhook token, a signing
 * secret): visible as text so it can be selected even where the clipboard API is missing (Copy then
 * selects it for you).
 */
export function SecretOnce({ secret, what, children }: { secret: string; what: string; children?: ComponentChildren }) {
  const code = useRef<HTMLElement>(null);
  return (
    <div class="secret-once stack">
      <p class="notice" role="alert">
        Copy it now: this {what} won't be shown again.
      </p>
      <div class="secret">
        {/* Named by text, not aria-label: ARIA doesn't allow naming a <code>. */}
        <span class="sr-only">{what}:</span>
        <code ref={code}>{secret}</code>
        <CopyButton text={secret} label={`Copy ${what}`} selectTarget={code} />
      </div>
      {children}
    </div>
  );
}
