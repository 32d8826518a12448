import type { StartRequest } from "../domain/run.ts";
import { ApiError } from "../errors.ts";
import type { DagCoordinator } from "./dag-coordinator.ts";

/** The coordinator of one DAG: one Durable Object per DAG, keyed by the DAG's stable id. */
export function coordinatorFor(env: Cloudflare.Env, dagId: string): DurableObjectStub<DagCoordinator> {
  return env.COORDINATOR.get(env.COORDINATOR.idFromName(dagId));
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
  const result = await coordinatorFor(env, dag.id).start({
    dagId: dag.id,
    dagName: dag.name,
    spec: dag.spec,
    ...request,
  });
  if (!result.ok) throw new ApiError(result.code, result.message);
  return result.runId;
}
