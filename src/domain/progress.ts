/**
 * Which steps of a run can start, which can never run, and how the run ends — pure functions
 * of the plan and the nodes' statuses, so the rules are tested without a Durable Object.
 */
import { matchesSomeLine } from "./conditions.ts";
import type { ContinueOn, HandlerEvent, RepeatPolicy, RetryPolicy } from "./dag-spec.ts";
import type { NodeStatus, RunStatus } from "./status.ts";

export type StepState = { status: NodeStatus; continued: boolean };

export type Progress = {
  /** Steps whose dependencies are all done and allow them to run. */
  ready: string[];
  /** Steps that can never run because a dependency failed, was aborted or was skipped. */
  blocked: { name: string; status: NodeStatus }[];
};

/**
 * A dependency lets its dependents run when it succeeded, or when it failed or was skipped with
 * `continueOn` allowing it. A dependency that failed stops its dependents (they end aborted, as
 * in Dagu a failure cancels what depends on it); one that was skipped skips them.
 */
export function progress(
  dependencies: ReadonlyMap<string, readonly string[]>,
  states: ReadonlyMap<string, StepState>,
): Progress {
  const ready: string[] = [];
  const blocked: Progress["blocked"] = [];
  for (const [name, deps] of dependencies) {
    if (states.get(name)?.status !== "not_started") continue;
    let waiting = false;
    let blockedAs: NodeStatus | undefined;
    for (const dependency of deps) {
      const state = states.get(dependency);
      if (!state || state.status === "not_started" || state.status === "running") {
        waiting = true;
        break;
      }
      if (state.status === "succeeded" || state.continued) continue;
      blockedAs = state.status === "skipped" ? (blockedAs ?? "skipped") : "aborted";
    }
    if (waiting) continue;
    if (blockedAs) blocked.push({ name, status: blockedAs });
    else ready.push(name);
  }
  return { ready, blocked };
}

/** Whether a finished step lets its dependents continue (and doesn't fail the run by itself). */
export function continues(
  continueOn: ContinueOn,
  status: NodeStatus,
  exitCode: number | null,
  stdout: string,
): boolean {
  if (status === "succeeded") return true;
  if (status === "skipped") return continueOn.skipped;
  return status === "failed" && failureAllowed(continueOn, exitCode, stdout);
}

/**
 * Dagu's continueOn for a failed step: `failure`, a listed exit code, or a stdout line matching
 * an `output` pattern (substring, or `re:` regex per line). `markSuccess` alone allows nothing:
 * it turns an allowed failure into a success.
 */
export function failureAllowed(continueOn: ContinueOn, exitCode: number | null, stdout: string): boolean {
  if (continueOn.failure) return true;
  if (exitCode !== null && continueOn.exitCodes.includes(exitCode)) return true;
  return continueOn.output.some((pattern) => matchesSomeLine(pattern, stdout, "contains"));
}

export type FinalStatus = Exclude<RunStatus, "not_started" | "running" | "queued">;

/**
 * The run's status once every step is done, before handlers (it chooses them). As in Dagu: a
 * failure nothing allowed fails the run; allowed failures next to at least one success make it
 * partially succeeded (skipped steps are no successes); only allowed failures still fail it.
 */
export function stepsOutcome(states: ReadonlyMap<string, StepState>): FinalStatus {
  let allowedFailure = false;
  let success = false;
  for (const state of states.values()) {
    if ((state.status === "failed" || state.status === "aborted") && !state.continued) return "failed";
    if (state.status === "failed") allowedFailure = true;
    if (state.status === "succeeded") success = true;
  }
  if (!allowedFailure) return "succeeded";
  return success ? "partially_succeeded" : "failed";
}

/** Which handler an outcome runs before `exit` (Dagu: a partial success runs the success handler). */
const HANDLER_FOR: Record<FinalStatus, Exclude<HandlerEvent, "exit">> = {
  succeeded: "success",
  failed: "failure",
  aborted: "abort",
  partially_succeeded: "success",
};

/** The handlers a run with this outcome runs, in order, among those the DAG defines. */
export function handlersFor(outcome: FinalStatus, defined: Partial<Record<HandlerEvent, unknown>>): HandlerEvent[] {
  return [HANDLER_FOR[outcome], "exit" as const].filter((event) => defined[event] !== undefined);
}

/** A handler that fails turns a success into a failure; other outcomes stand (Dagu). */
export function afterHandlers(outcome: FinalStatus, handlerFailed: boolean): FinalStatus {
  return handlerFailed && outcome === "succeeded" ? "failed" : outcome;
}

/** Seconds before the n-th retry or repeat (from 1): `intervalSec`, grown by `backoff`, capped by `maxIntervalSec`. */
export function backoffDelaySeconds(
  policy: Pick<RetryPolicy, "intervalSec" | "backoff" | "maxIntervalSec">,
  count: number,
): number {
  const delay = policy.intervalSec * policy.backoff ** Math.max(0, count - 1);
  return policy.maxIntervalSec === undefined ? delay : Math.min(delay, policy.maxIntervalSec);
}

/** Whether a failed attempt may be retried: retries left, and the exit code is one the policy retries. */
export function shouldRetry(
  policy: RetryPolicy | undefined,
  retriesSoFar: number,
  exitCode: number,
): policy is RetryPolicy {
  if (!policy || retriesSoFar >= policy.limit) return false;
  return policy.exitCodes.length === 0 || policy.exitCodes.includes(exitCode);
}

/**
 * Whether a step runs again under its repeat policy, after `runs` runs, the last one ending with
 * `exitCode` and (when the policy has a condition) `conditionMet`; as the Dagu 1.30.2 binary
 * decides it. A failure ends an unconditional repeat; with exit codes or a condition the check
 * alone decides. The last run's result is the step's.
 */
export function shouldRepeat(
  policy: RepeatPolicy,
  runs: number,
  last: { exitCode: number; conditionMet: boolean | undefined },
): boolean {
  if (policy.limit !== undefined && runs >= policy.limit) return false;
  if (policy.exitCodes.length === 0 && !policy.condition) return last.exitCode === 0; // unconditional: while it succeeds
  const matched = policy.exitCodes.length > 0 ? policy.exitCodes.includes(last.exitCode) : last.conditionMet === true;
  return policy.mode === "while" ? matched : !matched;
}
