/**
 * Sub-DAGs end to end: a step that calls a DAG (stored, or a document after `---`) runs it as a
 * run of its own and ends as it ends; `parallel:` runs one per item. Expected outputs are what
 * the Dagu 1.30.2 binary printed for the same files (its `call:`, `run:` + `params:`,
 * `parallel:` and failure cases).
 */
import { describe, expect, it } from "vitest";
import {
  api,
  call,
  createAndStart,
  expectEnvelope,
  nodeOf,
  ok,
  type RunDetails,
  type RunNode,
  stringField,
  unique,
  until,
  userWithRole,
  waitForRun,
} from "../helpers.ts";

async function createDag(token: string, name: string, spec: string) {
  await ok(api(token).POST("/dags", { body: { name, spec } }), 201);
}

/** A child that prints what it got and has two outputs (the Dagu oracle's `child.yaml`). */
const childSpec = `params:
  - X: default
steps:
  - name: s1
    action: log.write
    with:
      message: "child got \${X}"
    output: RESULT
  - name: s2
    action: log.write
    with:
      message: second
    output: OTHER_VAL
`;

/** A child that fails for the item `bad` (the oracle's `worker.yaml`). */
const workerSpec = `params:
  - ITEM_VAL: none
steps:
  - name: w
    command: echo "item \${ITEM_VAL}"; if [ "\${ITEM_VAL}" = "bad" ]; then exit 3; fi
    output: OUT
`;

/** The most runs a calling step had running at once, from their start and finish times. */
function mostAtOnce(node: RunNode): number {
  const spans = (node.subRuns ?? []).map((each) => [Date.parse(each.startedAt), Date.parse(each.finishedAt)] as const);
  return Math.max(...spans.map(([start]) => spans.filter(([from, to]) => from <= start && start < to).length));
}

async function subRun(token: string, root: string, rootRunId: string, subRunId: string): Promise<RunDetails> {
  const result = await call("GET", `/dag-runs/${root}/${rootRunId}/sub-dag-runs/${subRunId}`, { token });
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  return (result.body as { dagRunDetails: RunDetails }).dagRunDetails;
}

describe("calling a DAG", () => {
  it("runs a stored DAG with params; the step's output is Dagu's result; both runs link to each other", async () => {
    const { token } = await userWithRole("admin");
    const child = unique("child");
    await createDag(token, child, childSpec);
    const parent = unique("parent");
    const runId = await createAndStart(
      token,
      parent,
      `steps:
  - name: call1
    call: ${child}
    params: "X=hello"
    output: R
  - name: show
    depends: [call1]
    action: log.write
    with:
      message: "status=\${R.status} out=\${R.outputs.RESULT}"
    output: SHOWN
`,
    );
    const run = await waitForRun(token, parent, runId);
    expect(run.statusLabel).toBe("succeeded");
    const called = JSON.parse(nodeOf(run, "call1").output ?? "null");
    expect(called).toEqual({
      name: child,
      dagRunId: expect.any(String),
      params: "X=hello",
      outputs: { OTHER_VAL: "second", RESULT: "child got hello" },
      status: "succeeded",
    });
    expect(nodeOf(run, "show").output).toBe("status=succeeded out=child got hello");

    // Parent step → child run, child run → parent (Dagu's root/parent fields), and the sub-run endpoints.
    const [link] = nodeOf(run, "call1").subRuns ?? [];
    expect(link).toMatchObject({
      dagRunId: called.dagRunId,
      dagName: child,
      params: "X=hello",
      statusLabel: "succeeded",
    });
    const childRun = await subRun(token, parent, runId, called.dagRunId);
    expect(childRun).toMatchObject({
      name: child,
      dagRunId: called.dagRunId,
      rootDAGRunName: parent,
      rootDAGRunId: runId,
      parentDAGRunName: parent,
      parentDAGRunId: runId,
      parentStep: "call1",
      trigger: "parent",
      params: "X=hello",
    });
    const list = await call("GET", `/dag-runs/${parent}/${runId}/sub-dag-runs`, { token });
    expect(list.body).toMatchObject({ subRuns: [{ dagRunId: called.dagRunId, statusLabel: "succeeded" }] });
    const stepLog = await call("GET", `/dag-runs/${parent}/${runId}/sub-dag-runs/${called.dagRunId}/steps/s1/log`, {
      token,
    });
    expect(stepLog.body).toMatchObject({ content: "child got hello\n" });
    const runLog = await call("GET", `/dag-runs/${parent}/${runId}/sub-dag-runs/${called.dagRunId}/log`, { token });
    expect(JSON.stringify(runLog.body)).toContain("finished: succeeded");

    // A sub-DAG run belongs to its caller: not in the child DAG's own history, nor its latest run.
    const history = await ok(api(token).GET("/dag-runs/{name}", { params: { path: { name: child }, query: {} } }));
    expect(history.dagRuns).toEqual([]);
    expectEnvelope(await call("GET", `/dag-runs/${parent}/${runId}/sub-dag-runs/nope`, { token }), 404, "not_found");
  });

  it("reads Dagu 1.x `run:` + `params:` and 2.x `action: dag.run`, and calls documents of the same file, nested", async () => {
    const { token } = await userWithRole("admin");
    const child = unique("child");
    await createDag(token, child, childSpec);
    const parent = unique("forms");
    const runId = await createAndStart(
      token,
      parent,
      // Dagu 2.7's forms make this a 2.7 file, whose default type is graph: the chain is asked for.
      `type: chain
steps:
  - name: one-x
    run: ${child}
    params: "X=viarun"
    output: A
  - name: two-x
    action: dag.run
    with:
      dag: ${child}
      params:
        X: via action
    output: B
  - name: local
    call: sub1
    params: "A=1"
    output: O
  - name: show
    action: log.write
    with:
      message: "\${A.outputs.RESULT}|\${B.outputs.RESULT}|\${B.params}|\${O.outputs.V}"
    output: SHOWN
---
name: sub1
type: chain
params: "A=0"
steps:
  - name: x
    call: sub2
    params: "B=\${A}"
    output: INNER
  - name: y
    action: log.write
    with:
      message: "inner said \${INNER.outputs.V}"
    output: V
---
name: sub2
params: "B=0"
steps:
  - action: log.write
    with:
      message: "b is \${B}"
    output: V
`,
    );
    const run = await waitForRun(token, parent, runId);
    expect(run.statusLabel, JSON.stringify(run.nodes.map((node) => [node.step.name, node.error]))).toBe("succeeded");
    expect(nodeOf(run, "show").output).toBe(`child got viarun|child got via action|X=via action|inner said b is 1`);
    // The nested document's run hangs under the root too.
    const sub1 = JSON.parse(nodeOf(run, "local").output!);
    const sub1Run = await subRun(token, parent, runId, sub1.dagRunId);
    const sub2Id = sub1Run.nodes[0]!.subRuns![0]!.dagRunId;
    const sub2Run = await subRun(token, parent, runId, sub2Id);
    expect(sub2Run).toMatchObject({
      name: "sub2",
      rootDAGRunId: runId,
      parentDAGRunName: "sub1",
      parentDAGRunId: sub1.dagRunId,
    });
  });

  it("fails with a child that fails, names it, and a retry of the step calls a new run", async () => {
    const { token } = await userWithRole("admin");
    const worker = unique("worker");
    await createDag(token, worker, workerSpec);
    const parent = unique("failing");
    const runId = await createAndStart(
      token,
      parent,
      `steps:
  - name: c
    call: ${worker}
    params: "ITEM_VAL=bad"
    output: R
  - name: after
    action: log.write
    with:
      message: never
`,
    );
    const run = await waitForRun(token, parent, runId);
    expect(run.statusLabel).toBe("failed");
    const failed = nodeOf(run, "c");
    expect(failed.statusLabel).toBe("failed");
    const first = JSON.parse(failed.output!);
    // As Dagu 1.30.2 writes it, with its marker of the step that failed the run.
    expect(first).toEqual({
      name: worker,
      dagRunId: expect.any(String),
      params: "ITEM_VAL=bad",
      outputs: { "DAGU_CONTINUE_ON.w": "false", OUT: "item bad" },
      status: "failed",
    });
    expect(failed.error).toBe(`sub-DAG run ${worker} ${first.dagRunId} failed`);

    await ok(
      api(token).POST("/dag-runs/{name}/{dagRunId}/retry", {
        params: { path: { name: parent, dagRunId: runId } },
        body: { dagRunId: runId, stepName: "c" },
      }),
    );
    const retried = await waitForRun(token, parent, runId);
    const node = nodeOf(retried, "c");
    expect(node.subRuns).toHaveLength(1);
    expect(node.subRuns![0]!.dagRunId).not.toBe(first.dagRunId);
    expect(node.subRunsRepeated?.map((each) => each.dagRunId)).toEqual([first.dagRunId]);
  });

  it("fails the step clearly when the called DAG doesn't exist, or calls nest too deep", async () => {
    const { token } = await userWithRole("admin");
    const parent = unique("missing");
    const runId = await createAndStart(token, parent, "steps:\n  - name: c\n    call: no-such-dag\n");
    const run = await waitForRun(token, parent, runId);
    expect(run.statusLabel).toBe("failed");
    expect(nodeOf(run, "c").subRuns![0]).toMatchObject({ statusLabel: "failed", error: "DAG 'no-such-dag' not found" });

    // A name computed at run time can't be checked for cycles when saved: the depth limit stops it.
    const self = unique("self");
    const selfRun = await createAndStart(
      token,
      self,
      `params:\n  - TARGET: ${self}\nsteps:\n  - name: again\n    call: \${TARGET}\n`,
    );
    const deep = await waitForRun(token, self, selfRun, 30_000);
    expect(deep.statusLabel).toBe("failed");
    let details = deep;
    const depth: string[] = [];
    for (;;) {
      const [next] = nodeOf(details, "again").subRuns ?? [];
      if (!next) throw new Error(`run ${details.dagRunId} called nothing`);
      if (/nest deeper than 10 levels/.test(next.error ?? "")) break;
      depth.push(next.dagRunId);
      details = await subRun(token, self, selfRun, next.dagRunId);
    }
    expect(depth).toHaveLength(10);
  });

  it("stopping the caller stops its running sub-DAG run", async () => {
    const { token } = await userWithRole("admin");
    const slow = unique("slow");
    await createDag(token, slow, "steps:\n  - name: wait\n    command: sleep 30\n");
    const parent = unique("stopper");
    const runId = await createAndStart(token, parent, `steps:\n  - name: c\n    call: ${slow}\n`);
    const childId = await until(async () => {
      const { dagRunDetails } = await ok(
        api(token).GET("/dag-runs/{name}/{dagRunId}", { params: { path: { name: parent, dagRunId: runId } } }),
      );
      const [link] = nodeOf(dagRunDetails, "c").subRuns ?? [];
      return link?.statusLabel === "running" ? link.dagRunId : undefined;
    });
    await until(async () => {
      const child = await subRun(token, parent, runId, childId);
      return child.nodes[0]!.statusLabel === "running" || undefined;
    });
    await ok(
      api(token).POST("/dag-runs/{name}/{dagRunId}/stop", { params: { path: { name: parent, dagRunId: runId } } }),
    );
    const stopped = await waitForRun(token, parent, runId);
    expect(stopped.statusLabel).toBe("aborted");
    const child = await until(async () => {
      const run = await subRun(token, parent, runId, childId);
      return run.statusLabel === "aborted" ? run : undefined;
    });
    expect(child.nodes[0]!.statusLabel).toBe("aborted");
  });

  it("a calling step's timeoutSec ends a child that runs too long; retryPolicy calls anew; continueOn goes on", async () => {
    const { token } = await userWithRole("admin");
    const slow = unique("slow");
    await createDag(token, slow, "steps:\n  - name: wait\n    command: sleep 30\n");
    const worker = unique("worker");
    await createDag(token, worker, workerSpec);
    const parent = unique("bounded");
    const runId = await createAndStart(
      token,
      parent,
      `type: graph
steps:
  - name: bounded
    call: ${slow}
    timeoutSec: 1
  - name: retried
    call: ${worker}
    params: "ITEM_VAL=bad"
    retryPolicy: {limit: 1, intervalSec: 0}
    continueOn: {failure: true}
  - name: after
    depends: [retried]
    action: log.write
    with: {message: went on}
`,
    );
    const run = await waitForRun(token, parent, runId, 20_000);
    const bounded = nodeOf(run, "bounded");
    expect(bounded).toMatchObject({ statusLabel: "failed", exitCode: 124, error: "timed out after 1 s" });
    const child = await until(async () => {
      const details = await subRun(token, parent, runId, bounded.subRuns![0]!.dagRunId);
      return details.statusLabel === "aborted" ? details : undefined;
    });
    expect(child.nodes[0]!.statusLabel).toBe("aborted");
    const retried = nodeOf(run, "retried");
    expect(retried).toMatchObject({ statusLabel: "failed", retryCount: 1 });
    expect(retried.subRuns).toHaveLength(1);
    expect(retried.subRunsRepeated).toHaveLength(1);
    expect(nodeOf(run, "after").statusLabel).toBe("succeeded");
  });

  it("dag.enqueue queues a run of the DAG and doesn't wait for it", async () => {
    const { token } = await userWithRole("admin");
    const slow = unique("queued");
    await createDag(token, slow, "steps:\n  - name: wait\n    command: sleep 1; echo done\n");
    const parent = unique("enqueuer");
    const runId = await createAndStart(
      token,
      parent,
      `steps:\n  - name: q\n    action: dag.enqueue\n    with:\n      dag: ${slow}\n      params: "A=1"\n`,
    );
    const run = await waitForRun(token, parent, runId);
    expect(run.statusLabel).toBe("succeeded");
    const [queued] = nodeOf(run, "q").subRuns ?? [];
    expect(queued).toMatchObject({ dagName: slow, statusLabel: "queued" });
    // A queued run is the DAG's own: in its history, started by the parent, and it runs to its end.
    const own = await waitForRun(token, slow, queued!.dagRunId);
    expect(own).toMatchObject({ statusLabel: "succeeded", trigger: "parent", triggeredBy: `${parent}/${runId}` });
  });
});

describe("parallel", () => {
  it("runs one call per item within max_concurrent, and collects results and outputs as Dagu", async () => {
    const { token } = await userWithRole("admin");
    const worker = unique("worker");
    await createDag(
      token,
      worker,
      `params:\n  - ITEM_VAL: none\nsteps:\n  - name: w\n    command: sleep 0.3; echo "item \${ITEM_VAL}"\n    output: OUT\n`,
    );
    const parent = unique("fan");
    const runId = await createAndStart(
      token,
      parent,
      `steps:
  - name: fan
    call: ${worker}
    parallel:
      items: ["a", "b", "c", "d", "a"]
      max_concurrent: 2
    params: "ITEM_VAL=\${ITEM}"
    output: RESULTS
  - name: show
    depends: [fan]
    action: log.write
    with:
      message: "total=\${RESULTS.summary.total} first=\${RESULTS.outputs[0].OUT}"
    output: SHOWN
`,
    );
    const run = await waitForRun(token, parent, runId, 20_000);
    expect(run.statusLabel).toBe("succeeded");
    const result = JSON.parse(nodeOf(run, "fan").output!);
    // As Dagu: items giving the same call run once.
    expect(result.summary).toEqual({ total: 4, succeeded: 4, failed: 0 });
    expect(result.results.map((each: { params: string }) => each.params)).toEqual([
      "ITEM_VAL=a",
      "ITEM_VAL=b",
      "ITEM_VAL=c",
      "ITEM_VAL=d",
    ]);
    expect(result.outputs).toEqual([{ OUT: "item a" }, { OUT: "item b" }, { OUT: "item c" }, { OUT: "item d" }]);
    expect(nodeOf(run, "show").output).toBe("total=4 first=item a");
    // Never more than max_concurrent at once.
    expect(mostAtOnce(nodeOf(run, "fan"))).toBeLessThanOrEqual(2);
  });

  it("fans out over objects (${ITEM.field}) and over a JSON array in a variable: the payload or a step's output", async () => {
    const { token } = await userWithRole("admin");
    const child = unique("child");
    await createDag(token, child, childSpec);
    const parent = unique("fan-vars");
    const runId = await createAndStart(
      token,
      parent,
      `type: graph
params:
  - REGIONS: '["eu","us"]'
steps:
  - name: objects
    call: ${child}
    parallel:
      items:
        - name: x
          region: us
        - name: y
          region: eu
    params: "X=\${ITEM.region}-\${ITEM.name}"
    output: OBJ
  - name: list
    action: jq.filter
    with:
      filter: "[.[] | ascii_upcase]"
      data: \${REGIONS}
    output: UPPER
  - name: from-output
    depends: [list]
    call: ${child}
    parallel: \${UPPER}
    params: "X=\${ITEM}"
    output: OUT
  - name: from-lines
    call: ${child}
    parallel:
      items: \${LINES}
      maxConcurrent: 1
    params: "X=\${ITEM}"
    env:
      - LINES: "l1"
    output: LINES_OUT
`,
    );
    const run = await waitForRun(token, parent, runId, 20_000);
    expect(run.statusLabel, JSON.stringify(run.nodes.map((node) => [node.step.name, node.error]))).toBe("succeeded");
    const results = (name: string) =>
      JSON.parse(nodeOf(run, name).output!).results.map((each: { outputs: { RESULT: string } }) => each.outputs.RESULT);
    expect(results("objects")).toEqual(["child got us-x", "child got eu-y"]);
    expect(results("from-output")).toEqual(["child got EU", "child got US"]);
    expect(JSON.parse(nodeOf(run, "objects").output!).results[0].params).toBe("X=us-x");
  });

  it("takes the items from the webhook's payload (${WEBHOOK_PAYLOAD.commits})", async () => {
    const { token } = await userWithRole("admin");
    const child = unique("child");
    await createDag(token, child, childSpec);
    const parent = unique("push");
    await createDag(
      token,
      parent,
      `steps:\n  - name: each-commit\n    call: ${child}\n    parallel: \${WEBHOOK_PAYLOAD.commits}\n    params: "X=\${ITEM.id}"\n    output: R\n`,
    );
    const webhook = await ok(
      api(token).POST("/dags/{fileName}/webhook", { params: { path: { fileName: parent } } }),
      201,
    );
    const triggered = await call("POST", `/webhooks/${parent}`, {
      headers: { Authorization: `Bearer ${webhook.token}`, "CF-Connecting-IP": unique("ip") },
      body: { commits: [{ id: "c1" }, { id: "c2" }, { id: "c3" }] },
    });
    const run = await waitForRun(token, parent, stringField(triggered, "dagRunId"));
    expect(run.statusLabel).toBe("succeeded");
    const result = JSON.parse(nodeOf(run, "each-commit").output!);
    expect(result.outputs.map((each: { RESULT: string }) => each.RESULT)).toEqual([
      "child got c1",
      "child got c2",
      "child got c3",
    ]);
  });

  it("fails the step after every item ran when one failed, as Dagu; bad item lists fail the step clearly", async () => {
    const { token } = await userWithRole("admin");
    const worker = unique("worker");
    await createDag(token, worker, workerSpec);
    const parent = unique("partial");
    const runId = await createAndStart(
      token,
      parent,
      `type: graph
params:
  - OBJECT: '{"a": 1}'
  - GUESS: "a,b c"
steps:
  - name: fan
    call: ${worker}
    parallel: ["a", "bad", "c"]
    params: "ITEM_VAL=\${ITEM}"
    output: RESULTS
  - name: not-an-array
    call: ${worker}
    parallel: \${OBJECT}
  - name: guessed
    call: ${worker}
    parallel: \${GUESS}
  - name: empty
    call: ${worker}
    parallel: \${NOTHING}
  - name: too-many
    call: ${worker}
    parallel: \${MANY}
    env:
      - MANY: '[${Array.from({ length: 1001 }, (_, index) => index).join(",")}]'
`,
    );
    const run = await waitForRun(token, parent, runId, 20_000);
    expect(run.statusLabel).toBe("failed");
    const fan = nodeOf(run, "fan");
    const result = JSON.parse(fan.output!);
    expect(result.summary).toEqual({ total: 3, succeeded: 2, failed: 1 });
    expect(result.outputs).toEqual([{ OUT: "item a" }, { OUT: "item c" }]);
    expect(fan.error).toMatch(/^1 of 3 sub-DAG runs did not succeed/);
    expect(nodeOf(run, "not-an-array").error).toBe(
      `parallel: \${OBJECT} holds a JSON object, not an array of items: '{"a": 1}'`,
    );
    expect(nodeOf(run, "guessed").error).toMatch(/Dagu would split by guessing its separator/);
    expect(nodeOf(run, "empty").error).toBe("parallel: ${NOTHING} holds no items");
    expect(nodeOf(run, "too-many").error).toBe("parallel: ${MANY} holds 1001 items, more than 1000 (Dagu's limit)");
  });
});

describe("a fan-out's ends", () => {
  it("reach the caller as they happen, also when runs end together: none waits for a check timer", async () => {
    const { token } = await userWithRole("admin");
    const parent = unique("ends");
    const runId = await createAndStart(
      token,
      parent,
      `steps:
  - name: fan
    call: item
    parallel:
      items: [${Array.from({ length: 60 }, (_, index) => index).join(", ")}]
      max_concurrent: 10
    params: "N=\${ITEM}"
---
name: item
params: "N=0"
steps:
  - name: work
    command: echo "item \${N}"
`,
    );
    const run = await waitForRun(token, parent, runId, 60_000);
    expect(run.statusLabel).toBe("succeeded");
    // Each run as its caller recorded it: an end the caller missed is only found by a timer
    // (a calling step's check, an executor's silence: 20 s and more), and shows here as a long run.
    const longest = Math.max(
      ...(nodeOf(run, "fan").subRuns ?? []).map((each) => Date.parse(each.finishedAt) - Date.parse(each.startedAt)),
    );
    expect(longest).toBeLessThan(8_000);
  }, 90_000);
});

describe("a fan-out of 1,000", () => {
  it("runs 1,000 child runs, at most max_concurrent at a time", async () => {
    const { token } = await userWithRole("admin");
    const parent = unique("thousand");
    const runId = await createAndStart(
      token,
      parent,
      `steps:
  - name: fan
    call: one
    parallel:
      items: \${ITEMS}
      max_concurrent: 50
    params: "N=\${ITEM}"
    env:
      - ITEMS: '[${Array.from({ length: 1000 }, (_, index) => index).join(",")}]'
    output: R
---
name: one
params: "N=0"
steps:
  - action: log.write
    with: {message: "\${N}"}
    output: N_OUT
`,
    );
    const run = await waitForRun(token, parent, runId, 120_000);
    expect(run.statusLabel).toBe("succeeded");
    const result = JSON.parse(nodeOf(run, "fan").output!);
    expect(result.summary).toEqual({ total: 1000, succeeded: 1000, failed: 0 });
    expect(result.outputs[999]).toEqual({ N_OUT: "999" });
    expect(mostAtOnce(nodeOf(run, "fan"))).toBeLessThanOrEqual(50);
  }, 150_000);
});

describe("validation", () => {
  const refusal = async (spec: string) => {
    const { token } = await userWithRole("admin");
    const result = await call("POST", "/dags", { token, body: { name: unique("bad"), spec } });
    return expectEnvelope(result, 400, "bad_request").message;
  };

  it("refuses calls that can't work, naming why", async () => {
    expect(
      await refusal("steps:\n  - call: a\n---\nname: a\nsteps:\n  - call: b\n---\nname: b\nsteps:\n  - call: a\n"),
    ).toMatch(/sub-DAG call cycle a -> b -> a/);
    expect(await refusal("steps:\n  - command: echo\n    parallel: [1, 2]\n")).toMatch(
      /'parallel' runs one call per item of a sub-DAG: it goes with 'call'/,
    );
    expect(await refusal("steps:\n  - command: echo\n    params: A=1\n")).toMatch(
      /'params' passes params to a sub-DAG/,
    );
    expect(await refusal("steps:\n  - call: x\n    command: echo\n")).toMatch(
      /a step either calls a DAG or runs something itself/,
    );
    expect(await refusal("steps:\n  - call: x\n    preconditions: test -f /tmp/x\n")).toMatch(
      /runs a command, and a step that calls a DAG runs no commands itself/,
    );
    expect(await refusal("steps:\n  - call: 'not a name'\n")).toMatch(/'not a name' is not a DAG name/);
    expect(
      await refusal(`steps:\n  - call: x\n    parallel: [${Array.from({ length: 1001 }, () => "a").join(",")}]\n`),
    ).toMatch(/at most 1000 items/);
    expect(
      await refusal("steps:\n  - action: dag.enqueue\n    with:\n      dag: a\n---\nname: a\nsteps:\n  - echo\n"),
    ).toMatch(/dag.enqueue queues a run of a stored DAG/);
  });

  it("refuses saving a DAG whose calls between stored DAGs come back to it", async () => {
    const { token } = await userWithRole("admin");
    const a = unique("cycle-a");
    const b = unique("cycle-b");
    await createDag(token, a, `steps:\n  - call: ${b}\n`);
    const result = await call("POST", "/dags", { token, body: { name: b, spec: `steps:\n  - call: ${a}\n` } });
    expect(expectEnvelope(result, 400, "bad_request").message).toContain(`sub-DAG call cycle ${b} -> ${a} -> ${b}`);
  });
});

describe("router", () => {
  it("runs the steps of the route its value matches and skips the others, without failing the run (Dagu 2.x)", async () => {
    const { token } = await userWithRole("admin");
    const dag = unique("router");
    const spec = (form: string) => `type: graph
params:
  - STATUS: "prod-eu"
steps:
${form}
  - name: exact
    action: log.write
    with: {message: exact}
  - name: regex
    action: log.write
    with: {message: regex}
  - name: fallback
    action: log.write
    with: {message: fallback}
  - name: after
    depends: [exact, regex, fallback]
    action: log.write
    with: {message: after}
`;
    const action = `  - name: route
    action: router.route
    with:
      value: \${STATUS}
      routes:
        "re:.*": [fallback]
        "re:^prod-": [regex]
        "staging": [exact]`;
    const runId = await createAndStart(token, dag, spec(action));
    const run = await waitForRun(token, dag, runId);
    expect(run.statusLabel).toBe("succeeded");
    const statuses = Object.fromEntries(run.nodes.map((node) => [node.step.name, node.statusLabel]));
    // Both regex routes match: every matching route's targets run (each target has its own condition).
    expect(statuses).toEqual({
      route: "succeeded",
      exact: "skipped",
      regex: "succeeded",
      fallback: "succeeded",
      after: "succeeded",
    });
    // It prints its value as written and its routes in Dagu's order: exact, then regex, catch-all last.
    const log = await call("GET", `/dag-runs/${dag}/${runId}/steps/route/log`, { token });
    expect(log.body).toMatchObject({
      content: "Router evaluating: ${STATUS}\n  staging -> [exact]\n  re:^prod- -> [regex]\n  re:.* -> [fallback]\n",
    });

    // 2.0–2.6 wrote it as `type: router` with the step's own value and routes.
    const older = unique("router-2x");
    const olderRun = await createAndStart(
      token,
      older,
      spec(
        `  - name: route\n    type: router\n    value: \${STATUS}\n    routes:\n      "prod-eu": [exact]\n      "re:^staging": [regex, fallback]`,
      ),
    );
    const done = await waitForRun(token, older, olderRun);
    expect(Object.fromEntries(done.nodes.map((node) => [node.step.name, node.statusLabel]))).toMatchObject({
      exact: "succeeded",
      regex: "skipped",
      fallback: "skipped",
      after: "succeeded",
    });
  });

  it("refuses a router in a chain, a target that isn't a step, and a step two routes target", async () => {
    // Without `type:` a router's file is a Dagu 2.x file: a graph, whose routes may name step ids.
    const { token: admin } = await userWithRole("admin");
    const dag = unique("router-ids");
    const runId = await createAndStart(
      admin,
      dag,
      `steps:\n  - id: r\n    action: router.route\n    with:\n      value: b\n      routes:\n        "a": [first]\n        "b": [second]\n  - id: first\n    run: echo A\n  - id: second\n    action: log.write\n    with: {message: B}\n`,
    );
    const run = await waitForRun(admin, dag, runId);
    expect(run.nodes.map((node) => node.statusLabel)).toEqual(["succeeded", "skipped", "succeeded"]);

    const { token } = await userWithRole("admin");
    const refused = async (spec: string) =>
      expectEnvelope(
        await call("POST", "/dags", { token, body: { name: unique("bad-router"), spec } }),
        400,
        "bad_request",
      ).message;
    const router = (routes: string) =>
      `  - name: r\n    action: router.route\n    with:\n      value: x\n      routes:\n${routes}\n  - name: a\n    command: echo a\n`;
    expect(await refused(`type: chain\nsteps:\n${router('        "x": [a]')}`)).toMatch(
      /router 'r' needs 'type: graph'/,
    );
    expect(await refused(`type: graph\nsteps:\n${router('        "x": [nope]')}`)).toMatch(
      /routes to 'nope', which is not a step/,
    );
    expect(await refused(`type: graph\nsteps:\n${router('        "x": [a]\n        "y": [a]')}`)).toMatch(
      /step 'a' is the target of more than one route/,
    );
  });
});
