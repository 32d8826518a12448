import { config } from "../config.ts";
import type { TriggerVersion } from "../db/webhooks.ts";
import type { StartRequest } from "../domain/run.ts";
import { RUN_STATUS } from "../domain/status.ts";
import { ApiError } from "../errors.ts";
import { log } from "../log.ts";
import type { DagCoordinator } from "./dag-coordinator.ts";

/**
 * The coordinator of one DAG: one Durable Object per DAG, keyed by the DAG's stable id. A new one
 * is created where COORDINATOR_LOCATION_HINT says (the D1 primary's region), not next to whoever
 * happens to call it first: its D1 round trips are on every trigger's path (docs/latency.md).
 */
export function coordinatorFor(env: Cloudflare.Env, dagId: string): DurableObjectStub<DagCoordinator> {
  const locationHint = config(env).coordinatorLocationHint;
  return env.COORDINATOR.get(env.COORDINATOR.idFromName(dagId), locationHint ? { locationHint } : undefined);
}

/**
 * Starts a run of a stored DAG (or queues it beyond maxActiveRuns) and returns its id; the
 * coordinator's refusals (a used dagRunId, bad params) become API errors.
 */
export async function startRun(
  env: Cloudflare.Env,
  dag: { id: string; name: string; spec: string },
  request: Omit<StartRequest, "dagId" | "dagName" | "spec">,
): Promise<string> {
  const started = await startRunDecidedOn(env, dag, request, undefined);
  if (started === null) throw new Error("a start without a webhook version was refused as stale");
  return started;
}

/**
 * startRun for a trigger decided on a copy of its webhook at `decidedOn`: `null`, and no run,
 * when the copy is stale (the coordinator compared it with D1's primary).
 */
export async function startRunDecidedOn(
  env: Cloudflare.Env,
  dag: { id: string; name: string; spec: string },
  request: Omit<StartRequest, "dagId" | "dagName" | "spec">,
  decidedOn: TriggerVersion | undefined,
): Promise<string | null> {
  const coordinator = coordinatorFor(env, dag.id);
  const full: StartRequest = { dagId: dag.id, dagName: dag.name, spec: dag.spec, ...request };
  const result = await (decidedOn ? coordinator.startIfCurrent(full, decidedOn) : coordinator.start(full));
  if (result.ok) return result.runId;
  if (result.code === "stale_trigger") return null;
  throw new ApiError(result.code, result.message);
}

/** DAGs woken per tick, most stale first: a backlog beyond this is worked through over the next minutes. */
const WAKE_LIMIT = 500;

/**
 * The minute tick wakes the coordinator of every DAG with a running or queued run (by its D1
 * copy). A woken coordinator makes sure its alarm is armed: one lost with a local restart, or
 * never set, is set again and whatever is overdue (a silent executor, a retry, a lost message)
 * is acted on at once. Nothing here decides anything: each coordinator's storage does.
 */
export async function wakeUnfinishedCoordinators(env: Cloudflare.Env): Promise<number> {
  const { results } = await env.DB.prepare(
    `SELECT dag_id FROM dag_runs WHERE status IN (?1, ?2)
     GROUP BY dag_id ORDER BY MIN(updated_at) LIMIT ${WAKE_LIMIT}`,
  )
    .bind(RUN_STATUS.running, RUN_STATUS.queued)
    .all<{ dag_id: string }>();
  await Promise.all(
    results.map(({ dag_id }) =>
      coordinatorFor(env, dag_id)
        .wake()
        .catch((error: unknown) => log.warn("waking a DAG's coordinator failed", { dagId: dag_id, error })),
    ),
  );
  return results.length;
}
