import { coordinatorFor } from "../coordinator/index.ts";
import type { StepInvocation, StepMessage } from "../domain/run.ts";
import { execute } from "../executors/index.ts";

/** A consumer invocation may run for 15 minutes; past this it hands the chain back to the queue. */
const INLINE_BUDGET_MS = 10 * 60 * 1000;

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
          const outcome = await execute(invocation);
          const { dagId, runId, step, attempt } = invocation;
          const result = { dagId, runId, step, attempt, ...outcome, startedAt, finishedAt: new Date().toISOString() };
          invocation = await coordinator.finish(result, Date.now() - began < INLINE_BUDGET_MS);
        }
        message.ack();
      } catch (error) {
        // The coordinator was unreachable: try the message again. A claimed attempt that never
        // reports back is recovered by its lease in the coordinator.
        console.error(`step ${message.body.dagId}/${message.body.runId}/${message.body.step}#${message.body.attempt}:`, error);
        message.retry({ delaySeconds: 1 });
      }
    }),
  );
}
