import { WorkerEntrypoint } from "cloudflare:workers";
import { config } from "../config.ts";
import { coordinatorFor } from "../coordinator/index.ts";
import type { AttemptProgress } from "../coordinator/run-machine.ts";
import { HEARTBEAT_MS, SELF_FENCE_MS } from "../domain/liveness.ts";
import type { StepInvocation, StepMessage, StepResult } from "../domain/run.ts";
import { execute } from "../executors/index.ts";
import { log } from "../log.ts";

/** A consumer invocation may run for 15 minutes; past this it hands its work back to the queue. */
const INLINE_BUDGET_MS = 10 * 60 * 1000;
/** Reports of a result before giving up on it (the coordinator then finds the attempt silent). */
const REPORT_ATTEMPTS = 3;

/**
 * Runs the step attempts the STEPS queue delivers. Each message is claimed from its DAG's
 * coordinator (a redelivered or stale attempt claims nothing and is acked), executed, and its
 * result reported; the coordinator may hand back the next step of a chain to run right here.
 * Messages are acked or retried one by one, never as a batch, and run side by side: on
 * Cloudflare a batch's slow message delays only its own ack, and other batches run in other
 * invocations (max_concurrency); on a serial local queue (STEPS_QUEUE_SERIAL) claimed attempts
 * run in the background, so the next batch is delivered at once.
 */
export async function consumeSteps(batch: MessageBatch<StepMessage>, env: Cloudflare.Env): Promise<void> {
  const began = Date.now();
  const background = config(env).steps.queueIsSerial && env.STEP_EXECUTOR !== undefined;
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        const invocation = await coordinatorFor(env, message.body.dagId).claim(message.body);
        if (!invocation) {
          message.ack(); // redelivered, stale or taken by another consumer
          return;
        }
        if (background) {
          // A serial queue would hold every other message until this attempt ends, and its event
          // lasts as long as its waitUntil work: the attempt runs in an invocation of its own.
          // Claimed, it is the coordinator's to watch (heartbeats), not the message's to redeliver.
          await env.STEP_EXECUTOR!.run(invocation, began);
        } else await runClaimed(env, invocation, began);
        message.ack();
      } catch (error) {
        // The coordinator was unreachable: try the message again. A claimed attempt that never
        // reports back is found silent by the coordinator (../domain/liveness.ts).
        log.error("step attempt failed to run; the queue retries it", { ...message.body, error });
        message.retry({ delaySeconds: 1 });
      }
    }),
  );
}

/**
 * An invocation that runs a claimed attempt after it has answered (bound as STEP_EXECUTOR where
 * the queue is serial): the queue's event ends, and the next batch is delivered, at once.
 */
export class StepExecutor extends WorkerEntrypoint<Cloudflare.Env> {
  run(invocation: StepInvocation, began: number): void {
    this.ctx.waitUntil(
      runClaimed(this.env, invocation, began).catch((error: unknown) =>
        log.error("step attempt failed to run; its coordinator finds it silent", { ...invocation, error }),
      ),
    );
  }
}

/** Executes a claimed attempt, reports it, and goes on with each next step the coordinator hands back. */
async function runClaimed(env: Cloudflare.Env, claimed: StepInvocation, began: number): Promise<void> {
  let invocation: StepInvocation | null = claimed;
  while (invocation) {
    const startedAt = new Date().toISOString();
    const attempt: StepMessage = {
      dagId: invocation.dagId,
      runId: invocation.runId,
      step: invocation.step,
      attempt: invocation.attempt,
      claim: invocation.claim,
    };
    const holder = holdAttempt(env, attempt);
    const outcome = await execute(invocation, {
      env,
      handOffAt: began + INLINE_BUDGET_MS,
      fence: holder.fence,
      progress: holder.report,
    }).finally(holder.release);
    // Fenced out (stopped, timed out, or taken over): the result is not this consumer's to report.
    if (holder.fence.aborted) return;
    if ("handOff" in outcome) {
      // Still running when this consumer's time is up: the next consumer carries on polling.
      await env.STEPS.send({ ...attempt, resume: outcome.handOff }, { contentType: "json" });
      return;
    }
    invocation = await report(
      env,
      { ...attempt, ...outcome, startedAt, finishedAt: new Date().toISOString() },
      Date.now() - began < INLINE_BUDGET_MS,
    );
  }
}

/**
 * Holding a claimed attempt (../domain/liveness.ts): a sign of life every HEARTBEAT_MS, and the
 * executor's own progress reports, keep it; the fence aborts when the coordinator says the
 * attempt is no longer this holder's, or when no sign has been acknowledged for SELF_FENCE_MS —
 * before the coordinator can decide the executor is lost and run the attempt elsewhere.
 */
function holdAttempt(env: Cloudflare.Env, attempt: StepMessage) {
  const fence = new AbortController();
  let acknowledgedAt = Date.now();
  const report = async (output: AttemptProgress): Promise<boolean> => {
    if (fence.signal.aborted) return false;
    // A fresh stub each time: one that threw may stay broken.
    const current = await coordinatorFor(env, attempt.dagId)
      .progress(attempt, output)
      .catch((error: unknown) => {
        log.warn("a step attempt's sign of life was not acknowledged", { ...attempt, error });
        return undefined;
      });
    if (current === true) acknowledgedAt = Date.now();
    else if (current === false) fence.abort(new Error("the attempt is no longer this consumer's"));
    if (Date.now() - acknowledgedAt >= SELF_FENCE_MS) {
      fence.abort(new Error(`no sign of life acknowledged for ${SELF_FENCE_MS / 1000} s`));
    }
    return !fence.signal.aborted;
  };
  const beat = setInterval(() => void report(NO_OUTPUT), HEARTBEAT_MS);
  return { fence: fence.signal, report, release: () => clearInterval(beat) };
}

const NO_OUTPUT: AttemptProgress = { stdout: "", stderr: "" };

/**
 * Hands a result to the coordinator. A step's work is done and may not be repeatable, so one
 * failed call (an overloaded or restarting object) must not lose it: the result is sent again on
 * a fresh stub (a stub that threw may stay broken). The coordinator applies a result once, so a
 * call that did arrive before failing makes the next one a no-op.
 */
async function report(
  env: Cloudflare.Env,
  result: StepResult,
  continueInline: boolean,
): Promise<StepInvocation | null> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await coordinatorFor(env, result.dagId).finish(result, continueInline);
    } catch (error) {
      if (attempt >= REPORT_ATTEMPTS) throw error;
      log.warn("reporting a step result failed; trying again", {
        runId: result.runId,
        step: result.step,
        report: attempt,
        error,
      });
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}
