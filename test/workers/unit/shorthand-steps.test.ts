/**
 * Dagu's shorthand steps, as the Dagu 1.30.2 binary reads them: string steps, unnamed steps
 * (cmd_<position>), depends on a step's id, and a command list (commands run in order, stopping
 * at the first that fails).
 */
import { describe, expect, it } from "vitest";
import { formatSpecError, parseDagSpec } from "../../../src/domain/dag-spec.ts";
import { api, nodeOf, ok, unique, userWithRole, waitForRun } from "../helpers.ts";
import { specOf } from "./spec-helpers.ts";

describe("shorthand steps", () => {
  it("a string step is its command; an unnamed step is cmd_<position>, whatever the others are called", () => {
    const spec = specOf("steps:\n  - name: a\n    command: echo a\n  - echo two\n  - command: echo three\n");
    expect(spec.steps.map((step) => [step.name, step.command])).toEqual([
      ["a", "echo a"],
      ["cmd_2", "echo two"],
      ["cmd_3", "echo three"],
    ]);
  });

  it("an unnamed step is named by its kind too: script_N, <executor>_N (Dagu 1.30.2's names for this file)", () => {
    const spec = specOf(
      [
        "steps:",
        "  - command: echo one",
        "  - script: echo two",
        "  - command: |\n      echo three\n      echo more",
        "  - executor: http\n    command: GET http://127.0.0.1:1/",
        "  - command: [echo a, echo b]",
        "  - executor: {type: shell}\n    command: echo six",
        "  - echo seven",
        "  - run: |\n      echo 2.x\n      echo script",
        "  - action: http.request\n    with: {method: GET, url: 'http://127.0.0.1:1/'}",
      ].join("\n"),
    );
    expect(spec.steps.map((step) => step.name)).toEqual([
      "cmd_1",
      "script_2",
      "script_3",
      "http_4",
      "cmd_5",
      "shell_6",
      "cmd_7",
      "script_8",
      "http_9",
    ]);
  });

  it("a given name that a position would produce is a duplicate, as in Dagu", () => {
    const result = parseDagSpec("steps:\n  - name: cmd_2\n    command: echo a\n  - echo two\n");
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.map(formatSpecError)[0]).toMatch(/duplicate step name 'cmd_2'/);
  });

  describe("nested lists: groups of steps that run side by side (names and statuses as Dagu 1.30.2 gave them)", () => {
    const planOf = (source: string) =>
      specOf(source).steps.map((step) => [step.name, step.depends === undefined ? "-" : step.depends.join(",")]);

    it("name unnamed steps by the item's place plus the place in the group, skipping numbers taken", () => {
      expect(planOf("steps:\n  - echo first\n  - - echo b1\n    - echo b2\n    - echo b3\n  - echo last\n")).toEqual([
        ["cmd_1", "-"],
        ["cmd_2", "cmd_1"],
        ["cmd_3", "cmd_1"],
        ["cmd_4", "cmd_1"],
        ["cmd_5", "cmd_2,cmd_3,cmd_4"],
      ]);
      expect(
        planOf(
          "steps:\n  - name: x\n    command: echo x\n  - - echo b1\n    - name: y\n      command: echo y\n  - echo c\n  - name: z\n    command: echo z\n  - echo d\n",
        ),
      ).toEqual([
        ["x", "-"],
        ["cmd_2", "x"],
        ["y", "x"],
        ["cmd_3", "cmd_2,y"],
        ["z", "-"],
        ["cmd_5", "-"],
      ]);
      // A group that opens the DAG depends on nothing; a graph adds no dependencies at all.
      expect(planOf("steps:\n  - - echo g1\n    - echo g2\n  - echo after\n")).toEqual([
        ["cmd_1", ""],
        ["cmd_2", ""],
        ["cmd_3", "cmd_1,cmd_2"],
      ]);
      expect(planOf("type: graph\nsteps:\n  - echo a\n  - - echo b1\n    - echo b2\n")).toEqual([
        ["cmd_1", "-"],
        ["cmd_2", "-"],
        ["cmd_3", "-"],
      ]);
    });

    it("an error inside a group names the step where the file wrote it", () => {
      const result = parseDagSpec("steps:\n  - echo a\n  - - echo b\n    - name: c\n      commnd: echo c\n");
      expect(result.ok).toBe(false);
      if (!result.ok)
        expect(result.errors.map(formatSpecError)).toEqual([
          "steps[1][1].commnd: unknown field 'commnd' (did you mean 'command'?) (line 5, col 7)",
        ]);
    });

    it("run through the API: a group's failure aborts the step after it in a chain", async () => {
      const client = api((await userWithRole("manager")).token);
      const name = unique("step-group");
      const spec = "steps:\n  - echo a\n  - - echo b1\n    - exit 1\n  - echo last\n";
      await ok(client.POST("/dags", { body: { name, spec } }), 201);
      const { dagRunId } = await ok(
        client.POST("/dags/{fileName}/start", { params: { path: { fileName: name } }, body: {} }),
      );
      const run = await waitForRun((await userWithRole("viewer")).token, name, dagRunId);
      expect(run.statusLabel).toBe("failed");
      expect(run.nodes.map((node) => [node.step.name, node.statusLabel])).toEqual([
        ["cmd_1", "succeeded"],
        ["cmd_2", "succeeded"],
        ["cmd_3", "failed"],
        ["cmd_4", "aborted"],
      ]);
    });
  });

  it("a shell with options, as a string or Dagu's list", () => {
    expect(specOf("shell: [/bin/bash, -e]\nsteps:\n  - name: a\n    command: x\n").steps[0]!.shell).toBe(
      "/bin/bash -e",
    );
    expect(specOf("steps:\n  - name: a\n    shell: bash -o pipefail\n    command: x\n").steps[0]!.shell).toBe(
      "bash -o pipefail",
    );
  });

  it("output as {name, key, omit}; its key in the run's outputs as Dagu 1.30.2's outputs.json has it", () => {
    const steps = specOf(
      [
        "steps:",
        ...["OUT", "myVar", "My_Var2", "A_B__C", "$DOLLAR", "TOTAL_COUNT"].flatMap((output, index) => [
          `  - name: s${index}`,
          "    command: echo",
          `    output: "${output}"`,
        ]),
        "  - name: keyed",
        "    command: echo",
        "    output: {name: MY_VAL, key: customKey}",
        "  - name: omitted",
        "    command: echo",
        "    output: {name: TEMP, omit: true}",
      ].join("\n"),
    ).steps;
    expect(steps.map((step) => [step.output, step.outputKey])).toEqual([
      ["OUT", "out"],
      ["myVar", "myvar"],
      ["My_Var2", "myVar2"],
      ["A_B__C", "aBC"],
      ["DOLLAR", "dollar"],
      ["TOTAL_COUNT", "totalCount"],
      ["MY_VAL", "customKey"],
      ["TEMP", null],
    ]);
  });

  it("a step's ${id.stdout} / ${id.stderr} / ${id.exitCode} (Dagu 1.30's log paths and exit code) is refused, not left to the shell", () => {
    const result = parseDagSpec(
      "steps:\n  - id: gen\n    command: echo x\n  - command: echo ${gen.stdout}\n    depends: gen\n",
    );
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.errors.map(formatSpecError)).toEqual([
        "steps[1]: '${gen.stdout}' reads another step's log file or exit code, which is not supported yet: give that step an `output:` and use its variable (line 4, col 5)",
      ]);
    // Dagu 2.x's ${params.NAME}, in a step or in env, would expand to nothing: refused too.
    const twoX = parseDagSpec(
      "params: [{name: env, default: prod}]\nenv:\n  A: ${params.env}\nsteps:\n  - run: echo\n",
    );
    expect(twoX.ok).toBe(false);
    if (!twoX.ok)
      expect(twoX.errors.map(formatSpecError)[0]).toBe(
        "env: '${params.env}' (Dagu 2.x) is not supported yet: write `${env}` (line 3, col 3)",
      );
    // A variable's JSON field of the same shape is not a step reference.
    expect(() => specOf("steps:\n  - command: echo ${PAYLOAD.stdout}\n")).not.toThrow();
  });

  it("depends may name a step by its id", () => {
    const spec = specOf(
      "type: graph\nsteps:\n  - id: first\n    command: echo one\n  - name: b\n    command: echo two\n    depends: first\n",
    );
    expect(spec.steps[1]!.depends).toEqual(["cmd_1"]);
  });

  it("runs through the API as Dagu does: a command list stops at its first failing command", async () => {
    const client = api((await userWithRole("manager")).token);
    const token = (await userWithRole("viewer")).token;
    const name = unique("shorthand");
    // Each command runs in a fresh shell: the cd and the variable don't carry over (Dagu 1.30.2 printed the same).
    const spec =
      'steps:\n  - echo one\n  - command: ["cd / && V=x", "echo two $PWD ${V-unset}", "echo three; false", echo never]\n';
    await ok(client.POST("/dags", { body: { name, spec } }), 201);
    const { dagRunId } = await ok(
      client.POST("/dags/{fileName}/start", { params: { path: { fileName: name } }, body: {} }),
    );
    const run = await waitForRun(token, name, dagRunId);
    expect(run.statusLabel).toBe("failed");
    expect(nodeOf(run, "cmd_1").statusLabel).toBe("succeeded");
    expect(nodeOf(run, "cmd_2")).toMatchObject({ statusLabel: "failed", exitCode: 1 });
    const log = await ok(
      client.GET("/dag-runs/{name}/{dagRunId}/steps/{stepName}/log", {
        params: { path: { name, dagRunId, stepName: "cmd_2" }, query: { stream: "stdout" } },
      }),
    );
    expect(log.content).toMatch(/^two \/\S+ unset\nthree\n$/);
    expect(log.content).not.toMatch(/^two \/ /);
  });

  it("a 2.x run: list is a command list too", () => {
    expect(specOf("steps:\n  - run: [echo a, echo b]\n").steps[0]!.command).toBe("( echo a\n) && ( echo b\n)");
  });
});

describe("DAG-level step defaults", () => {
  it("shell and workingDir (2.x working_dir) apply to every step that doesn't set its own, handlers too", () => {
    for (const key of ["workingDir", "working_dir"]) {
      const spec = specOf(
        `shell: bash\n${key}: /srv\nhandlerOn:\n  exit:\n    command: echo bye\nsteps:\n  - echo a\n  - name: b\n    command: echo b\n    shell: sh\n    dir: /tmp\n`,
      );
      expect(spec.steps.map((step) => [step.shell, step.dir])).toEqual([
        ["bash", "/srv"],
        ["sh", "/tmp"],
      ]);
      expect(spec.handlerOn.exit).toMatchObject({ shell: "bash", dir: "/srv" });
    }
  });

  it("a step runs in the DAG's workingDir", async () => {
    const client = api((await userWithRole("manager")).token);
    const name = unique("workdir");
    await ok(
      client.POST("/dags", {
        body: { name, spec: "workingDir: /tmp\nsteps:\n  - name: where\n    command: pwd\n    output: DIR\n" },
      }),
      201,
    );
    const { dagRunId } = await ok(
      client.POST("/dags/{fileName}/start", { params: { path: { fileName: name } }, body: {} }),
    );
    const run = await waitForRun((await userWithRole("viewer")).token, name, dagRunId);
    expect(nodeOf(run, "where")).toMatchObject({ statusLabel: "succeeded", output: "/tmp" });
  });
});

describe("Dagu 2.x defaults", () => {
  it("give every step and handler what it doesn't set itself; a step's env comes after the defaults'", () => {
    const spec = specOf(`defaults:
  retry_policy: {limit: 2, interval_sec: 1}
  continue_on: {exit_code: [3]}
  timeout_sec: 30
  env:
    - STAGE=dev
    - REGION=eu
handler_on:
  exit:
    run: echo bye
steps:
  - run: echo a
  - name: b
    run: echo b
    timeout_sec: 5
    retry_policy: {limit: 0}
    env:
      - STAGE=prod
`);
    const [a, b] = spec.steps;
    expect(a).toMatchObject({
      timeoutSec: 30,
      retryPolicy: { limit: 2, intervalSec: 1 },
      continueOn: { exitCodes: [3] },
    });
    expect(a!.env).toEqual([
      { key: "STAGE", value: "dev" },
      { key: "REGION", value: "eu" },
    ]);
    expect(b).toMatchObject({ timeoutSec: 5, retryPolicy: { limit: 0 }, continueOn: { exitCodes: [3] } });
    expect(b!.env.at(-1)).toEqual({ key: "STAGE", value: "prod" });
    expect(spec.handlerOn.exit).toMatchObject({ timeoutSec: 30 });
  });

  it("refuses the defaults it doesn't have, naming them as written", () => {
    const result = parseDagSpec(
      "defaults:\n  preconditions: [x]\n  signal_on_stop: SIGINT\n  colour: red\nsteps:\n  - echo a\n",
    );
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.errors.map(formatSpecError)).toEqual([
        "defaults.preconditions: 'preconditions' in defaults are not supported yet: put them on the steps (line 2, col 3)",
        "defaults.signal_on_stop: 'signal_on_stop' is not supported: a stopped step's process tree gets SIGTERM, then SIGKILL (line 3, col 3)",
        "defaults.colour: unknown field 'colour' (line 4, col 3)",
      ]);
    // A default repeat policy is every step's.
    expect(
      specOf("defaults:\n  repeat_policy: {repeat: true, limit: 2}\nsteps:\n  - echo a\n").steps[0]!.repeatPolicy,
    ).toMatchObject({
      mode: "while",
      limit: 2,
    });
  });
});
