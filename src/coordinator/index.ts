import type { DagCoordinator } from "./dag-coordinator.ts";

/** The coordinator of one DAG: one Durable Object per DAG, keyed by the DAG's stable id. */
export function coordinatorFor(env: Cloudflare.Env, dagId: string): DurableObjectStub<DagCoordinator> {
  return env.COORDINATOR.get(env.COORDINATOR.idFromName(dagId));
}
