/** The coordinator's pure rules, without a Durable Object: conditions, a step's variables, its invocation. */
import { describe, expect, it } from "vitest";
import { matchesSomeLine, unmetPrecondition } from "../../../src/domain/conditions.ts";
import { buildInvocation, runsOnRunner } from "../../../src/domain/invocation.ts";
import { runScope, STEP_PATH } from "../../../src/domain/scope.ts";
import { MAX_LOG_BYTES } from "../../../src/executors/executor.ts";
import { specOf } from "./spec-helpers.ts";

const stepsOf = (yaml: string) => specOf(yaml).steps;

describe("one line matcher for preconditions and continueOn output", () => {
  it("matches a literal line exactly (preconditions) or as a substring (output), per line", () => {
    expect(matchesSomeLine("main", "dev\nmain", "equals")).toBe(true);
    expect(matchesSomeLine("main", "maintenance", "equals")).toBe(false);
    expect(matchesSomeLine("main", "maintenance", "contains")).toBe(true);
  });

  it("tries a re: pattern, unanchored, on each line; an invalid regex matches nothing", () => {
    expect(matchesSomeLine("re:^v\\d+$", "x\nv12", "equals")).toBe(true);
    expect(matchesSomeLine("re:err", "an error here", "equals")).toBe(true);
    expect(matchesSomeLine("re:(", "(", "contains")).toBe(false);
  });

  it("decides preconditions with the step's variables: met, negated, skipped with a reason, shell refused", () => {
    const scope = new Map([["BRANCH", "main"]]);
    const condition = (expected: string | undefined, negate = false, error?: string) => ({
      condition: "${BRANCH}",
      expected,
      negate,
      error,
    });
    expect(unmetPrecondition([condition("main")], scope)).toBeUndefined();
    expect(unmetPrecondition([condition("main", true)], scope)).toEqual({
      skip: "precondition not met: '${BRANCH}' is 'main', expected 'main'",
    });
    expect(unmetPrecondition([condition("re:^ma"), condition("dev", false, "not dev")], scope)).toEqual({
      skip: "not dev",
    });
    // A shell condition is not the coordinator's to decide: the runner checks it before the step.
    expect(unmetPrecondition([condition(undefined)], scope)).toBeUndefined();
  });

  it("expands bare $NAME in conditions as Dagu does (checked with its 1.30.2 binary), once; unknown names are empty", () => {
    const scope = new Map([
      ["BRANCH", "main"],
      ["TRICKY", "${BRANCH}"],
    ]);
    const bare = (condition: string, expected: string) => ({ condition, expected, negate: false, error: undefined });
    expect(unmetPrecondition([bare("$BRANCH", "main")], scope)).toBeUndefined();
    expect(unmetPrecondition([bare("$BRANCH-${BRANCH}", "main-main")], scope)).toBeUndefined();
    // A value is not expanded again, and a name the step doesn't have is empty, as in Dagu.
    expect(unmetPrecondition([bare("$TRICKY", "${BRANCH}")], scope)).toBeUndefined();
    expect(unmetPrecondition([bare("[$NOPE]", "[$NOPE]")], scope)).toEqual({
      skip: "precondition not met: '[$NOPE]' is '[]', expected '[$NOPE]'",
    });
  });
});

describe("a step's variables", () => {
  it("built-ins, payload, DAG env, params and outputs, each able to read the ones before it (Dagu 1.30.2's order)", () => {
    const scope = runScope({
      dagName: "deploy",
      runId: "r1",
      stepName: "build",
      payload: '{"branch":"main"}',
      headers: null,
      params: [
        { key: "BRANCH", value: "${WEBHOOK_PAYLOAD.branch}" },
        { key: "TARGET", value: "${BASE}/${BRANCH}" },
        { key: "X", value: "from-param" },
      ],
      outcome: null,
      dagEnv: [
        { key: "BASE", value: "/srv/${DAG_NAME}" },
        { key: "EARLY", value: "[${BRANCH}]" },
        { key: "X", value: "from-env" },
        { key: "PATH", value: "/opt/tools/bin:${PATH}" },
      ],
      outputs: [["VERSION", "1.2.3"]],
    });
    expect(Object.fromEntries(scope)).toEqual({
      PATH: `/opt/tools/bin:${STEP_PATH}`, // the step's PATH extended, as Dagu's own
      DAG_NAME: "deploy",
      DAG_RUN_ID: "r1",
      DAG_RUN_STEP_NAME: "build",
      WEBHOOK_PAYLOAD: '{"branch":"main"}',
      BASE: "/srv/deploy",
      EARLY: "[]", // env is read before params: it can't see them
      X: "from-param", // a param wins over an env variable of the same name
      BRANCH: "main",
      TARGET: "/srv/deploy/main",
      DAGU_PARAMS_JSON: '{"BRANCH":"main","TARGET":"/srv/deploy/main","X":"from-param"}',
      VERSION: "1.2.3",
    });
  });
});

describe("a step's invocation", () => {
  const attempt = { dagId: "d", runId: "r", step: "s", attempt: 1 };

  it("expands http text and binds shell references as variables; output steps capture their head", () => {
    const [http, shell] = stepsOf(
      "steps:\n  - name: s\n    executor: http\n    command: GET https://x/${V}\n  - name: t\n    command: echo ${P.a}\n    output: OUT\n",
    );
    const scope = () =>
      new Map([
        ["V", "v1"],
        ["P", '{"a":"$(id)"}'],
      ]);
    const viaHttp = buildInvocation({ attempt, step: http!, scope: scope(), maxOutputSize: 10, leaseMs: 5000 });
    expect(viaHttp).toMatchObject({ executor: "http", command: "GET https://x/v1", timeoutMs: 5000 });
    expect(viaHttp.stdoutCapture.keep).toBe("tail");
    const viaShell = buildInvocation({ attempt, step: shell!, scope: scope(), maxOutputSize: 10, leaseMs: 5000 });
    expect(viaShell.command).not.toContain("$(id)");
    expect(Object.values(viaShell.env)).toContain("$(id)");
    expect(viaShell.stdoutCapture).toEqual({ limit: MAX_LOG_BYTES, keep: "head" });
    const large = buildInvocation({ attempt, step: shell!, scope: scope(), maxOutputSize: 1_000_000, leaseMs: 5000 });
    expect(large.stdoutCapture).toEqual({ limit: 1_000_001, keep: "head" });
    expect([runsOnRunner(http), runsOnRunner(shell)]).toEqual([false, true]);
  });

  it("carries the preconditions that are shell text, bound like commands, for the runner to check first", () => {
    const yaml = [
      "steps:",
      "  - name: s",
      "    command: echo go",
      "    preconditions:",
      '      - test -f "${P.a}"',
      '      - condition: "`date +%u`"',
      '        expected: "re:^[1-5]$"',
      "        error: weekdays only",
      '      - condition: "${V}"',
      "        expected: v1",
    ].join("\n");
    const scope = new Map([
      ["V", "v1"],
      ["P", '{"a":"$(id)"}'],
    ]);
    const invocation = buildInvocation({ attempt, step: stepsOf(yaml)[0]!, scope, maxOutputSize: 10, leaseMs: 5000 });
    const checks = invocation.preconditionChecks ?? [];
    expect(checks.map((check) => [check.expected, check.skipReason])).toEqual([
      [undefined, `precondition not met: 'test -f "\${P.a}"' exited with a non-zero code`],
      ["re:^[1-5]$", "weekdays only"],
    ]);
    expect(checks[0]!.command).not.toContain("$(id)");
    expect(Object.values(checks[0]!.env)).toContain("$(id)");
    expect(checks[1]!.command).toBe("printf '%s\\n' \"`date +%u`\"");
  });
});
