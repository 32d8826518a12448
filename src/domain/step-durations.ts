/**
 * The step duration histogram of GET /metrics (`dagflare_step_duration_seconds{dag}`): its
 * bucket bounds, and how one run's steps fall into them. Pure, so the coordinator (which counts)
 * and the route (which prints) share the bounds, and the bucketing is tested without D1.
 */

/**
 * Upper bounds (seconds) of the step duration buckets. Finer at the low end than the run
 * histogram's: an http step often takes milliseconds, while a command or a sub-DAG call can
 * take hours.
 */
export const STEP_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 900, 3600, 14400] as const;

/**
 * Steps bucketed for one histogram: `buckets` are not cumulative and leave out empty ones; a
 * step longer than the last bound is only in `steps` and `seconds` (the +Inf bucket is `steps`).
 */
export type StepDurationTally = {
  buckets: { le: number; steps: number }[];
  steps: number;
  seconds: number;
};

export function tallyStepDurations(
  seconds: readonly number[],
  bounds: readonly number[] = STEP_DURATION_BUCKETS,
): StepDurationTally {
  const counts = new Map<number, number>();
  let total = 0;
  for (const value of seconds) {
    total += value;
    const le = bounds.find((bound) => value <= bound);
    if (le !== undefined) counts.set(le, (counts.get(le) ?? 0) + 1);
  }
  return {
    buckets: [...counts].sort(([a], [b]) => a - b).map(([le, steps]) => ({ le, steps })),
    steps: seconds.length,
    seconds: total,
  };
}
