import { useCallback, useEffect, useRef, useState } from "preact/hooks";

export type Loaded<T> = {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Load again now (after a change made on this page). */
  reload: () => Promise<void>;
};

/**
 * Loads data for a page, again whenever `deps` change, and every `pollMs` while `poll(data)` says
 * the data is still changing (active runs), else every `idlePollMs` if given (to notice runs that
 * start elsewhere). A failed poll keeps the last data and shows the error.
 */
export function useApi<T>(
  load: () => Promise<T>,
  deps: unknown[],
  options: { pollMs?: number; poll?: (data: T) => boolean; idlePollMs?: number } = {},
): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const reload = useCallback(async () => {
    const mine = ++generation.current;
    try {
      const next = await loadRef.current();
      if (mine !== generation.current) return;
      setData(next);
      setError(undefined);
    } catch (cause) {
      if (mine === generation.current) setError(cause);
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, []);

  useEffect(() => {
    setLoading(true);
    setData(undefined);
    void reload();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  const { pollMs = 2000, poll, idlePollMs } = options;
  const active = data !== undefined && poll !== undefined && poll(data);
  const interval = active ? pollMs : data !== undefined ? idlePollMs : undefined;
  useEffect(() => {
    if (interval === undefined) return;
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") void reload();
    }, interval);
    return () => clearInterval(timer);
  }, [interval, reload]);

  return { data, error, loading, reload };
}
