/**
 * Dagu's API operations beyond the registry basics (issue 17): /api/v1, runs from an inline spec,
 * a run's spec, reschedule, dequeue, stop-all, a step's status set by hand, search, tags, queues,
 * metrics, the 501s, and HTTP Basic authentication.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { RUN_STATUS } from "../../../src/domain/status.ts";
import { sendToWorker } from "../api-client.ts";
import {
  type ApiClient,
  api,
  call,
  createAndStart,
  expectEnvelope,
  nodeOf,
  ok,
  TEST_PASSWORD,
  unique,
  until,
  userWithRole,
  waitForRun,
} from "../helpers.ts";
import { parsePrometheusText } from "../prometheus-text.ts";

const echo = inject("echoUrl");
let token: string;
let client: ApiClient;
let manager: { id: string; username: string; token: string };
beforeAll(async () => {
  manager = await userWithRole("manager");
  token = manager.token;
  client = api(token);
});

const runPath = (name: string, dagRunId: string) => ({ params: { path: { name, dagRunId } } });
const httpStep = (name: string, command: string) =>
  `  - name: ${name}\n    executor: {type: http, config: {timeout: 30, silent: true}}\n    command: ${command}\n`;
const slowSpec = (ms: number) => `maxActiveRuns: 1\nsteps:\n${httpStep("slow", `GET ${echo}/slow/${ms}`)}`;
const quickSpec = `tags: [front-door]\nsteps:\n${httpStep("one", `GET ${echo}/text/one`)}`;

async function statusOf(dag: string, runId: string): Promise<number> {
  return (await ok(client.GET("/dag-runs/{name}/{dagRunId}", runPath(dag, runId)))).dagRunDetails.status;
}

describe("/api/v1 (Dagu 2.x's prefix)", () => {
  it("serves the same operations as /api/v2, and the document lists both servers", async () => {
    const dag = unique("v1");
    await ok(client.POST("/dags", { body: { name: dag, spec: quickSpec } }), 201);
    const response = await sendToWorker(
      new Request(`http://dagflare.test/api/v1/dags/${dag}`, { headers: { Authorization: `Bearer ${token}` } }),
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ dag: { name: dag } });
    const missing = await sendToWorker(new Request("http://dagflare.test/api/v1/nothing-here"));
    expect(missing.status).toBe(404);
    const document = (await (await sendToWorker(new Request("http://dagflare.test/api/v1/openapi.json"))).json()) as {
      servers: { url: string }[];
      paths: Record<string, { post?: { requestBody?: unknown; responses: Record<string, unknown> } }>;
    };
    expect(document.servers.map((server) => server.url)).toEqual(["/api/v2", "/api/v1"]);
    // The webhook trigger's body and its 413 are in the document.
    expect(document.paths["/webhooks/{fileName}"]?.post?.requestBody).toMatchObject({ required: false });
    expect(document.paths["/webhooks/{fileName}"]?.post?.responses).toHaveProperty("413");
  });
});

describe("DAG details and lists keep Dagu's shapes", () => {
  it("a DAG that never ran: latestDAGRun has its steps as not_started nodes; no nextRun when unscheduled", async () => {
    const dag = unique("never");
    await ok(client.POST("/dags", { body: { name: dag, spec: quickSpec } }), 201);
    const details = await ok(client.GET("/dags/{fileName}", { params: { path: { fileName: dag } } }));
    expect(details.latestDAGRun).toMatchObject({
      dagRunId: "",
      status: RUN_STATUS.not_started,
      nodes: [{ step: { name: "one" }, status: 0, statusLabel: "not_started" }],
    });
    const listed = await ok(client.GET("/dags", { params: { query: { name: dag } } }));
    expect(listed.dags[0]).not.toHaveProperty("nextRun");
  });

  it("a DAG that ran: latestDAGRun is the run with its nodes", async () => {
    const dag = unique("ran");
    const runId = await createAndStart(token, dag, quickSpec);
    await waitForRun(token, dag, runId);
    const details = await ok(client.GET("/dags/{fileName}", { params: { path: { fileName: dag } } }));
    expect(details.latestDAGRun).toMatchObject({ dagRunId: runId, nodes: [{ statusLabel: "succeeded" }] });
  });

  it("a DAG's run history takes perPage up to 1000 (Dagu's limit), not beyond", async () => {
    const dag = unique("history");
    const runId = await createAndStart(token, dag, quickSpec);
    await waitForRun(token, dag, runId);
    const path = { fileName: dag };
    const page = await ok(client.GET("/dags/{fileName}/dag-runs", { params: { path, query: { perPage: 1000 } } }));
    expect(page.dagRuns).toHaveLength(1);
    expectEnvelope(await call("GET", `/dags/${dag}/dag-runs?perPage=1001`, { token }), 400, "bad_request");
  });
});

describe("runs", () => {
  it("stopping a finished run answers not_running (Dagu's code)", async () => {
    const dag = unique("finished");
    const runId = await createAndStart(token, dag, quickSpec);
    await waitForRun(token, dag, runId);
    expectEnvelope(await call("POST", `/dag-runs/${dag}/${runId}/stop`, { token }), 400, "not_running");
  });

  it("POST /dag-runs runs an inline spec: a new name is stored, a stored one runs the sent spec", async () => {
    const dag = unique("inline");
    const { dagRunId } = await ok(client.POST("/dag-runs", { body: { name: dag, spec: quickSpec } }));
    expect((await waitForRun(token, dag, dagRunId)).statusLabel).toBe("succeeded");
    const stored = await ok(client.GET("/dags/{fileName}/spec", { params: { path: { fileName: dag } } }));
    expect(stored.spec).toBe(quickSpec);

    const other = `steps:\n${httpStep("two", `GET ${echo}/text/two`)}`;
    const second = await ok(
      client.POST("/dag-runs/enqueue", { body: { name: dag, spec: other, dagRunId: unique("id") } }),
    );
    const run = await waitForRun(token, dag, second.dagRunId);
    expect(run.nodes.map((node) => node.step.name)).toEqual(["two"]);
    // The run keeps the spec it ran; the stored DAG is unchanged.
    expect((await ok(client.GET("/dag-runs/{name}/{dagRunId}/spec", runPath(dag, second.dagRunId)))).spec).toBe(other);
    expect((await ok(client.GET("/dags/{fileName}/spec", { params: { path: { fileName: dag } } }))).spec).toBe(
      quickSpec,
    );
  });

  it("POST /dag-runs refuses a spec without a name, an invalid spec, and an operator", async () => {
    expectEnvelope(await call("POST", "/dag-runs", { token, body: { spec: quickSpec } }), 400, "bad_request");
    expectEnvelope(
      await call("POST", "/dag-runs", {
        token,
        body: { name: unique("bad"), spec: "steps: [{name: a, depends: [b]}]" },
      }),
      400,
      "bad_request",
    );
    const operator = await userWithRole("operator");
    expectEnvelope(
      await call("POST", "/dag-runs", { token: operator.token, body: { name: unique("op"), spec: quickSpec } }),
      403,
      "forbidden",
    );
  });

  it("reschedule starts a new run with the old run's spec and params", async () => {
    const dag = unique("resched");
    const spec = `params: WHO=world\nsteps:\n${httpStep("hello", `GET ${echo}/text/\${WHO}`)}`;
    const runId = await createAndStart(token, dag, spec, { params: "WHO=ada" });
    await waitForRun(token, dag, runId);
    const newId = unique("again");
    const result = await ok(
      client.POST("/dag-runs/{name}/{dagRunId}/reschedule", { ...runPath(dag, runId), body: { dagRunId: newId } }),
    );
    expect(result).toEqual({ dagRunId: newId, queued: false });
    expect(await waitForRun(token, dag, newId)).toMatchObject({ params: "WHO=ada", statusLabel: "succeeded" });
    expectEnvelope(
      await call("POST", `/dag-runs/${dag}/${runId}/reschedule`, { token, body: { dagRunId: newId } }),
      409,
      "already_exists",
    );
    expectEnvelope(await call("POST", `/dag-runs/${dag}/nope/reschedule`, { token }), 404, "not_found");
  });

  it("queues, dequeue and stop-all", async () => {
    const dag = unique("busy");
    const first = await createAndStart(token, dag, slowSpec(20_000));
    const { dagRunId: second } = await ok(
      client.POST("/dags/{fileName}/enqueue", { params: { path: { fileName: dag } }, body: {} }),
    );
    await until(async () => ((await statusOf(dag, first)) === RUN_STATUS.running ? true : undefined));
    expect(await statusOf(dag, second)).toBe(RUN_STATUS.queued);

    const { queues, summary } = await ok(client.GET("/queues"));
    const queue = queues.find((candidate) => candidate.name === dag);
    expect(queue).toMatchObject({ type: "dag-based", maxConcurrency: 1 });
    expect(queue?.running.map((run) => run.dagRunId)).toEqual([first]);
    expect(queue?.queued.map((run) => run.dagRunId)).toEqual([second]);
    expect(summary.totalQueued).toBeGreaterThanOrEqual(1);

    // A running run can't be dequeued; the queued one can.
    expectEnvelope(await call("GET", `/dag-runs/${dag}/${first}/dequeue`, { token }), 400, "bad_request");
    await ok(client.GET("/dag-runs/{name}/{dagRunId}/dequeue", runPath(dag, second)));
    expect(await statusOf(dag, second)).toBe(RUN_STATUS.aborted);

    expect(await ok(client.POST("/dags/{fileName}/stop-all", { params: { path: { fileName: dag } } }))).toEqual({
      errors: [],
    });
    expect((await waitForRun(token, dag, first)).statusLabel).toBe("aborted");
    expectEnvelope(await call("POST", `/dags/${unique("none")}/stop-all`, { token }), 404, "not_found");
  });
});

describe("setting a step's status by hand (PATCH …/steps/{stepName}/status)", () => {
  const failingSpec = `steps:\n${httpStep("good", `GET ${echo}/text/good`)}${httpStep("bad", `GET ${echo}/status/500`)}`;
  const stepPath = (name: string, dagRunId: string, stepName: string) => ({
    params: { path: { name, dagRunId, stepName } },
  });

  it("a failed step set to succeeded: only its status changes, and the run's follows its steps (also in D1)", async () => {
    const dag = unique("mend");
    const runId = await createAndStart(token, dag, failingSpec);
    expect((await waitForRun(token, dag, runId)).statusLabel).toBe("failed");

    await ok(
      client.PATCH("/dag-runs/{name}/{dagRunId}/steps/{stepName}/status", {
        ...stepPath(dag, runId, "bad"),
        body: { status: 4 },
      }),
    );
    const run = await waitForRun(token, dag, runId);
    expect(nodeOf(run, "bad")).toMatchObject({
      status: 4,
      statusLabel: "succeeded",
      // As in Dagu, the step keeps what its attempt left: times, error.
      error: expect.stringContaining("500"),
      finishedAt: expect.stringMatching(/^\d{4}-/),
    });
    expect(nodeOf(run, "good").statusLabel).toBe("succeeded");
    expect(run).toMatchObject({ status: RUN_STATUS.succeeded, statusLabel: "succeeded" });
    // The lists read D1's copy: it follows.
    const listed = await ok(client.GET("/dag-runs/{name}", { params: { path: { name: dag } } }));
    expect(listed.dagRuns.find((each) => each.dagRunId === runId)?.status).toBe(RUN_STATUS.succeeded);
    const log = await ok(client.GET("/dag-runs/{name}/{dagRunId}/log", runPath(dag, runId)));
    expect(log.content).toContain(`bad: status set to succeeded by hand (was failed) by ${manager.username}`);

    // And back: failed again, the run too.
    await ok(
      client.PATCH("/dag-runs/{name}/{dagRunId}/steps/{stepName}/status", {
        ...stepPath(dag, runId, "bad"),
        body: { status: 2 },
      }),
    );
    expect(await statusOf(dag, runId)).toBe(RUN_STATUS.failed);
  });

  it("a step set to not_started leaves the run's status; a retry then runs it", async () => {
    const dag = unique("unset");
    const runId = await createAndStart(token, dag, quickSpec);
    await waitForRun(token, dag, runId);
    await ok(
      client.PATCH("/dag-runs/{name}/{dagRunId}/steps/{stepName}/status", {
        ...stepPath(dag, runId, "one"),
        body: { status: 0 },
      }),
    );
    const run = await ok(client.GET("/dag-runs/{name}/{dagRunId}", runPath(dag, runId)));
    expect(run.dagRunDetails).toMatchObject({ statusLabel: "succeeded", nodes: [{ statusLabel: "not_started" }] });
    await ok(client.POST("/dag-runs/{name}/{dagRunId}/retry", { ...runPath(dag, runId), body: { dagRunId: runId } }));
    expect(nodeOf(await waitForRun(token, dag, runId), "one").statusLabel).toBe("succeeded");
    const log = await ok(client.GET("/dag-runs/{name}/{dagRunId}/log", runPath(dag, runId)));
    expect(log.content).toMatch(/retry requested[\s\S]*one: succeeded/);
  });

  it("refuses a running or queued run (400), an unknown run or step (404) and a status that isn't 0-5 (400)", async () => {
    const dag = unique("busy-status");
    const first = await createAndStart(token, dag, slowSpec(20_000));
    const { dagRunId: second } = await ok(
      client.POST("/dags/{fileName}/enqueue", { params: { path: { fileName: dag } }, body: {} }),
    );
    await until(async () => ((await statusOf(dag, first)) === RUN_STATUS.running ? true : undefined));
    const patch = (runId: string, stepName: string, body: unknown) =>
      call("PATCH", `/dag-runs/${dag}/${runId}/steps/${stepName}/status`, { token, body });
    expect(expectEnvelope(await patch(first, "slow", { status: 4 }), 400, "bad_request").message).toMatch(
      /still running/,
    );
    expect(expectEnvelope(await patch(second, "slow", { status: 4 }), 400, "bad_request").message).toMatch(
      /still queued/,
    );
    await ok(client.GET("/dag-runs/{name}/{dagRunId}/dequeue", runPath(dag, second)));
    await ok(client.POST("/dag-runs/{name}/{dagRunId}/stop", runPath(dag, first)));
    await waitForRun(token, dag, first);

    expectEnvelope(await patch(first, "nope", { status: 4 }), 404, "not_found");
    expectEnvelope(await patch("no-such-run", "slow", { status: 4 }), 404, "not_found");
    expectEnvelope(
      await call("PATCH", `/dag-runs/${unique("no-dag")}/x/steps/slow/status`, { token, body: { status: 4 } }),
      404,
      "not_found",
    );
    for (const body of [{ status: 6 }, { status: 8 }, { status: -1 }, { status: 1.5 }, { status: "4" }, {}]) {
      expectEnvelope(await patch(first, "slow", body), 400, "bad_request");
    }
    expectEnvelope(await patch(first, "slow", { status: 4, extra: true }), 400, "bad_request");
    // Nothing of that changed the run.
    expect(await statusOf(dag, first)).toBe(RUN_STATUS.aborted);
  });

  it("in a sub-DAG run: its step and status change, its caller's list shows it, the caller's run stays", async () => {
    const child = unique("status-child");
    await ok(client.POST("/dags", { body: { name: child, spec: failingSpec } }), 201);
    const parent = unique("status-parent");
    const runId = await createAndStart(token, parent, `steps:\n  - name: call-child\n    call: ${child}\n`);
    const run = await waitForRun(token, parent, runId);
    expect(run.statusLabel).toBe("failed");
    const childRunId = nodeOf(run, "call-child").subRuns?.[0]?.dagRunId ?? "";
    const path = `/dag-runs/${parent}/${runId}/sub-dag-runs/${childRunId}`;

    await ok(
      client.PATCH("/dag-runs/{name}/{dagRunId}/sub-dag-runs/{subDAGRunId}/steps/{stepName}/status", {
        params: { path: { name: parent, dagRunId: runId, subDAGRunId: childRunId, stepName: "bad" } },
        body: { status: 4 },
      }),
    );
    const details = await call("GET", path, { token });
    expect(details.body).toMatchObject({
      dagRunDetails: { dagRunId: childRunId, statusLabel: "succeeded", nodes: [{}, { statusLabel: "succeeded" }] },
    });
    const list = await call("GET", `/dag-runs/${parent}/${runId}/sub-dag-runs`, { token });
    expect(list.body).toMatchObject({ subRuns: [{ dagRunId: childRunId, statusLabel: "succeeded" }] });
    expect(await statusOf(parent, runId)).toBe(RUN_STATUS.failed);

    expectEnvelope(await call("PATCH", `${path}/steps/nope/status`, { token, body: { status: 4 } }), 404, "not_found");
    expectEnvelope(
      await call("PATCH", `/dag-runs/${parent}/${runId}/sub-dag-runs/no-such-run/steps/bad/status`, {
        token,
        body: { status: 4 },
      }),
      404,
      "not_found",
    );
    expectEnvelope(await call("PATCH", `${path}/steps/bad/status`, { token, body: { status: 7 } }), 400, "bad_request");
  });

  it("needs the operator role", async () => {
    const dag = unique("status-roles");
    const runId = await createAndStart(token, dag, failingSpec);
    await waitForRun(token, dag, runId);
    const viewer = await userWithRole("viewer");
    const path = `/dag-runs/${dag}/${runId}/steps/bad/status`;
    expectEnvelope(await call("PATCH", path, { token: viewer.token, body: { status: 4 } }), 403, "forbidden");
    const operator = await userWithRole("operator");
    expect((await call("PATCH", path, { token: operator.token, body: { status: 4 } })).status).toBe(200);
  });
});

describe("search, tags and metrics", () => {
  it("search finds the line and its context; tags lists each tag once; neither is taken for a DAG name", async () => {
    const marker = unique("needle").replace(/-/g, "_");
    const dag = unique("searched");
    const spec = `description: x\ntags: [${marker}, shared-tag]\nsteps:\n${httpStep("s", `GET ${echo}/text/${marker}`)}`;
    await ok(client.POST("/dags", { body: { name: dag, spec } }), 201);
    const { results } = await ok(client.GET("/dags/search", { params: { query: { q: marker.toUpperCase() } } }));
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ name: dag, dag: { name: dag } });
    expect(results[0]?.matches.map((match) => match.lineNumber)).toEqual([2, 6]);
    expect(results[0]?.matches[0]).toMatchObject({ startLine: 1, line: spec.split("\n").slice(0, 4).join("\n") });
    expectEnvelope(await call("GET", "/dags/search", { token }), 400, "bad_request");

    const { tags } = await ok(client.GET("/dags/tags"));
    expect(tags).toContain(marker);
    expect(tags.filter((tag) => tag === "shared-tag")).toHaveLength(1);
  });

  it("GET /metrics is Prometheus text counted from D1, for viewers", async () => {
    const dag = unique("metered");
    const runId = await createAndStart(token, dag, quickSpec);
    await waitForRun(token, dag, runId);
    const viewer = await userWithRole("viewer");
    const response = await call("GET", "/metrics", { token: viewer.token });
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = String(response.body);
    // Every line is one a scraper takes; every histogram is cumulative and ends with +Inf = _count.
    const families = parsePrometheusText(text);
    expect(families.get("dagflare_step_duration_seconds")?.type).toBe("histogram");
    expect(text).toContain("# TYPE dagu_dag_runs_total counter");
    expect(text).toContain(`dagu_dag_runs_total_by_dag{dag="${dag}",status="succeeded"} 1`);
    expect(text).toMatch(/dagflare_dag_runs_by_trigger_total\{trigger="manual"\} \d+/);
    expect(text).toMatch(/dagflare_dag_run_duration_seconds_bucket\{le="\+Inf"\} \d+/);
    expect(text).toMatch(/dagflare_dag_run_duration_seconds_count \d+/);
    const total = await env.DB.prepare("SELECT COUNT(*) AS n FROM dags").first<{ n: number }>();
    expect(text).toContain(`dagu_dags_total ${total?.n}`);
    expectEnvelope(await call("GET", "/metrics"), 401, "unauthorized");
  });
});

describe("operations Workers can't serve", () => {
  it.each([
    ["GET", "/workers"],
    ["GET", "/services/resources/history"],
    ["GET", "/services/scheduler"],
    ["GET", "/services/coordinator"],
    ["POST", "/dag-runs/a/b/steps/c/approve"],
    ["POST", "/dag-runs/a/b/sub-dag-runs/d/steps/c/reject"],
  ])("%s %s answers 501 not_implemented, saying why", async (method, path) => {
    const result = expectEnvelope(await call(method, path, { token }), 501, "not_implemented");
    expect(result.message).toMatch(/not implemented: .{20,}/);
  });
});

describe("HTTP Basic authentication (Dagu's basicAuth)", () => {
  const basic = (username: string, password: string) => ({
    Authorization: `Basic ${btoa(`${username}:${password}`)}`,
  });

  it("a user's username and password work where a bearer token does, with the user's role", async () => {
    const me = await call("GET", "/auth/me", { headers: basic(manager.username, TEST_PASSWORD) });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ user: { username: manager.username, role: "manager" } });
    const viewer = await userWithRole("viewer");
    const refused = await call("POST", "/dags", {
      headers: basic(viewer.username, TEST_PASSWORD),
      body: { name: unique("nope") },
    });
    expectEnvelope(refused, 403, "forbidden");
  });

  it("a wrong password, an unknown user or a malformed credential is 401; repeated failures are 429", async () => {
    const client = { "CF-Connecting-IP": `198.51.100.${Math.floor(Math.random() * 250)}` };
    const wrong = await call("GET", "/auth/me", { headers: { ...client, ...basic(manager.username, "wrong-pass") } });
    expectEnvelope(wrong, 401, "unauthorized");
    expect(JSON.stringify(wrong.body)).not.toContain("wrong-pass");
    expectEnvelope(
      await call("GET", "/auth/me", { headers: { ...client, ...basic("nobody-here", "x") } }),
      401,
      "unauthorized",
    );
    const malformed = await call("GET", "/auth/me", { headers: { ...client, Authorization: "Basic %%%" } });
    expectEnvelope(malformed, 401, "unauthorized");
    let last = malformed;
    // The limiter counts 10 a minute in fixed windows: a burst that straddles a window's end
    // may get up to 20 through before the 429 (it failed so in CI), never more.
    for (let attempt = 0; attempt < 20 && last.status !== 429; attempt++) {
      last = await call("GET", "/auth/me", { headers: { ...client, ...basic(manager.username, `bad-${attempt}`) } });
    }
    expectEnvelope(last, 429, "too_many_requests");
    expect(last.headers.get("Retry-After")).toBe("60");
    // Blocked: even the right password waits.
    const blocked = await call("GET", "/auth/me", {
      headers: { ...client, ...basic(manager.username, TEST_PASSWORD) },
    });
    expectEnvelope(blocked, 429, "too_many_requests");
  });
});
