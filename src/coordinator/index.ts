import type { DagCoordinator } from "./dag-coordinator.ts";

/** The coordinator of one DAG: one Durable Object per DAG name. */
export function coordinatorFor(env: Cloudflare.Env, dagName: string): DurableObjectStub<DagCoordinator> {
  return env.COORDINATOR.get(env.COORDINATOR.idFromName(dagName));
}
