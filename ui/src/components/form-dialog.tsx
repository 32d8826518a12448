import type { ComponentChildren } from "preact";
import { useEffect } from "preact/hooks";
import { useAction } from "../lib/use-action.ts";
import { Dialog } from "./dialog.tsx";
import { ErrorBanner } from "./page.tsx";

type FormDialogProps = {
  open: boolean;
  title: string;
  submitLabel: string;
  /** Resolves when done (the caller closes the dialog); a rejection keeps it open with the error. */
  onSubmit: () => Promise<void>;
  onClose: () => void;
  children: ComponentChildren;
};

/** A dialog holding a form: the first field gets focus, Enter submits, Escape cancels. */
export function FormDialog({ open, title, submitLabel, onSubmit, onClose, children }: FormDialogProps) {
  const { run, busy, error, clearError } = useAction();
  // Cleared on closing as well as on opening, so a reopened dialog never shows (or announces) the last one's error.
  useEffect(clearError, [open]);
  const submit = (event: Event) => {
    event.preventDefault();
    void run(onSubmit);
  };
  return (
    <Dialog open={open} title={title} onClose={onClose}>
      <form onSubmit={submit}>
        {children}
        <ErrorBanner error={error} />
        <div class="actions">
          <button type="button" class="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="button primary" disabled={busy}>
            {submitLabel}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
