/**
 * The step duration histogram of GET /metrics (issue 17): runs of real DAGs (command steps on
 * the step runner, http steps on the echo server) add their steps to their DAG's histogram in
 * D1, each finish once, whatever happens to the write of the run's D1 copy.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import type { DagCoordinator } from "../../../src/coordinator/dag-coordinator.ts";
import { coordinatorFor } from "../../../src/coordinator/index.ts";
import { findDag } from "../../../src/db/dags.ts";
import { STEP_DURATION_BUCKETS, tallyStepDurations } from "../../../src/domain/step-durations.ts";
import { type ApiClient, api, call, createAndStart, ok, unique, until, userWithRole, waitForRun } from "../helpers.ts";
import { histogramSeries, parsePrometheusText } from "../prometheus-text.ts";

const echo = inject("echoUrl");
const METRIC = "dagflare_step_duration_seconds";
let token: string;
let viewerToken: string;
let client: ApiClient;
beforeAll(async () => {
  token = (await userWithRole("admin")).token;
  viewerToken = (await userWithRole("viewer")).token;
  client = api(token);
});

/** GET /metrics, read by the strict parser: the DAG's step histogram, or undefined when it has none. */
async function stepHistogram(dag: string) {
  const response = await call("GET", "/metrics", { token: viewerToken });
  expect(response.status).toBe(200);
  const families = parsePrometheusText(String(response.body));
  expect(families.get(METRIC)?.type).toBe("histogram");
  return histogramSeries(families.get(METRIC), { dag });
}

/** Polls until the DAG's histogram has counted `count` steps (a run's D1 copy is written as it finishes). */
const counted = (dag: string, count: number) =>
  until(async () => {
    const series = await stepHistogram(dag);
    return series?.count === count ? series : undefined;
  });

const runPath = (name: string, dagRunId: string) => ({ params: { path: { name, dagRunId } } });

const sql = (coordinator: DurableObjectStub<DagCoordinator>, query: string, ...bindings: string[]) =>
  runInDurableObject(coordinator, (_instance, state) => state.storage.sql.exec(query, ...bindings).toArray());

/**
 * As if the coordinator stopped right after D1 took a batch, before it noted so: the run's
 * copy is stale again and its finish's steps are pending again. The alarm then writes both.
 */
async function writeFinishAgain(coordinator: DurableObjectStub<DagCoordinator>, runId: string, steps: string[]) {
  await sql(coordinator, "UPDATE runs SET synced_at = NULL WHERE id = ?", runId);
  for (const step of steps) {
    await sql(
      coordinator,
      "INSERT INTO step_durations (run_id, finished_at, step, seconds) SELECT id, finished_at, ?, 1 FROM runs WHERE id = ?",
      step,
      runId,
    );
  }
  await sql(
    coordinator,
    "INSERT OR REPLACE INTO timers (kind, run_id, step, attempt, due_ms) VALUES ('d1_sync', ?, '', 0, 0)",
    runId,
  );
  await runInDurableObject(coordinator, (_instance, state) => state.storage.setAlarm(Date.now()));
  expect(await runDurableObjectAlarm(coordinator)).toBe(true);
  expect(await sql(coordinator, "SELECT step FROM step_durations WHERE run_id = ?", runId)).toEqual([]);
  expect(await sql(coordinator, "SELECT synced_at = updated_at AS synced FROM runs WHERE id = ?", runId)).toEqual([
    { synced: 1 },
  ]);
}

describe("dagflare_step_duration_seconds", () => {
  it("a run of two steps (command and http) counts 2 with their time; the next run adds 2; deleting the DAG drops it", async () => {
    const dag = unique("step-metrics");
    const spec = `steps:\n  - name: nap\n    command: sleep 0.3\n  - name: fetch\n    executor: http\n    command: GET ${echo}/text/hi\n`;
    expect(await stepHistogram(dag)).toBeUndefined();

    const first = await createAndStart(token, dag, spec);
    expect((await waitForRun(token, dag, first, 20_000)).statusLabel).toBe("succeeded");
    const once = await counted(dag, 2);
    // The command slept 0.3 s; nothing here takes anywhere near a minute.
    expect(once.sum).toBeGreaterThanOrEqual(0.3);
    expect(once.sum).toBeLessThan(60);
    expect([...once.buckets.keys()]).toEqual([...STEP_DURATION_BUCKETS.map(String), "+Inf"]);
    expect(once.buckets.get("0.25")).toBeLessThanOrEqual(1); // the nap is not under 0.25 s
    expect(once.buckets.get("60")).toBe(2);

    const second = await ok(client.POST("/dags/{fileName}/start", { params: { path: { fileName: dag } }, body: {} }));
    await waitForRun(token, dag, second.dagRunId, 20_000);
    const twice = await counted(dag, 4);
    expect(twice.sum).toBeGreaterThanOrEqual(0.6);

    await ok(client.DELETE("/dags/{fileName}", { params: { path: { fileName: dag } } }), 204);
    expect(await stepHistogram(dag)).toBeUndefined();
  }, 45_000);

  it("a retried run adds only the steps it ran again", async () => {
    const dag = unique("step-metrics-retry");
    const spec = `steps:\n  - name: good\n    executor: http\n    command: GET ${echo}/text/good\n  - name: bad\n    executor: http\n    command: GET ${echo}/status/500\n`;
    const runId = await createAndStart(token, dag, spec);
    expect((await waitForRun(token, dag, runId)).statusLabel).toBe("failed");
    await counted(dag, 2);

    // The whole run again: `good` succeeded and keeps its result; `bad` runs again.
    await ok(client.POST("/dag-runs/{name}/{dagRunId}/retry", { ...runPath(dag, runId), body: { dagRunId: runId } }));
    await waitForRun(token, dag, runId);
    await counted(dag, 3);

    // One step again (Dagu's stepName).
    await ok(
      client.POST("/dag-runs/{name}/{dagRunId}/retry", {
        ...runPath(dag, runId),
        body: { dagRunId: runId, stepName: "bad" },
      }),
    );
    await waitForRun(token, dag, runId);
    await counted(dag, 4);
  });

  it("a finish whose D1 copy is written twice is counted once; one D1 never showed is counted when written", async () => {
    const dag = unique("step-metrics-twice");
    const spec = `steps:\n  - name: a\n    executor: http\n    command: GET ${echo}/text/a\n  - name: b\n    executor: http\n    command: GET ${echo}/text/b\n`;
    const runId = await createAndStart(token, dag, spec);
    await waitForRun(token, dag, runId);
    const before = await counted(dag, 2);
    const { id: dagId } = (await findDag(env.DB, dag))!;
    const coordinator = coordinatorFor(env, dagId);

    // D1 took the finish and its steps; writing them again changes nothing.
    await writeFinishAgain(coordinator, runId, ["a", "b"]);
    expect(await stepHistogram(dag)).toEqual(before);

    // As after an outage that lost the copy: D1 doesn't show this finish, so its steps count.
    await env.DB.prepare("DELETE FROM dag_runs WHERE dag_id = ?1 AND run_id = ?2").bind(dagId, runId).run();
    await writeFinishAgain(coordinator, runId, ["a", "b"]);
    const after = await stepHistogram(dag);
    expect(after?.count).toBe(4);
    expect(after?.sum).toBeCloseTo(before.sum + 2, 6);
    expect(after?.buckets.get("1")).toBe((before.buckets.get("1") ?? 0) + 2);
  });

  it("a step that calls a DAG counts once, in its caller's histogram; the sub-DAG run's steps are in its time", async () => {
    const child = unique("step-metrics-child");
    await ok(
      client.POST("/dags", {
        body: { name: child, spec: `steps:\n  - name: inner\n    executor: http\n    command: GET ${echo}/text/in\n` },
      }),
      201,
    );
    const parent = unique("step-metrics-parent");
    const spec = `steps:\n  - name: call-child\n    call: ${child}\n  - name: after\n    executor: http\n    command: GET ${echo}/text/after\n`;
    const runId = await createAndStart(token, parent, spec);
    expect((await waitForRun(token, parent, runId)).statusLabel).toBe("succeeded");
    await counted(parent, 2);
    expect(await stepHistogram(child)).toBeUndefined();
  });
});

describe("tallyStepDurations", () => {
  it("puts each step in the first bucket whose bound it doesn't exceed; beyond the last, only in the totals", () => {
    expect(tallyStepDurations([0.01, 0.011, 1, 3600, 20_000], [0.01, 1, 3600])).toEqual({
      buckets: [
        { le: 0.01, steps: 1 },
        { le: 1, steps: 2 },
        { le: 3600, steps: 1 },
      ],
      steps: 5,
      seconds: 0.01 + 0.011 + 1 + 3600 + 20_000,
    });
    expect(tallyStepDurations([])).toEqual({ buckets: [], steps: 0, seconds: 0 });
  });
});

describe("the Prometheus text checker the metrics tests rely on", () => {
  const histogram = (...lines: string[]) =>
    `# HELP h_seconds Test.\n# TYPE h_seconds histogram\n${lines.join("\n")}\nh_seconds_sum{dag="x"} 1.5\nh_seconds_count{dag="x"} 2\n`;

  it("takes a well-formed histogram, and rejects what a scraper or a histogram reader would", () => {
    const good = histogram('h_seconds_bucket{dag="x",le="1"} 1', 'h_seconds_bucket{dag="x",le="+Inf"} 2');
    expect(histogramSeries(parsePrometheusText(good).get("h_seconds"), { dag: "x" })).toEqual({
      buckets: new Map([
        ["1", 1],
        ["+Inf", 2],
      ]),
      sum: 1.5,
      count: 2,
    });
    const bad = {
      "not cumulative": histogram('h_seconds_bucket{dag="x",le="1"} 2', 'h_seconds_bucket{dag="x",le="5"} 1'),
      "no +Inf": histogram('h_seconds_bucket{dag="x",le="1"} 2'),
      "+Inf is not _count": histogram('h_seconds_bucket{dag="x",le="+Inf"} 3'),
      "unquoted label": histogram('h_seconds_bucket{dag=x,le="+Inf"} 2'),
      "no value": histogram('h_seconds_bucket{dag="x",le="+Inf"}'),
      "no TYPE": "other_total 1\n",
    };
    for (const [why, text] of Object.entries(bad)) expect(() => parsePrometheusText(text), why).toThrow();
  });
});
