/**
 * Load for the HTTP benchmarks: clients in closed loops (each sends its next request when the
 * last is answered), the latencies, the requests per second and the unexpected statuses.
 */

export type Phase = { latencies: number[]; requests: number; seconds: number; failures: Map<number, number> };

export const emptyPhase = (): Phase => ({ latencies: [], requests: 0, seconds: 0, failures: new Map() });

/** `concurrency` clients sending `request()` back to back for `seconds`; `expected` is the good status. */
export function closedLoop(
  into: Phase,
  { concurrency, seconds }: { concurrency: number; seconds: number },
  expected: number,
  request: () => Promise<Response>,
): Promise<void> {
  const deadline = performance.now() + seconds * 1000;
  return clients(into, concurrency, () => performance.now() < deadline, expected, request);
}

/** One client sending `count` requests, each when the last was answered (concurrency 1). */
export function oneByOne(
  into: Phase,
  count: number,
  expected: number,
  request: () => Promise<Response>,
): Promise<void> {
  let left = count;
  return clients(into, 1, () => left-- > 0, expected, request);
}

async function clients(
  into: Phase,
  concurrency: number,
  another: () => boolean,
  expected: number,
  request: () => Promise<Response>,
): Promise<void> {
  const began = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (another()) {
        const start = performance.now();
        const response = await request();
        await response.arrayBuffer();
        into.latencies.push(performance.now() - start);
        into.requests++;
        if (response.status !== expected)
          into.failures.set(response.status, (into.failures.get(response.status) ?? 0) + 1);
      }
    }),
  );
  into.seconds += (performance.now() - began) / 1000;
}

/** Unexpected statuses as `3×429 1×500`, or "-". */
export const failureSummary = (phase: Phase): string =>
  [...phase.failures].map(([status, n]) => `${n}×${status}`).join(" ") || "-";
