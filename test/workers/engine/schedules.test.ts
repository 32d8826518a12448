/**
 * The cron trigger: each tick starts the DAGs due at its minute, exactly once per (DAG, minute),
 * in their time zones, never while suspended, and records what failed to start.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import worker from "../../../src/index.ts";
import { scheduleRunId } from "../../../src/schedules/tick.ts";
import { type ApiClient, api, call, expectEnvelope, expectLogged, ok, unique, userWithRole } from "../helpers.ts";

const echo = inject("echoUrl");
let token: string;
let client: ApiClient;
beforeAll(async () => {
  token = (await userWithRole("manager")).token;
  client = api(token);
});

async function tick(scheduledTime: number): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime, cron: "* * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

async function create(schedule: string, extra = ""): Promise<string> {
  const dag = unique("sched");
  const spec = `schedule: "${schedule}"\n${extra}steps:\n  - name: ping\n    executor: http\n    command: GET ${echo}/text/tick\n`;
  await ok(client.POST("/dags", { body: { name: dag, spec } }), 201);
  return dag;
}

const runsOf = async (name: string) => (await ok(client.GET("/dag-runs", { params: { query: { name } } }))).dagRuns;
const suspend = (fileName: string, suspend: boolean) =>
  client.POST("/dags/{fileName}/suspend", { params: { path: { fileName } }, body: { suspend } });
const listed = async (name: string) => (await ok(client.GET("/dags", { params: { query: { name } } }))).dags[0];

describe("schedule ticks", () => {
  it("start a due DAG exactly once per minute, even when the tick fires twice; runs are recorded when the tick returns", async () => {
    const dag = await create("*/5 * * * *");
    const minute = Date.UTC(2030, 0, 15, 9, 35);
    await Promise.all([tick(minute + 1_200), tick(minute + 3_000)]);
    await tick(minute + 59_000);
    const runs = await runsOf(dag);
    expect(runs.map((run) => run.dagRunId)).toEqual([scheduleRunId(minute)]);
    const { dagRunDetails: details } = await ok(
      client.GET("/dag-runs/{name}/{dagRunId}", { params: { path: { name: dag, dagRunId: runs[0]!.dagRunId } } }),
    );
    expect(details).toMatchObject({ trigger: "schedule", triggeredBy: "schedule:2030-01-15T09:35:00.000Z" });

    await tick(minute + 60_000); // 09:36: not due
    expect(await runsOf(dag)).toHaveLength(1);
  });

  it("honour CRON_TZ", async () => {
    const tokyo = await create("CRON_TZ=Asia/Tokyo 0 9 * * *");
    await tick(Date.UTC(2030, 0, 15, 9, 0)); // 18:00 in Tokyo
    expect(await runsOf(tokyo)).toEqual([]);
    await tick(Date.UTC(2030, 0, 15, 0, 0)); // 09:00 in Tokyo
    expect((await runsOf(tokyo)).map((run) => run.dagRunId)).toEqual([scheduleRunId(Date.UTC(2030, 0, 15, 0, 0))]);
  });

  it("skip suspended DAGs, and start them again once resumed; GET /dags shows no nextRun while suspended", async () => {
    const dag = await create("* * * * *");
    await ok(suspend(dag, true));
    const suspended = await listed(dag);
    expect(suspended).toMatchObject({ suspended: true });
    expect(suspended).not.toHaveProperty("nextRun");
    await tick(Date.UTC(2030, 0, 15, 10, 0));
    expect(await runsOf(dag)).toEqual([]);
    await ok(suspend(dag, false));
    expect((await listed(dag))?.nextRun).toEqual(expect.any(String));
    await tick(Date.UTC(2030, 0, 15, 10, 1));
    expect(await runsOf(dag)).toHaveLength(1);
    expectEnvelope(await suspend(unique("nope"), true), 404, "not_found");
    // A wrong type on purpose: a raw call.
    expectEnvelope(await call("POST", `/dags/${dag}/suspend`, { token, body: { suspend: "yes" } }), 400, "bad_request");
  });

  it("a DAG created during minute M still gets M's run from the next tick", async () => {
    const now = Date.now();
    const minute = Math.floor(now / 60_000) * 60_000;
    await tick(minute); // M's tick runs before the DAG exists
    const dag = await create("* * * * *");
    await tick(minute + 60_000);
    const ids = (await runsOf(dag)).map((run) => run.dagRunId).sort();
    expect(ids).toEqual([scheduleRunId(minute), scheduleRunId(minute + 60_000)].sort());
  });

  it("a tick that can't start a run records why", async () => {
    const dag = await create("* * * * *", "params: COUNT=1\nmaxActiveRuns: 1\n");
    const minute = Date.UTC(2030, 0, 15, 11, 0);
    // Break the stored spec the way a bad deploy might: the coordinator refuses to start it.
    await env.DB.prepare("UPDATE dags SET spec = ?2 WHERE name = ?1").bind(dag, "steps: [").run();
    await expectLogged([{ level: "error", msg: "a scheduled run did not start", dag }], () => tick(minute));
    const { results } = await env.DB.prepare(
      "SELECT f.* FROM tick_failures f JOIN dags d ON d.id = f.dag_id WHERE d.name = ?1",
    )
      .bind(dag)
      .all();
    expect(results).toMatchObject([
      { scheduled_for: new Date(minute).toISOString(), error: expect.stringContaining("invalid") },
    ]);
    // Every later tick of this runtime, in any file, would fail to start it again.
    await ok(client.DELETE("/dags/{fileName}", { params: { path: { fileName: dag } } }), 204);
  });
});
