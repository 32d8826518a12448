/** Driving a DAG's coordinator directly, and reading its storage, for the engine's tests. */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { DagCoordinator } from "../../../src/coordinator/dag-coordinator.ts";
import { coordinatorFor } from "../../../src/coordinator/index.ts";
import { findDag, insertDag } from "../../../src/db/dags.ts";
import { toDagRecord } from "../../../src/domain/dag-spec.ts";

export type Coordinator = DurableObjectStub<DagCoordinator>;
export type Row = Record<string, unknown>;

/** Registers the DAG (its runs' D1 copies need it) and starts a run on its coordinator. */
export async function startRun(dag: string, spec: string) {
  const parsed = toDagRecord(dag, spec);
  if (!parsed.ok) throw new Error(parsed.errors[0]!.message);
  await insertDag(env.DB, parsed.record, new Date().toISOString());
  const { id: dagId } = (await findDag(env.DB, dag))!;
  const coordinator = coordinatorFor(env, dagId);
  const result = await coordinator.start({ dagId, dagName: dag, spec, trigger: "api", triggeredBy: "test" });
  if (!result.ok) throw new Error(result.message);
  return { coordinator, runId: result.runId, dagId };
}

/** A query on the coordinator's own SQLite. */
export const rows = (coordinator: Coordinator, query: string, ...bindings: (string | number)[]) =>
  runInDurableObject(coordinator, (_instance, state) => state.storage.sql.exec(query, ...bindings).toArray() as Row[]);

export const nodeRow = async (coordinator: Coordinator, runId: string, name: string) =>
  (await rows(coordinator, "SELECT * FROM nodes WHERE run_id = ? AND name = ?", runId, name))[0]!;
