import { useCallback, useEffect, useRef, useState } from "preact/hooks";

type Loaded<T> = {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Load again now (after a change made on this page); true once the new data is in. */
  reload: () => Promise<boolean>;
};

type Options<T> = {
  /** While this says the data is still changing (active runs), load again every `pollMs`. */
  poll?: (data: T) => boolean;
  pollMs?: number;
  /** Otherwise load again every `idlePollMs`, if given (to notice runs that start elsewhere). */
  idlePollMs?: number;
  /** Keep showing the previous data while new `deps` load (a search as you type). */
  keepPrevious?: boolean;
};

/** A first load that failed is tried again after this long (the server may be restarting). */
const RETRY_MS = 5000;

/**
 * Loads data for a page, again whenever `deps` change, and polls as the options say. The next
 * poll is scheduled only once the previous answer is in, so a slow server never piles up
 * requests. A failed poll keeps the last data and shows the error.
 */
export function useApi<T>(load: () => Promise<T>, deps: unknown[], options: Options<T> = {}): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const [settledAt, setSettledAt] = useState(0);
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const reload = useCallback(async () => {
    const mine = ++generation.current;
    try {
      const next = await loadRef.current();
      if (mine !== generation.current) return false;
      setData(next);
      setError(undefined);
      return true;
    } catch (cause) {
      if (mine === generation.current) setError(cause);
      return false;
    } finally {
      if (mine === generation.current) {
        setLoading(false);
        setSettledAt(Date.now());
      }
    }
  }, []);

  useEffect(() => {
    setLoading(true);
    if (!options.keepPrevious) setData(undefined);
    void reload();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  const { poll, pollMs = 2000, idlePollMs } = options;
  const active = data !== undefined && (poll?.(data) ?? false);
  const interval = data === undefined ? (error ? RETRY_MS : undefined) : active ? pollMs : idlePollMs;
  useEffect(() => {
    if (interval === undefined || settledAt === 0) return;
    // One timer per settled answer: the next request starts only after this one is in.
    const timer = setTimeout(() => {
      if (document.visibilityState === "visible") void reload();
      else setSettledAt(Date.now());
    }, interval);
    return () => clearTimeout(timer);
  }, [interval, settledAt, reload]);

  return { data, error, loading, reload };
}
