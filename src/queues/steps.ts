import { coordinatorFor } from "../coordinator/index.ts";
import type { StepInvocation, StepMessage, StepResult } from "../domain/run.ts";
import { execute } from "../executors/index.ts";
import { log } from "../log.ts";

/** A consumer invocation may run for 15 minutes; past this it hands its work back to the queue. */
const INLINE_BUDGET_MS = 10 * 60 * 1000;
/** Reports of a result before giving up on it (the attempt's lease then recovers the step). */
const REPORT_ATTEMPTS = 3;

/**
 * Runs the step attempts the STEPS queue delivers. Each message is claimed from its DAG's
 * coordinator (a redelivered or stale attempt claims nothing and is acked), executed, and its
 * result reported; the coordinator may hand back the next step of a chain to run right here.
 * Messages are acked or retried one by one, never as a batch.
 */
export async function consumeSteps(batch: MessageBatch<StepMessage>, env: Cloudflare.Env): Promise<void> {
  const began = Date.now();
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        const coordinator = coordinatorFor(env, message.body.dagId);
        let invocation: StepInvocation | null = await coordinator.claim(message.body);
        while (invocation) {
          const startedAt = new Date().toISOString();
          const attempt: StepMessage = {
            dagId: invocation.dagId,
            runId: invocation.runId,
            step: invocation.step,
            attempt: invocation.attempt,
          };
          const outcome = await execute(invocation, {
            env,
            handOffAt: began + INLINE_BUDGET_MS,
            progress: (output) => coordinator.progress(attempt, output),
          });
          if ("handOff" in outcome) {
            // Still running when this consumer's time is up: the next consumer carries on polling.
            await env.STEPS.send({ ...attempt, resume: outcome.handOff }, { contentType: "json" });
            break;
          }
          invocation = await report(
            env,
            { ...attempt, ...outcome, startedAt, finishedAt: new Date().toISOString() },
            Date.now() - began < INLINE_BUDGET_MS,
          );
        }
        message.ack();
      } catch (error) {
        // The coordinator was unreachable: try the message again. A claimed attempt that never
        // reports back is recovered by its lease in the coordinator.
        log.error("step attempt failed to run; the queue retries it", { ...message.body, error });
        message.retry({ delaySeconds: 1 });
      }
    }),
  );
}

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
