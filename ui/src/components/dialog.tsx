import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef } from "preact/hooks";
import { errorMessage } from "../api/client.ts";
import { useAction } from "../lib/use-action.ts";

/**
 * An in-page modal (<dialog> with showModal: focus moves in, Escape closes, the page behind is
 * inert). Never window.confirm: it can't be styled, tested or read well.
 */
export function Dialog({
  open,
  title,
  onClose,
  children,
}: {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  // Unique per dialog: a page mounts several, and each must be named by its own title.
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} class="dialog" aria-labelledby={titleId} onClose={onClose} onCancel={onClose}>
      {open && (
        <>
          <h2 id={titleId}>{title}</h2>
          {children}
        </>
      )}
    </dialog>
  );
}

type ConfirmProps = {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => Promise<void> | void;
  onClose: () => void;
};

/** "Are you sure?" with the action's own label on the button; shows the error if the action fails. */
export function ConfirmDialog({ open, title, children, confirmLabel, danger, onConfirm, onClose }: ConfirmProps) {
  const { run, busy, error, clearError } = useAction();
  // Cleared on closing as well as on opening, so a reopened dialog never shows (or announces) the last one's error.
  useEffect(clearError, [open]);
  const confirm = async () => {
    if (await run(async () => onConfirm())) onClose();
  };
  return (
    <Dialog open={open} title={title} onClose={onClose}>
      <div class="dialog-body">{children}</div>
      {error !== undefined && (
        <p class="error" role="alert">
          {errorMessage(error)}
        </p>
      )}
      <div class="actions">
        <button type="button" class="button" onClick={onClose}>
          Cancel
        </button>
        <button type="button" class={danger ? "button danger" : "button primary"} onClick={confirm} disabled={busy}>
          {confirmLabel}
        </button>
      </div>
    </Dialog>
  );
}
