/**
 * Run and node statuses with Dagu's numbers and labels. The numbers are persisted (D1, DO
 * storage, API clients), so they are never renumbered.
 */
export const RUN_STATUS = {
  not_started: 0,
  running: 1,
  failed: 2,
  aborted: 3,
  succeeded: 4,
  queued: 5,
  partially_succeeded: 6,
} as const;

export type RunStatus = keyof typeof RUN_STATUS;

export const NODE_STATUS = {
  not_started: 0,
  running: 1,
  failed: 2,
  aborted: 3,
  succeeded: 4,
  skipped: 5,
} as const;

export type NodeStatus = keyof typeof NODE_STATUS;

const runLabels = Object.fromEntries(Object.entries(RUN_STATUS).map(([label, code]) => [code, label])) as Record<
  number,
  RunStatus
>;

export function runStatusLabel(code: number): RunStatus | undefined {
  return runLabels[code];
}

export const FINISHED_RUN_STATUSES: readonly RunStatus[] = ["failed", "aborted", "succeeded", "partially_succeeded"];

export function isFinished(status: RunStatus): boolean {
  return FINISHED_RUN_STATUSES.includes(status);
}
