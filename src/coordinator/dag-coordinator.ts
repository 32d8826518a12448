/**
 * One Durable Object per DAG: it serialises that DAG's runs, is the only writer of their state,
 * and drives time with its alarm. This class is the RPC surface and the alarm; the rules live
 * in RunMachine (run-machine.ts), the storage in RunStore (run-store.ts), and everything sent
 * out of the object in Outbound (outbound.ts). Every change ends with one commit: the D1
 * copies, the new attempts and the alarm.
 */
import { DurableObject } from "cloudflare:workers";
import type { StartRequest, StartResult, StepInvocation, StepMessage, StepResult } from "../domain/run.ts";
import { type NodeStatus, nodeStatusLabel, type RunStatus, runStatusLabel } from "../domain/status.ts";
import { Outbound } from "./outbound.ts";
import { type ControlResult, type Identity, RunMachine } from "./run-machine.ts";
import { type NodeRecord, type RunRecord, RunStore } from "./run-store.ts";

export type { ControlResult } from "./run-machine.ts";

/** Runs and nodes as read over RPC; step definitions come from the run's own `spec` snapshot. */
export type NodeView = NodeRecord & { statusLabel: NodeStatus };
export type RunView = RunRecord & {
  dagId: string;
  dagName: string;
  statusLabel: RunStatus;
  nodes: NodeView[];
  handlerNodes: NodeView[];
};

export class DagCoordinator extends DurableObject<Cloudflare.Env> {
  readonly #store: RunStore;
  /** Kept in the store's `meta`: idFromName keeps neither the DAG's id nor its name. */
  readonly #identity: Identity = { dagId: "", dagName: "" };
  readonly #machine: RunMachine;
  readonly #outbound: Outbound;
  /** The alarm's time as last set or read; `undefined` when not known (after a wake-up or an alarm). */
  #alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    this.#store = new RunStore(ctx.storage.sql);
    this.#outbound = new Outbound(ctx, env, this.#store, this.#identity, () => this.#armAlarm());
    this.#machine = new RunMachine(this.#store, this.#identity, this.#outbound);
    ctx.blockConcurrencyWhile(async () => {
      this.#store.migrate();
      this.#identity.dagId = this.#store.meta("dag_id") ?? "";
      this.#identity.dagName = this.#store.meta("dag_name") ?? "";
    });
  }

  // --- RPC: runs -----------------------------------------------------------------------------

  async start(request: StartRequest): Promise<StartResult> {
    this.#identify(request.dagId, request.dagName);
    const queued = this.#machine.queue(request);
    if (!queued.ok) return queued;
    const pruneBefore = this.#machine.pruneHistory(queued.histRetentionDays);
    await Promise.all([
      this.#outbound.commit(this.#machine.startQueuedRuns()),
      pruneBefore && this.#outbound.pruneD1(pruneBefore),
    ]);
    return { ok: true, runId: queued.runId, status: this.#machine.statusOf(queued.runId) };
  }

  /** A consumer takes a dispatched attempt (or resumes a claimed one); `null` when it is stale. */
  async claim(message: StepMessage): Promise<StepInvocation | null> {
    return this.#machine.claim(message);
  }

  /** Output of a running attempt, and a sign of life; `false` once the attempt is no longer current. */
  async progress(message: StepMessage, output: { stdout: string; stderr: string }): Promise<boolean> {
    return this.#machine.progress(message, output);
  }

  /**
   * Applies an attempt's result once. With `continueInline`, one newly ready step is returned
   * claimed for the caller to run next (a chain needs no queue hop); the rest are queued.
   */
  async finish(result: StepResult, continueInline = false): Promise<StepInvocation | null> {
    const { messages, next } = this.#machine.finish(result, continueInline);
    await this.#outbound.commit(messages);
    return next;
  }

  /** Cancels in-flight and pending steps, then runs the abort and exit handlers. */
  async stop(runId: string): Promise<ControlResult> {
    return this.#control(this.#machine.stop(runId));
  }

  /** Runs a finished run again: the whole run (succeeded steps keep their results) or one step. */
  async retry(runId: string, stepName?: string): Promise<ControlResult> {
    return this.#control(this.#machine.retry(runId, stepName));
  }

  /** The DAG was renamed: runs, events and `DAG_NAME` use the new name from now on. */
  async renamed(dagName: string): Promise<void> {
    this.#identify(this.#identity.dagId, dagName);
  }

  /** The DAG was deleted: every run, timer and log goes. Stale queue messages then claim nothing. */
  async destroy(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    this.#alarmAt = undefined;
    await this.ctx.storage.deleteAll();
    this.#outbound.reset();
    this.#identity.dagId = "";
    this.#identity.dagName = "";
    this.#store.migrate();
  }

  // --- RPC: reads ----------------------------------------------------------------------------

  async getRun(runId: string): Promise<RunView | null> {
    const run = runId === "latest" ? this.#store.latestRun() : this.#store.run(runId);
    return run ? this.#view(run) : null;
  }

  /** Several runs with their nodes, in the order asked; unknown ids are left out. */
  async getRuns(runIds: string[]): Promise<RunView[]> {
    return runIds.flatMap((runId) => {
      const run = this.#store.run(runId);
      return run ? [this.#view(run)] : [];
    });
  }

  async runLog(runId: string): Promise<string[] | null> {
    return this.#store.hasRun(runId) ? this.#store.logLines(runId) : null;
  }

  // --- time ----------------------------------------------------------------------------------

  override async alarm(): Promise<void> {
    this.#alarmAt = undefined; // this alarm is spent; what is set next is read back once
    const messages: StepMessage[] = [];
    for (const timer of this.#store.dueTimers(Date.now())) {
      this.#store.deleteTimer(timer.kind, timer.run_id, timer.step);
      messages.push(...this.#machine.fire(timer));
    }
    messages.push(...this.#machine.startQueuedRuns());
    await this.#outbound.commit(messages);
  }

  /** Makes sure the alarm fires by the earliest timer (it only ever needs to move earlier). */
  async #armAlarm(): Promise<void> {
    const next = this.#store.earliestTimer();
    if (next === undefined) return;
    // Only this object sets its alarm, so a remembered time saves reading it back on every change.
    if (this.#alarmAt === undefined) this.#alarmAt = await this.ctx.storage.getAlarm();
    if (this.#alarmAt === null || this.#alarmAt > next) {
      this.#alarmAt = next;
      await this.ctx.storage.setAlarm(next);
    }
  }

  // --- helpers -------------------------------------------------------------------------------

  async #control(result: ControlResult & { messages?: StepMessage[] }): Promise<ControlResult> {
    if (!result.ok) return result;
    await this.#outbound.commit(result.messages ?? []);
    return { ok: true };
  }

  #view(run: RunRecord): RunView {
    const nodes = this.#store.nodes(run.id).map((node) => ({ ...node, statusLabel: nodeStatusLabel(node.status)! }));
    return {
      ...run,
      dagId: this.#identity.dagId,
      dagName: this.#identity.dagName,
      statusLabel: runStatusLabel(run.status)!,
      nodes: nodes.filter((node) => node.kind === "step"),
      handlerNodes: nodes.filter((node) => node.kind !== "step"),
    };
  }

  /** Learns (or, after a rename, updates) this object's DAG id and name. */
  #identify(dagId: string, dagName: string): void {
    if (dagId !== this.#identity.dagId) {
      this.#identity.dagId = dagId;
      this.#store.setMeta("dag_id", dagId);
    }
    if (dagName !== this.#identity.dagName) {
      this.#identity.dagName = dagName;
      this.#store.setMeta("dag_name", dagName);
    }
  }
}
