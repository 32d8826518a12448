import { app } from "./app.ts";
import type { StepMessage } from "./domain/run.ts";
import { consumeSteps } from "./queues/steps.ts";
import { runScheduleTick } from "./schedules/tick.ts";

export { DagCoordinator } from "./coordinator/dag-coordinator.ts";
export { StepRunner } from "./executors/runner.ts";

export default {
  fetch: app.fetch,
  async scheduled(controller, env, _ctx) {
    await runScheduleTick(env, controller.scheduledTime);
  },
  async queue(batch, env, _ctx) {
    if (batch.queue.startsWith("dagflare-steps")) await consumeSteps(batch as MessageBatch<StepMessage>, env);
    else throw new Error(`no consumer for queue ${batch.queue}`);
  },
} satisfies ExportedHandler<Cloudflare.Env, StepMessage>;
