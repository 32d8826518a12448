import type { AlertMessage } from "./alerts/events.ts";
import { app } from "./app.ts";
import type { StepMessage } from "./domain/run.ts";
import { consumeAlerts, consumeDeadAlerts } from "./queues/alerts.ts";
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
    else if (batch.queue.startsWith("dagflare-alerts-dlq"))
      await consumeDeadAlerts(batch as MessageBatch<AlertMessage>, env);
    else if (batch.queue.startsWith("dagflare-alerts")) await consumeAlerts(batch as MessageBatch<AlertMessage>, env);
    else throw new Error(`no consumer for queue ${batch.queue}`);
  },
} satisfies ExportedHandler<Cloudflare.Env, StepMessage | AlertMessage>;
