/**
 * End to end through the Worker: the API starts runs, the coordinator (Durable Object) plans
 * them, the STEPS queue feeds the consumer, and the http executor calls a real server on
 * 127.0.0.1 (test/workers/global-setup.ts).
 */
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
  until,
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
const start = (fileName: string, body: { dagRunId?: string; params?: string | Record<string, string> } = {}) =>
  client.POST("/dags/{fileName}/start", { ...dagPath(fileName), body });

const http = (name: string, command: string, extra = "") =>
  `  - name: ${name}\n    executor: {type: http, config: {timeout: 5, silent: true}}\n    command: ${command}\n${extra}`;

describe("a chain of HTTP steps", () => {
  it("runs in order, passes outputs as ${VAR} and ${VAR.path}, and records everything", async () => {
    const dag = unique("chain");
    const spec = `params: GREETING=hello
steps:
${http("fetch", `GET ${echo}/json`, "    output: DATA\n")}${http("second", `GET ${echo}/text/\${DATA.a.b[1]}-\${DATA.nested.list.0.author.name}-\${GREETING}`, "    output: SECOND\n")}${http("third", `POST ${echo}/echo`)}`;
    const runId = await createAndStart(token, dag, spec, { params: "GREETING=hi" });

    // Visible in the read APIs as soon as start returned.
    const listed = await ok(client.GET("/dag-runs", { params: { query: { name: dag } } }));
    expect(listed.dagRuns.map((run) => run.dagRunId)).toEqual([runId]);

    const run = await waitForRun(token, dag, runId);
    expect(run).toMatchObject({
      status: RUN_STATUS.succeeded,
      statusLabel: "succeeded",
      params: "GREETING=hi",
      trigger: "manual",
    });
    expect(run.nodes.map((node) => [node.step.name, node.statusLabel])).toEqual([
      ["fetch", "succeeded"],
      ["second", "succeeded"],
      ["third", "succeeded"],
    ]);
    expect(nodeOf(run, "second").output).toBe("2-Ada-hi");

    const outputs = await ok(client.GET("/dag-runs/{name}/{dagRunId}/outputs", runPath(dag, runId)));
    // Keyed as Dagu 1.30.2's outputs.json: the variable's name in camelCase.
    expect(outputs.outputs).toMatchObject({ second: "2-Ada-hi" });
    expect(JSON.parse(outputs.outputs.data ?? "null").name).toBe("dagflare");
    expect(outputs.metadata).toMatchObject({ dagName: dag, dagRunId: runId, status: "succeeded" });

    const log = await ok(
      client.GET("/dag-runs/{name}/{dagRunId}/steps/{stepName}/log", {
        params: { path: { name: dag, dagRunId: runId, stepName: "second" }, query: { stream: "stdout" } },
      }),
    );
    expect(log).toMatchObject({ content: "2-Ada-hi", lineCount: 1, totalLines: 1, hasMore: false });
    const runLog = await ok(client.GET("/dag-runs/{name}/{dagRunId}/log", runPath(dag, runId)));
    expect(runLog.content).toContain("finished: succeeded");

    const finished = await ok(
      client.GET("/dag-runs", { params: { query: { name: dag, status: RUN_STATUS.succeeded } } }),
    );
    expect(finished.dagRuns[0]).toMatchObject({
      dagRunId: runId,
      statusLabel: "succeeded",
      finishedAt: expect.any(String),
    });
    const latest = await ok(
      client.GET("/dags/{fileName}/dag-runs/{dagRunId}", {
        params: { path: { fileName: dag, dagRunId: "latest" } },
      }),
    );
    expect(latest.dagRun.dagRunId).toBe(runId);
    const dagDetails = await ok(client.GET("/dags/{fileName}", dagPath(dag)));
    expect(dagDetails.latestDAGRun).toMatchObject({
      dagRunId: runId,
      status: RUN_STATUS.succeeded,
      statusLabel: "succeeded",
    });
    const dagList = await ok(client.GET("/dags", { params: { query: { name: dag } } }));
    expect(dagList.dags[0]?.latestDAGRun).toMatchObject({ dagRunId: runId, statusLabel: "succeeded" });
  });

  it("http executor: headers, query, JSON body, json mode; non-2xx fails the step", async () => {
    const dag = unique("http");
    const spec = `steps:
  - name: post
    executor:
      type: http
      config:
        headers: {X-Run: "\${DAG_RUN_ID}"}
        query: {q: "\${DAG_NAME}"}
        body: {hello: "world"}
        json: true
    command: POST ${echo}/echo
    output: RESPONSE
  - name: broken
    executor: http
    command: GET ${echo}/status/503
`;
    const runId = await createAndStart(token, dag, spec);
    const run = await waitForRun(token, dag, runId);
    const response = JSON.parse(nodeOf(run, "post").output ?? "null");
    expect(response.status_code).toBe(200);
    const echoed = JSON.parse(response.body);
    expect(echoed).toMatchObject({
      method: "POST",
      query: { q: dag },
      headers: { "x-run": runId, "content-type": "application/json" },
    });
    expect(JSON.parse(echoed.body)).toEqual({ hello: "world" });
    expect(nodeOf(run, "broken")).toMatchObject({ statusLabel: "failed", error: expect.stringContaining("503") });
    expect(run.statusLabel).toBe("failed");
  });

  it("http executor: an output up to maxOutputSize is whole (beyond the log's 256 KiB); larger fails the step", async () => {
    const dag = unique("http-big");
    const spec = `maxOutputSize: 400000
steps:
  - name: big
    executor: http
    command: GET ${echo}/bytes/300000
    output: BIG
  - name: too-big
    executor: http
    command: GET ${echo}/bytes/400001
    output: TOO_BIG
    continueOn: {failure: true}
`;
    const run = await waitForRun(token, dag, await createAndStart(token, dag, spec));
    expect(nodeOf(run, "big").output).toBe("x".repeat(300_000));
    expect(nodeOf(run, "too-big")).toMatchObject({
      statusLabel: "failed",
      error: "output exceeded maxOutputSize (400000 bytes)",
    });
  });
});

describe("failures, continueOn, handlers", () => {
  it("a failure aborts what depends on it; independent branches finish; failure and exit handlers run", async () => {
    const dag = unique("fail");
    const spec = `type: graph
steps:
${http("bad", `GET ${echo}/status/500`)}${http("after-bad", `GET ${echo}/text/never`, "    depends: [bad]\n")}${http("independent", `GET ${echo}/text/fine`)}handlerOn:
  success:
    executor: http
    command: GET ${echo}/text/success-handler
  failure:
    executor: http
    command: GET ${echo}/text/failure-handler
  exit:
    executor: http
    command: GET ${echo}/text/exit-\${DAG_RUN_STATUS}
`;
    const runId = await createAndStart(token, dag, spec);
    const run = await waitForRun(token, dag, runId);
    expect(run.statusLabel).toBe("failed");
    expect(nodeOf(run, "bad").statusLabel).toBe("failed");
    expect(nodeOf(run, "after-bad").statusLabel).toBe("aborted");
    expect(nodeOf(run, "independent").statusLabel).toBe("succeeded");
    expect(run.onFailure).toMatchObject({ statusLabel: "succeeded" });
    expect(run.onExit).toMatchObject({ statusLabel: "succeeded" });
    expect(run.onSuccess).toBeUndefined();
    const exitLog = await ok(
      client.GET("/dag-runs/{name}/{dagRunId}/steps/{stepName}/log", {
        params: { path: { name: dag, dagRunId: runId, stepName: "onExit" } },
      }),
    );
    expect(exitLog.content).toBe("exit-failed");
  });

  it("continueOn.failure lets dependents run and the run partially succeeds", async () => {
    const dag = unique("partial");
    const spec = `steps:
${http("flaky", `GET ${echo}/status/500`, "    continueOn: {failure: true}\n")}${http("next", `GET ${echo}/text/ok`)}`;
    const run = await waitForRun(token, dag, await createAndStart(token, dag, spec));
    expect(run.statusLabel).toBe("partially_succeeded");
    expect(nodeOf(run, "next").statusLabel).toBe("succeeded");
  });

  it("markSuccess with a matching exit code turns the failure into a success", async () => {
    const dag = unique("mark");
    const spec = `steps:
${http("tolerated", `GET ${echo}/status/404`, "    continueOn: {exitCode: [1], markSuccess: true}\n")}`;
    const run = await waitForRun(token, dag, await createAndStart(token, dag, spec));
    expect(nodeOf(run, "tolerated").statusLabel).toBe("succeeded");
    expect(run.statusLabel).toBe("succeeded");
  });

  it("preconditions: a step whose condition is not met is skipped, and so are its dependents", async () => {
    const dag = unique("pre");
    const spec = `params: MODE=dry
steps:
${http("only-live", `GET ${echo}/text/live`, '    preconditions:\n      - condition: "${MODE}"\n        expected: "re:^live$"\n')}${http("after", `GET ${echo}/text/after`)}${http("independent", `GET ${echo}/text/x`, "    depends: []\n")}`;
    const run = await waitForRun(token, dag, await createAndStart(token, dag, spec));
    expect(nodeOf(run, "only-live")).toMatchObject({
      statusLabel: "skipped",
      error: expect.stringContaining("precondition not met"),
    });
    expect(nodeOf(run, "after").statusLabel).toBe("skipped");
    expect(run.statusLabel).toBe("succeeded");
    const live = await ok(start(dag, { params: { MODE: "live" } }));
    const liveRun = await waitForRun(token, dag, live.dagRunId);
    expect(nodeOf(liveRun, "only-live").statusLabel).toBe("succeeded");
  });

  it("retryPolicy retries a failing attempt until it succeeds", async () => {
    const dag = unique("retry");
    const key = unique("k");
    const spec = `steps:
${http("flaky", `GET ${echo}/flaky/${key}/2`, "    retryPolicy: {limit: 3, intervalSec: 0}\n    output: RESULT\n")}`;
    const run = await waitForRun(token, dag, await createAndStart(token, dag, spec));
    expect(nodeOf(run, "flaky")).toMatchObject({ statusLabel: "succeeded", retryCount: 2, output: "attempt 3 ok" });
  });

  it("a step that outlives timeoutSec fails with exit code 124 and is not retried", async () => {
    const dag = unique("timeout");
    const spec = `steps:
  - name: slow
    executor: http
    command: GET ${echo}/slow/3000
    timeoutSec: 1
    retryPolicy: {limit: 2, intervalSec: 0}
`;
    const run = await waitForRun(token, dag, await createAndStart(token, dag, spec));
    expect(nodeOf(run, "slow")).toMatchObject({
      statusLabel: "failed",
      exitCode: 124,
      retryCount: 0,
      error: expect.stringContaining("timed out"),
    });
  });
});

describe("run control", () => {
  it("rejects a dagRunId this DAG has used, even after the run finished", async () => {
    const dag = unique("dup");
    const runId = await createAndStart(token, dag, `steps:\n${http("a", `GET ${echo}/text/a`)}`, {
      dagRunId: "deploy-abc123",
    });
    expect(runId).toBe("deploy-abc123");
    await waitForRun(token, dag, runId);
    expectEnvelope(await start(dag, { dagRunId: "deploy-abc123" }), 409, "already_exists");
    expectEnvelope(await start(dag, { dagRunId: "bad id!" }), 400, "bad_request");
    expectEnvelope(await start("no-such-dag"), 404, "not_found");
  });

  it("concurrent starts with one dagRunId: exactly one wins", async () => {
    const dag = unique("race");
    await ok(client.POST("/dags", { body: { name: dag, spec: `steps:\n${http("a", `GET ${echo}/text/a`)}` } }), 201);
    const results = await Promise.all(Array.from({ length: 4 }, () => start(dag, { dagRunId: "same-id" })));
    expect(results.map((result) => result.response.status).sort()).toEqual([200, 409, 409, 409]);
  });

  it("queues runs beyond maxActiveRuns and starts them in order when a slot frees", async () => {
    const dag = unique("queue");
    const first = await createAndStart(token, dag, `steps:\n${http("slow", `GET ${echo}/slow/400`)}`);
    const { dagRunId: second } = await ok(client.POST("/dags/{fileName}/enqueue", { ...dagPath(dag), body: {} }));
    const queued = await ok(client.GET("/dag-runs/{name}/{dagRunId}", runPath(dag, second)));
    expect(queued.dagRunDetails).toMatchObject({ status: RUN_STATUS.queued, statusLabel: "queued" });
    const done = await waitForRun(token, dag, second);
    expect(done.statusLabel).toBe("succeeded");
    const firstRun = await waitForRun(token, dag, first);
    expect(Date.parse(done.startedAt)).toBeGreaterThanOrEqual(Date.parse(firstRun.finishedAt));
  });

  it("maxActiveRuns: -1 never queues (Dagu's 'always run')", async () => {
    const dag = unique("never-queue");
    const first = await createAndStart(
      token,
      dag,
      `maxActiveRuns: -1\nsteps:\n${http("slow", `GET ${echo}/slow/600`)}`,
    );
    const { dagRunId: second } = await ok(client.POST("/dags/{fileName}/start", { ...dagPath(dag), body: {} }));
    const running = await ok(client.GET("/dag-runs/{name}/{dagRunId}", runPath(dag, second)));
    expect(running.dagRunDetails.statusLabel).toBe("running");
    const [firstRun, secondRun] = [await waitForRun(token, dag, first), await waitForRun(token, dag, second)];
    expect(Date.parse(secondRun.startedAt)).toBeLessThan(Date.parse(firstRun.finishedAt));
  });

  it("stop aborts the running step and runs the abort and exit handlers", async () => {
    const dag = unique("stop");
    const spec = `steps:
${http("slow", `GET ${echo}/slow/3000`)}${http("later", `GET ${echo}/text/later`)}handlerOn:
  cancel:
    executor: http
    command: GET ${echo}/text/aborted
  exit:
    executor: http
    command: GET ${echo}/text/bye
`;
    const runId = await createAndStart(token, dag, spec);
    // Stop once the slow step is running (its request is out), so there is something to abort.
    await until(async () => {
      const { dagRunDetails } = await ok(client.GET("/dag-runs/{name}/{dagRunId}", runPath(dag, runId)));
      return nodeOf(dagRunDetails, "slow").status === NODE_STATUS.running ? true : undefined;
    });
    await ok(client.POST("/dag-runs/{name}/{dagRunId}/stop", runPath(dag, runId)));
    const run = await waitForRun(token, dag, runId);
    expect(run.statusLabel).toBe("aborted");
    expect(nodeOf(run, "slow").statusLabel).toBe("aborted");
    expect(nodeOf(run, "later").statusLabel).toBe("not_started");
    expect(run.onCancel).toMatchObject({ statusLabel: "succeeded" });
    expect(run.onExit).toMatchObject({ statusLabel: "succeeded" });
    expectEnvelope(await client.POST("/dag-runs/{name}/{dagRunId}/stop", runPath(dag, runId)), 400, "not_running");
  });

  it("retry re-runs the steps that did not succeed and keeps the ones that did", async () => {
    const dag = unique("rerun");
    const key = unique("k");
    const spec = `steps:
${http("once", `GET ${echo}/text/${key}-once`)}${http("flaky", `GET ${echo}/flaky/${key}/1`)}`;
    const runId = await createAndStart(token, dag, spec);
    expect((await waitForRun(token, dag, runId)).statusLabel).toBe("failed");
    await ok(client.POST("/dag-runs/{name}/{dagRunId}/retry", { ...runPath(dag, runId), body: { dagRunId: runId } }));
    const retried = await waitForRun(token, dag, runId);
    expect(retried.statusLabel).toBe("succeeded");
    const hits = await fetch(`${echo}/hits/text/${key}-once`);
    expect(await hits.text()).toBe("1");
  });

  it("unknown runs and DAGs are 404 without waking a coordinator", async () => {
    expectEnvelope(
      await client.GET("/dag-runs/{name}/{dagRunId}", runPath("nothing-here", "some-run")),
      404,
      "not_found",
    );
    expectEnvelope(
      await client.GET("/dags/{fileName}/dag-runs/{dagRunId}", {
        params: { path: { fileName: "nothing-here", dagRunId: "latest" } },
      }),
      404,
      "not_found",
    );
    expectEnvelope(
      await client.POST("/dag-runs/{name}/{dagRunId}/stop", runPath("nothing-here", "x")),
      404,
      "not_found",
    );
  });
});

describe("start request params", () => {
  it("accepts Dagu's string form, JSON text and an object; bad JSON is a 400", async () => {
    const dag = unique("params");
    const spec = `params: A=1 B=2
steps:
${http("show", `GET ${echo}/text/\${A}-\${B}`, "    output: OUT\n")}`;
    const asString = await createAndStart(token, dag, spec, { params: 'A=x B="y%20z"' });
    expect(nodeOf(await waitForRun(token, dag, asString), "show").output).toBe("x-y z");
    const asJson = (await ok(start(dag, { params: '{"B": "json"}' }))).dagRunId;
    expect(nodeOf(await waitForRun(token, dag, asJson), "show").output).toBe("1-json");
    expectEnvelope(await start(dag, { params: "{not json" }), 400, "bad_request");
  });
});
