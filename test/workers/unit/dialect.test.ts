/** Dagu 1.x (camelCase) and 2.x (snake_case) spellings of one DAG file read as the same DAG. */
import { describe, expect, it } from "vitest";
import { api, ok, unique, userWithRole, waitForRun } from "../helpers.ts";
import { errorsOf, specOf } from "./spec-helpers.ts";

const V1 = `maxActiveRuns: 2
timeoutSec: 600
maxOutputSize: 2048
histRetentionDays: 7
webhook:
  forwardHeaders: [X-GitHub-Event]
  runIdHeader: X-GitHub-Delivery
  storeBodies: false
handlerOn:
  failure:
    command: echo failed
    retryPolicy: {limit: 1, intervalSec: 2}
steps:
  - name: build
    command: make
    dir: /tmp
    timeoutSec: 30
    retryPolicy: {limit: 3, intervalSec: 5, exitCode: [1, 2], maxIntervalSec: 60, backoff: 2}
    continueOn: {exitCode: [3], markSuccess: true}
    preconditions:
      - condition: "\${BRANCH}"
        expected: main
`;

const V2 = `max_active_runs: 2
timeout_sec: 600
max_output_size: 2048
hist_retention_days: 7
webhook:
  forward_headers: [X-GitHub-Event]
  run_id_header: X-GitHub-Delivery
  store_bodies: false
handler_on:
  failure:
    command: echo failed
    retry_policy: {limit: 1, interval_sec: 2}
steps:
  - name: build
    command: make
    working_dir: /tmp
    timeout_sec: 30
    retry_policy: {limit: 3, interval_sec: 5, exit_code: [1, 2], max_interval_sec: 60, backoff: 2}
    continue_on: {exit_code: [3], mark_success: true}
    precondition:
      - condition: "\${BRANCH}"
        expected: main
`;

describe("Dagu's two spellings", () => {
  it("a snake_case (2.x) file is the same DAG as its camelCase (1.x) twin, at every level", () => {
    const v1 = specOf(V1);
    const v2 = specOf(V2);
    // One difference, on purpose: Dagu 2.x's forward_headers give each header a list of values.
    expect(v2.webhook.headerValues).toBe("list");
    expect({ ...v2, webhook: { ...v2.webhook, headerValues: "text" } }).toEqual(v1);
    expect(v1.steps[0]).toMatchObject({
      dir: "/tmp",
      timeoutSec: 30,
      continueOn: { exitCodes: [3], markSuccess: true },
    });
    expect(v1.steps[0]!.retryPolicy).toMatchObject({ limit: 3, intervalSec: 5, exitCodes: [1, 2], maxIntervalSec: 60 });
    expect(v1.handlerOn.failure!.retryPolicy?.intervalSec).toBe(2);
    expect(v1.webhook).toEqual({
      forwardHeaders: ["x-github-event"],
      headerValues: "text",
      runIdHeader: "X-GitHub-Delivery",
      storeBodies: false,
    });
  });

  it("2.x labels are tags, in every form Dagu writes them", () => {
    const tagsOf = (value: string) => specOf(`labels: ${value}\nsteps:\n  - echo a\n`).tags;
    expect(tagsOf('"ci, nightly"')).toEqual(["ci", "nightly"]);
    expect(tagsOf('"env=prod team=platform"')).toEqual(["env=prod", "team=platform"]);
    expect(tagsOf("{env: prod, tier: 1}")).toEqual(["env=prod", "tier=1"]);
    expect(tagsOf("[ci, {env: prod}]")).toEqual(["ci", "env=prod"]);
    expect(errorsOf("tags: [a]\nlabels: [b]\nsteps:\n  - echo a\n")[0]).toMatch(
      /'tags' and 'labels' are two spellings/,
    );
  });

  it("two spellings of one field in one place are an error naming both, at the second", () => {
    expect(errorsOf("timeoutSec: 5\ntimeout_sec: 6\nsteps:\n  - name: a\n    command: x\n")).toEqual([
      "timeout_sec: 'timeoutSec' and 'timeout_sec' are two spellings of one field (Dagu 1.x and 2.x): keep one (line 2, col 1)",
    ]);
    const [nested] = errorsOf(
      "steps:\n  - name: a\n    command: x\n    retryPolicy:\n      limit: 1\n      interval_sec: 1\n      intervalSec: 2\n",
    );
    expect(nested).toMatch(
      /^steps\[0\]\.retryPolicy\.intervalSec: 'interval_sec' and 'intervalSec' .*\(line 7, col 7\)$/,
    );
    expect(errorsOf("steps:\n  - name: a\n    command: x\n    dir: /a\n    working_dir: /b\n")[0]).toMatch(
      /'dir' and 'working_dir'/,
    );
    // Dagu 1.30 itself calls a step's dir workingDir.
    expect(specOf("steps:\n  - name: a\n    command: x\n    workingDir: /w\n").steps[0]!.dir).toBe("/w");
  });

  it("an error in a snake_case file names the field as written, at its line", () => {
    expect(errorsOf("steps:\n  - name: a\n    command: x\n    retry_policy:\n      limit: -1\n")).toEqual([
      "steps[0].retry_policy.limit: must not be negative (line 5, col 14)",
    ]);
    expect(
      errorsOf("handler_on:\n  exit:\n    command: x\n    executor: docker\nsteps:\n  - name: a\n    command: x\n")[0],
    ).toMatch(/^handler_on\.exit\.executor: executor 'docker' .*\(line 4, col 15\)$/);
    // A key dagflare doesn't know is named as written.
    expect(errorsOf("catchup_windoww: 5m\nsteps:\n  - name: a\n    command: x\n")[0]).toMatch(
      /^catchup_windoww: unknown field 'catchup_windoww'/,
    );
  });

  it("a snake_case DAG saved through the API runs, and its spec reads back as written", async () => {
    const client = api((await userWithRole("manager")).token);
    const name = unique("snake");
    const spec =
      "max_active_runs: 1\nsteps:\n  - name: hello\n    command: echo hi\n    timeout_sec: 30\n    continue_on: {exit_code: [0]}\n";
    await ok(client.POST("/dags", { body: { name, spec } }), 201);
    expect((await ok(client.GET("/dags/{fileName}/spec", { params: { path: { fileName: name } } }))).spec).toBe(spec);
    const { dagRunId } = await ok(
      client.POST("/dags/{fileName}/start", { params: { path: { fileName: name } }, body: {} }),
    );
    const token = (await userWithRole("viewer")).token;
    const run = await waitForRun(token, name, dagRunId);
    expect(run.statusLabel).toBe("succeeded");
  });
});

describe("a DAG's default type", () => {
  it("is chain as in Dagu 1.x and 2.0–2.6, and graph in a file written in Dagu 2.7's forms (2.7 made graph the default)", async () => {
    const twoSteps = (first: string, second: string) => `steps:\n  - name: a\n${first}\n  - name: b\n${second}\n`;
    expect(specOf(twoSteps("    command: echo a", "    command: echo b")).type).toBe("chain");
    expect(specOf(twoSteps("    command: echo a", "    run: echo b")).type).toBe("graph");
    expect(specOf(twoSteps("    action: noop", "    command: echo b")).type).toBe("graph");
    // `run:` with `params:` is Dagu 1.x's sub-DAG call, not 2.7's shell text.
    expect(specOf(twoSteps("    run: other\n    params: A=1", "    command: echo b")).type).toBe("chain");
    // An explicit type wins, and a group of steps in a 2.7 file adds no dependencies.
    expect(specOf(`type: chain\n${twoSteps("    run: echo a", "    run: echo b")}`).type).toBe("chain");
    expect(
      specOf("steps:\n  - run: echo a\n  - [{run: echo b}, {run: echo c}]\n").steps.map((step) => step.depends),
    ).toEqual([undefined, undefined, undefined]);

    // Run: the two `run:` steps of a 2.7 file start together; b doesn't wait for a.
    const { token } = await userWithRole("admin");
    const name = unique("default-graph");
    await ok(
      api(token).POST("/dags", {
        body: { name, spec: twoSteps("    run: sleep 1; echo a", "    run: echo b") },
      }),
      201,
    );
    const started = await ok(
      api(token).POST("/dags/{fileName}/start", { params: { path: { fileName: name } }, body: {} }),
    );
    const run = await waitForRun(token, name, started.dagRunId);
    const [a, b] = run.nodes;
    expect(Date.parse(b!.finishedAt)).toBeLessThan(Date.parse(a!.finishedAt));
  });
});
