/**
 * A DAG's run history through the API: listing with nodes and the status grid, retrying one
 * step, and what renaming or deleting the DAG does to its runs.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { NODE_STATUS, RUN_STATUS } from "../../../src/domain/status.ts";
import {
  type ApiClient,
  api,
  createAndStart,
  expectEnvelope,
  nodeOf,
  ok,
  unique,
  userWithRole,
  waitForRun,
} from "../helpers.ts";

const echo = inject("echoUrl");
let token: string;
let client: ApiClient;
beforeAll(async () => {
  token = (await userWithRole("manager")).token;
  client = api(token);
});

const dagPath = (fileName: string) => ({ params: { path: { fileName } } });
const runPath = (name: string, dagRunId: string) => ({ params: { path: { name, dagRunId } } });
const start = async (fileName: string, body: { dagRunId?: string } = {}) =>
  (await ok(client.POST("/dags/{fileName}/start", { ...dagPath(fileName), body }))).dagRunId;
const runsNamed = async (name: string) => (await ok(client.GET("/dag-runs", { params: { query: { name } } }))).dagRuns;
const { succeeded, failed } = NODE_STATUS;

const hits = async (path: string) => Number(await (await fetch(`${echo}/hits${path}`)).text());

describe("run history", () => {
  it("lists a DAG's runs with their nodes, newest first, and a step × run grid, oldest first", async () => {
    const dag = unique("grid");
    const spec = `type: graph
steps:
  - name: ok
    executor: http
    command: GET ${echo}/text/ok
  - name: flaky
    executor: http
    command: GET ${echo}/flaky/${dag}/1
handlerOn:
  exit:
    executor: http
    command: GET ${echo}/text/bye
`;
    const first = await createAndStart(token, dag, spec);
    expect((await waitForRun(token, dag, first)).statusLabel).toBe("failed");
    const second = await start(dag);
    expect((await waitForRun(token, dag, second)).statusLabel).toBe("succeeded");

    const history = await ok(client.GET("/dags/{fileName}/dag-runs", dagPath(dag)));
    expect(history.dagRuns.map((run) => run.dagRunId)).toEqual([second, first]);
    expect(nodeOf(history.dagRuns[1]!, "flaky")).toMatchObject({
      statusLabel: "failed",
      error: expect.stringContaining("HTTP 503"),
    });
    expect(history.dagRuns[0]!.onExit).toMatchObject({ statusLabel: "succeeded" });
    expect(history.gridData).toEqual([
      { name: "ok", history: [succeeded, succeeded] },
      { name: "flaky", history: [failed, succeeded] },
      { name: "onExit", history: [succeeded, succeeded] },
    ]);
    expect(history.pagination).toMatchObject({ totalRecords: 2, currentPage: 1 });

    const paged = await ok(
      client.GET("/dags/{fileName}/dag-runs", { params: { path: { fileName: dag }, query: { perPage: 1, page: 2 } } }),
    );
    expect(paged.dagRuns.map((run) => run.dagRunId)).toEqual([first]);
    expect(paged.gridData).toEqual([
      { name: "ok", history: [succeeded] },
      { name: "flaky", history: [failed] },
      { name: "onExit", history: [succeeded] },
    ]);

    const byName = await ok(
      client.GET("/dag-runs/{name}", { params: { path: { name: dag }, query: { status: RUN_STATUS.failed } } }),
    );
    expect(byName.dagRuns.map((run) => run.dagRunId)).toEqual([first]);
    expectEnvelope(await client.GET("/dags/{fileName}/dag-runs", dagPath(unique("nope"))), 404, "not_found");
  });
});

describe("retrying one step", () => {
  const spec = (dag: string) => `steps:
  - name: first
    executor: http
    command: GET ${echo}/text/${dag}-first
  - name: flaky
    executor: http
    command: GET ${echo}/flaky/${dag}/1
  - name: last
    executor: http
    command: GET ${echo}/text/${dag}-last
    depends: [first]
handlerOn:
  failure:
    executor: http
    command: GET ${echo}/text/${dag}-failure
`;

  it("re-runs only that step; the others keep their results; handlers run again", async () => {
    const dag = unique("step-retry");
    const runId = await createAndStart(token, dag, spec(dag));
    const failed = await waitForRun(token, dag, runId);
    expect(failed.statusLabel).toBe("failed");
    expect(nodeOf(failed, "last").statusLabel).toBe("succeeded");
    expect(failed.onFailure?.statusLabel).toBe("succeeded");

    await ok(
      client.POST("/dag-runs/{name}/{dagRunId}/retry", {
        ...runPath(dag, runId),
        body: { dagRunId: runId, stepName: "flaky" },
      }),
    );
    const run = await waitForRun(token, dag, runId);
    expect(run.statusLabel).toBe("succeeded");
    expect(run.nodes.map((node) => [node.step.name, node.statusLabel])).toEqual([
      ["first", "succeeded"],
      ["flaky", "succeeded"],
      ["last", "succeeded"],
    ]);
    expect(run.onFailure).toBeUndefined();
    expect(await hits(`/text/${dag}-first`)).toBe(1);
    expect(await hits(`/text/${dag}-last`)).toBe(1);
    expect(await hits(`/flaky/${dag}/1`)).toBe(2);
    expect((await ok(client.GET("/dag-runs/{name}/{dagRunId}/log", runPath(dag, runId)))).content).toContain(
      "retry of step 'flaky' requested",
    );
  });

  it("refuses a step whose dependency failed, an unknown step, and a body naming another run", async () => {
    const dag = unique("step-retry-refused");
    const runId = await createAndStart(
      token,
      dag,
      `steps:
  - name: broken
    executor: http
    command: GET ${echo}/status/500
  - name: after
    executor: http
    command: GET ${echo}/text/after
`,
    );
    expect((await waitForRun(token, dag, runId)).statusLabel).toBe("failed");
    const retry = (body: { dagRunId: string; stepName?: string }) =>
      client.POST("/dag-runs/{name}/{dagRunId}/retry", { ...runPath(dag, runId), body });
    const blocked = await retry({ dagRunId: runId, stepName: "after" });
    expect(expectEnvelope(blocked, 400, "bad_request").message).toContain("dependency 'broken' did not succeed");
    expectEnvelope(await retry({ dagRunId: runId, stepName: "nope" }), 404, "not_found");
    expectEnvelope(await retry({ dagRunId: "another-run" }), 400, "bad_request");
    // Nothing changed.
    const run = await waitForRun(token, dag, runId);
    expect(run.nodes.map((node) => node.statusLabel)).toEqual(["failed", "aborted"]);
  });
});

describe("renaming and deleting a DAG", () => {
  it("a rename keeps the runs; new runs see the new DAG_NAME", async () => {
    const dag = unique("before");
    const renamed = unique("after");
    const spec = `steps:\n  - name: name\n    executor: http\n    command: GET ${echo}/text/\${DAG_NAME}\n    output: NAME\n`;
    const first = await createAndStart(token, dag, spec);
    expect(nodeOf(await waitForRun(token, dag, first), "name").output).toBe(dag);

    await ok(client.POST("/dags/{fileName}/rename", { ...dagPath(dag), body: { newFileName: renamed } }));
    expect((await ok(client.GET("/dag-runs/{name}/{dagRunId}", runPath(renamed, first)))).dagRunDetails).toMatchObject({
      name: renamed,
      statusLabel: "succeeded",
    });
    expectEnvelope(await client.GET("/dag-runs/{name}/{dagRunId}", runPath(dag, first)), 404, "not_found");

    const second = await start(renamed);
    expect(nodeOf(await waitForRun(token, renamed, second), "name").output).toBe(renamed);
    expect((await runsNamed(renamed)).map((run) => [run.dagRunId, run.name])).toEqual([
      [second, renamed],
      [first, renamed],
    ]);
    // A used dagRunId stays used under the new name.
    expectEnvelope(
      await client.POST("/dags/{fileName}/start", { ...dagPath(renamed), body: { dagRunId: first } }),
      409,
      "already_exists",
    );
  });

  it("a delete takes the runs along, even one in flight; a new DAG of that name starts clean", async () => {
    const dag = unique("deleted");
    const spec = `steps:\n  - name: slow\n    executor: http\n    command: GET ${echo}/slow/400\n  - name: next\n    executor: http\n    command: GET ${echo}/text/${dag}-next\n`;
    const finished = await createAndStart(token, dag, spec, { dagRunId: "reused-id" });
    await waitForRun(token, dag, finished);
    const inFlight = await start(dag);

    const { id: dagId } = (await env.DB.prepare("SELECT id FROM dags WHERE name = ?1")
      .bind(dag)
      .first<{ id: string }>())!;
    await ok(client.DELETE("/dags/{fileName}", dagPath(dag)), 204);
    const orphans = async () =>
      (await env.DB.prepare("SELECT COUNT(*) AS n FROM dag_runs WHERE dag_id = ?1").bind(dagId).first<{ n: number }>())!
        .n;
    expect(await orphans()).toBe(0);
    expect(await runsNamed(dag)).toEqual([]);
    expectEnvelope(await client.GET("/dag-runs/{name}/{dagRunId}", runPath(dag, inFlight)), 404, "not_found");

    const again = await createAndStart(token, dag, spec, { dagRunId: "reused-id" });
    expect(again).toBe("reused-id");
    expect((await runsNamed(dag)).map((run) => run.dagRunId)).toEqual(["reused-id"]);

    // The in-flight step's result reaches a coordinator that no longer has the run: its next step
    // never runs. The new run's slow call went out after the in-flight one, so once the new run
    // has finished (its own next step ran), the in-flight result has long been answered.
    expect((await waitForRun(token, dag, again)).statusLabel).toBe("succeeded");
    expect(await hits(`/text/${dag}-next`)).toBe(2); // the first run's and the new run's, none from the deleted one
    expect(await orphans()).toBe(0);
    expect((await runsNamed(dag)).map((run) => run.dagRunId)).toEqual(["reused-id"]);
  });
});
