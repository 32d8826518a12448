import { useRef } from "preact/hooks";
import { CopyButton } from "./copy-button.tsx";

/**
 * A ready-made command or text to paste elsewhere (a curl, a request body), with its copy button
 * under it. The text stays selectable: where the clipboard is refused, Copy selects it instead.
 */
export function Snippet({
  text,
  copyLabel = "Copy",
  class: className,
}: {
  text: string;
  copyLabel?: string;
  class?: string;
}) {
  const code = useRef<HTMLElement>(null);
  return (
    <div class="snippet">
      <pre class={className}>
        <code ref={code}>{text}</code>
      </pre>
      <div>
        <CopyButton text={text} label={copyLabel} selectTarget={code} />
      </div>
    </div>
  );
}
