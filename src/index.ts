import type { AlertMessage } from "./alerts/events.ts";
import { app } from "./app.ts";
import { wakeUnfinishedCoordinators } from "./coordinator/index.ts";
import { labRequest, withRoundTrips } from "./dev/latency.ts";
import { devRoutes } from "./dev/setup.ts";
import type { StepMessage } from "./domain/run.ts";
import { log } from "./log.ts";
import { consumeAlerts, consumeDeadAlerts } from "./queues/alerts.ts";
import { consumeSteps } from "./queues/steps.ts";
import { runScheduleTick } from "./schedules/tick.ts";
import { pruneInboundLog } from "./webhooks/inbound-log.ts";

export { DagCoordinator } from "./coordinator/dag-coordinator.ts";
export { StepRunner } from "./executors/runner.ts";
export { StepExecutor } from "./queues/steps.ts";

/** The API; in development's latency lab (src/dev/latency.ts) with simulated round trips, counted on the response. */
async function serve(request: Request, env: Cloudflare.Env, ctx: ExecutionContext): Promise<Response> {
  const lab = labRequest(env);
  if (!lab) return app.fetch(request, env, ctx);
  return withRoundTrips(await app.fetch(request, lab.env, ctx), lab.trips);
}

export default {
  // `npm run dev`'s start-up route first; inert (one lookup) unless dev opened it (src/dev/setup.ts).
  fetch: (request: Request, env: Cloudflare.Env, ctx: ExecutionContext) =>
    devRoutes(request, env) ?? serve(request, env, ctx),
  async scheduled(controller, env, _ctx) {
    await runScheduleTick(env, controller.scheduledTime);
    await wakeUnfinishedCoordinators(env).catch((error: unknown) =>
      log.error("waking the coordinators of unfinished runs failed", { error }),
    );
    await pruneInboundLog(env, controller.scheduledTime).catch((error: unknown) =>
      log.error("pruning the webhook inbound log failed", { error }),
    );
  },
  // The queue names of wrangler.toml (the same in [env.dev]), matched exactly.
  async queue(batch, env, _ctx) {
    switch (batch.queue) {
      case "dagflare-steps":
        return consumeSteps(batch as MessageBatch<StepMessage>, env);
      case "dagflare-alerts":
        return consumeAlerts(batch as MessageBatch<AlertMessage>, env);
      case "dagflare-alerts-dlq":
        return consumeDeadAlerts(batch as MessageBatch<AlertMessage>, env);
      default:
        throw new Error(`no consumer for queue ${batch.queue}`);
    }
  },
} satisfies ExportedHandler<Cloudflare.Env, StepMessage | AlertMessage>;
