/**
 * The coordinator's guarantees, driven directly: alarms run with runDurableObjectAlarm (no
 * sleeping until they are due), redelivered queue messages go through the real consumer.
 */
import {
  createExecutionContext,
  createMessageBatch,
  evictDurableObject,
  getQueueResult,
  runDurableObjectAlarm,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import type { DagCoordinator } from "../../../src/coordinator/dag-coordinator.ts";
import type { StepMessage } from "../../../src/domain/run.ts";
import { NODE_STATUS, RUN_STATUS } from "../../../src/domain/status.ts";
import worker from "../../../src/index.ts";
import { consumeSteps } from "../../../src/queues/steps.ts";
import { api, expectLogged, ok, unique, until, userWithRole } from "../helpers.ts";
import { nodeRow, type Row, rows, startRun } from "./coordinator-fixture.ts";

const echo = inject("echoUrl");

describe("coordinator", () => {
  it("retry delays are persisted timers fired by the alarm, with the policy's interval", async () => {
    const dag = unique("alarm-retry");
    const before = Date.now();
    const { coordinator, runId } = await startRun(
      dag,
      `steps:\n  - name: failing\n    executor: http\n    command: GET ${echo}/status/500\n    retryPolicy: {limit: 1, intervalSec: 60}\n`,
    );
    const waiting = await until(async () => {
      const node = await nodeRow(coordinator, runId, "failing");
      return node.attempt_state === "waiting_retry" ? node : undefined;
    });
    expect(waiting).toMatchObject({ attempt: 1, retry_count: 1, status: NODE_STATUS.running });
    const [timer] = await rows(coordinator, "SELECT * FROM timers WHERE kind = 'retry' AND run_id = ?", runId);
    expect(Number(timer!.due_ms) - before).toBeGreaterThanOrEqual(60_000);
    expect(Number(timer!.due_ms) - Date.now()).toBeLessThanOrEqual(60_000);

    // Make the retry due now and let the alarm dispatch attempt 2.
    await rows(coordinator, "UPDATE timers SET due_ms = 0 WHERE kind = 'retry' AND run_id = ?", runId);
    expect(await runDurableObjectAlarm(coordinator)).toBe(true);
    const run = await until(async () => {
      const view = await coordinator.getRun(runId);
      return view && view.status === RUN_STATUS.failed ? view : undefined;
    });
    expect(run.nodes[0]).toMatchObject({ statusLabel: "failed", attempt: 2, retry_count: 1 });
  });

  it("an attempt that never reports back times out on its lease; its late result changes nothing", async () => {
    const dag = unique("lease");
    const { coordinator, runId, dagId } = await startRun(
      dag,
      `steps:\n  - name: slow\n    executor: http\n    command: GET ${echo}/slow/1500/${dag}\n    timeoutSec: 60\n`,
    );
    await until(async () =>
      (await nodeRow(coordinator, runId, "slow")).attempt_state === "claimed" ? true : undefined,
    );

    await rows(coordinator, "UPDATE timers SET due_ms = 0 WHERE kind = 'lease' AND run_id = ?", runId);
    await runDurableObjectAlarm(coordinator);
    const timedOut = await nodeRow(coordinator, runId, "slow");
    expect(timedOut).toMatchObject({ status: NODE_STATUS.failed, exit_code: 124, attempt_state: "done" });
    expect((await coordinator.getRun(runId))!.statusLabel).toBe("failed");

    // The consumer's real answer arrives after the lease: ignored, as is a forged duplicate. Wait
    // until the server has answered the step's request; the consumer reports that answer at once.
    await until(async () =>
      (await (await fetch(`${echo}/answered/slow/1500/${dag}`)).text()) === "1" ? true : undefined,
    );
    const late = await coordinator.finish({
      dagId,
      runId,
      step: "slow",
      attempt: 1,
      exitCode: 0,
      stdout: "late",
      stderr: "",
      startedAt: "",
      finishedAt: "",
    });
    expect(late).toBeNull();
    expect(await nodeRow(coordinator, runId, "slow")).toMatchObject({
      status: NODE_STATUS.failed,
      exit_code: 124,
      stdout: "",
    });
  });

  it("a redelivered queue message claims nothing and is acked; the result is applied once", async () => {
    const dag = unique("redeliver");
    const { coordinator, runId, dagId } = await startRun(
      dag,
      `steps:\n  - name: once\n    executor: http\n    command: GET ${echo}/text/${dag}\n`,
    );
    const run = await until(async () => {
      const view = await coordinator.getRun(runId);
      return view && view.status === RUN_STATUS.succeeded ? view : undefined;
    });
    expect(run.nodes[0]).toMatchObject({ attempt: 1, statusLabel: "succeeded" });

    const message: StepMessage = { dagId, runId, step: "once", attempt: 1 };
    const batch = createMessageBatch<StepMessage>("dagflare-steps", [
      { id: "redelivered-1", timestamp: new Date(), attempts: 2, body: message },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["redelivered-1"]);
    expect(result.retryMessages).toEqual([]);
    const hits = await (await fetch(`${echo}/hits/text/${dag}`)).text();
    expect(hits).toBe("1");
    expect(await coordinator.claim(message)).toBeNull();
  });

  it("keeps the D1 copy in step: written before start returns, final state after the run", async () => {
    const dag = unique("d1");
    const { coordinator, runId, dagId } = await startRun(
      dag,
      `steps:\n  - name: a\n    executor: http\n    command: GET ${echo}/text/a\n`,
    );
    const first = await env.DB.prepare("SELECT * FROM dag_runs WHERE dag_id = ?1 AND run_id = ?2")
      .bind(dagId, runId)
      .first<Row>();
    expect(first).toMatchObject({ trigger: "api", triggered_by: "test" });
    await until(async () => ((await coordinator.getRun(runId))?.status === RUN_STATUS.succeeded ? true : undefined));
    const last = await env.DB.prepare("SELECT * FROM dag_runs WHERE dag_id = ?1 AND run_id = ?2")
      .bind(dagId, runId)
      .first<Row>();
    expect(last).toMatchObject({ status: RUN_STATUS.succeeded, finished_at: expect.any(String) });
  });

  it("survives eviction mid-run: storage is the truth, in-memory caches are only caches", async () => {
    const dag = unique("evict");
    const { coordinator, runId } = await startRun(
      dag,
      `steps:\n  - name: slow\n    executor: http\n    command: GET ${echo}/slow/600\n    output: FIRST\n  - name: next\n    executor: http\n    command: GET ${echo}/text/after-\${FIRST}\n    output: SECOND\n`,
    );
    await until(async () =>
      (await nodeRow(coordinator, runId, "slow")).attempt_state === "claimed" ? true : undefined,
    );
    // The consumer is waiting on the slow server; the object is torn down meanwhile.
    await evictDurableObject(coordinator);
    const run = await until(async () => {
      const view = await coordinator.getRun(runId);
      return view && view.status === RUN_STATUS.succeeded ? view : undefined;
    });
    expect(run.nodes.map((node) => [node.name, node.statusLabel, node.output])).toEqual([
      ["slow", "succeeded", "slow-done"],
      ["next", "succeeded", "after-slow-done"],
    ]);
  }, 15_000);

  it("a run whose D1 copy is stale (a failed write) is rewritten when the alarm fires", async () => {
    const dag = unique("resync");
    const { coordinator, runId, dagId } = await startRun(
      dag,
      `steps:\n  - name: a\n    executor: http\n    command: GET ${echo}/text/a\n`,
    );
    await until(async () => ((await coordinator.getRun(runId))?.status === RUN_STATUS.succeeded ? true : undefined));
    // As after a D1 outage: the row is missing and the coordinator knows its copy is stale.
    await env.DB.prepare("DELETE FROM dag_runs WHERE dag_id = ?1 AND run_id = ?2").bind(dagId, runId).run();
    await rows(coordinator, "UPDATE runs SET synced_at = NULL WHERE id = ?", runId);
    await rows(
      coordinator,
      "INSERT OR REPLACE INTO timers (kind, run_id, step, attempt, due_ms) VALUES ('d1_sync', ?, '', 0, 0)",
      runId,
    );
    expect(await runDurableObjectAlarm(coordinator)).toBe(true);
    const row = await env.DB.prepare("SELECT status FROM dag_runs WHERE dag_id = ?1 AND run_id = ?2")
      .bind(dagId, runId)
      .first<Row>();
    expect(row).toEqual({ status: RUN_STATUS.succeeded });
  });

  it("hands a run-finished event to the alerts pipeline, once the run's D1 row is final", async () => {
    const dag = unique("event");
    // Events are recorded only while a policy takes their type.
    const { token } = await userWithRole("manager");
    const policy = {
      name: unique("p"),
      eventTypes: ["JOB_FAILURE" as const],
      dagNames: [dag],
      webhook: { url: `${echo}/receiver/${dag}/200`, body: "{}" },
    };
    await ok(api(token).POST("/alert-policies", { body: policy }), 201);
    const { coordinator, runId, dagId } = await startRun(
      dag,
      `steps:\n  - name: bad\n    executor: http\n    command: GET ${echo}/status/502\n`,
    );
    await until(async () => ((await coordinator.getRun(runId))?.status === RUN_STATUS.failed ? true : undefined));
    const event = await until(
      async () =>
        (await env.DB.prepare("SELECT * FROM alert_events WHERE run_id = ?1").bind(runId).first<Row>()) ?? undefined,
    );
    expect(event).toMatchObject({
      id: expect.stringContaining(`run.${dagId}.${runId}.`),
      type: "JOB_FAILURE",
      dag_name: dag,
    });
    expect(JSON.parse(String(event.context))).toMatchObject({
      runStatus: "failed",
      trigger: "api",
      failedSteps: ["bad"],
      error: expect.stringContaining("502"),
    });
    expect(await rows(coordinator, "SELECT * FROM outbox")).toEqual([]);
  });

  it("a DAG timeout aborts what is running and fails the run", async () => {
    const dag = unique("dag-timeout");
    const { coordinator, runId } = await startRun(
      dag,
      `timeoutSec: 30\nsteps:\n  - name: slow\n    executor: http\n    command: GET ${echo}/slow/2000\n  - name: next\n    executor: http\n    command: GET ${echo}/text/next\n`,
    );
    await until(async () =>
      (await nodeRow(coordinator, runId, "slow")).attempt_state === "claimed" ? true : undefined,
    );
    await rows(coordinator, "UPDATE timers SET due_ms = 0 WHERE kind = 'run_timeout' AND run_id = ?", runId);
    await runDurableObjectAlarm(coordinator);
    const run = (await coordinator.getRun(runId))!;
    expect(run.statusLabel).toBe("failed");
    expect(run.nodes.map((node) => node.statusLabel)).toEqual(["aborted", "aborted"]);
  });

  it("prunes finished runs older than histRetentionDays, here and in D1, when a run starts", async () => {
    const dag = unique("prune");
    const spec = `histRetentionDays: 2\nsteps:\n  - name: a\n    executor: http\n    command: GET ${echo}/text/a\n`;
    const { coordinator, runId: old, dagId } = await startRun(dag, spec);
    await until(async () => ((await coordinator.getRun(old))?.status === RUN_STATUS.succeeded ? true : undefined));
    const recent = await coordinator.start({ dagId, dagName: dag, spec, trigger: "api", triggeredBy: "test" });
    if (!recent.ok) throw new Error(recent.message);
    await until(async () =>
      (await coordinator.getRun(recent.runId))?.status === RUN_STATUS.succeeded ? true : undefined,
    );

    // Age the first run past the retention, in both copies.
    const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000).toISOString();
    await rows(coordinator, "UPDATE runs SET finished_at = ? WHERE id = ?", threeDaysAgo, old);
    await env.DB.prepare("UPDATE dag_runs SET finished_at = ?1 WHERE dag_id = ?2 AND run_id = ?3")
      .bind(threeDaysAgo, dagId, old)
      .run();

    const next = await coordinator.start({ dagId, dagName: dag, spec, trigger: "api", triggeredBy: "test" });
    if (!next.ok) throw new Error(next.message);
    expect(await coordinator.getRun(old)).toBeNull();
    expect(
      await rows(
        coordinator,
        "SELECT run_id FROM nodes WHERE run_id = ? UNION ALL SELECT run_id FROM run_log WHERE run_id = ?",
        old,
        old,
      ),
    ).toEqual([]);
    const { results } = await env.DB.prepare("SELECT run_id FROM dag_runs WHERE dag_id = ?1 ORDER BY queued_at")
      .bind(dagId)
      .all();
    expect(results.map((row) => row.run_id)).toEqual([recent.runId, next.runId]);
  });

  it("a result survives a failed report: the consumer sends it again on a fresh stub", async () => {
    const dag = unique("report-again");
    const { coordinator, runId, dagId } = await startRun(
      dag,
      `steps:\n  - name: once\n    executor: http\n    command: GET ${echo}/text/${dag}\n`,
    );
    await until(async () => ((await coordinator.getRun(runId))?.status === RUN_STATUS.succeeded ? true : undefined));
    // Set the run up as if attempt 2 had just been dispatched, then deliver it ourselves.
    await rows(coordinator, "UPDATE runs SET status = 1, outcome = NULL, finished_at = NULL WHERE id = ?", runId);
    await rows(
      coordinator,
      "UPDATE nodes SET status = 1, attempt = 2, attempt_state = 'dispatched' WHERE run_id = ?",
      runId,
    );

    // The narrowest seam: the first finish() call on a coordinator stub fails as a reset object's would.
    let failures = 1;
    const stubs: DurableObjectStub<DagCoordinator>[] = [];
    const flakyEnv = {
      ...env,
      // This consumer runs the attempt itself (as on Cloudflare), with the flaky stubs.
      STEP_EXECUTOR: undefined,
      COORDINATOR: {
        idFromName: (name: string) => env.COORDINATOR.idFromName(name),
        get: (id: DurableObjectId) => {
          const stub = env.COORDINATOR.get(id);
          stubs.push(stub);
          return new Proxy(stub, {
            get(target, property) {
              if (property === "finish" && failures-- > 0)
                return async () => Promise.reject(new Error("Network connection lost."));
              // Every property of a stub is an RPC method; call it on the real stub.
              return (...args: unknown[]) =>
                (target as unknown as Record<string, (...a: unknown[]) => unknown>)[property as string]!(...args);
            },
          });
        },
      },
    } as unknown as Cloudflare.Env;
    const message: StepMessage = { dagId, runId, step: "once", attempt: 2 };
    const batch = createMessageBatch<StepMessage>("dagflare-steps", [
      { id: "reported-twice", timestamp: new Date(), attempts: 1, body: message },
    ]);
    const ctx = createExecutionContext();
    await expectLogged([{ level: "warn", msg: "reporting a step result failed; trying again", report: 1 }], () =>
      consumeSteps(batch, flakyEnv),
    );
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["reported-twice"]);
    expect(failures).toBeLessThan(0);
    expect(stubs.length).toBe(3); // claim, the failed finish, the finish that arrived
    expect(await nodeRow(coordinator, runId, "once")).toMatchObject({
      attempt: 2,
      attempt_state: "done",
      status: NODE_STATUS.succeeded,
    });
    expect((await coordinator.getRun(runId))!.statusLabel).toBe("succeeded");
  });

  it("records no event, and sends nothing, when no policy takes its type", async () => {
    const dag = unique("no-policy");
    const { coordinator, runId } = await startRun(
      dag,
      `steps:\n  - name: ok\n    executor: http\n    command: GET ${echo}/text/ok\n`,
    );
    await until(async () => ((await coordinator.getRun(runId))?.status === RUN_STATUS.succeeded ? true : undefined));
    await until(async () => ((await rows(coordinator, "SELECT * FROM outbox")).length === 0 ? true : undefined));
    expect(await env.DB.prepare("SELECT * FROM alert_events WHERE run_id = ?1").bind(runId).first()).toBeNull();
  });

  it("a step's status set by hand: the run's status follows its steps (D1 too), and no run-finished event", async () => {
    const dag = unique("by-hand");
    const { coordinator, runId, dagId } = await startRun(
      dag,
      `steps:\n  - name: a\n    executor: http\n    command: GET ${echo}/text/a\n  - name: b\n    executor: http\n    command: GET ${echo}/status/500\n    continueOn: {failure: true}\n`,
    );
    const finished = async () => {
      const run = await coordinator.getRun(runId);
      return run && run.finished_at !== null ? run : undefined;
    };
    expect((await until(finished)).statusLabel).toBe("partially_succeeded");
    await until(async () => ((await rows(coordinator, "SELECT * FROM outbox")).length === 0 ? true : undefined));
    const events = async () =>
      (
        await env.DB.prepare("SELECT COUNT(*) AS n FROM alert_events WHERE run_id = ?1")
          .bind(runId)
          .first<{ n: number }>()
      )?.n;
    const eventsBefore = await events();
    const d1Status = async () =>
      (
        await env.DB.prepare("SELECT status FROM dag_runs WHERE dag_id = ?1 AND run_id = ?2")
          .bind(dagId, runId)
          .first<{ status: number }>()
      )?.status;

    const steps: [step: string, status: "succeeded" | "failed", run: keyof typeof RUN_STATUS][] = [
      ["b", "succeeded", "succeeded"],
      ["b", "failed", "partially_succeeded"], // continueOn still allows b's failure
      ["a", "failed", "failed"],
    ];
    for (const [step, status, expected] of steps) {
      expect(await coordinator.setStepStatus(runId, step, status, "tester")).toEqual({ ok: true });
      const run = (await coordinator.getRun(runId))!;
      expect(run.status, `${step} → ${status}`).toBe(RUN_STATUS[expected]);
      expect(await d1Status()).toBe(RUN_STATUS[expected]);
    }
    expect(await events()).toBe(eventsBefore);
    expect(await rows(coordinator, "SELECT * FROM outbox")).toEqual([]);
    expect(await coordinator.setStepStatus(runId, "nope", "succeeded", "tester")).toMatchObject({
      ok: false,
      code: "not_found",
    });
  });

  it("a stopped run stays aborted while a step hasn't run, or one its stop aborted still is", async () => {
    const dag = unique("by-hand-stopped");
    const http = (name: string, extra = "") =>
      `  - name: ${name}\n    executor: http\n    command: GET ${echo}/slow/20000\n${extra}`;
    const { coordinator, runId } = await startRun(
      dag,
      `type: graph\nsteps:\n${http("one")}${http("two")}${http("after", "    depends: [one]\n")}`,
    );
    // Both first steps are dispatched (running) as the run starts.
    expect((await nodeRow(coordinator, runId, "two")).status).toBe(NODE_STATUS.running);
    expect(await coordinator.stop(runId)).toEqual({ ok: true });
    const stopped = (await coordinator.getRun(runId))!;
    expect(stopped.statusLabel).toBe("aborted");
    expect(stopped.nodes.map((node) => node.statusLabel)).toEqual(["aborted", "aborted", "not_started"]);

    const setTo = async (step: string, status: "succeeded" | "skipped") => {
      expect(await coordinator.setStepStatus(runId, step, status, "tester")).toEqual({ ok: true });
      return (await coordinator.getRun(runId))!.statusLabel;
    };
    expect(await setTo("one", "succeeded")).toBe("aborted"); // `after` hasn't run
    expect(await setTo("after", "skipped")).toBe("aborted"); // every step ended, but `two` is still aborted
    expect(await setTo("two", "succeeded")).toBe("succeeded");
  });
});
