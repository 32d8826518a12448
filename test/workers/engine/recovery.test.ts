/**
 * Executors that die, messages that are lost, objects that are evicted (../../../src/domain/liveness.ts).
 * The queue consumers here are real and alive, so an executor's death is made the way the
 * coordinator sees one: its heartbeat timer comes due (set to now) and the alarm runs. A live
 * consumer then finds itself fenced out, which is the other half of the guarantee.
 */
import { createMessageBatch, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { wakeUnfinishedCoordinators } from "../../../src/coordinator/index.ts";
import type { StepInvocation, StepMessage } from "../../../src/domain/run.ts";
import { commandExecutor } from "../../../src/executors/command.ts";
import { consumeSteps } from "../../../src/queues/steps.ts";
import { unique, until } from "../helpers.ts";
import { type Coordinator, nodeRow, rows, startRun } from "./coordinator-fixture.ts";

const echo = inject("echoUrl");
const NO_OUTPUT = { stdoutFrom: 0, stderrFrom: 0 };

const claimed = (coordinator: Coordinator, runId: string, name: string) =>
  until(async () => {
    const node = await nodeRow(coordinator, runId, name);
    return node.attempt_state === "claimed" ? node : undefined;
  });

/** The executor of the step's attempt falls silent, as far as the coordinator can tell. */
async function silence(coordinator: Coordinator, runId: string, step: string): Promise<void> {
  await rows(
    coordinator,
    "UPDATE timers SET due_ms = 0 WHERE kind = 'heartbeat' AND run_id = ? AND step = ?",
    runId,
    step,
  );
  await runDurableObjectAlarm(coordinator);
}

const finished = (coordinator: Coordinator, runId: string) =>
  until(async () => {
    const run = await coordinator.getRun(runId);
    return run && run.finished_at !== null ? run : undefined;
  }, 30_000);

const runLog = async (coordinator: Coordinator, runId: string) => (await coordinator.runLog(runId))!.join("\n");

describe("crash recovery", () => {
  it("a claimed attempt has a heartbeat timer that its consumer's signs of life push back", async () => {
    const dag = unique("heartbeat");
    const { coordinator, runId } = await startRun(
      dag,
      `steps:\n  - name: wait\n    executor: http\n    command: GET ${echo}/slow/7000/${dag}\n`,
    );
    await claimed(coordinator, runId, "wait");
    const due = async () =>
      Number(
        (await rows(coordinator, "SELECT due_ms FROM timers WHERE kind = 'heartbeat' AND run_id = ?", runId))[0]!
          .due_ms,
      );
    const first = await due();
    expect(first - Date.now()).toBeLessThanOrEqual(20_000);
    // The consumer's heartbeat (every 5 s) moves it later while the request waits.
    expect(await until(async () => ((await due()) > first ? true : undefined), 10_000)).toBe(true);
    const run = await finished(coordinator, runId);
    expect(run.statusLabel).toBe("succeeded");
    expect(await rows(coordinator, "SELECT * FROM timers WHERE run_id = ? AND kind = 'heartbeat'", runId)).toEqual([]);
  }, 30_000);

  it("a silent http executor is lost within its silence: retried by the policy, and the silent consumer stops", async () => {
    const dag = unique("lost-http");
    const receiver = `${echo}/receiver/${dag}/hang,200`;
    const { coordinator, runId, dagId } = await startRun(
      dag,
      `steps:\n  - name: call\n    executor: http\n    command: GET ${receiver}\n    retryPolicy: {limit: 1, intervalSec: 2}\n`,
    );
    const holder = await claimed(coordinator, runId, "call");
    await silence(coordinator, runId, "call");
    const lost = await nodeRow(coordinator, runId, "call");
    expect(lost).toMatchObject({ retry_count: 1, error: expect.stringMatching(/^executor lost: no sign of life/) });
    // The retry is dispatched by the alarm 2 s later; the receiver answers it.
    const run = await finished(coordinator, runId);
    expect(run.statusLabel).toBe("succeeded");
    expect(run.nodes[0]).toMatchObject({ attempt: 2, retry_count: 1 });
    expect(await runLog(coordinator, runId)).toContain("call: attempt 1 failed (executor lost");
    // The first holder's late result changes nothing, token or not.
    const late = {
      dagId,
      runId,
      step: "call",
      attempt: 1,
      exitCode: 0,
      stdout: "late",
      stderr: "",
      startedAt: "",
      finishedAt: "",
    };
    expect(await coordinator.finish({ ...late, claim: Number(holder.claim) })).toBeNull();
    expect((await nodeRow(coordinator, runId, "call")).stdout).not.toContain("late");
    const received = (await (await fetch(`${echo}/received/${dag}`)).json()) as unknown[];
    expect(received).toHaveLength(2);
    // The silent holder, alive after all, was told at its next sign of life and gave its request up.
    const dropped = await until(async () => {
      const count = await (await fetch(`${echo}/dropped/receiver/${dag}/hang,200`)).text();
      return count === "0" ? undefined : count;
    }, 10_000);
    expect(dropped).toBe("1");
  }, 40_000);

  it("without retries left, a lost executor fails the step with a clear reason", async () => {
    const dag = unique("lost-final");
    const { coordinator, runId } = await startRun(
      dag,
      `steps:\n  - name: call\n    executor: http\n    command: GET ${echo}/receiver/${dag}/hang\n`,
    );
    await claimed(coordinator, runId, "call");
    await silence(coordinator, runId, "call");
    const run = await finished(coordinator, runId);
    expect(run.statusLabel).toBe("failed");
    expect(run.nodes[0]).toMatchObject({ statusLabel: "failed", exit_code: 1 });
    expect(run.nodes[0]!.error).toMatch(/^executor lost: no sign of life for 20 s from the queue consumer/);
  });

  it("a command whose consumer falls silent is taken over: it runs once, its output is reported once", async () => {
    const dag = unique("takeover");
    const marker = `/tmp/${dag}`;
    const { coordinator, runId, dagId } = await startRun(
      dag,
      `steps:\n  - name: long\n    command: echo started >> ${marker}; sleep 3; echo done\n  - name: count\n    command: cat ${marker}; rm -f ${marker}\n    output: STARTS\n    depends: [long]\n`,
    );
    const first = await claimed(coordinator, runId, "long");
    await silence(coordinator, runId, "long");
    expect(await runLog(coordinator, runId)).toContain("another consumer takes it over");
    // The takeover message, delivered to a second consumer here: the local queue hands out one
    // batch at a time, and the first consumer (alive, only made to look silent) still holds it.
    const takeover = { dagId, runId, step: "long", attempt: 1, claim: Number(first.claim), resume: NO_OUTPUT };
    const batch = createMessageBatch<StepMessage>("dagflare-steps", [
      { id: `${dag}-takeover`, timestamp: new Date(), attempts: 1, body: takeover },
    ]);
    await consumeSteps(batch, { ...env, STEP_EXECUTOR: undefined }); // run here, awaited
    const run = await finished(coordinator, runId);
    expect(run.statusLabel).toBe("succeeded");
    const long = run.nodes.find((node) => node.name === "long")!;
    // One attempt, one process, its output once; the takeover's token replaced the first holder's.
    expect(long).toMatchObject({ attempt: 1, stdout: "done\n" });
    expect(long.claim).toBeGreaterThan(Number(first.claim));
    expect(run.nodes.find((node) => node.name === "count")!.output).toBe("started");
  }, 30_000);

  it("a takeover that finds no process on the runner (it restarted) reports the executor lost", async () => {
    const key = unique("gone");
    const invocation: StepInvocation = {
      dagId: key,
      runId: key,
      step: "s",
      attempt: 1,
      executor: "command",
      command: "sleep 5",
      script: undefined,
      shell: undefined,
      dir: undefined,
      config: {},
      env: {},
      timeoutMs: 10_000,
      stdoutCapture: { limit: 1024, keep: "tail" },
      resume: { stdoutFrom: 0, stderrFrom: 0 },
    };
    const outcome = await commandExecutor.run(invocation, AbortSignal.timeout(10_000), {
      env,
      handOffAt: Date.now() + 10_000,
      progress: async () => true,
      fence: new AbortController().signal,
    });
    expect(outcome).toMatchObject({
      exitCode: 1,
      error: expect.stringMatching(/^executor lost: the step runner has no process/),
    });
  });

  it("an attempt whose queue message was lost is sent again by the alarm; a second copy claims nothing", async () => {
    const dag = unique("lost-message");
    const { coordinator, runId } = await startRun(
      dag,
      `steps:\n  - name: once\n    executor: http\n    command: GET ${echo}/receiver/${dag}/200\n`,
    );
    await finished(coordinator, runId);
    // As if attempt 2 had just been dispatched (a retry) and the queue lost its message.
    await rows(coordinator, "UPDATE runs SET status = 1, outcome = NULL, finished_at = NULL WHERE id = ?", runId);
    await rows(
      coordinator,
      "UPDATE nodes SET status = 1, attempt = 2, attempt_state = 'dispatched' WHERE run_id = ?",
      runId,
    );
    await rows(
      coordinator,
      "INSERT OR REPLACE INTO timers (kind, run_id, step, attempt, due_ms) VALUES ('heartbeat', ?, 'once', 2, 0)",
      runId,
    );
    await runDurableObjectAlarm(coordinator);
    const run = await finished(coordinator, runId);
    expect(run.statusLabel).toBe("succeeded");
    expect(run.nodes[0]).toMatchObject({ attempt: 2 });
    expect(await runLog(coordinator, runId)).toContain("once: attempt 2 not picked up yet; its message is sent again");
    const received = (await (await fetch(`${echo}/received/${dag}`)).json()) as unknown[];
    expect(received).toHaveLength(2);
  });

  it("a slow step holds back no other DAG's steps (the local queue hands out one batch at a time)", async () => {
    const slow = unique("slow-neighbour");
    const { coordinator: slowCoordinator, runId: slowRun } = await startRun(
      slow,
      `steps:\n  - name: wait\n    executor: http\n    command: GET ${echo}/slow/8000/${slow}\n`,
    );
    await claimed(slowCoordinator, slowRun, "wait");
    const quick = unique("quick-neighbour");
    const began = Date.now();
    const { coordinator, runId } = await startRun(
      quick,
      `steps:\n  - name: a\n    executor: http\n    command: GET ${echo}/text/a\n  - name: b\n    executor: http\n    command: GET ${echo}/text/b\n    depends: []\n`,
    );
    expect((await finished(coordinator, runId)).statusLabel).toBe("succeeded");
    expect(Date.now() - began).toBeLessThan(4_000);
    expect((await slowCoordinator.getRun(slowRun))!.statusLabel).toBe("running");
  });

  it("an unfinished run whose alarm was lost (a restart) is picked up by the tick's wake-up", async () => {
    const dag = unique("wake");
    const { coordinator, runId } = await startRun(
      dag,
      `steps:\n  - name: call\n    executor: http\n    command: GET ${echo}/receiver/${dag}/hang\n`,
    );
    await claimed(coordinator, runId, "call");
    // The alarm is gone, the object evicted: only storage knows the attempt is in flight.
    await runInDurableObject(coordinator, (_instance, state) => state.storage.deleteAlarm());
    await evictDurableObject(coordinator);
    expect(await wakeUnfinishedCoordinators(env)).toBeGreaterThanOrEqual(1);
    const alarm = await runInDurableObject(coordinator, (_instance, state) => state.storage.getAlarm());
    const due = await rows(coordinator, "SELECT MIN(due_ms) AS due FROM timers WHERE run_id = ?", runId);
    expect(alarm).toBe(Number(due[0]!.due));
    await silence(coordinator, runId, "call");
    expect((await finished(coordinator, runId)).statusLabel).toBe("failed");
  });
});
