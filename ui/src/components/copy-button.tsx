import type { RefObject } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

type CopyState = "idle" | "copied" | "selected" | "failed";

const SHOWN: Record<CopyState, (label: string) => string> = {
  idle: (label) => label,
  copied: () => "Copied",
  selected: () => "Copy failed — it's selected: press Ctrl+C (⌘C)",
  failed: () => "Copy failed — select the text and copy it",
};

/**
 * Copies `text` to the clipboard and says so (visibly on the button, and to screen readers
 * through a separate live region). Where the clipboard API is missing or refuses (plain http),
 * it selects `selectTarget` (the element showing the text) so Ctrl+C copies it, or asks for that.
 */
export function CopyButton({
  text,
  label = "Copy",
  selectTarget,
}: {
  text: string;
  label?: string;
  selectTarget?: RefObject<HTMLElement | null>;
}) {
  const [state, setState] = useState<CopyState>("idle");
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);

  const copy = async () => {
    clearTimeout(timer.current);
    // Empty first, so copying twice in a row is announced twice.
    setState("idle");
    let next: CopyState;
    try {
      await navigator.clipboard.writeText(text);
      next = "copied";
    } catch {
      next = selectText(selectTarget?.current) ? "selected" : "failed";
    }
    setState(next);
    // A failure stays longer: it asks for something to be done.
    timer.current = setTimeout(() => setState("idle"), next === "copied" ? 2000 : 6000);
  };

  return (
    <>
      <button type="button" class="button small" onClick={copy}>
        {SHOWN[state](label)}
      </button>
      <span class="sr-only" aria-live="polite">
        {state === "idle" ? "" : SHOWN[state](label)}
      </span>
    </>
  );
}

/** Selects what `element` shows (an input's value, else its text); false if there is nothing to select. */
function selectText(element: HTMLElement | null | undefined): boolean {
  if (!element) return false;
  if (element instanceof HTMLInputElement || element instanceof HTMLTextAreaElement) {
    element.focus();
    element.select();
    return true;
  }
  const selection = document.getSelection();
  if (!selection) return false;
  selection.selectAllChildren(element);
  return true;
}
