/**
 * The coordinator's store (src/coordinator/run-store.ts) on a real Durable Object's SQLite: the
 * statements a start saves, and reads kept within a synchronous stretch that never go stale.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { RunStore } from "../../../src/coordinator/run-store.ts";
import { NODE_STATUS, RUN_STATUS } from "../../../src/domain/status.ts";

const newRun = (id: string) => ({
  id,
  spec: "steps: []",
  params: [],
  payload: null,
  headers: null,
  trigger: "api" as const,
  triggered_by: "test",
  queued_at: new Date().toISOString(),
  parent: null,
});

/** A fresh object's storage, its store migrated, for `body` to use synchronously. */
const withStore = <T>(body: (store: RunStore) => T) =>
  runInDurableObject(env.COORDINATOR.get(env.COORDINATOR.newUniqueId()), (_instance, state) => {
    const store = new RunStore(state.storage.sql);
    store.migrate();
    return body(store);
  });

describe("run store", () => {
  it("numbers runs in order and gives each its steps in order, log lines numbered per run", async () => {
    const result = await withStore((store) => {
      store.insertRun(newRun("r1"), ["a", "b", "c"]);
      store.insertRun(newRun("r2"), []);
      store.appendLog("r1", "first");
      store.appendLog("r2", "other run");
      store.appendLog("r1", "second");
      return {
        seqs: [store.run("r1")!.seq, store.run("r2")!.seq],
        steps: store.stepNodes("r1").map((node) => [node.name, node.position, node.status]),
        none: store.stepNodes("r2"),
        log: store.logLines("r1"),
      };
    });
    expect(result.seqs).toEqual([1, 2]);
    expect(result.steps).toEqual([
      ["a", 0, NODE_STATUS.not_started],
      ["b", 1, NODE_STATUS.not_started],
      ["c", 2, NODE_STATUS.not_started],
    ]);
    expect(result.none).toEqual([]);
    expect(result.log).toEqual(["first", "second"]);
  });

  it("a read kept for the stretch is dropped by any write: the next read sees it", async () => {
    const statuses = await withStore((store) => {
      store.insertRun(newRun("r1"), ["a"]);
      const before = store.run("r1")!.status;
      const steps = store.stepNodes("r1");
      steps[0]!.status = NODE_STATUS.failed; // a caller's copy: the store's reads don't change
      const unchanged = store.stepNodes("r1")[0]!.status;
      store.markRunning("r1", new Date().toISOString());
      return { before, after: store.run("r1")!.status, unchanged };
    });
    expect(statuses).toEqual({
      before: RUN_STATUS.queued,
      after: RUN_STATUS.running,
      unchanged: NODE_STATUS.not_started,
    });
  });
});
