/** Dagu's Log shape: a page of a run's event log or of a step's stdout/stderr. */

export type LogRange = {
  tail?: number | undefined;
  head?: number | undefined;
  offset?: number | undefined;
  limit?: number | undefined;
};

/** A text's lines; a final newline ends the last line rather than starting another (so `tail=1` isn't empty). */
export function textLines(text: string): { lines: string[]; endsWithNewline: boolean } {
  const endsWithNewline = text.endsWith("\n");
  const lines = text === "" ? [] : (endsWithNewline ? text.slice(0, -1) : text).split("\n");
  return { lines, endsWithNewline };
}

/**
 * Dagu's log paging: `head`, `tail`, or `offset` (1-based) with `limit`. A text's final newline
 * is kept on its last line when that line is shown, so a whole log reads back unchanged.
 */
export function logPage(lines: string[], range: LogRange, endsWithNewline = false) {
  let [from, to] = [0, lines.length];
  if (range.tail !== undefined) from = Math.max(0, lines.length - range.tail);
  else if (range.head !== undefined) to = Math.min(lines.length, range.head);
  else if (range.offset !== undefined || range.limit !== undefined) {
    from = Math.min(lines.length, (range.offset ?? 1) - 1);
    to = range.limit === undefined ? lines.length : Math.min(lines.length, from + range.limit);
  }
  const selected = lines.slice(from, to);
  const content = selected.join("\n") + (endsWithNewline && selected.length > 0 && to === lines.length ? "\n" : "");
  return { content, lineCount: selected.length, totalLines: lines.length, hasMore: selected.length < lines.length };
}
