import { useCallback, useState } from "preact/hooks";

type Action = {
  /** Runs the action once at a time; resolves true when it succeeded, false when it failed (see `error`). */
  run: (action: () => Promise<unknown>) => Promise<boolean>;
  busy: boolean;
  error: unknown;
  clearError: () => void;
};

/** A button's action: busy while it runs (so it can't be sent twice), its failure kept to show. */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const run = useCallback(async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
      return true;
    } catch (cause) {
      setError(cause);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  const clearError = useCallback(() => setError(undefined), []);
  return { run, busy, error, clearError };
}
