/**
 * One Durable Object per DAG: it serialises that DAG's runs, is the only writer of their state,
 * and drives time (leases, retries, timeouts) with its alarm. RPC methods only; no fetch router.
 *
 * A step attempt moves none → dispatched (queued, or handed to a consumer inline) → claimed (a
 * consumer is executing it) → done or waiting_retry. A result is applied only to the current,
 * unfinished attempt, so a redelivered message or a late result changes nothing.
 */
import { DurableObject } from "cloudflare:workers";
import { emitEvent, runAlert } from "../alerts/events.ts";
import { deleteRunsFinishedBefore, upsertRuns } from "../db/runs.ts";
import { type DagSpec, parseDagSpec, type StepSpec } from "../domain/dag-spec.ts";
import { expand, expandDeep } from "../domain/expand.ts";
import { resolveParams } from "../domain/params.ts";
import { resolveDependencies } from "../domain/plan.ts";
import {
  afterHandlers,
  continues,
  type FinalStatus,
  failureAllowed,
  handlersFor,
  progress,
  retryDelaySeconds,
  type StepState,
  shouldRetry,
  stepsOutcome,
} from "../domain/progress.ts";
import {
  newRunId,
  RUN_ID_PATTERN,
  type RunFinishedEvent,
  type RunTrigger,
  type StartRequest,
  type StartResult,
  type StepInvocation,
  type StepMessage,
  type StepResult,
} from "../domain/run.ts";
import { bindShellReferences, ShellBindingError } from "../domain/shell-refs.ts";
import { NODE_STATUS, type NodeStatus, RUN_STATUS, type RunStatus, runStatusLabel } from "../domain/status.ts";
import { capLog, MAX_LOG_BYTES } from "../executors/executor.ts";
import { callRunner, executionKey } from "../executors/runner.ts";
import { type NodeKind, type NodeRecord, type RunRecord, Sql, type TimerKind, toRunRow } from "./storage.ts";

/** How long an attempt without its own timeout may stay silent: a queue consumer's 15 minutes, and some. */
const DEFAULT_LEASE_MS = 16 * 60 * 1000;
/** A command step without `timeoutSec` is still killed by the runner after a day. */
const MAX_COMMAND_MS = 24 * 60 * 60 * 1000;
const SPEC_CACHE_SIZE = 4;
const D1_RETRY_MS = [1_000, 5_000, 30_000, 120_000, 600_000];

const nodeStatusOf = (code: number) => (Object.keys(NODE_STATUS) as NodeStatus[])[code]!;

/** Runs and nodes as read over RPC; step definitions come from the run's own `spec` snapshot. */
export type NodeView = NodeRecord & { statusLabel: NodeStatus };
export type RunView = RunRecord & {
  dagId: string;
  dagName: string;
  statusLabel: RunStatus;
  nodes: NodeView[];
  handlerNodes: NodeView[];
};

export type ControlResult = { ok: true } | { ok: false; code: "not_found" | "bad_request"; message: string };

export class DagCoordinator extends DurableObject<Cloudflare.Env> {
  readonly #sql: Sql;
  /**
   * Parsed specs by their YAML text, least recently used first: runs of one DAG version share
   * an entry, and a start parses nothing the DAG's previous run parsed. Losing it costs a re-parse.
   */
  readonly #specs = new Map<string, DagSpec>();
  /** Who this object is: the DAG's stable id (its key) and current name, kept in `meta`. */
  #dagId = "";
  #dagName = "";
  #lastStamp = 0;
  /** Consecutive failed D1 writes per run, for the retry backoff (a restart simply starts over). */
  readonly #syncFailures = new Map<string, number>();
  /** The D1 batch in flight, and the next one (shared by everyone who changed a run meanwhile). */
  #currentSync: Promise<void> | undefined;
  #nextSync: Promise<void> | undefined;
  /** The outbox being shipped, so that concurrent commits don't ship one event twice. */
  #shipping: Promise<void> | undefined;
  /** The alarm's time as last set or read; `undefined` when not known (after a wake-up or an alarm). */
  #alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    this.#sql = new Sql(ctx.storage.sql);
    ctx.blockConcurrencyWhile(async () => {
      this.#sql.migrate();
      this.#dagId = this.#sql.meta("dag_id") ?? "";
      this.#dagName = this.#sql.meta("dag_name") ?? "";
    });
  }

  // ---------------------------------------------------------------------------------------------
  // RPC: runs

  async start(request: StartRequest): Promise<StartResult> {
    this.#identify(request.dagId, request.dagName);
    const runId = request.runId ?? newRunId();
    if (!RUN_ID_PATTERN.test(runId))
      return { ok: false, code: "bad_request", message: "dagRunId must match ^[a-zA-Z0-9_-]{1,64}$" };
    if (this.#sql.first("SELECT 1 AS used FROM runs WHERE id = ?", runId)) {
      return {
        ok: false,
        code: "already_exists",
        message: `a DAG run with id '${runId}' already exists for '${request.dagName}'`,
      };
    }
    if (
      request.singleton &&
      this.#sql.first("SELECT 1 AS active FROM runs WHERE status IN (?, ?)", RUN_STATUS.running, RUN_STATUS.queued)
    ) {
      return {
        ok: false,
        code: "already_exists",
        message: `'${request.dagName}' already has a running or queued run (singleton)`,
      };
    }
    const spec = this.#parse(request.spec);
    if (!spec) return { ok: false, code: "bad_request", message: "the DAG's spec is invalid; fix it before running" };
    let params;
    try {
      params = resolveParams(spec.params, request.params);
    } catch (error) {
      return {
        ok: false,
        code: "bad_request",
        message: `params: ${error instanceof Error ? error.message : String(error)}`,
      };
    }

    const at = this.#stamp();
    const seq = this.#sql.first<{ seq: number }>("SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM runs")?.seq ?? 1;
    this.#sql.run(
      `INSERT INTO runs (id, seq, status, spec, params, payload, headers, trigger, triggered_by, queued_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      runId,
      seq,
      RUN_STATUS.queued,
      request.spec,
      JSON.stringify(params),
      request.payload ?? null,
      request.headers ?? null,
      request.trigger,
      request.triggeredBy,
      at,
      at,
    );
    spec.steps.forEach((step, position) => {
      this.#sql.run(
        "INSERT INTO nodes (run_id, name, kind, position, status) VALUES (?, ?, 'step', ?, 0)",
        runId,
        step.name,
        position,
      );
    });
    this.#log(runId, `queued by ${request.trigger} (${request.triggeredBy || "anonymous"})`);

    const pruneBefore = this.#pruneHistory(spec.histRetentionDays);
    await Promise.all([this.#commit(this.#startQueuedRuns()), pruneBefore && this.#pruneD1(pruneBefore)]);
    return { ok: true, runId, status: this.#statusOf(runId) };
  }

  /**
   * A consumer takes a dispatched attempt; `null` when it is stale (redelivered, stopped, timed
   * out). A `resume` message takes over a claimed command attempt from a consumer whose time ran out.
   */
  async claim(message: StepMessage): Promise<StepInvocation | null> {
    const node = this.#node(message.runId, message.step);
    if (!node || node.attempt !== message.attempt) return null;
    if (message.resume) {
      return node.attempt_state === "claimed"
        ? { ...this.#invocation(message.runId, node), resume: message.resume }
        : null;
    }
    if (node.attempt_state !== "dispatched") return null;
    this.#sql.run(
      "UPDATE nodes SET attempt_state = 'claimed' WHERE run_id = ? AND name = ?",
      message.runId,
      message.step,
    );
    return this.#invocation(message.runId, node);
  }

  /**
   * Output of a running attempt, as it comes: appended to the step's log (its tail is kept), and
   * a sign of life that extends the lease of a step without its own timeout. `false` when the
   * attempt is no longer current (stopped, timed out), so its consumer stops waiting.
   */
  async progress(message: StepMessage, output: { stdout: string; stderr: string }): Promise<boolean> {
    const node = this.#node(message.runId, message.step);
    if (!node || node.attempt !== message.attempt || node.attempt_state !== "claimed") return false;
    if (output.stdout || output.stderr) {
      this.#sql.run(
        "UPDATE nodes SET stdout = ?, stderr = ? WHERE run_id = ? AND name = ?",
        capLog(node.stdout + output.stdout),
        capLog(node.stderr + output.stderr),
        message.runId,
        message.step,
      );
    }
    if (!this.#stepOf(message.runId, node)?.timeoutSec) {
      this.#setTimer("lease", message.runId, node.name, node.attempt, Date.now() + DEFAULT_LEASE_MS);
    }
    return true;
  }

  /**
   * Applies an attempt's result once. With `continueInline`, one newly ready step is returned
   * claimed for the caller to run next (a chain needs no queue hop); the rest are queued.
   */
  async finish(result: StepResult, continueInline = false): Promise<StepInvocation | null> {
    const node = this.#node(result.runId, result.step);
    if (
      !node ||
      node.attempt !== result.attempt ||
      (node.attempt_state !== "dispatched" && node.attempt_state !== "claimed")
    ) {
      return null;
    }
    this.#applyOutcome(result.runId, node, result, !result.timedOut);
    const messages = this.#advance(result.runId);
    const inline = continueInline ? messages.shift() : undefined;
    let invocation: StepInvocation | null = null;
    if (inline) {
      this.#sql.run(
        "UPDATE nodes SET attempt_state = 'claimed' WHERE run_id = ? AND name = ?",
        inline.runId,
        inline.step,
      );
      invocation = this.#invocation(inline.runId, this.#node(inline.runId, inline.step)!);
    }
    await this.#commit(messages);
    return invocation;
  }

  /** Cancels in-flight and pending steps, then runs the abort and exit handlers. */
  async stop(runId: string): Promise<ControlResult> {
    const run = this.#run(runId);
    if (!run) return { ok: false, code: "not_found", message: `DAG run '${runId}' not found` };
    if (run.status !== RUN_STATUS.running && run.status !== RUN_STATUS.queued) {
      return {
        ok: false,
        code: "bad_request",
        message: `DAG run '${runId}' is not running (${runStatusLabel(run.status)})`,
      };
    }
    const at = this.#stamp();
    this.#killOnRunner(
      runId,
      this.#sql.all<NodeRecord>("SELECT * FROM nodes WHERE run_id = ? AND status = ?", runId, NODE_STATUS.running),
    );
    // As in Dagu: what was running is aborted, what never started stays not_started.
    this.#sql.run(
      `UPDATE nodes SET status = ?, attempt_state = 'done', finished_at = ?, error = COALESCE(error, 'stopped')
       WHERE run_id = ? AND status = ?`,
      NODE_STATUS.aborted,
      at,
      runId,
      NODE_STATUS.running,
    );
    this.#sql.run("DELETE FROM timers WHERE run_id = ? AND kind IN ('lease', 'retry', 'run_timeout')", runId);
    this.#log(runId, "stop requested");
    if (run.status === RUN_STATUS.queued) {
      this.#sql.run("UPDATE runs SET outcome = 'aborted' WHERE id = ?", runId);
      this.#finalize(runId, "aborted");
    } else {
      this.#sql.run(
        "UPDATE runs SET outcome = 'aborted', handlers = ? WHERE id = ?",
        JSON.stringify(this.#handlersFor(runId, "aborted")),
        runId,
      );
    }
    await this.#commit([...this.#advance(runId), ...this.#startQueuedRuns()]);
    return { ok: true };
  }

  /**
   * Runs a finished run again. Without `stepName`, succeeded steps keep their results and every
   * other step runs anew; with it, only that step runs again (Dagu) and the rest stay as they
   * are. Either way the handlers run again and decide the final status.
   */
  async retry(runId: string, stepName?: string): Promise<ControlResult> {
    const run = this.#run(runId);
    if (!run) return { ok: false, code: "not_found", message: `DAG run '${runId}' not found` };
    if (run.status === RUN_STATUS.running || run.status === RUN_STATUS.queued) {
      return { ok: false, code: "bad_request", message: `DAG run '${runId}' is still ${runStatusLabel(run.status)}` };
    }
    if (stepName !== undefined) {
      const refusal = this.#stepRetryRefusal(run, stepName);
      if (refusal) return refusal;
    }
    const at = this.#stamp();
    this.#sql.run(
      `UPDATE nodes SET status = 0, attempt_state = 'none', retry_count = 0, started_at = NULL, finished_at = NULL,
         exit_code = NULL, error = NULL, output = NULL, stdout = '', stderr = ''
       WHERE run_id = ? AND kind = 'step' AND (name = ? OR (? IS NULL AND status <> ?))`,
      runId,
      stepName ?? null,
      stepName ?? null,
      NODE_STATUS.succeeded,
    );
    this.#sql.run("DELETE FROM nodes WHERE run_id = ? AND kind <> 'step'", runId);
    this.#sql.run(
      `UPDATE runs SET status = ?, outcome = NULL, handlers = '[]', error = NULL, only_step = ?, finished_at = NULL, queued_at = ?, updated_at = ?
       WHERE id = ?`,
      RUN_STATUS.queued,
      stepName ?? null,
      at,
      at,
      runId,
    );
    this.#log(runId, stepName === undefined ? "retry requested" : `retry of step '${stepName}' requested`);
    await this.#commit(this.#startQueuedRuns());
    return { ok: true };
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

  /** The DAG was renamed: runs, events and `DAG_NAME` use the new name from now on. */
  async renamed(dagName: string): Promise<void> {
    this.#identify(this.#dagId, dagName);
  }

  /** The DAG was deleted: every run, timer and log goes. Stale queue messages then claim nothing. */
  async destroy(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    this.#alarmAt = undefined;
    await this.ctx.storage.deleteAll();
    this.#specs.clear();
    this.#syncFailures.clear();
    this.#dagId = "";
    this.#dagName = "";
    this.#sql.migrate();
  }

  // ---------------------------------------------------------------------------------------------
  // RPC: reads

  async getRun(runId: string): Promise<RunView | null> {
    const run =
      runId === "latest"
        ? this.#sql.first<RunRecord>("SELECT * FROM runs ORDER BY seq DESC LIMIT 1")
        : this.#run(runId);
    return run ? this.#view(run) : null;
  }

  /** Several runs with their nodes, in the order asked; unknown ids are left out. */
  async getRuns(runIds: string[]): Promise<RunView[]> {
    return runIds.flatMap((runId) => {
      const run = this.#run(runId);
      return run ? [this.#view(run)] : [];
    });
  }

  #view(run: RunRecord): RunView {
    const nodes = this.#sql
      .all<NodeRecord>("SELECT * FROM nodes WHERE run_id = ? ORDER BY kind = 'step' DESC, position", run.id)
      .map((node) => ({ ...node, statusLabel: nodeStatusOf(node.status) }));
    return {
      ...run,
      dagId: this.#dagId,
      dagName: this.#dagName,
      statusLabel: runStatusLabel(run.status)!,
      nodes: nodes.filter((node) => node.kind === "step"),
      handlerNodes: nodes.filter((node) => node.kind !== "step"),
    };
  }

  async runLog(runId: string): Promise<string[] | null> {
    if (!this.#run(runId)) return null;
    return this.#sql
      .all<{ line: string }>("SELECT line FROM run_log WHERE run_id = ? ORDER BY seq", runId)
      .map((row) => row.line);
  }

  // ---------------------------------------------------------------------------------------------
  // Time

  override async alarm(): Promise<void> {
    this.#alarmAt = undefined; // this alarm is spent; what is set next is read back once
    const now = Date.now();
    const due = this.#sql.all<{ kind: TimerKind; run_id: string; step: string; attempt: number }>(
      "SELECT kind, run_id, step, attempt FROM timers WHERE due_ms <= ? ORDER BY due_ms",
      now,
    );
    const messages: StepMessage[] = [];
    for (const timer of due) {
      this.#sql.run(
        "DELETE FROM timers WHERE kind = ? AND run_id = ? AND step = ?",
        timer.kind,
        timer.run_id,
        timer.step,
      );
      if (timer.kind === "lease") {
        const node = this.#node(timer.run_id, timer.step);
        if (
          node &&
          node.attempt === timer.attempt &&
          (node.attempt_state === "dispatched" || node.attempt_state === "claimed")
        ) {
          const seconds = Math.round(this.#leaseMs(timer.run_id, node) / 1000);
          const error = `timed out after ${seconds} s`;
          const at = this.#stamp();
          // A timed-out step fails with exit code 124 and is not retried (Dagu).
          this.#applyOutcome(
            timer.run_id,
            node,
            {
              exitCode: 124,
              stdout: node.stdout,
              stderr: `${node.stderr}${error}`,
              error,
              startedAt: node.started_at ?? at,
              finishedAt: at,
            },
            false,
          );
          this.#killOnRunner(timer.run_id, [node]);
          messages.push(...this.#advance(timer.run_id));
        }
      } else if (timer.kind === "retry") {
        const node = this.#node(timer.run_id, timer.step);
        if (node && node.attempt_state === "waiting_retry") messages.push(this.#dispatchAttempt(timer.run_id, node));
      } else if (timer.kind === "run_timeout") {
        messages.push(...this.#timeOutRun(timer.run_id));
      }
      // 'd1_sync' timers only wake the alarm: #commit writes every stale D1 copy.
    }
    messages.push(...this.#startQueuedRuns());
    await this.#commit(messages);
  }

  // ---------------------------------------------------------------------------------------------
  // The state machine

  /** Moves every runnable queued run to running, oldest first, within the DAG's maxActiveRuns. */
  #startQueuedRuns(): StepMessage[] {
    const messages: StepMessage[] = [];
    for (;;) {
      const next = this.#sql.first<RunRecord>(
        "SELECT * FROM runs WHERE status = ? ORDER BY seq LIMIT 1",
        RUN_STATUS.queued,
      );
      if (!next) return messages;
      const active = this.#sql.first<{ n: number }>(
        "SELECT COUNT(*) AS n FROM runs WHERE status = ?",
        RUN_STATUS.running,
      )!.n;
      const spec = this.#spec(next);
      if (active >= spec.maxActiveRuns) return messages;
      const at = this.#stamp();
      this.#sql.run(
        "UPDATE runs SET status = ?, started_at = COALESCE(started_at, ?), updated_at = ? WHERE id = ?",
        RUN_STATUS.running,
        at,
        at,
        next.id,
      );
      if (spec.timeoutSec) this.#setTimer("run_timeout", next.id, "", 0, Date.now() + spec.timeoutSec * 1000);
      this.#log(next.id, "started");
      messages.push(...this.#advance(next.id));
    }
  }

  /**
   * Everything that can happen now in a running run: skip or abort steps that can't run,
   * dispatch ready ones, then handlers, then the final status. Returns attempts to send.
   */
  #advance(runId: string): StepMessage[] {
    const run = this.#run(runId);
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
        const states = this.#stepStates(runId, spec);
        const { ready, blocked } = progress(dependencies, states);
        if (ready.length === 0 && blocked.length === 0) break;
        const at = this.#stamp();
        for (const { name, status } of blocked) {
          this.#sql.run(
            "UPDATE nodes SET status = ?, finished_at = ?, attempt_state = 'done' WHERE run_id = ? AND name = ?",
            NODE_STATUS[status],
            at,
            runId,
            name,
          );
          this.#log(runId, `${name}: ${status} (a dependency did not succeed)`);
        }
        for (const name of ready) {
          const step = spec.steps.find((candidate) => candidate.name === name)!;
          const node = this.#node(runId, name)!;
          const unmet = this.#unmetPrecondition(runId, step);
          if (unmet) {
            const [status, reason] =
              "skip" in unmet ? (["skipped", unmet.skip] as const) : (["failed", unmet.error] as const);
            this.#sql.run(
              "UPDATE nodes SET status = ?, finished_at = ?, attempt_state = 'done', error = ? WHERE run_id = ? AND name = ?",
              NODE_STATUS[status],
              at,
              reason,
              runId,
              name,
            );
            this.#log(runId, `${name}: ${status} (${reason})`);
          } else {
            messages.push(this.#dispatchAttempt(runId, node));
          }
        }
      }
      const states = this.#stepStates(runId, spec);
      const pending = [...dependencies.keys()].some((name) =>
        ["not_started", "running"].includes(states.get(name)?.status ?? ""),
      );
      if (pending) return messages;
      const outcome = stepsOutcome(states);
      this.#sql.run(
        "UPDATE runs SET outcome = ?, handlers = ? WHERE id = ?",
        outcome,
        JSON.stringify(this.#handlersFor(runId, outcome)),
        runId,
      );
      this.#log(runId, `steps finished: ${outcome}`);
    }

    // Handlers run one at a time, in order; a handler still in flight means wait.
    const current = this.#run(runId)!;
    if (
      this.#sql.first(
        "SELECT 1 AS busy FROM nodes WHERE run_id = ? AND kind <> 'step' AND status = ?",
        runId,
        NODE_STATUS.running,
      )
    )
      return messages;
    const handlers = JSON.parse(current.handlers) as NodeKind[];
    const nextHandler = handlers.shift();
    if (nextHandler) {
      this.#sql.run("UPDATE runs SET handlers = ? WHERE id = ?", JSON.stringify(handlers), runId);
      const step = this.#handlerStep(spec, nextHandler)!;
      this.#sql.run(
        "INSERT OR REPLACE INTO nodes (run_id, name, kind, position, status) VALUES (?, ?, ?, ?, 0)",
        runId,
        step.name,
        nextHandler,
        spec.steps.length + ["success", "failure", "abort", "exit"].indexOf(nextHandler),
      );
      return [...messages, this.#dispatchAttempt(runId, this.#node(runId, step.name)!)];
    }
    const handlerFailed = this.#sql.first(
      "SELECT 1 AS failed FROM nodes WHERE run_id = ? AND kind <> 'step' AND status = ?",
      runId,
      NODE_STATUS.failed,
    );
    this.#finalize(runId, afterHandlers(current.outcome!, handlerFailed !== undefined));
    return [...messages, ...this.#startQueuedRuns()];
  }

  #handlersFor(runId: string, outcome: FinalStatus): NodeKind[] {
    return handlersFor(outcome, this.#spec(this.#run(runId)!).handlerOn);
  }

  #handlerStep(spec: DagSpec, kind: NodeKind): StepSpec | undefined {
    return kind === "step" ? undefined : spec.handlerOn[kind];
  }

  #finalize(runId: string, status: FinalStatus): void {
    const at = this.#stamp();
    const failedSteps = this.#sql
      .all<{ name: string }>(
        "SELECT name FROM nodes WHERE run_id = ? AND status = ? ORDER BY position",
        runId,
        NODE_STATUS.failed,
      )
      .map((row) => row.name);
    this.#sql.run(
      "UPDATE runs SET status = ?, finished_at = ?, updated_at = ?, only_step = NULL WHERE id = ?",
      RUN_STATUS[status],
      at,
      at,
      runId,
    );
    this.#sql.run("DELETE FROM timers WHERE run_id = ? AND kind <> 'd1_sync'", runId);
    this.#log(runId, `finished: ${status}`);
    const run = this.#run(runId)!;
    const event: RunFinishedEvent = {
      type: "run.finished",
      dagName: this.#dagName,
      runId,
      status,
      trigger: run.trigger as RunTrigger,
      triggeredBy: run.triggered_by,
      queuedAt: run.queued_at,
      startedAt: run.started_at,
      finishedAt: at,
      durationMs: Date.parse(at) - Date.parse(run.started_at ?? run.queued_at),
      failedSteps,
      error: this.#sql.first<{ error: string }>(
        "SELECT error FROM nodes WHERE run_id = ? AND status = ? AND error IS NOT NULL ORDER BY position LIMIT 1",
        runId,
        NODE_STATUS.failed,
      )?.error,
    };
    // Shipped to the alerts pipeline by #commit (and retried by the alarm until it is).
    this.#sql.run("INSERT INTO outbox (kind, run_id, body) VALUES ('event', ?, ?)", runId, JSON.stringify(event));
  }

  #timeOutRun(runId: string): StepMessage[] {
    const run = this.#run(runId);
    if (!run || run.status !== RUN_STATUS.running || run.outcome !== null) return [];
    const seconds = this.#spec(run).timeoutSec ?? 0;
    const at = this.#stamp();
    this.#killOnRunner(
      runId,
      this.#sql.all<NodeRecord>(
        "SELECT * FROM nodes WHERE run_id = ? AND kind = 'step' AND status = ?",
        runId,
        NODE_STATUS.running,
      ),
    );
    this.#sql.run(
      `UPDATE nodes SET status = ?, attempt_state = 'done', finished_at = ?, error = ? WHERE run_id = ? AND kind = 'step' AND status IN (?, ?)`,
      NODE_STATUS.aborted,
      at,
      `the DAG timed out after ${seconds} s`,
      runId,
      NODE_STATUS.running,
      NODE_STATUS.not_started,
    );
    this.#sql.run(
      "UPDATE runs SET outcome = 'failed', error = ?, handlers = ? WHERE id = ?",
      `timed out after ${seconds} s`,
      JSON.stringify(this.#handlersFor(runId, "failed")),
      runId,
    );
    this.#log(runId, `DAG timeout (${seconds} s): steps aborted`);
    return this.#advance(runId);
  }

  #applyOutcome(runId: string, node: NodeRecord, result: Omit<StepResult, keyof StepMessage>, retryable = true): void {
    const run = this.#run(runId)!;
    const spec = this.#spec(run);
    const step = this.#stepOf(runId, node)!;
    this.#sql.run("DELETE FROM timers WHERE kind = 'lease' AND run_id = ? AND step = ?", runId, node.name);
    const stdout = capLog(result.stdout);
    const stderr = capLog(result.stderr);
    // The output is captured even from a failed step; one larger than maxOutputSize fails it (Dagu).
    const captured = step.output ? result.stdout.trim() : null;
    const oversized = captured !== null && new TextEncoder().encode(captured).byteLength > spec.maxOutputSize;
    const exitCode = oversized && result.exitCode === 0 ? 1 : result.exitCode;
    const error = oversized ? `output exceeded maxOutputSize (${spec.maxOutputSize} bytes)` : result.error;
    const failed = exitCode !== 0;

    if (failed && retryable && shouldRetry(step.retryPolicy, node.retry_count, exitCode)) {
      const retry = node.retry_count + 1;
      const delay = retryDelaySeconds(step.retryPolicy, retry);
      this.#sql.run(
        "UPDATE nodes SET attempt_state = 'waiting_retry', retry_count = ?, exit_code = ?, error = ?, stdout = ?, stderr = ? WHERE run_id = ? AND name = ?",
        retry,
        exitCode,
        error ?? `exit code ${exitCode}`,
        stdout,
        stderr,
        runId,
        node.name,
      );
      this.#setTimer("retry", runId, node.name, node.attempt, Date.now() + delay * 1000);
      this.#log(
        runId,
        `${node.name}: attempt ${node.attempt} failed (${error ?? `exit ${exitCode}`}); retry ${retry} of ${step.retryPolicy.limit} in ${delay} s`,
      );
      return;
    }

    const markSuccess =
      failed && retryable && step.continueOn.markSuccess && failureAllowed(step.continueOn, exitCode, result.stdout);
    const status: NodeStatus = failed && !markSuccess ? "failed" : "succeeded";
    this.#sql.run(
      `UPDATE nodes SET status = ?, attempt_state = 'done', finished_at = ?, exit_code = ?, error = ?, output = ?, stdout = ?, stderr = ?
       WHERE run_id = ? AND name = ?`,
      NODE_STATUS[status],
      result.finishedAt,
      exitCode,
      status === "failed" ? (error ?? `exit code ${exitCode}`) : null,
      oversized ? null : captured,
      stdout,
      stderr,
      runId,
      node.name,
    );
    this.#log(runId, `${node.name}: ${status}${failed ? ` (${error ?? `exit ${exitCode}`})` : ""}`);
  }

  /** Starts the next attempt of a node: marks it dispatched, arms its lease, returns the queue message. */
  #dispatchAttempt(runId: string, node: NodeRecord): StepMessage {
    const attempt = node.attempt + 1;
    const at = this.#stamp();
    this.#sql.run(
      "UPDATE nodes SET status = ?, attempt = ?, attempt_state = 'dispatched', started_at = COALESCE(started_at, ?) WHERE run_id = ? AND name = ?",
      NODE_STATUS.running,
      attempt,
      at,
      runId,
      node.name,
    );
    this.#setTimer("lease", runId, node.name, attempt, Date.now() + this.#leaseMs(runId, node));
    return { dagId: this.#dagId, runId, step: node.name, attempt };
  }

  #leaseMs(runId: string, node: NodeRecord): number {
    const step = this.#stepOf(runId, node);
    return step?.timeoutSec ? step.timeoutSec * 1000 : DEFAULT_LEASE_MS;
  }

  #stepOf(runId: string, node: NodeRecord): StepSpec | undefined {
    const spec = this.#spec(this.#run(runId)!);
    return node.kind === "step"
      ? spec.steps.find((candidate) => candidate.name === node.name)
      : this.#handlerStep(spec, node.kind);
  }

  #stepStates(runId: string, spec: DagSpec): Map<string, StepState> {
    const nodes = this.#sql.all<NodeRecord>("SELECT * FROM nodes WHERE run_id = ? AND kind = 'step'", runId);
    const steps = new Map(spec.steps.map((step) => [step.name, step]));
    return new Map(
      nodes.map((node) => {
        const status = nodeStatusOf(node.status);
        const step = steps.get(node.name);
        return [
          node.name,
          { status, continued: step ? continues(step.continueOn, status, node.exit_code, node.stdout) : false },
        ];
      }),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Variables

  /** The variables a step sees: built-ins, the payload, params, DAG env, earlier outputs, its env. */
  #scope(runId: string, stepName: string): Map<string, string> {
    const run = this.#run(runId)!;
    const spec = this.#spec(run);
    const scope = new Map<string, string>([
      ["DAG_NAME", this.#dagName],
      ["DAG_RUN_ID", runId],
      ["DAG_RUN_STEP_NAME", stepName],
    ]);
    // First, so params and env can read it: `params: BRANCH=${WEBHOOK_PAYLOAD.branch}`.
    if (run.payload !== null) scope.set("WEBHOOK_PAYLOAD", run.payload);
    if (run.headers !== null) scope.set("WEBHOOK_HEADERS", run.headers);
    const params = JSON.parse(run.params) as { key: string; value: string }[];
    for (const { key, value } of params) scope.set(key, expand(value, scope));
    scope.set("DAGU_PARAMS_JSON", JSON.stringify(Object.fromEntries(params.map(({ key }) => [key, scope.get(key)]))));
    if (run.outcome !== null) scope.set("DAG_RUN_STATUS", run.outcome);
    for (const { key, value } of spec.env) scope.set(key, expand(value, scope));
    const outputs = this.#sql.all<{ name: string; output: string }>(
      "SELECT name, output FROM nodes WHERE run_id = ? AND output IS NOT NULL ORDER BY position",
      runId,
    );
    for (const { name, output } of outputs) {
      const variable = spec.steps.find((step) => step.name === name)?.output;
      if (variable) scope.set(variable, output);
    }
    return scope;
  }

  #invocation(runId: string, node: NodeRecord): StepInvocation {
    const step = this.#stepOf(runId, node)!;
    const spec = this.#spec(this.#run(runId)!);
    const scope = this.#scope(runId, node.name);
    for (const { key, value } of step.env) scope.set(key, expand(value, scope));
    const base = {
      dagId: this.#dagId,
      runId,
      step: node.name,
      attempt: node.attempt,
      shell: step.shell,
      dir: step.dir,
      config: expandDeep(step.executor?.config ?? {}, scope),
      stdoutCapture: step.output
        ? { limit: spec.maxOutputSize + 1, keep: "head" as const } // one byte more tells "too large"
        : { limit: MAX_LOG_BYTES, keep: "tail" as const },
    };
    if (step.executor?.type === "http") {
      const command = expand(step.command ?? "", scope);
      const script = step.script === undefined ? undefined : expand(step.script, scope);
      return {
        ...base,
        executor: "http",
        command,
        script,
        env: Object.fromEntries(scope),
        timeoutMs: this.#leaseMs(runId, node),
      };
    }
    // Shell text never gets values pasted in: its references become variables (domain/shell-refs.ts).
    // A script for another interpreter (`command` + `script`) is passed on as written.
    const timeoutMs = step.timeoutSec ? step.timeoutSec * 1000 : MAX_COMMAND_MS;
    try {
      const command = bindShellReferences(step.command ?? "", scope, step.shell);
      const script =
        step.script === undefined || step.command ? undefined : bindShellReferences(step.script, scope, step.shell);
      const env = { ...Object.fromEntries(scope), ...command.variables, ...script?.variables };
      return {
        ...base,
        executor: "command",
        command: command.text,
        script: script?.text ?? step.script,
        env,
        timeoutMs,
      };
    } catch (error) {
      if (!(error instanceof ShellBindingError)) throw error;
      return {
        ...base,
        executor: "command",
        command: "",
        script: undefined,
        env: {},
        timeoutMs,
        refusal: error.message,
      };
    }
  }

  #isCommand(runId: string, node: NodeRecord): boolean {
    return this.#stepOf(runId, node)?.executor?.type !== "http";
  }

  /** Asks the runner to kill a command attempt that the coordinator ended (timeout, stop). */
  #killOnRunner(runId: string, nodes: NodeRecord[]): void {
    for (const node of nodes) {
      if (!this.#isCommand(runId, node) || node.attempt === 0) continue;
      const attempt = { dagId: this.#dagId, runId, step: node.name, attempt: node.attempt };
      this.ctx.waitUntil(
        executionKey(attempt)
          .then((key) => callRunner(this.env, key, "DELETE"))
          .catch((error: unknown) => console.warn(`could not kill ${runId}/${node.name} on the runner:`, error)),
      );
    }
  }

  /** Why a step must be skipped (or fails) instead of running, or `undefined` when it may run. */
  #unmetPrecondition(runId: string, step: StepSpec): { skip: string } | { error: string } | undefined {
    if (step.preconditions.length === 0) return undefined;
    const scope = this.#scope(runId, step.name);
    for (const condition of step.preconditions) {
      const expected = condition.expected;
      if (expected === undefined || condition.condition.includes("`")) {
        // Dagu runs such a condition as a shell command. Preconditions are decided here, in the
        // coordinator, synchronously; a shell check belongs in a step (with continueOn) instead.
        return {
          error: `precondition '${condition.condition}' is a shell command, which is not supported: use condition + expected, or a command step`,
        };
      }
      const actual = expand(condition.condition, scope);
      // Dagu: `re:` is an unanchored regex tried on each line; otherwise a line must equal `expected`.
      const lines = actual.split("\n");
      let met = expected.startsWith("re:")
        ? lines.some((line) => new RegExp(expected.slice(3)).test(line))
        : lines.some((line) => line === expected);
      if (condition.negate) met = !met;
      if (!met)
        return {
          skip:
            condition.error ?? `precondition not met: '${condition.condition}' is '${actual}', expected '${expected}'`,
        };
    }
    return undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Storage helpers

  #run(runId: string): RunRecord | undefined {
    return this.#sql.first<RunRecord>("SELECT * FROM runs WHERE id = ?", runId);
  }

  #node(runId: string, name: string): NodeRecord | undefined {
    return this.#sql.first<NodeRecord>("SELECT * FROM nodes WHERE run_id = ? AND name = ?", runId, name);
  }

  #statusOf(runId: string): RunStatus {
    return runStatusLabel(this.#run(runId)!.status)!;
  }

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

  #setTimer(kind: TimerKind, runId: string, step: string, attempt: number, dueMs: number): void {
    this.#sql.run(
      "INSERT OR REPLACE INTO timers (kind, run_id, step, attempt, due_ms) VALUES (?, ?, ?, ?, ?)",
      kind,
      runId,
      step,
      attempt,
      dueMs,
    );
  }

  /** Makes sure the alarm fires by the earliest timer (it only ever needs to move earlier). */
  async #armAlarm(): Promise<void> {
    const next = this.#sql.first<{ due: number | null }>("SELECT MIN(due_ms) AS due FROM timers")?.due;
    if (next === null || next === undefined) return;
    // Only this object sets its alarm, so a remembered time saves reading it back on every change.
    if (this.#alarmAt === undefined) this.#alarmAt = await this.ctx.storage.getAlarm();
    if (this.#alarmAt === null || this.#alarmAt > next) {
      this.#alarmAt = next;
      await this.ctx.storage.setAlarm(next);
    }
  }

  #log(runId: string, line: string): void {
    const seq = this.#sql.first<{ seq: number }>(
      "SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM run_log WHERE run_id = ?",
      runId,
    )!.seq;
    this.#sql.run(
      "INSERT INTO run_log (run_id, seq, line) VALUES (?, ?, ?)",
      runId,
      seq,
      `${new Date().toISOString()} ${line}`,
    );
  }

  /** A strictly increasing timestamp, so the D1 copy's "newer wins" rule orders every write. */
  #stamp(): string {
    this.#lastStamp = Math.max(Date.now(), this.#lastStamp + 1);
    return new Date(this.#lastStamp).toISOString();
  }

  /** Learns (or, after a rename, updates) this object's DAG id and name; idFromName keeps neither. */
  #identify(dagId: string, dagName: string): void {
    if (dagId !== this.#dagId) this.#sql.setMeta("dag_id", (this.#dagId = dagId));
    if (dagName !== this.#dagName) this.#sql.setMeta("dag_name", (this.#dagName = dagName));
  }

  // ---------------------------------------------------------------------------------------------
  // Outbound: the D1 copy and events

  /**
   * Ends every state change: the D1 copies of runs whose run-level fields changed (a step result
   * that changes none costs no D1 write), the new attempts and the alarm all go out together.
   * Staleness is read from storage (`synced_at` ≠ `updated_at`), so nothing is lost to an
   * eviction between a change and its write.
   */
  async #commit(messages: StepMessage[]): Promise<void> {
    await Promise.all([this.#syncD1(), this.#dispatch(messages), this.#armAlarm()]);
    // Events go after the D1 copy (an alert's consumer finds the run's final row), and in the
    // background: no caller (a start, a step result) waits for the alerts pipeline.
    if (!this.#shipping && this.#sql.first("SELECT 1 AS pending FROM outbox LIMIT 1")) {
      this.#shipping = this.#shipEvents().finally(() => (this.#shipping = undefined));
      this.ctx.waitUntil(this.#shipping);
    }
  }

  /** Hands run-finished events to the alerts pipeline; one that fails stays in the outbox for the alarm. */
  async #shipEvents(): Promise<void> {
    const pending = this.#sql.all<{ id: number; run_id: string; body: string }>(
      "SELECT id, run_id, body FROM outbox WHERE kind = 'event' ORDER BY id",
    );
    for (const row of pending) {
      try {
        const alert = runAlert(this.#dagId, JSON.parse(row.body) as RunFinishedEvent);
        if (alert) await emitEvent(this.env, alert);
        this.#sql.run("DELETE FROM outbox WHERE id = ?", row.id);
      } catch (error) {
        this.#sql.run("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", String(error), row.id);
        console.error(`alert event of run ${row.run_id} not sent yet; the alarm retries:`, error);
        this.#setTimer("d1_sync", row.run_id, "", 0, Date.now() + D1_RETRY_MS[0]!);
        await this.#armAlarm();
      }
    }
  }

  /**
   * Group commit of the D1 copies: one batch writes every stale run. A caller whose change is
   * in storage waits for a batch that starts after its change; callers that arrive while a batch
   * is in flight share the next one, so a burst of starts costs two D1 writes, not one each.
   */
  #syncD1(): Promise<void> {
    this.#nextSync ??= (async () => {
      await this.#currentSync?.catch(() => undefined); // its own callers see its failure
      this.#nextSync = undefined;
      this.#currentSync = this.#writeStaleRuns();
      await this.#currentSync;
    })();
    return this.#nextSync;
  }

  /** Writes every run whose D1 copy is stale; if D1 fails, timers retry them with backoff. */
  async #writeStaleRuns(): Promise<void> {
    const stale = this.#sql.all<RunRecord>("SELECT * FROM runs WHERE synced_at IS NOT updated_at");
    if (stale.length === 0) return;
    try {
      await upsertRuns(
        this.env.DB,
        stale.map((run) => toRunRow(this.#dagId, run)),
      );
      for (const run of stale) {
        this.#sql.run(
          "UPDATE runs SET synced_at = ? WHERE id = ? AND updated_at = ?",
          run.updated_at,
          run.id,
          run.updated_at,
        );
        this.#syncFailures.delete(run.id);
      }
    } catch (error) {
      console.error(`D1 copy of ${stale.length} run(s) failed; retrying:`, error);
      for (const run of stale) {
        const failures = (this.#syncFailures.get(run.id) ?? 0) + 1;
        this.#syncFailures.set(run.id, failures);
        this.#setTimer("d1_sync", run.id, "", 0, Date.now() + D1_RETRY_MS[Math.min(failures, D1_RETRY_MS.length) - 1]!);
      }
      // #commit armed the alarm concurrently, perhaps before these timers existed.
      await this.#armAlarm();
    }
  }

  /**
   * Deletes finished runs older than the DAG's `histRetentionDays` (Dagu's rule) from this
   * storage; returns the cutoff when it deleted any, so their D1 copies go too.
   */
  #pruneHistory(retentionDays: number): string | undefined {
    const cutoff = new Date(Date.now() - retentionDays * 86_400_000).toISOString();
    const old = this.#sql.all<{ id: string }>("SELECT id FROM runs WHERE finished_at < ?", cutoff).map((row) => row.id);
    if (old.length === 0) return undefined;
    for (const table of ["nodes", "run_log", "timers", "outbox"]) {
      this.#sql.run(`DELETE FROM ${table} WHERE run_id IN (SELECT value FROM json_each(?))`, JSON.stringify(old));
    }
    this.#sql.run("DELETE FROM runs WHERE id IN (SELECT value FROM json_each(?))", JSON.stringify(old));
    return cutoff;
  }

  /** By date, not by id: a prune whose D1 delete failed is caught up by the next one. */
  async #pruneD1(cutoff: string): Promise<void> {
    try {
      await deleteRunsFinishedBefore(this.env.DB, this.#dagId, cutoff);
    } catch (error) {
      console.error(`pruning the D1 copies of '${this.#dagName}' runs failed; the next prune retries:`, error);
    }
  }

  async #dispatch(messages: StepMessage[]): Promise<void> {
    if (messages.length === 0) return;
    // A lost send is recovered by the attempt's lease: it times out and follows its retry policy.
    for (let i = 0; i < messages.length; i += 100) {
      await this.env.STEPS.sendBatch(messages.slice(i, i + 100).map((body) => ({ body, contentType: "json" })));
    }
  }
}
