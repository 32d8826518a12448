/**
 * The run state machine of one DAG: queue a run, start queued runs within maxActiveRuns,
 * advance a running run (skip, block, dispatch, handlers, final status), apply an attempt's
 * result once, stop, retry, time out. It reads and writes only the RunStore; what it asks of
 * the outside world it returns (queue messages) or hands to its effects (kills on the runner).
 *
 * A step attempt moves none → dispatched (queued, or handed to a consumer inline) → claimed (a
 * consumer is executing it) → done or waiting_retry. A result is applied only to the current,
 * unfinished attempt, so a redelivered message or a late result changes nothing.
 */
import { isShellCondition, unmetPrecondition } from "../domain/conditions.ts";
import { type Condition, type DagSpec, type HandlerEvent, parseDagSpec, type StepSpec } from "../domain/dag-spec.ts";
import { failureOutput, redactSecrets, secretValues } from "../domain/failure-output.ts";
import { buildInvocation, runsOnRunner, withStepEnv } from "../domain/invocation.ts";
import { EXECUTOR_SILENCE_MS, MAX_TAKEOVERS, pickupRecheckMs } from "../domain/liveness.ts";
import { paramsProblem } from "../domain/param-rules.ts";
import { resolveParams } from "../domain/params.ts";
import { resolveDependencies } from "../domain/plan.ts";
import {
  afterHandlers,
  backoffDelaySeconds,
  continues,
  type FinalStatus,
  failureAllowed,
  handlersFor,
  progress,
  type StepState,
  shouldRepeat,
  shouldRetry,
  stepsOutcome,
} from "../domain/progress.ts";
import {
  newRunId,
  type OutputOffsets,
  RUN_ID_PATTERN,
  RUN_ID_RULE,
  type RunFinishedEvent,
  type StartRequest,
  type StepInvocation,
  type StepMessage,
  type StepOutcome,
} from "../domain/run.ts";
import { runScope } from "../domain/scope.ts";
import { type NodeStatus, nodeStatusLabel, RUN_STATUS, runStatusLabel } from "../domain/status.ts";
import {
  type CallResult,
  callStepOutcome,
  MAX_SUB_DAG_DEPTH,
  type ParentLink,
  plannedCalls,
  resultParams,
  type SubRunNotice,
} from "../domain/sub-dag.ts";
import { capLog } from "../executors/executor.ts";
import type { NodeRecord, RunRecord, RunStore, SubRunRecord, Timer } from "./run-store.ts";

/** How long an attempt without its own timeout may stay silent: a queue consumer's 15 minutes, and some. */
export const DEFAULT_LEASE_MS = 16 * 60 * 1000;
/**
 * How often a calling step asks after its sub-DAG runs, and retries starting those it couldn't:
 * a finished run tells its caller at once, so this only catches a message that was lost.
 */
export const SUB_RUN_CHECK_MS = 30_000;
/** Parsed specs kept: runs of one DAG version share an entry. */
const SPEC_CACHE_SIZE = 4;
const HANDLER_ORDER: readonly HandlerEvent[] = ["success", "failure", "abort", "exit"];

/** Who the coordinator is: the DAG's stable id (its key) and current name. Shared, updated in place on a rename. */
export type Identity = { dagId: string; dagName: string };

export type ControlResult =
  | { ok: true }
  | { ok: false; code: "not_found" | "bad_request" | "not_running"; message: string };
export type QueueResult =
  | { ok: true; runId: string; histRetentionDays: number }
  | { ok: false; code: "already_exists" | "bad_request"; message: string };

/** What the machine needs done outside its storage, synchronously decided, carried out later. */
export interface RunEffects {
  /** Kill a command attempt on the step runner: the coordinator ended it (timeout, stop). */
  killOnRunner(attempt: StepMessage): void;
  /** Stop a sub-DAG run a step started: the step was stopped, or timed out. */
  stopSubRun(childKey: string, childRunId: string): void;
}

/** What a holder reports while it executes: output since its last report, where it has read to, and that it lives. */
export type AttemptProgress = { stdout: string; stderr: string; next?: OutputOffsets | undefined };

const NO_OUTPUT_YET: OutputOffsets = { stdoutFrom: 0, stderrFrom: 0 };

/** An attempt's outcome as the machine applies it (from a consumer, or made up for a timeout). */
export type AttemptResult = StepOutcome & { startedAt: string; finishedAt: string };

export class RunMachine {
  readonly #store: RunStore;
  readonly #identity: Identity;
  readonly #effects: RunEffects;
  /**
   * Parsed specs by their YAML text, least recently used first: a start parses nothing the
   * DAG's previous run parsed. Losing it costs a re-parse.
   */
  readonly #specs = new Map<string, DagSpec>();
  #lastStamp = 0;

  constructor(store: RunStore, identity: Identity, effects: RunEffects) {
    this.#store = store;
    this.#identity = identity;
    this.#effects = effects;
  }

  // --- commands ------------------------------------------------------------------------------

  /** Records a new run as queued (it starts with startQueuedRuns), or says why not. */
  queue(request: StartRequest): QueueResult {
    const runId = request.runId ?? newRunId();
    if (!RUN_ID_PATTERN.test(runId)) return { ok: false, code: "bad_request", message: `dagRunId ${RUN_ID_RULE}` };
    if (this.#store.hasRun(runId)) {
      const message = `a DAG run with id '${runId}' already exists for '${request.dagName}'`;
      return { ok: false, code: "already_exists", message };
    }
    if (request.singleton && this.#store.hasActiveRun()) {
      const message = `'${request.dagName}' already has a running or queued run (singleton)`;
      return { ok: false, code: "already_exists", message };
    }
    const spec = this.#parse(request.spec);
    if (!spec) return { ok: false, code: "bad_request", message: "the DAG's spec is invalid; fix it before running" };
    let params: ReturnType<typeof resolveParams>;
    try {
      params = resolveParams(spec.params, request.params);
    } catch (error) {
      const message = `params: ${error instanceof Error ? error.message : String(error)}`;
      return { ok: false, code: "bad_request", message };
    }
    const problem = paramsProblem(spec.paramRules, params);
    if (problem) return { ok: false, code: "bad_request", message: `params: ${problem}` };
    if (request.parent && request.parent.depth > MAX_SUB_DAG_DEPTH) {
      const message = `sub-DAG calls nest deeper than ${MAX_SUB_DAG_DEPTH} levels (does a DAG call itself?)`;
      return { ok: false, code: "bad_request", message };
    }
    this.#store.insertRun(
      {
        id: runId,
        spec: request.spec,
        params,
        payload: request.payload ?? null,
        headers: request.headers ?? null,
        trigger: request.trigger,
        triggered_by: request.triggeredBy,
        queued_at: this.#stamp(),
        parent: request.parent ?? null,
      },
      spec.steps.map((step) => step.name),
    );
    this.#log(runId, `queued by ${request.trigger} (${request.triggeredBy || "anonymous"})`);
    return { ok: true, runId, histRetentionDays: spec.histRetentionDays };
  }

  /** Moves every runnable queued run to running, oldest first, within the DAG's maxActiveRuns. */
  startQueuedRuns(): StepMessage[] {
    const messages: StepMessage[] = [];
    for (;;) {
      const next = this.#store.nextQueuedRun();
      if (!next) return messages;
      const spec = this.#spec(next);
      if (spec.maxActiveRuns !== -1 && this.#store.countRunning() >= spec.maxActiveRuns) return messages;
      messages.push(...this.#begin(next));
    }
  }

  /** Starts a queued sub-DAG run at once: its caller's max_concurrent bounds it, not the DAG's maxActiveRuns. */
  startSubRun(runId: string): StepMessage[] {
    const run = this.#store.run(runId);
    return run?.status === RUN_STATUS.queued ? this.#begin(run) : [];
  }

  #begin(run: RunRecord): StepMessage[] {
    const spec = this.#spec(run);
    this.#store.markRunning(run.id, this.#stamp());
    if (spec.timeoutSec) this.#store.setTimer("run_timeout", run.id, "", 0, Date.now() + spec.timeoutSec * 1000);
    this.#log(run.id, "started");
    return this.advance(run.id);
  }

  /**
   * A consumer takes a dispatched attempt; `null` when it is stale (redelivered, stopped, timed
   * out). A `resume` message takes over a claimed command attempt from a consumer whose time ran out.
   */
  claim(message: StepMessage): StepInvocation | null {
    const node = this.#store.node(message.runId, message.step);
    if (!node || node.attempt !== message.attempt) return null;
    if (message.resume) {
      // A hand-off or a takeover: it names the holder it replaces, and only the first to claim wins.
      const replaced = message.claim === undefined || message.claim === node.claim;
      return node.attempt_state === "claimed" && replaced ? { ...this.#claim(node), resume: message.resume } : null;
    }
    if (node.attempt_state !== "dispatched") return null;
    return this.#claim(node);
  }

  /** Hands an attempt to a new holder: its token raised, its next sign of life due. */
  #claim(node: NodeRecord): StepInvocation {
    const claim = this.#store.claimAttempt(node.run_id, node.name);
    this.#store.setTimer("heartbeat", node.run_id, node.name, node.attempt, Date.now() + EXECUTOR_SILENCE_MS);
    return { ...this.#invocation(node), claim };
  }

  /**
   * Output of a running attempt: appended to the step's log (its tail is kept), and a sign of
   * life that extends the lease of a step without its own timeout. `false` when the attempt is
   * no longer current.
   */
  progress(message: StepMessage, output: AttemptProgress): boolean {
    const node = this.#store.node(message.runId, message.step);
    if (!node || node.attempt !== message.attempt || node.attempt_state !== "claimed") return false;
    if (message.claim !== undefined && message.claim !== node.claim) return false; // taken over
    if (output.stdout || output.stderr) {
      const stdout = capLog(node.stdout + output.stdout);
      this.#store.setLogs(message.runId, message.step, stdout, capLog(node.stderr + output.stderr));
    }
    this.#store.recordSignOfLife(message.runId, message.step, output.next ? JSON.stringify(output.next) : null);
    this.#store.setTimer("heartbeat", message.runId, node.name, node.attempt, Date.now() + EXECUTOR_SILENCE_MS);
    if (!this.#stepOf(node)?.timeoutSec) {
      this.#store.setTimer("lease", message.runId, node.name, node.attempt, Date.now() + DEFAULT_LEASE_MS);
    }
    return true;
  }

  /**
   * Applies an attempt's result once and advances the run. With `continueInline`, the first
   * newly ready step comes back claimed, for the caller to run next (a chain needs no queue
   * hop); the rest are returned as messages.
   */
  finish(
    result: StepMessage & AttemptResult,
    continueInline: boolean,
  ): { messages: StepMessage[]; next: StepInvocation | null } {
    const node = this.#store.node(result.runId, result.step);
    const current = node?.attempt === result.attempt;
    if (!node || !current || (node.attempt_state !== "dispatched" && node.attempt_state !== "claimed")) {
      return { messages: [], next: null };
    }
    // From a holder that was taken over: the attempt's current holder reports it.
    if (result.claim !== undefined && result.claim !== node.claim) return { messages: [], next: null };
    this.#applyOutcome(node, result, !result.timedOut);
    const messages = this.advance(result.runId);
    const inline = continueInline ? messages.shift() : undefined;
    if (!inline) return { messages, next: null };
    return { messages, next: this.#claim(this.#store.node(inline.runId, inline.step)!) };
  }

  /** Cancels in-flight and pending steps, then runs the abort and exit handlers. */
  stop(runId: string): ControlResult & { messages?: StepMessage[] } {
    const run = this.#store.run(runId);
    if (!run) return { ok: false, code: "not_found", message: `DAG run '${runId}' not found` };
    if (run.status !== RUN_STATUS.running && run.status !== RUN_STATUS.queued) {
      // Dagu's code for this refusal (400 as well).
      const message = `DAG run '${runId}' is not running (${runStatusLabel(run.status)})`;
      return { ok: false, code: "not_running", message };
    }
    const at = this.#stamp();
    this.#kill(this.#store.nodesIn(runId, "running"), "its caller was stopped");
    // As in Dagu: what was running is aborted, what never started stays not_started.
    this.#store.abortNodes(runId, {
      from: ["running"],
      stepsOnly: false,
      at,
      reason: "stopped",
      overwriteError: false,
    });
    this.#store.deleteTimers(runId, ["lease", "heartbeat", "retry", "run_timeout"]);
    this.#log(runId, "stop requested");
    if (run.status === RUN_STATUS.queued) {
      this.#store.setOutcome(runId, "aborted", []);
      this.#finalize(runId, "aborted");
    } else {
      this.#store.setOutcome(runId, "aborted", this.#handlersFor(run, "aborted"));
    }
    return { ok: true, messages: [...this.advance(runId), ...this.startQueuedRuns()] };
  }

  /**
   * Runs a finished run again. Without `stepName`, succeeded steps keep their results and every
   * other step runs anew; with it, only that step runs again (Dagu) and the rest stay as they
   * are. Either way the handlers run again and decide the final status.
   */
  retry(runId: string, stepName?: string): ControlResult & { messages?: StepMessage[] } {
    const run = this.#store.run(runId);
    if (!run) return { ok: false, code: "not_found", message: `DAG run '${runId}' not found` };
    if (run.status === RUN_STATUS.running || run.status === RUN_STATUS.queued) {
      const message = `DAG run '${runId}' is still ${runStatusLabel(run.status)}`;
      return { ok: false, code: "bad_request", message };
    }
    if (stepName !== undefined) {
      const refusal = this.#stepRetryRefusal(run, stepName);
      if (refusal) return refusal;
    }
    this.#store.resetForRetry(runId, stepName ?? null);
    this.#store.requeueRun(runId, stepName ?? null, this.#stamp());
    this.#log(runId, stepName === undefined ? "retry requested" : `retry of step '${stepName}' requested`);
    return { ok: true, messages: run.parent ? this.startSubRun(runId) : this.startQueuedRuns() };
  }

  /**
   * Sets a step's status by hand in a run that is neither running nor queued (Dagu's PATCH
   * …/steps/{stepName}/status). Only the status changes: the step keeps its times, exit code,
   * error and logs, and nothing runs. When every step has ended, the run's status becomes what
   * its steps now say, by the rule that ends a run (as Dagu 2.x recomputes it; 1.30 left it
   * stale); handlers don't run again and no alert is sent. Returns the run's status when it changed.
   */
  setStepStatus(
    runId: string,
    stepName: string,
    status: NodeStatus,
    by: string,
  ): ControlResult & { runStatus?: FinalStatus } {
    const run = this.#store.run(runId);
    if (!run) return { ok: false, code: "not_found", message: `DAG run '${runId}' not found` };
    if (run.status === RUN_STATUS.running || run.status === RUN_STATUS.queued) {
      const message = `DAG run '${runId}' is still ${runStatusLabel(run.status)}`;
      return { ok: false, code: "bad_request", message };
    }
    const node = this.#store.node(runId, stepName);
    if (node?.kind !== "step") {
      return { ok: false, code: "not_found", message: `step '${stepName}' not found in DAG run '${runId}'` };
    }
    this.#store.setNodeStatus(runId, stepName, status);
    const was = nodeStatusLabel(node.status);
    this.#log(runId, `${stepName}: status set to ${status} by hand (was ${was})${by ? ` by ${by}` : ""}`);
    const states = this.#stepStates(runId, this.#spec(run));
    const ended = [...states.values()].every((state) => state.status !== "not_started" && state.status !== "running");
    if (!ended) return { ok: true };
    // A stopped run stays aborted while a step its stop aborted stays so.
    const stillAborted = [...states.values()].some((state) => state.status === "aborted");
    if (run.status === RUN_STATUS.aborted && stillAborted) return { ok: true };
    const outcome = stepsOutcome(states);
    if (RUN_STATUS[outcome] === run.status) return { ok: true };
    this.#store.setFinishedStatus(runId, outcome, this.#stamp());
    this.#log(runId, `status set to ${outcome} (was ${runStatusLabel(run.status)}): its steps' statuses changed`);
    return { ok: true, runStatus: outcome };
  }

  /** A timer came due (the alarm deleted it): returns the attempts it dispatches. */
  fire(timer: Timer): StepMessage[] {
    switch (timer.kind) {
      case "lease":
        return this.#expireLease(timer);
      case "heartbeat":
        return this.#executorSilent(timer);
      case "retry": {
        const node = this.#store.node(timer.run_id, timer.step);
        if (node?.attempt_state !== "waiting_retry") return [];
        const message = this.#dispatchAttempt(node);
        return message ? [message] : this.advance(timer.run_id);
      }
      case "run_timeout":
        return this.#timeOutRun(timer.run_id);
      case "d1_sync":
        return []; // it only wakes the alarm: every commit writes every stale D1 copy
      case "sub_runs":
        return []; // the coordinator asks after the step's sub-DAG runs (it takes RPCs)
    }
  }

  /**
   * Deletes finished runs older than `retentionDays` (Dagu's histRetentionDays); returns the
   * cutoff when it deleted any, so their D1 copies go too.
   */
  pruneHistory(retentionDays: number): string | undefined {
    const cutoff = new Date(Date.now() - retentionDays * 86_400_000).toISOString();
    return this.#store.deleteRunsFinishedBefore(cutoff) > 0 ? cutoff : undefined;
  }

  // --- reads ---------------------------------------------------------------------------------

  statusOf(runId: string) {
    return runStatusLabel(this.#store.run(runId)!.status)!;
  }

  // --- advancing a run -----------------------------------------------------------------------

  /**
   * Everything that can happen now in a running run: skip or abort steps that can't run,
   * dispatch ready ones, then handlers, then the final status. Returns attempts to send.
   */
  advance(runId: string): StepMessage[] {
    const run = this.#store.run(runId);
    if (!run || run.status !== RUN_STATUS.running) return [];
    const spec = this.#spec(run);
    const messages: StepMessage[] = [];

    if (run.outcome === null) {
      const allDependencies = resolveDependencies(spec.steps, spec.type);
      // A retry of one step plans that step alone; the others keep their statuses.
      const dependencies =
        run.only_step === null ? allDependencies : new Map([[run.only_step, allDependencies.get(run.only_step) ?? []]]);
      // Each pass settles some not-started steps (dispatched, skipped or blocked), so this ends.
      for (;;) {
        const { ready, blocked } = progress(dependencies, this.#stepStates(runId, spec));
        if (ready.length === 0 && blocked.length === 0) break;
        const at = this.#stamp();
        for (const { name, status } of blocked) {
          this.#store.settleNode(runId, name, status, at);
          this.#log(runId, `${name}: ${status} (a dependency did not succeed)`);
        }
        for (const name of ready) {
          const step = spec.steps.find((candidate) => candidate.name === name)!;
          const unmet = step.preconditions.length === 0 ? undefined : this.#unmetPrecondition(run, step);
          if (!unmet) {
            const message = this.#dispatchAttempt(this.#store.node(runId, name)!);
            if (message) messages.push(message);
            continue;
          }
          this.#store.settleNode(runId, name, "skipped", at, unmet.skip);
          this.#log(runId, `${name}: skipped (${unmet.skip})`);
        }
      }
      const states = this.#stepStates(runId, spec);
      const pending = [...dependencies.keys()].some((name) => {
        const status = states.get(name)?.status;
        return status === "not_started" || status === "running";
      });
      if (pending) return messages;
      const outcome = stepsOutcome(states);
      this.#store.setOutcome(runId, outcome, this.#handlersFor(run, outcome));
      this.#log(runId, `steps finished: ${outcome}`);
    }

    // Handlers run one at a time, in order; a handler still in flight means wait.
    if (this.#store.hasHandlerIn(runId, "running")) return messages;
    const current = this.#store.run(runId)!;
    const [nextHandler, ...rest] = current.handlers;
    if (nextHandler) {
      this.#store.setHandlers(runId, rest);
      const step = spec.handlerOn[nextHandler]!;
      this.#store.insertHandlerNode(
        runId,
        step.name,
        nextHandler,
        spec.steps.length + HANDLER_ORDER.indexOf(nextHandler),
      );
      const message = this.#dispatchAttempt(this.#store.node(runId, step.name)!);
      return message ? [...messages, message] : [...messages, ...this.advance(runId)];
    }
    this.#finalize(runId, afterHandlers(current.outcome!, this.#store.hasHandlerIn(runId, "failed")));
    return [...messages, ...this.startQueuedRuns()];
  }

  #handlersFor(run: RunRecord, outcome: FinalStatus): HandlerEvent[] {
    return handlersFor(outcome, this.#spec(run).handlerOn);
  }

  /** Ends the run with its final status and records its run-finished event in the outbox. */
  #finalize(runId: string, status: FinalStatus): void {
    const at = this.#stamp();
    const failedSteps = this.#store.nodesIn(runId, "failed").map((node) => node.name);
    this.#store.finishRun(runId, status, at);
    this.#store.deleteTimers(runId, ["lease", "heartbeat", "retry", "run_timeout"]);
    this.#log(runId, `finished: ${status}`);
    const run = this.#store.run(runId)!;
    // A sub-DAG run reports to its calling step (the coordinator tells it); the caller's run alerts.
    if (run.parent) return;
    this.#store.recordStepDurations(runId, at);
    const event: RunFinishedEvent = {
      type: "run.finished",
      dagName: this.#identity.dagName,
      runId,
      status,
      trigger: run.trigger,
      triggeredBy: run.triggered_by,
      queuedAt: run.queued_at,
      startedAt: run.started_at,
      finishedAt: at,
      durationMs: Date.parse(at) - Date.parse(run.started_at ?? run.queued_at),
      failedSteps,
      ...this.#failureFacts(run),
      recoveredFrom:
        status === "succeeded" || status === "partially_succeeded" ? this.#store.previousRunFailed(runId) : undefined,
    };
    this.#store.addEvent(event);
  }

  /** What a run-finished event says broke: the first failed step, its error and output (secrets redacted). */
  #failureFacts(run: RunRecord): Pick<RunFinishedEvent, "error" | "failedStep" | "failureOutput"> {
    const node = this.#store.firstFailedNode(run.id);
    if (!node) return { error: run.error ?? undefined };
    const secrets = secretValues([...this.#spec(run).env, ...run.params]);
    return {
      error: redactSecrets(node.error ?? "", secrets),
      failedStep: node.name,
      failureOutput: failureOutput(node.stderr, node.stdout, secrets) || undefined,
    };
  }

  /** The DAG's timeoutSec passed: its steps are aborted and the failure handlers run. */
  #timeOutRun(runId: string): StepMessage[] {
    const run = this.#store.run(runId);
    if (!run || run.status !== RUN_STATUS.running || run.outcome !== null) return [];
    const seconds = this.#spec(run).timeoutSec ?? 0;
    const at = this.#stamp();
    const reason = `the DAG timed out after ${seconds} s`;
    this.#kill(this.#store.nodesIn(runId, "running", true), reason);
    this.#store.abortNodes(runId, {
      from: ["running", "not_started"],
      stepsOnly: true,
      at,
      reason,
      overwriteError: true,
    });
    this.#store.setOutcome(runId, "failed", this.#handlersFor(run, "failed"), `timed out after ${seconds} s`);
    this.#log(runId, `DAG timeout (${seconds} s): steps aborted`);
    return this.advance(runId);
  }

  /** An attempt's lease ran out before its result came: it fails with exit code 124, not retried (Dagu). */
  #expireLease(timer: Timer): StepMessage[] {
    const node = this.#store.node(timer.run_id, timer.step);
    const current = node?.attempt === timer.attempt;
    if (!node || !current || (node.attempt_state !== "dispatched" && node.attempt_state !== "claimed")) return [];
    const error = `timed out after ${Math.round(this.#leaseMs(node) / 1000)} s`;
    const at = this.#stamp();
    const outcome = { exitCode: 124, stdout: node.stdout, stderr: `${node.stderr}${error}`, error };
    this.#applyOutcome(node, { ...outcome, startedAt: node.started_at ?? at, finishedAt: at }, false);
    this.#kill([node], error);
    return this.advance(timer.run_id);
  }

  /**
   * An attempt's executor gave no sign of life in time (../domain/liveness.ts). Never picked up:
   * its message is sent again (a claim happens once, so a copy is harmless). A command on the
   * runner: another consumer takes it over and resumes its output where the holder left it (the
   * process runs on without a consumer; a takeover that finds none reports it lost). Anything
   * else — or a command whose takeovers go unanswered — lost its executor: the attempt fails,
   * into its retry policy, and the late result of its holder changes nothing.
   */
  #executorSilent(timer: Timer): StepMessage[] {
    const node = this.#store.node(timer.run_id, timer.step);
    if (!node || node.attempt !== timer.attempt) return [];
    if (node.attempt_state !== "dispatched" && node.attempt_state !== "claimed") return [];
    const silences = this.#store.recordSilence(node.run_id, node.name);
    const attempt: StepMessage = {
      dagId: this.#identity.dagId,
      runId: node.run_id,
      step: node.name,
      attempt: node.attempt,
    };
    const silentFor = `${EXECUTOR_SILENCE_MS / 1000} s`;
    if (node.attempt_state === "dispatched") {
      this.#store.setTimer("heartbeat", node.run_id, node.name, node.attempt, Date.now() + pickupRecheckMs(silences));
      this.#log(node.run_id, `${node.name}: attempt ${node.attempt} not picked up yet; its message is sent again`);
      return [attempt];
    }
    if (runsOnRunner(this.#stepOf(node)) && silences <= MAX_TAKEOVERS) {
      this.#store.setTimer("heartbeat", node.run_id, node.name, node.attempt, Date.now() + EXECUTOR_SILENCE_MS);
      this.#log(
        node.run_id,
        `${node.name}: no sign of life for ${silentFor} from the consumer following attempt ${node.attempt}; another consumer takes it over`,
      );
      const resume = node.resume_from ? (JSON.parse(node.resume_from) as OutputOffsets) : NO_OUTPUT_YET;
      return [{ ...attempt, claim: node.claim, resume }];
    }
    const error =
      silences > MAX_TAKEOVERS
        ? `executor lost: ${MAX_TAKEOVERS} consumers in a row did not take the attempt over`
        : `executor lost: no sign of life for ${silentFor} from the queue consumer running it (it crashed, was restarted or cut off)`;
    const at = this.#stamp();
    const outcome = { exitCode: 1, stdout: node.stdout, stderr: `${node.stderr}${error}`, error };
    this.#applyOutcome(node, { ...outcome, startedAt: node.started_at ?? at, finishedAt: at }, true);
    // A process of the attempt may still run on the runner: it must not run beside a retry.
    this.#kill([node], error);
    return this.advance(timer.run_id);
  }

  /** The attempt ended: its time limit and liveness checks go. */
  #endAttemptTimers(node: NodeRecord): void {
    this.#store.deleteTimer("lease", node.run_id, node.name);
    this.#store.deleteTimer("heartbeat", node.run_id, node.name);
  }

  #applyOutcome(node: NodeRecord, result: AttemptResult, retryable: boolean): void {
    const runId = node.run_id;
    if (result.skipped !== undefined) {
      // A precondition the runner checked was not met: skipped, as Dagu skips it (not a failure).
      this.#endAttemptTimers(node);
      this.#store.settleNode(runId, node.name, "skipped", result.finishedAt, result.skipped);
      this.#log(runId, `${node.name}: skipped (${result.skipped})`);
      return;
    }
    const spec = this.#spec(this.#store.run(runId)!);
    const step = this.#stepOf(node)!;
    this.#endAttemptTimers(node);
    // A repeating step's log holds every run's stdout, as Dagu's log file does.
    const stdout = capLog(node.repeat_stdout + result.stdout);
    const stderr = capLog(result.stderr);
    // The output is captured even from a failed step; one larger than maxOutputSize fails it. As
    // in Dagu 1.30.2 the bytes are counted as printed, before trimming (`abcd\n` is 5).
    const captured = step.output ? result.stdout.trim() : null;
    const oversized = captured !== null && new TextEncoder().encode(result.stdout).byteLength > spec.maxOutputSize;
    const exitCode = oversized && result.exitCode === 0 ? 1 : result.exitCode;
    const error = oversized ? `output exceeded maxOutputSize (${spec.maxOutputSize} bytes)` : result.error;
    const failed = exitCode !== 0;

    if (failed && retryable && shouldRetry(step.retryPolicy, node.retry_count, exitCode)) {
      const retry = node.retry_count + 1;
      const delay = backoffDelaySeconds(step.retryPolicy, retry);
      const reason = error ?? `exit code ${exitCode}`;
      this.#store.recordRetryWait(runId, node.name, { retryCount: retry, exitCode, error: reason, stdout, stderr });
      this.#store.setTimer("retry", runId, node.name, node.attempt, Date.now() + delay * 1000);
      this.#log(
        runId,
        `${node.name}: attempt ${node.attempt} failed (${error ?? `exit ${exitCode}`}); retry ${retry} of ${step.retryPolicy.limit} in ${delay} s`,
      );
      return;
    }

    const repeat = step.repeatPolicy;
    if (repeat && retryable && !oversized) {
      const runs = node.repeat_count + 1;
      // A condition that runs a command was checked on the runner after the run; others are read here.
      const conditionMet =
        repeat.condition &&
        (isShellCondition(repeat.condition)
          ? result.repeatConditionMet
          : this.#repeatConditionMet(node, step, repeat.condition, captured));
      // A condition the runner could not check ends the repeats: it must not loop on an unknown answer.
      if (repeat.condition && conditionMet === undefined)
        this.#log(runId, `${node.name}: repeat condition not checked`);
      else if (shouldRepeat(repeat, runs, { exitCode, conditionMet })) {
        const delay = backoffDelaySeconds(repeat, runs);
        this.#store.recordRepeatWait(runId, node.name, { repeatCount: runs, repeatStdout: stdout, output: captured });
        this.#store.setTimer("retry", runId, node.name, node.attempt, Date.now() + delay * 1000);
        this.#log(runId, `${node.name}: run ${runs} ended (exit ${exitCode}); it repeats in ${delay} s`);
        return;
      }
    }

    const markSuccess =
      failed && retryable && step.continueOn.markSuccess && failureAllowed(step.continueOn, exitCode, result.stdout);
    const status: NodeStatus = failed && !markSuccess ? "failed" : "succeeded";
    this.#store.recordResult(runId, node.name, {
      status,
      finishedAt: result.finishedAt,
      exitCode,
      error: status === "failed" ? (error ?? `exit code ${exitCode}`) : null,
      output: oversized ? null : captured,
      stdout,
      stderr,
    });
    this.#log(runId, `${node.name}: ${status}${failed ? ` (${error ?? `exit ${exitCode}`})` : ""}`);
  }

  /**
   * Starts the next attempt of a node: marks it dispatched, arms its lease, returns the queue
   * message. A step that calls DAGs sends none: its runs are recorded for the coordinator to start.
   */
  #dispatchAttempt(node: NodeRecord): StepMessage | undefined {
    const attempt = node.attempt + 1;
    this.#store.markDispatched(node.run_id, node.name, attempt, this.#stamp());
    const step = this.#stepOf(node);
    if (step?.subDag) {
      this.#planCalls({ ...node, attempt }, step);
      return undefined;
    }
    this.#store.setTimer("lease", node.run_id, node.name, attempt, Date.now() + this.#leaseMs(node));
    this.#store.setTimer("heartbeat", node.run_id, node.name, attempt, Date.now() + pickupRecheckMs(0));
    return { dagId: this.#identity.dagId, runId: node.run_id, step: node.name, attempt };
  }

  // --- sub-DAG calls -------------------------------------------------------------------------

  /**
   * A calling step's attempt: one sub_runs row per call, the first max_concurrent to be started
   * (the coordinator starts them after this change is stored), the rest waiting their turn. A
   * step's own timeoutSec is its lease; without one it waits as long as its runs take, each
   * bounded by its own steps' leases.
   */
  #planCalls(node: NodeRecord, step: StepSpec): void {
    const run = this.#store.run(node.run_id)!;
    const call = step.subDag!;
    this.#store.setAttemptState(node.run_id, node.name, "claimed");
    if (step.timeoutSec) {
      this.#store.setTimer("lease", node.run_id, node.name, node.attempt, Date.now() + step.timeoutSec * 1000);
    }
    const planned = plannedCalls(step, withStepEnv(step, this.#scope(run, node.name)));
    if ("problem" in planned) {
      const at = this.#stamp();
      const outcome = { exitCode: 1, stdout: "", stderr: planned.problem, error: planned.problem };
      this.#applyOutcome(node, { ...outcome, startedAt: at, finishedAt: at }, false);
      return;
    }
    const concurrent = call.enqueue ? planned.calls.length : (call.parallel?.maxConcurrent ?? 1);
    planned.calls.forEach((target, item) => {
      this.#store.insertSubRun({
        run_id: node.run_id,
        step: node.name,
        attempt: node.attempt,
        item,
        dag: target.dag,
        params: target.params,
        child_run_id: newRunId(),
        state: item < concurrent ? "starting" : "waiting",
      });
    });
    this.#store.setTimer("sub_runs", node.run_id, node.name, node.attempt, Date.now() + SUB_RUN_CHECK_MS);
    const what = planned.calls.length === 1 ? `'${planned.calls[0]!.dag}'` : `${planned.calls.length} runs`;
    this.#log(node.run_id, `${node.name}: ${call.enqueue ? "queues" : "calls"} ${what}`);
  }

  /**
   * How to start a sub-DAG run: its caller's spec (where a document of the file is found), and
   * its link to the calling step — none for a queued one (dag.enqueue), which runs on its own.
   */
  subRunRequest(row: SubRunRecord): { callerSpec: string; enqueue: boolean; parent: ParentLink } {
    const run = this.#store.run(row.run_id)!;
    const node = this.#store.node(row.run_id, row.step);
    const enqueue = node ? (this.#stepOf(node)?.subDag?.enqueue ?? false) : false;
    const parent: ParentLink = {
      dagId: this.#identity.dagId,
      dagName: this.#identity.dagName,
      runId: run.id,
      step: row.step,
      attempt: row.attempt,
      item: row.item,
      depth: (run.parent?.depth ?? 0) + 1,
      rootDagName: run.parent?.rootDagName ?? this.#identity.dagName,
      rootRunId: run.parent?.rootRunId ?? run.id,
    };
    return { callerSpec: run.spec, enqueue, parent };
  }

  /** The sub-DAG runs to start now (new, next in turn, or not started at the last try). */
  subRunsToStart(): SubRunRecord[] {
    return this.#store.subRunsIn("starting");
  }

  /** A calling step's runs, every attempt, for reads (the API's sub-DAG runs). */
  subRunsOf(runId: string): SubRunRecord[] {
    return this.#store.subRunsOfRun(runId);
  }

  /** Whether a calling step still waits for this run: a stopped or retried step doesn't. */
  isSubRunCurrent(childRunId: string): boolean {
    const row = this.#store.subRunByChild(childRunId);
    return row !== undefined && row.state !== "finished";
  }

  /**
   * The sub-DAG run exists now (its coordinator took it, this time or before). A queued one
   * (dag.enqueue) is done with: its step doesn't wait for it.
   */
  subRunStarted(childRunId: string, childKey: string): StepMessage[] {
    const row = this.#store.subRunByChild(childRunId);
    if (row?.state !== "starting") return [];
    const at = this.#stamp();
    this.#store.markSubRunStarted(childRunId, childKey, at);
    const node = this.#store.node(row.run_id, row.step);
    if (!node || !this.#stepOf(node)?.subDag?.enqueue) return [];
    this.#store.finishSubRun(childRunId, { status: "queued", outputs: {}, error: null, at });
    return this.#settleCalls(row);
  }

  /** A sub-DAG run ended, or could not start (`error` says why): recorded once, and the step moves on. */
  subRunEnded(notice: SubRunNotice): StepMessage[] {
    const row = this.#store.subRunByChild(notice.childRunId);
    if (!row || row.state === "finished") return [];
    this.#store.finishSubRun(notice.childRunId, {
      status: notice.status,
      params: notice.params,
      outputs: notice.outputs,
      error: notice.error ?? null,
      at: this.#stamp(),
    });
    if (notice.status !== "succeeded")
      this.#log(
        row.run_id,
        `${row.step}: '${row.dag}' ${notice.childRunId} ${notice.status}${notice.error ? ` (${notice.error})` : ""}`,
      );
    return this.#settleCalls(row);
  }

  /** After one of a step's runs ended: the next ones in turn start; after the last, the step ends as they did. */
  #settleCalls(row: SubRunRecord): StepMessage[] {
    const node = this.#store.node(row.run_id, row.step);
    if (!node || node.attempt !== row.attempt || node.attempt_state !== "claimed") return [];
    const step = this.#stepOf(node)!;
    const call = step.subDag!;
    const counts = this.#store.subRunStates(row.run_id, row.step, row.attempt);
    const free =
      (call.enqueue ? Number.POSITIVE_INFINITY : (call.parallel?.maxConcurrent ?? 1)) -
      counts.starting -
      counts.running;
    if (counts.waiting > 0 && free > 0)
      this.#store.promoteWaitingSubRuns(row.run_id, row.step, row.attempt, Math.min(free, counts.waiting));
    if (counts.waiting + counts.starting + counts.running > 0) return [];
    this.#store.deleteTimer("sub_runs", row.run_id, row.step);
    const rows = this.#store.subRuns(row.run_id, row.step, row.attempt);
    const results: CallResult[] = rows.map((each) => ({
      name: each.dag,
      dagRunId: each.child_run_id,
      params: each.child_params ?? each.params,
      outputs: each.outputs ? (JSON.parse(each.outputs) as Record<string, string>) : {},
      status: each.status ?? "failed",
    }));
    const outcome = callStepOutcome(call.parallel !== undefined, results);
    const at = this.#stamp();
    const stderr = rows.flatMap((each) => (each.error ? [`${each.dag} ${each.child_run_id}: ${each.error}`] : []));
    this.#applyOutcome(
      node,
      {
        exitCode: outcome.succeeded ? 0 : 1,
        stdout: outcome.stdout,
        stderr: stderr.join("\n"),
        error: outcome.error,
        startedAt: node.started_at ?? at,
        finishedAt: at,
      },
      true,
    );
    return this.advance(row.run_id);
  }

  /** Ends a calling step's runs that haven't ended: those not started never will, the others are stopped. */
  #abortCalls(node: NodeRecord, reason: string): void {
    const at = this.#stamp();
    for (const row of this.#store.subRuns(node.run_id, node.name, node.attempt)) {
      if (row.state === "finished") continue;
      if (row.state === "running" && row.child_key) this.#effects.stopSubRun(row.child_key, row.child_run_id);
      this.#store.finishSubRun(row.child_run_id, { status: "aborted", outputs: {}, error: reason, at });
    }
    this.#store.deleteTimer("sub_runs", node.run_id, node.name);
  }

  /** What a finished sub-DAG run tells its calling step: its status, outputs by variable, first error. */
  parentNotice(run: RunRecord): SubRunNotice {
    const spec = this.#spec(run);
    const outputs = Object.fromEntries(this.#outputsByVariable(run, spec));
    // Dagu 1.30.2 lists a step that failed the run (didn't continue) as `DAGU_CONTINUE_ON.<step>`.
    for (const [name, state] of this.#stepStates(run.id, spec)) {
      if (state.status === "failed" && !state.continued) outputs[`DAGU_CONTINUE_ON.${name}`] = "false";
    }
    return {
      childRunId: run.id,
      status: runStatusLabel(run.status) as FinalStatus,
      params: resultParams(run.params),
      outputs,
      error: run.error ?? this.#store.firstFailure(run.id),
    };
  }

  /** Why one step can't be re-run alone: it isn't a step of the run, or a dependency didn't let it run. */
  #stepRetryRefusal(run: RunRecord, stepName: string): ControlResult | undefined {
    const spec = this.#spec(run);
    if (!spec.steps.some((step) => step.name === stepName)) {
      return { ok: false, code: "not_found", message: `step '${stepName}' not found in DAG run '${run.id}'` };
    }
    const states = this.#stepStates(run.id, spec);
    const blocking = resolveDependencies(spec.steps, spec.type)
      .get(stepName)!
      .filter((dependency) => !states.get(dependency)?.continued);
    if (blocking.length === 0) return undefined;
    return {
      ok: false,
      code: "bad_request",
      message: `step '${stepName}' can't run alone: its dependency '${blocking[0]}' did not succeed; retry the whole run instead`,
    };
  }

  // --- steps and their variables -------------------------------------------------------------

  #leaseMs(node: NodeRecord): number {
    const step = this.#stepOf(node);
    return step?.timeoutSec ? step.timeoutSec * 1000 : DEFAULT_LEASE_MS;
  }

  /** A node's definition, from the spec its run started with. */
  #stepOf(node: NodeRecord): StepSpec | undefined {
    const spec = this.#spec(this.#store.run(node.run_id)!);
    return node.kind === "step" ? spec.steps.find((step) => step.name === node.name) : spec.handlerOn[node.kind];
  }

  #stepStates(runId: string, spec: DagSpec): Map<string, StepState> {
    const steps = new Map(spec.steps.map((step) => [step.name, step]));
    return new Map(
      this.#store.stepNodes(runId).map((node) => {
        const status = nodeStatusLabel(node.status)!;
        const step = steps.get(node.name);
        const continued = step ? continues(step.continueOn, status, node.exit_code, node.stdout) : false;
        return [node.name, { status, continued }];
      }),
    );
  }

  /** The `output:` values the run's steps set so far, by their variables, in step order. */
  #outputsByVariable(run: RunRecord, spec: DagSpec): (readonly [string, string])[] {
    const variables = new Map(spec.steps.map((step) => [step.name, step.output]));
    return this.#store.outputs(run.id).flatMap(({ name, output }) => {
      const variable = variables.get(name);
      return variable ? [[variable, output] as const] : [];
    });
  }

  #scope(run: RunRecord, stepName: string): Map<string, string> {
    const spec = this.#spec(run);
    return runScope({
      dagName: this.#identity.dagName,
      runId: run.id,
      stepName,
      payload: run.payload,
      headers: run.headers,
      params: run.params,
      outcome: run.outcome,
      dagEnv: spec.env,
      outputs: this.#outputsByVariable(run, spec),
    });
  }

  /** A repeat condition, read with the step's variables and the output its run just printed. */
  #repeatConditionMet(node: NodeRecord, step: StepSpec, condition: Condition, output: string | null): boolean {
    const scope = this.#scope(this.#store.run(node.run_id)!, node.name);
    if (step.output && output !== null) scope.set(step.output, output);
    return unmetPrecondition([condition], scope) === undefined;
  }

  #unmetPrecondition(run: RunRecord, step: StepSpec) {
    return unmetPrecondition(step.preconditions, this.#scope(run, step.name));
  }

  #invocation(node: NodeRecord): StepInvocation {
    const run = this.#store.run(node.run_id)!;
    return buildInvocation({
      attempt: { dagId: this.#identity.dagId, runId: node.run_id, step: node.name, attempt: node.attempt },
      step: this.#stepOf(node)!,
      scope: this.#scope(run, node.name),
      maxOutputSize: this.#spec(run).maxOutputSize,
      leaseMs: this.#leaseMs(node),
    });
  }

  /** Asks the runner to kill the command attempts the coordinator ended; a calling step's runs are stopped. */
  #kill(nodes: NodeRecord[], reason: string): void {
    for (const node of nodes) {
      if (node.attempt === 0) continue;
      const step = this.#stepOf(node);
      if (step?.subDag) {
        this.#abortCalls(node, reason);
        continue;
      }
      if (!runsOnRunner(step)) continue;
      this.#effects.killOnRunner({
        dagId: this.#identity.dagId,
        runId: node.run_id,
        step: node.name,
        attempt: node.attempt,
      });
    }
  }

  // --- specs, time and the run log -----------------------------------------------------------

  #spec(run: RunRecord): DagSpec {
    const spec = this.#parse(run.spec);
    if (!spec) throw new Error(`stored spec of run ${run.id} no longer parses`);
    return spec;
  }

  #parse(text: string): DagSpec | undefined {
    let spec = this.#specs.get(text);
    if (spec) {
      this.#specs.delete(text); // re-inserted below as the most recently used
    } else {
      const parsed = parseDagSpec(text);
      if (!parsed.ok) return undefined;
      spec = parsed.spec;
    }
    this.#specs.set(text, spec);
    if (this.#specs.size > SPEC_CACHE_SIZE) this.#specs.delete(this.#specs.keys().next().value!);
    return spec;
  }

  /** A strictly increasing timestamp, so the D1 copy's "newer wins" rule orders every write. */
  #stamp(): string {
    this.#lastStamp = Math.max(Date.now(), this.#lastStamp + 1);
    return new Date(this.#lastStamp).toISOString();
  }

  #log(runId: string, line: string): void {
    this.#store.appendLog(runId, `${new Date().toISOString()} ${line}`);
  }
}
