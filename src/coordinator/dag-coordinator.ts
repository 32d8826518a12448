/**
 * One Durable Object per DAG: it serialises that DAG's runs, is the only writer of their state,
 * and drives time with its alarm. This class is the RPC surface and the alarm; the rules live
 * in RunMachine (run-machine.ts), the storage in RunStore (run-store.ts), and everything sent
 * out of the object in Outbound (outbound.ts). Every change ends with one commit: the D1
 * copies, the new attempts and the alarm.
 */
import { DurableObject } from "cloudflare:workers";
import { type DagRow, findDag } from "../db/dags.ts";
import { type TriggerVersion, webhookVersion } from "../db/webhooks.ts";
import { labCoordinatorEnv } from "../dev/latency.ts";
import { localDagSources } from "../domain/dag-spec.ts";
import type { FinalStatus } from "../domain/progress.ts";
import type { StartRequest, StartResult, StepInvocation, StepMessage, StepResult } from "../domain/run.ts";
import { type NodeStatus, nodeStatusLabel, type RunStatus, runStatusLabel } from "../domain/status.ts";
import { failedNotice, type SubRunNotice } from "../domain/sub-dag.ts";
import { log } from "../log.ts";
import { Grouped } from "./grouped.ts";
import { coordinatorFor } from "./index.ts";
import { Outbound } from "./outbound.ts";
import {
  type AttemptProgress,
  type ControlResult,
  type Identity,
  RunMachine,
  SUB_RUN_CHECK_MS,
} from "./run-machine.ts";
import { type NodeRecord, type RunRecord, RunStore, type SubRunRecord, type Timer } from "./run-store.ts";

/** Sub-DAG runs started at once (a fan-out of 1,000 starts in waves of this many). */
const SUB_RUN_START_WAVE = 50;
/** When telling a caller failed, the next try. */
const TELL_RETRY_MS = 5_000;

export type { ControlResult } from "./run-machine.ts";

/** A trigger decided on a copy of its webhook that is no longer current: the Worker decides again on the primary's row. */
export type StaleTrigger = { ok: false; code: "stale_trigger" };
const STALE_TRIGGER: StaleTrigger = { ok: false, code: "stale_trigger" };

/** Runs and nodes as read over RPC; step definitions come from the run's own `spec` snapshot. */
export type NodeView = NodeRecord & { statusLabel: NodeStatus };
export type RunView = RunRecord & {
  dagId: string;
  dagName: string;
  statusLabel: RunStatus;
  nodes: NodeView[];
  handlerNodes: NodeView[];
  /** The runs its calling steps started, every attempt. */
  subRuns: SubRunRecord[];
};

export class DagCoordinator extends DurableObject<Cloudflare.Env> {
  readonly #store: RunStore;
  /** Kept in the store's `meta`: idFromName keeps neither the DAG's id nor its name. */
  readonly #identity: Identity = { dagId: "", dagName: "" };
  readonly #machine: RunMachine;
  readonly #outbound: Outbound;
  /** The alarm's time as last set or read; `undefined` when not known (after a wake-up or an alarm). */
  #alarmAt: number | null | undefined;
  /** The loop that starts sub-DAG runs and tells callers, while it runs; a change meanwhile asks for another pass. */
  #subDagTraffic: Promise<void> | undefined;
  #subDagAgain = false;
  /** Reads of a webhook's version, by webhook id (a DAG has one webhook at a time, under a new id after a re-create). */
  readonly #versionReads = new Map<string, Grouped<number | undefined>>();
  /** A caller's spec and its documents after `---`, by name. */
  readonly #localSourceCache = new Map<string, Map<string, string>>();

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, labCoordinatorEnv(env));
    this.#store = new RunStore(ctx.storage.sql);
    this.#outbound = new Outbound(ctx, this.env, this.#store, this.#identity, () => this.#armAlarm());
    this.#machine = new RunMachine(this.#store, this.#identity, this.#outbound);
    ctx.blockConcurrencyWhile(async () => {
      this.#store.migrate();
      this.#identity.dagId = this.#store.meta("dag_id") ?? "";
      this.#identity.dagName = this.#store.meta("dag_name") ?? "";
      // Whatever woke this object (an RPC, the tick), its timers must have an alarm: one lost
      // with a restart is set again here, and what is overdue fires at once.
      await this.#armAlarm();
    });
  }

  // --- RPC: runs -----------------------------------------------------------------------------

  async start({ inbound, ...request }: StartRequest): Promise<StartResult> {
    this.#identify(request.dagId, request.dagName);
    const queued = this.#machine.queue(request);
    if (!queued.ok) return queued;
    // By id: a rename (or a new DAG under this name) before the batch doesn't move it.
    if (inbound) this.#outbound.logInbound({ ...inbound, dag_id: request.dagId, run_id: queued.runId });
    const pruneBefore = this.#machine.pruneHistory(queued.histRetentionDays);
    const messages = request.parent ? this.#machine.startSubRun(queued.runId) : this.#machine.startQueuedRuns();
    await Promise.all([this.#commit(messages), pruneBefore && this.#outbound.pruneD1(pruneBefore)]);
    return { ok: true, runId: queued.runId, status: this.#machine.statusOf(queued.runId) };
  }

  /**
   * A trigger decided on a copy of its webhook at `decidedOn` (the Worker's memory, a D1 read
   * replica): nothing starts — not even this object's name changes — unless D1's primary, next
   * door when placed by the location hint, still has that version (docs/latency.md).
   */
  async startIfCurrent(request: StartRequest, decidedOn: TriggerVersion): Promise<StartResult | StaleTrigger> {
    if ((await this.#webhookVersion(request.dagId, decidedOn.webhookId)) !== decidedOn.version) return STALE_TRIGGER;
    return this.start(request);
  }

  /** The webhook's version on D1's primary, read after this call arrived; triggers arriving together share one read. */
  #webhookVersion(dagId: string, webhookId: string): Promise<number | undefined> {
    let reads = this.#versionReads.get(webhookId);
    if (!reads) {
      reads = new Grouped(() => webhookVersion(this.env.DB, dagId, webhookId));
      this.#versionReads.set(webhookId, reads);
    }
    return reads.run();
  }

  /** A consumer takes a dispatched attempt (or resumes a claimed one); `null` when it is stale. */
  async claim(message: StepMessage): Promise<StepInvocation | null> {
    const invocation = this.#machine.claim(message);
    // The claim set the attempt's heartbeat timer; the alarm only ever moves earlier (no write, mostly).
    if (invocation) await this.#armAlarm();
    return invocation;
  }

  /**
   * Output of a running attempt, and its holder's sign of life; `false` once the attempt is no
   * longer current or no longer this holder's (taken over): the holder then stops.
   */
  async progress(message: StepMessage, output: AttemptProgress): Promise<boolean> {
    return this.#machine.progress(message, output);
  }

  /**
   * Makes sure the alarm is armed for what this object owns. The minute tick calls it for every
   * DAG with an unfinished run: an alarm lost with a local restart (or never set, by a fault
   * between a write and its alarm) is set again, and what is overdue runs at once.
   */
  async wake(): Promise<void> {
    // The constructor armed the alarm when this call woke the object; an object already awake
    // has its alarm as last set (#alarmAt), so only the store's earliest timer is compared.
    await this.#armAlarm();
  }

  /**
   * Applies an attempt's result once. With `continueInline`, one newly ready step is returned
   * claimed for the caller to run next (a chain needs no queue hop); the rest are queued.
   */
  async finish(result: StepResult, continueInline = false): Promise<StepInvocation | null> {
    const { messages, next } = this.#machine.finish(result, continueInline);
    await this.#commit(messages);
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

  /**
   * Sets a step's status by hand in a run that is neither running nor queued. A sub-DAG run
   * whose status changed with it tells its calling step's record, so the caller's list shows it.
   */
  async setStepStatus(runId: string, stepName: string, status: NodeStatus, by: string): Promise<ControlResult> {
    const result = this.#machine.setStepStatus(runId, stepName, status, by);
    if (!result.ok) return result;
    await this.#commit([]);
    const parent = this.#store.run(runId)?.parent;
    if (result.runStatus && parent) {
      try {
        await coordinatorFor(this.env, parent.dagId).subRunStatusChanged(runId, result.runStatus);
      } catch (error) {
        // The run itself holds its status; only the caller's list shows the old one.
        log.warn("telling a calling step a sub-DAG run's new status failed", { ...this.#identity, runId, error });
      }
    }
    return { ok: true };
  }

  // --- RPC: sub-DAGs ------------------------------------------------------------------------

  /** (Caller side) a finished sub-DAG run's status was set anew: its record shows the new one. */
  async subRunStatusChanged(childRunId: string, status: FinalStatus): Promise<void> {
    this.#store.setSubRunStatus(childRunId, status);
  }

  /** (Caller side) one of a calling step's runs ended; a late or repeated notice changes nothing. */
  async subRunEnded(notice: SubRunNotice): Promise<void> {
    await this.#commit(this.#machine.subRunEnded(notice));
  }

  /** (Callee side) what a sub-DAG run would tell its caller: null while it runs, "gone" when there is no such run. */
  async subRunNotice(runId: string): Promise<SubRunNotice | null | "gone"> {
    const run = this.#store.run(runId);
    if (!run) return "gone";
    return run.finished_at === null ? null : this.#machine.parentNotice(run);
  }

  /** The runs a run's calling steps started, every attempt (the API's sub-DAG runs). */
  async subRuns(runId: string): Promise<SubRunRecord[]> {
    return this.#machine.subRunsOf(runId);
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
    let run = runId === "latest" ? this.#store.latestRun() : this.#store.run(runId);
    // A change whose D1 copy is still on its way: the answer waits for it, so that the run lists
    // (read from D1) show what this read showed once it has returned. A client that polls a run
    // until it has finished, then lists finished runs, finds it there.
    if (run && run.parent === null && run.synced_at !== run.updated_at) {
      await this.#outbound.awaitCopies();
      run = this.#store.run(run.id);
    }
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
    const subRunChecks: Timer[] = [];
    for (const timer of this.#store.dueTimers(Date.now())) {
      this.#store.deleteTimer(timer.kind, timer.run_id, timer.step);
      if (timer.kind === "sub_runs") subRunChecks.push(timer);
      else messages.push(...this.#machine.fire(timer));
    }
    messages.push(...this.#machine.startQueuedRuns());
    for (const check of subRunChecks) messages.push(...(await this.#askAfterSubRuns(check)));
    await this.#commit(messages);
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
    await this.#commit(result.messages ?? []);
    return { ok: true };
  }

  /**
   * Ends every change: the outbound commit, then (in the background) the sub-DAG traffic the change made — runs
   * to start, callers to tell that a run ended — until there is none (a start that fails can
   * end a step, which can start the next). One loop at a time; a change meanwhile makes it go again.
   */
  async #commit(messages: StepMessage[]): Promise<void> {
    await this.#outbound.commit(messages);
    // The traffic goes on after the caller is answered: a consumer reporting a sub-DAG run's last
    // step doesn't wait for the caller's next start. It is in storage first, and the caller's
    // check timer picks up whatever an eviction cuts short.
    this.ctx.waitUntil(this.#subDagTrafficFor());
  }

  #subDagTrafficFor(): Promise<void> {
    if (this.#subDagTraffic) {
      this.#subDagAgain = true;
      return this.#subDagTraffic;
    }
    if (this.#machine.subRunsToStart().length === 0 && !this.#store.hasUntoldParents()) return Promise.resolve();
    this.#subDagTraffic = (async () => {
      // A run that failed to start waits for its step's check timer, rather than being retried in a tight loop.
      const failed = new Set<string>();
      const due = () => this.#machine.subRunsToStart().filter((row) => !failed.has(row.child_run_id));
      do {
        this.#subDagAgain = false;
        const started = await this.#startSubRuns(due(), failed);
        await this.#tellCallers();
        await this.#outbound.commit(started);
      } while (this.#subDagAgain || due().length > 0);
    })()
      .catch((error: unknown) =>
        log.error("sub-DAG traffic failed; the check timers retry it", { ...this.#identity, error }),
      )
      .finally(() => {
        this.#subDagTraffic = undefined;
        // A change that asked for traffic after the last pass had decided to stop (its commit
        // shared the pass's group commit, and it asked in the microtasks before this) gets a pass
        // of its own; else a run's end would wait for a timer to reach its caller.
        if (this.#subDagAgain) {
          this.#subDagAgain = false;
          this.ctx.waitUntil(this.#subDagTrafficFor());
        }
      });
    return this.#subDagTraffic;
  }

  /** Starts the sub-DAG runs that are due, a wave at a time; returns the attempts their ends dispatched. */
  async #startSubRuns(rows: SubRunRecord[], failed: Set<string>): Promise<StepMessage[]> {
    if (rows.length === 0) return [];
    const messages: StepMessage[] = [];
    const storedDags = new Map<string, Promise<DagRow | null>>();
    for (let i = 0; i < rows.length; i += SUB_RUN_START_WAVE) {
      await Promise.all(
        rows.slice(i, i + SUB_RUN_START_WAVE).map(async (row) => {
          const started = await this.#startSubRun(row, storedDags);
          if (started === "failed") failed.add(row.child_run_id);
          else messages.push(...started);
        }),
      );
    }
    return messages;
  }

  async #startSubRun(
    row: SubRunRecord,
    storedDags: Map<string, Promise<DagRow | null>>,
  ): Promise<StepMessage[] | "failed"> {
    const { callerSpec, enqueue, parent } = this.#machine.subRunRequest(row);
    const fail = (error: string) => this.#machine.subRunEnded(failedNotice(row.child_run_id, error));
    try {
      const target = await this.#callTarget(row.dag, callerSpec, enqueue, storedDags);
      if ("refusal" in target) return fail(target.refusal);
      const result = await coordinatorFor(this.env, target.key).start({
        dagId: target.key,
        dagName: row.dag,
        spec: target.spec,
        runId: row.child_run_id,
        params: row.params,
        trigger: "parent",
        triggeredBy: `${this.#identity.dagName}/${row.run_id}`,
        parent: enqueue ? undefined : parent,
      });
      // Started before, by a try whose answer was lost: the same run.
      if (!result.ok && result.code !== "already_exists") return fail(result.message);
      if (!this.#machine.isSubRunCurrent(row.child_run_id)) {
        // Its step was stopped while the run was being started: it must not run on alone.
        this.#outbound.stopSubRun(target.key, row.child_run_id);
        return [];
      }
      return this.#machine.subRunStarted(row.child_run_id, target.key);
    } catch (error) {
      // Left to start: the step's check timer tries again.
      log.warn("starting a sub-DAG run failed; it is tried again", {
        ...this.#identity,
        child: row.child_run_id,
        error,
      });
      return "failed";
    }
  }

  /**
   * The coordinator and spec of a called DAG: a document of the caller's file first (as Dagu
   * resolves it), else a stored DAG; or why there is none.
   */
  async #callTarget(
    name: string,
    callerSpec: string,
    enqueue: boolean,
    storedDags: Map<string, Promise<DagRow | null>>,
  ): Promise<{ key: string; spec: string } | { refusal: string }> {
    const local = this.#localSources(callerSpec).get(name);
    if (local !== undefined) {
      if (enqueue) return { refusal: `dag.enqueue queues stored DAGs; '${name}' is a document of the caller's file` };
      // A document's runs have a coordinator of their own, named after the caller's.
      return { key: `${this.#identity.dagId}>${name}`, spec: local };
    }
    if (!storedDags.has(name)) storedDags.set(name, findDag(this.env.DB, name));
    const dag = await storedDags.get(name)!;
    if (!dag) return { refusal: `DAG '${name}' not found` };
    return { key: dag.id, spec: dag.spec };
  }

  #localSources(spec: string): Map<string, string> {
    let sources = this.#localSourceCache.get(spec);
    if (!sources) {
      sources = spec.includes("\n---") ? localDagSources(spec) : new Map<string, string>();
      this.#localSourceCache.clear(); // a DAG's runs share one spec, mostly: one entry is enough
      this.#localSourceCache.set(spec, sources);
    }
    return sources;
  }

  /** Tells calling steps that their runs ended; one that can't be told now is told by the next try. */
  async #tellCallers(): Promise<void> {
    const untold = this.#store.untoldParents();
    await Promise.all(
      untold.map(async (run) => {
        try {
          await coordinatorFor(this.env, run.parent!.dagId).subRunEnded(this.#machine.parentNotice(run));
          this.#store.markParentTold(run.id);
        } catch (error) {
          log.warn("telling a calling step that its sub-DAG run ended failed; trying again", {
            ...this.#identity,
            runId: run.id,
            error,
          });
          this.#store.setTimer("sub_runs", run.id, "", 0, Date.now() + TELL_RETRY_MS);
        }
      }),
    );
  }

  /**
   * A calling step's check: runs it couldn't start are tried again (by the commit that follows),
   * and a run that ended without telling is asked. While any runs, the check comes back.
   */
  async #askAfterSubRuns(timer: Timer): Promise<StepMessage[]> {
    if (timer.step === "") return []; // a retry of telling callers: the commit that follows does it
    const rows = this.#store.subRuns(timer.run_id, timer.step, timer.attempt).filter((row) => row.state !== "finished");
    if (rows.length === 0) return [];
    const messages: StepMessage[] = [];
    for (const row of rows.filter((each) => each.state === "running" && each.child_key)) {
      try {
        const notice = await coordinatorFor(this.env, row.child_key!).subRunNotice(row.child_run_id);
        const ended =
          notice === "gone" ? failedNotice(row.child_run_id, "the sub-DAG run is gone (was its DAG deleted?)") : notice;
        if (ended) messages.push(...this.#machine.subRunEnded(ended));
      } catch (error) {
        log.warn("asking after a sub-DAG run failed", { ...this.#identity, child: row.child_run_id, error });
      }
    }
    if (rows.some((row) => this.#machine.isSubRunCurrent(row.child_run_id))) {
      this.#store.setTimer("sub_runs", timer.run_id, timer.step, timer.attempt, Date.now() + SUB_RUN_CHECK_MS);
    }
    return messages;
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
      subRuns: this.#machine.subRunsOf(run.id),
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
