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

/** The labels in code order, as the API's enums list them. */
export const RUN_STATUS_LABELS = Object.keys(RUN_STATUS) as [RunStatus, ...RunStatus[]];
export const NODE_STATUS_LABELS = Object.keys(NODE_STATUS) as [NodeStatus, ...NodeStatus[]];

/** The label of a stored run status code; `undefined` for a code no version ever wrote. */
export function runStatusLabel(code: number): RunStatus | undefined {
  return RUN_STATUS_LABELS[code];
}

export function nodeStatusLabel(code: number): NodeStatus | undefined {
  return NODE_STATUS_LABELS[code];
}
