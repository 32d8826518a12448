import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { Schemas } from "../api/client.ts";
import { useApi } from "../lib/use-api.ts";
import { ErrorBanner, Loading } from "./page.tsx";

/** Lines shown first, and added by each "Load older": the newest lines are what one looks for. */
const TAIL_LINES = 500;

type Props = {
  /** Names the log for screen readers, e.g. "stdout of build". */
  label: string;
  /** Fetches the last `tail` lines, or every line when `tail` is undefined. */
  load: (tail: number | undefined) => Promise<Schemas["Log"]>;
  /** Still being written: offers "Follow", which polls and keeps the newest line in view. */
  live: boolean;
  /** Changes when the log may have changed unseen (its step started, finished or ran again): fetched anew then. */
  revision?: string;
  emptyText?: string;
};

/**
 * A log's tail, with older lines on request. Give it a `key` per source (step and stream) so a
 * different log starts again from its tail.
 */
export function LogView({ label, load, live, revision = "", emptyText = "No output." }: Props) {
  const [follow, setFollow] = useState(true);
  // How many of the last lines to show (undefined: all). A ref, not state: the reload right
  // after "Load older" must already ask for the new range, and the new data re-renders anyway.
  const tail = useRef<number | undefined>(TAIL_LINES);
  const log = useApi(() => load(tail.current), [], { poll: () => live && follow });

  // Polling stops when the step finishes, but its last lines arrive with that: fetch once more.
  const seenRevision = useRef(revision);
  useEffect(() => {
    if (seenRevision.current === revision) return;
    seenRevision.current = revision;
    void log.reload();
  }, [revision]);

  // Keep the reader where they were, counted from the bottom: older lines arrive above, and
  // following means staying at the bottom.
  const pre = useRef<HTMLPreElement>(null);
  const fromBottom = useRef(0);
  const remember = () => {
    const element = pre.current;
    if (element) fromBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight;
  };
  useLayoutEffect(() => {
    const element = pre.current;
    if (element)
      element.scrollTop = element.scrollHeight - element.clientHeight - (live && follow ? 0 : fromBottom.current);
  }, [log.data?.content, follow]);

  const showLines = (next: number | undefined) => {
    tail.current = next;
    void log.reload();
  };

  const data = log.data;
  return (
    <div class="log-view">
      {(data?.hasMore || live) && (
        <div class="log-toolbar">
          {data?.hasMore && (
            <>
              <span class="muted small-text">
                Last {data.lineCount} of {data.totalLines} lines
              </span>
              <button type="button" class="button small" onClick={() => showLines((tail.current ?? 0) + TAIL_LINES)}>
                Load older
              </button>
              <button type="button" class="button small" onClick={() => showLines(undefined)}>
                Load all
              </button>
            </>
          )}
          {live && (
            <label class="switch small-text">
              <input type="checkbox" checked={follow} onChange={(event) => setFollow(event.currentTarget.checked)} />
              Follow
            </label>
          )}
        </div>
      )}
      <ErrorBanner error={log.error} />
      {!data ? (
        log.loading && <Loading />
      ) : data.totalLines === 0 ? (
        <p class="muted log-empty">{emptyText}</p>
      ) : (
        <pre class="log" ref={pre} onScroll={remember} tabIndex={0} aria-label={label}>
          {data.content}
        </pre>
      )}
    </div>
  );
}
