/**
 * A DAG's run history through the API: listing with nodes and the status grid, retrying one
 * step, and what renaming or deleting the DAG does to its runs.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { call, createAndStart, expectEnvelope, nodeOf, unique, userWithRole, waitForRun } from "../helpers.ts";

const echo = inject("echoUrl");
let token: string;
beforeAll(async () => {
  token = (await userWithRole("manager")).token;
});

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
    const second = (await call("POST", `/dags/${dag}/start`, { token, body: {} })).body.dagRunId;
    expect((await waitForRun(token, dag, second)).statusLabel).toBe("succeeded");

    const history = await call("GET", `/dags/${dag}/dag-runs`, { token });
    expect(history.status).toBe(200);
    expect(history.body.dagRuns.map((run: any) => run.dagRunId)).toEqual([second, first]);
    expect(nodeOf(history.body.dagRuns[1], "flaky")).toMatchObject({
      statusLabel: "failed",
      error: expect.stringContaining("HTTP 503"),
    });
    expect(history.body.dagRuns[0].onExit).toMatchObject({ statusLabel: "succeeded" });
    expect(history.body.gridData).toEqual([
      { name: "ok", history: [4, 4] },
      { name: "flaky", history: [2, 4] },
      { name: "onExit", history: [4, 4] },
    ]);
    expect(history.body.pagination).toMatchObject({ totalRecords: 2, currentPage: 1 });

    const paged = await call("GET", `/dags/${dag}/dag-runs?perPage=1&page=2`, { token });
    expect(paged.body.dagRuns.map((run: any) => run.dagRunId)).toEqual([first]);
    expect(paged.body.gridData).toEqual([
      { name: "ok", history: [4] },
      { name: "flaky", history: [2] },
      { name: "onExit", history: [4] },
    ]);

    const byName = await call("GET", `/dag-runs/${dag}?status=2`, { token });
    expect(byName.body.dagRuns.map((run: any) => run.dagRunId)).toEqual([first]);
    expectEnvelope(await call("GET", `/dags/${unique("nope")}/dag-runs`, { token }), 404, "not_found");
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
    expect(failed.onFailure.statusLabel).toBe("succeeded");

    const retried = await call("POST", `/dag-runs/${dag}/${runId}/retry`, {
      token,
      body: { dagRunId: runId, stepName: "flaky" },
    });
    expect(retried.status).toBe(200);
    const run = await waitForRun(token, dag, runId);
    expect(run.statusLabel).toBe("succeeded");
    expect(run.nodes.map((node: any) => [node.step.name, node.statusLabel])).toEqual([
      ["first", "succeeded"],
      ["flaky", "succeeded"],
      ["last", "succeeded"],
    ]);
    expect(run.onFailure).toBeUndefined();
    expect(await hits(`/text/${dag}-first`)).toBe(1);
    expect(await hits(`/text/${dag}-last`)).toBe(1);
    expect(await hits(`/flaky/${dag}/1`)).toBe(2);
    expect((await call("GET", `/dag-runs/${dag}/${runId}/log`, { token })).body.content).toContain(
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
    const blocked = await call("POST", `/dag-runs/${dag}/${runId}/retry`, {
      token,
      body: { dagRunId: runId, stepName: "after" },
    });
    expectEnvelope(blocked, 400, "bad_request");
    expect(blocked.body.message).toContain("dependency 'broken' did not succeed");
    expectEnvelope(
      await call("POST", `/dag-runs/${dag}/${runId}/retry`, { token, body: { dagRunId: runId, stepName: "nope" } }),
      404,
      "not_found",
    );
    expectEnvelope(
      await call("POST", `/dag-runs/${dag}/${runId}/retry`, { token, body: { dagRunId: "another-run" } }),
      400,
      "bad_request",
    );
    // Nothing changed.
    const run = await waitForRun(token, dag, runId);
    expect(run.nodes.map((node: any) => node.statusLabel)).toEqual(["failed", "aborted"]);
  });
});

describe("renaming and deleting a DAG", () => {
  it("a rename keeps the runs; new runs see the new DAG_NAME", async () => {
    const dag = unique("before");
    const renamed = unique("after");
    const spec = `steps:\n  - name: name\n    executor: http\n    command: GET ${echo}/text/\${DAG_NAME}\n    output: NAME\n`;
    const first = await createAndStart(token, dag, spec);
    expect(nodeOf(await waitForRun(token, dag, first), "name").output).toBe(dag);

    expect((await call("POST", `/dags/${dag}/rename`, { token, body: { newFileName: renamed } })).status).toBe(200);
    expect((await call("GET", `/dag-runs/${renamed}/${first}`, { token })).body.dagRunDetails).toMatchObject({
      name: renamed,
      statusLabel: "succeeded",
    });
    expectEnvelope(await call("GET", `/dag-runs/${dag}/${first}`, { token }), 404, "not_found");

    const second = (await call("POST", `/dags/${renamed}/start`, { token, body: {} })).body.dagRunId;
    expect(nodeOf(await waitForRun(token, renamed, second), "name").output).toBe(renamed);
    const listed = await call("GET", `/dag-runs?name=${renamed}`, { token });
    expect(listed.body.dagRuns.map((run: any) => [run.dagRunId, run.name])).toEqual([
      [second, renamed],
      [first, renamed],
    ]);
    // A used dagRunId stays used under the new name.
    expectEnvelope(
      await call("POST", `/dags/${renamed}/start`, { token, body: { dagRunId: first } }),
      409,
      "already_exists",
    );
  });

  it("a delete takes the runs along, even one in flight; a new DAG of that name starts clean", async () => {
    const dag = unique("deleted");
    const spec = `steps:\n  - name: slow\n    executor: http\n    command: GET ${echo}/slow/400\n  - name: next\n    executor: http\n    command: GET ${echo}/text/${dag}-next\n`;
    const finished = await createAndStart(token, dag, spec, { dagRunId: "reused-id" });
    await waitForRun(token, dag, finished);
    const inFlight = (await call("POST", `/dags/${dag}/start`, { token, body: {} })).body.dagRunId;

    const { id: dagId } = (await env.DB.prepare("SELECT id FROM dags WHERE name = ?1")
      .bind(dag)
      .first<{ id: string }>())!;
    expect((await call("DELETE", `/dags/${dag}`, { token })).status).toBe(204);
    const orphans = async () =>
      (await env.DB.prepare("SELECT COUNT(*) AS n FROM dag_runs WHERE dag_id = ?1").bind(dagId).first<{ n: number }>())!
        .n;
    expect(await orphans()).toBe(0);
    expect((await call("GET", `/dag-runs?name=${dag}`, { token })).body.dagRuns).toEqual([]);
    expectEnvelope(await call("GET", `/dag-runs/${dag}/${inFlight}`, { token }), 404, "not_found");

    // The in-flight step's result reaches a coordinator that no longer has the run: its next step never runs.
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await hits(`/text/${dag}-next`)).toBe(1);
    expect(await orphans()).toBe(0);
    expect((await call("GET", `/dag-runs?name=${dag}`, { token })).body.dagRuns).toEqual([]);

    const again = await createAndStart(token, dag, spec, { dagRunId: "reused-id" });
    expect(again).toBe("reused-id");
    expect(
      (await call("GET", `/dag-runs?name=${dag}`, { token })).body.dagRuns.map((run: any) => run.dagRunId),
    ).toEqual(["reused-id"]);
  });
});
