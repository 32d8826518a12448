/**
 * Everything a coordinator sends out of its own storage: the D1 copies of its runs (a group
 * commit), step attempts onto the STEPS queue, run-finished events to the alerts pipeline
 * (through the outbox), pruning of D1 copies, and kills of command attempts on the step runner.
 * What must not be lost is in storage first; this side only ships it, and retries through timers.
 */
import { emitEvent, runAlerts } from "../alerts/events.ts";
import { deleteRunsFinishedBefore, type RunWrite, upsertRuns } from "../db/runs.ts";
import type { StepDurationCount } from "../db/step-durations.ts";
import type { NewWebhookRequest } from "../db/webhook-requests.ts";
import { formatParams } from "../domain/params.ts";
import type { StepMessage } from "../domain/run.ts";
import { tallyStepDurations } from "../domain/step-durations.ts";
import { callRunner, ExecutionUnknown, executionKey } from "../executors/runner.ts";
import { log } from "../log.ts";
import { Grouped } from "./grouped.ts";
import { coordinatorFor } from "./index.ts";
import type { Identity } from "./run-machine.ts";
import type { RunRecord, RunStore } from "./run-store.ts";

const D1_RETRY_MS = [1_000, 5_000, 30_000, 120_000, 600_000];
/**
 * Inbound log rows waiting for D1, in bytes of their bodies and headers (up to 64 KiB and more
 * each): what a coordinator holds at most through a D1 outage, and puts in one batch at most.
 */
const MAX_PENDING_INBOUND_BYTES = 4 * 1024 * 1024;
const MAX_BATCH_INBOUND_BYTES = 512 * 1024;
/** Queues.sendBatch takes at most 100 messages. */
const SEND_BATCH_SIZE = 100;

/** The run as its D1 copy (and the run lists) show it. */
export function toRunRow(dagId: string, run: RunRecord): RunWrite {
  return {
    dag_id: dagId,
    run_id: run.id,
    status: run.status,
    params: formatParams(run.params),
    trigger: run.trigger,
    triggered_by: run.triggered_by,
    queued_at: run.queued_at,
    started_at: run.started_at,
    finished_at: run.finished_at,
    updated_at: run.updated_at,
  };
}

export class Outbound {
  readonly #ctx: DurableObjectState;
  readonly #env: Cloudflare.Env;
  readonly #store: RunStore;
  readonly #identity: Identity;
  /** Makes sure the alarm fires by the earliest timer (the coordinator owns time). */
  readonly #armAlarm: () => Promise<void>;
  /** Consecutive failed D1 writes per run, for the retry backoff (a restart simply starts over). */
  readonly #syncFailures = new Map<string, number>();
  /**
   * Group commit of the D1 copies: one batch writes every stale run. A caller whose change is
   * in storage waits for a batch that starts after its change; callers that arrive while a batch
   * is in flight share the next one, so a burst of starts costs two D1 writes, not one each.
   */
  readonly #sync = new Grouped(() => this.#writeStaleRuns());
  /**
   * Inbound log rows of triggers that started runs, for the next D1 batch. In memory, as the
   * Worker's own write was (its waitUntil): a row is diagnosis, and an eviction before the batch
   * loses it, never a run. Kept for the retry when the batch fails (writing one twice adds
   * nothing); bounded in bytes, the oldest dropped first.
   */
  #inbound: NewWebhookRequest[] = [];
  /** The outbox being shipped, so that concurrent commits don't ship one event twice. */
  #shipping: Promise<void> | undefined;
  /** A commit came while the outbox was being shipped: another pass after this one. */
  #shipAgain = false;

  constructor(
    ctx: DurableObjectState,
    env: Cloudflare.Env,
    store: RunStore,
    identity: Identity,
    armAlarm: () => Promise<void>,
  ) {
    this.#ctx = ctx;
    this.#env = env;
    this.#store = store;
    this.#identity = identity;
    this.#armAlarm = armAlarm;
  }

  /**
   * Ends every state change: the D1 copies of runs whose run-level fields changed (a step result
   * that changes none costs no D1 write), the new attempts and the alarm all go out together.
   * Staleness is read from storage (`synced_at` ≠ `updated_at`), so nothing is lost to an
   * eviction between a change and its write.
   */
  async commit(messages: StepMessage[]): Promise<void> {
    await Promise.all([this.#sync.run(), this.#dispatch(messages), this.#armAlarm()]);
    // Events go after the D1 copy (an alert's consumer finds the run's final row), and in the
    // background: no caller (a start, a step result) waits for the alerts pipeline.
    this.#shipOutbox();
  }

  /**
   * Ships the outbox unless a pass is under way; a commit during a pass asks for one more, as
   * its event may have been stored after the pass read the outbox (else it would wait for the
   * next change of this DAG, hours away for a nightly one).
   */
  #shipOutbox(): void {
    if (this.#shipping) {
      this.#shipAgain = true;
      return;
    }
    if (!this.#store.hasPendingEvents()) return;
    this.#shipping = this.#shipEvents().finally(() => {
      this.#shipping = undefined;
      if (this.#shipAgain) {
        this.#shipAgain = false;
        this.#shipOutbox();
      }
    });
    this.#ctx.waitUntil(this.#shipping);
  }

  /**
   * Waits for the D1 copies that are stale now to be written (a batch shared with the commits
   * waiting for one). Not while a write has failed: its retry timers own the copies then, and a
   * read must neither wait for a failing D1 nor send it batches past their backoff.
   */
  awaitCopies(): Promise<void> {
    return this.#syncFailures.size > 0 ? Promise.resolve() : this.#sync.run();
  }

  /** Writes a started run's inbound log row with the run's D1 copy (the next commit's batch). */
  logInbound(entry: NewWebhookRequest): void {
    this.#inbound.push(entry);
    let bytes = this.#inbound.reduce((sum, row) => sum + inboundBytes(row), 0);
    while (bytes > MAX_PENDING_INBOUND_BYTES && this.#inbound.length > 1) {
      const dropped = this.#inbound.shift()!;
      bytes -= inboundBytes(dropped);
      log.warn("inbound log rows waiting for D1 over their bound; the oldest is dropped", {
        ...this.#identity,
        runId: dropped.run_id,
      });
    }
  }

  /** The rows for one batch, oldest first, within its bound (one row at least). */
  #takeInbound(): NewWebhookRequest[] {
    let bytes = 0;
    let count = 0;
    while (count < this.#inbound.length) {
      bytes += inboundBytes(this.#inbound[count]!);
      if (count > 0 && bytes > MAX_BATCH_INBOUND_BYTES) break;
      count++;
    }
    return this.#inbound.splice(0, count);
  }

  /** By date, not by id: a prune whose D1 delete failed is caught up by the next one. */
  async pruneD1(cutoff: string): Promise<void> {
    try {
      await deleteRunsFinishedBefore(this.#env.DB, this.#identity.dagId, cutoff);
    } catch (error) {
      log.error("pruning D1 copies of runs failed; the next prune retries", { ...this.#identity, error });
    }
  }

  /** Asks the runner to kill a command attempt, in the background; a runner that is gone has nothing to kill. */
  killOnRunner(attempt: StepMessage): void {
    this.#ctx.waitUntil(
      executionKey(attempt)
        .then((key) => callRunner(this.#env, key, "DELETE"))
        .catch((error: unknown) => {
          // Never started there, or the runner restarted since: nothing runs to kill.
          if (error instanceof ExecutionUnknown) return;
          log.warn("could not kill an attempt on the runner", { ...attempt, error });
        }),
    );
  }

  /** Stops a sub-DAG run whose calling step ended, in the background; a run that already ended stays as it is. */
  stopSubRun(childKey: string, childRunId: string): void {
    this.#ctx.waitUntil(
      coordinatorFor(this.#env, childKey)
        .stop(childRunId)
        .catch((error: unknown) => log.warn("could not stop a sub-DAG run", { childKey, childRunId, error })),
    );
  }

  /** Hands run-finished events to the alerts pipeline; one that fails stays in the outbox for the alarm. */
  async #shipEvents(): Promise<void> {
    // A pass ships every event waiting, also those of changes whose D1 copy is still to be
    // written (a commit that came while the last batch was in flight): their copies first.
    await this.#sync.run();
    for (const { id, event } of this.#store.pendingEvents()) {
      try {
        for (const alert of runAlerts(this.#identity.dagId, event)) await emitEvent(this.#env, alert);
        this.#store.deleteEvent(id);
      } catch (error) {
        this.#store.eventFailed(id, String(error));
        log.error("run-finished event not sent yet; the alarm retries", {
          ...this.#identity,
          runId: event.runId,
          error,
        });
        this.#store.setTimer("d1_sync", event.runId, "", 0, Date.now() + D1_RETRY_MS[0]!);
        await this.#armAlarm();
      }
    }
  }

  /**
   * Writes every run whose D1 copy is stale, with the steps of finishes not counted yet (D1
   * counts each finish once, so shipping them again after a lost answer is harmless) and the
   * inbound log rows waiting (likewise); if D1 fails, timers retry them with backoff.
   */
  async #writeStaleRuns(): Promise<void> {
    const stale = this.#store.staleRuns();
    const finishes = this.#store.pendingStepDurations();
    const inbound = this.#takeInbound();
    if (stale.length === 0 && finishes.length === 0 && inbound.length === 0) return;
    try {
      await upsertRuns(
        this.#env.DB,
        stale.map((run) => toRunRow(this.#identity.dagId, run)),
        finishes.map(
          (finish): StepDurationCount => ({
            dag_id: this.#identity.dagId,
            run_id: finish.run_id,
            finished_at: finish.finished_at,
            ...tallyStepDurations(finish.seconds),
          }),
        ),
        inbound,
      );
      for (const run of stale) {
        this.#store.markSynced(run);
        this.#syncFailures.delete(run.id);
      }
      if (finishes.length > 0) this.#store.deleteStepDurations(finishes);
      // More than one batch's worth (after a D1 outage): the next batch, at once.
      if (this.#inbound.length > 0) this.#ctx.waitUntil(this.#sync.run().catch(() => undefined));
    } catch (error) {
      log.error("writing D1 copies of runs failed; retrying", { ...this.#identity, runs: stale.length, error });
      // Back before rows logged meanwhile: the retry writes them first.
      this.#inbound.unshift(...inbound);
      const runIds = new Set([
        ...stale.map((run) => run.id),
        ...finishes.map((finish) => finish.run_id),
        ...inbound.flatMap((row) => row.run_id ?? []),
      ]);
      for (const runId of runIds) {
        const failures = (this.#syncFailures.get(runId) ?? 0) + 1;
        this.#syncFailures.set(runId, failures);
        const delay = D1_RETRY_MS[Math.min(failures, D1_RETRY_MS.length) - 1]!;
        this.#store.setTimer("d1_sync", runId, "", 0, Date.now() + delay);
      }
      // commit() armed the alarm concurrently, perhaps before these timers existed.
      await this.#armAlarm();
    }
  }

  /**
   * Sends new attempts to the STEPS queue. A send that fails throws to the caller (whose change
   * is already stored); the attempt stays dispatched, and its heartbeat timer sends it again when
   * nobody has picked it up (../domain/liveness.ts).
   */
  async #dispatch(messages: StepMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += SEND_BATCH_SIZE) {
      const batch = messages.slice(i, i + SEND_BATCH_SIZE);
      await this.#env.STEPS.sendBatch(batch.map((body) => ({ body, contentType: "json" as const })));
    }
  }

  /** Forgets per-run retry state and unwritten log rows: the coordinator's storage was wiped (the DAG is gone). */
  reset(): void {
    this.#syncFailures.clear();
    this.#inbound = [];
  }
}

/** What an inbound log row weighs in memory and in a D1 batch, near enough: its body and headers. */
function inboundBytes(entry: NewWebhookRequest): number {
  return (entry.body?.length ?? 0) + entry.headers.length + 512;
}
