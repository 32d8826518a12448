/** The every-minute alert monitors honour a policy's DAG filter, as every other event type does. */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import worker from "../../../src/index.ts";
import { api, call, createAndStart, ok, unique, until, userWithRole, waitForRun } from "../helpers.ts";

const echo = inject("echoUrl");
let token: string;
beforeAll(async () => {
  token = (await userWithRole("manager")).token;
});

const received = async (id: string): Promise<unknown[]> =>
  (await (await fetch(`${echo}/received/${id}`)).json()) as unknown[];

async function longRunningPolicy(filter: Record<string, unknown>, receiver: string) {
  const created = await call("POST", "/alert-policies", {
    token,
    body: {
      name: unique("policy"),
      eventTypes: ["JOB_LONG_RUNNING"],
      options: { thresholdSeconds: 1 },
      ...filter,
      webhook: { url: `${echo}/receiver/${receiver}/200`, body: '{"text": "{{alert_summary}}"}' },
    },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
}

async function tick(scheduledTime: number): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime, cron: "* * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

describe("alert monitors", () => {
  it("JOB_LONG_RUNNING: a run of a DAG the policy doesn't name or tag alerts nothing", async () => {
    const dag = unique("long-other");
    const named = unique("long-named");
    const byName = unique("long-by-name");
    const byTag = unique("long-by-tag");
    await longRunningPolicy({ dagNames: [dag] }, named);
    await longRunningPolicy({ dagNames: [unique("long-watched")] }, byName);
    await longRunningPolicy({ tags: [unique("tag")] }, byTag);
    const runId = await createAndStart(
      token,
      dag,
      `steps:\n  - name: slow\n    executor: http\n    command: GET ${echo}/slow/3000\n`,
    );
    // Rather than sleep past the threshold, tick at a time past it, once the run is running.
    const started = await until(async () => {
      const { dagRunDetails } = await ok(
        api(token).GET("/dag-runs/{name}/{dagRunId}", { params: { path: { name: dag, dagRunId: runId } } }),
      );
      return dagRunDetails.statusLabel === "running" ? dagRunDetails.startedAt : undefined;
    });
    await tick(Date.parse(started!) + 1500);
    // The policy that names the DAG hears of the run: the monitor did look at it.
    await until(async () => ((await received(named)).length ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await received(byName)).toEqual([]);
    expect(await received(byTag)).toEqual([]);
    // Done with it: stopped rather than waited for.
    await ok(api(token).POST("/dag-runs/{name}/{dagRunId}/stop", { params: { path: { name: dag, dagRunId: runId } } }));
    expect((await waitForRun(token, dag, runId)).statusLabel).toBe("aborted");
  });
});
