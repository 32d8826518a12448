import { describe, expect, it } from "vitest";
import { parseDagSpec, parseParamString, renameInSpec, toDagRecord } from "../../../src/domain/dag-spec.ts";
import { errorsOf, specOf } from "./spec-helpers.ts";

describe("parseDagSpec: valid specs", () => {
  it("parses the seed's webhook example, keeping ${WEBHOOK_PAYLOAD.x} for run time", () => {
    const result = parseDagSpec(`steps:
  - name: process-webhook
    command: |
      echo "Repository: \${WEBHOOK_PAYLOAD.repository.name}"
      echo "Author: \${WEBHOOK_PAYLOAD.commits.0.author.name}"
`);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.spec.steps[0]!.command).toContain("${WEBHOOK_PAYLOAD.commits.0.author.name}");
    expect(result.spec.type).toBe("chain");
    expect(result.spec.maxActiveRuns).toBe(1);
  });

  it("normalises Dagu's shorthand forms", () => {
    const result = parseDagSpec(
      `name: build
description: Build and test
tags: ci, nightly
schedule: "CRON_TZ=Europe/Paris 0 2 * * *"
params: BRANCH=main MESSAGE="two words" positional
env:
  - GREETING=hello
  - COUNT: 3
type: graph
maxActiveRuns: 2
steps:
  - name: build
    command: [make, -j, 4]
    output: BUILD_ID
    retryPolicy: {limit: 3, intervalSec: 5, backoff: true, exitCode: [1, 2]}
  - name: test
    script: |
      make test
    depends: build
    continueOn: failure
    preconditions:
      - condition: "\`date +%u\`"
        expected: "re:[1-5]"
  - name: notify
    command: "POST https://example.com/hook"
    executor: {type: http, config: {timeout: 10}}
    depends: [build, test]
handlerOn:
  failure:
    command: echo failed
  cancel:
    command: echo aborted
`,
      { fileName: "build" },
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { spec } = result;
    expect(spec.tags).toEqual(["ci", "nightly"]);
    expect(spec.schedule).toEqual(["CRON_TZ=Europe/Paris 0 2 * * *"]);
    expect(spec.params).toEqual([
      { key: "BRANCH", value: "main" },
      { key: "MESSAGE", value: "two words" },
      { key: "3", value: "positional" },
    ]);
    expect(spec.env).toEqual([
      { key: "GREETING", value: "hello" },
      { key: "COUNT", value: "3" },
    ]);
    // A command list is several commands, run in order until one fails (as the Dagu 1.30.2 binary runs it).
    expect(spec.steps[0]).toMatchObject({
      command: "( make\n) && ( -j\n) && ( 4\n)",
      output: "BUILD_ID",
      depends: undefined,
    });
    expect(spec.steps[0]!.retryPolicy).toEqual({
      limit: 3,
      intervalSec: 5,
      exitCodes: [1, 2],
      backoff: 2,
      maxIntervalSec: undefined,
    });
    expect(spec.steps[1]).toMatchObject({ depends: ["build"], continueOn: { failure: true, skipped: false } });
    expect(spec.steps[1]!.preconditions[0]).toMatchObject({ expected: "re:[1-5]" });
    expect(spec.steps[2]!.executor).toEqual({ type: "http", config: { timeout: 10 } });
    expect(spec.handlerOn.abort).toMatchObject({ name: "onAbort", command: "echo aborted" });
    expect(spec.handlerOn.failure).toMatchObject({ name: "onFailure" });
  });

  it("accepts a step that depends on a later step in a chain when no cycle results", () => {
    const result = parseDagSpec(`steps:
  - name: a
    command: x
    depends: []
  - name: b
    command: y
    depends: [c]
  - name: c
    command: z
    depends: []
`);
    expect(result.ok).toBe(true);
  });

  it("toDagRecord derives the stored columns", () => {
    const source =
      "description: d\ntags: [a]\nschedule: ['0 1 * * *']\nwebhook: {forwardHeaders: [X-GitHub-Event], runIdHeader: X-GitHub-Delivery}\nsteps:\n  - name: s\n    command: x\n";
    const result = toDagRecord("nightly", source);
    expect(result.ok && result.record).toEqual({
      name: "nightly",
      spec: source,
      description: "d",
      tags: ["a"],
      schedules: ["0 1 * * *"],
      webhook: {
        forwardHeaders: ["x-github-event"],
        headerValues: "text",
        runIdHeader: "X-GitHub-Delivery",
        storeBodies: true,
      },
    });
  });
});

describe("parseDagSpec: every error class names the field and its line/column", () => {
  it("YAML syntax errors", () => {
    expect(errorsOf("steps:\n  - name: a\n    command: [unclosed\n")[0]).toMatch(/^yaml: .+ \(line \d+, col \d+\)$/);
  });

  it("duplicate keys", () => {
    expect(errorsOf("steps:\n  - name: a\n    name: b\n    command: x\n")[0]).toMatch(
      /^yaml: Map keys must be unique \(line 3, col 5\)/,
    );
  });

  it("unknown steps in depends, at the misspelt name", () => {
    const spec = `description: demo
steps:
  - name: build
    command: make
  - name: test
    command: make test
  - name: deploy
    command: make deploy
    depends:
      - test
      - buidl
`;
    expect(errorsOf(spec)).toEqual(["steps[2].depends: unknown step 'buidl' (line 11, col 9)"]);
  });

  it("dependency cycles, explicit and through a chain's implicit order", () => {
    expect(
      errorsOf(`type: graph
steps:
  - name: a
    command: x
    depends: b
  - name: b
    command: y
    depends: [a]
`),
    ).toEqual(["steps[0].depends: dependency cycle a -> b -> a (line 5, col 14)"]);
    // b follows a implicitly; a depending on b closes the loop.
    expect(
      errorsOf(`steps:
  - name: a
    command: x
    depends: [b]
  - name: b
    command: y
`),
    ).toEqual(["steps[0].depends: dependency cycle a -> b -> a (line 4, col 14)"]);
    expect(errorsOf("type: graph\nsteps:\n  - name: a\n    command: x\n    depends: a\n")).toEqual([
      "steps[0].depends: dependency cycle a -> a (line 5, col 14)",
    ]);
  });

  it("unknown fields, with a suggestion", () => {
    expect(errorsOf("steps:\n  - name: a\n    commnd: x\n")).toEqual([
      "steps[0].commnd: unknown field 'commnd' (did you mean 'command'?) (line 3, col 5)",
    ]);
    expect(errorsOf("retries: 3\nsteps:\n  - name: a\n    command: x\n")).toEqual([
      "retries: unknown field 'retries' (line 1, col 1)",
    ]);
  });

  it("wrong types and out-of-range values", () => {
    expect(errorsOf("steps:\n  - name: a\n    command: x\n    timeoutSec: -1\n")).toEqual([
      "steps[0].timeoutSec: must not be negative (line 4, col 17)",
    ]);
    expect(errorsOf("steps:\n  - name: a\n    command: x\n    retryPolicy:\n      limit: lots\n")).toEqual([
      "steps[0].retryPolicy.limit: expected number, received string (line 5, col 14)",
    ]);
    expect(errorsOf("type: agent\nsteps:\n  - name: a\n    command: x\n")).toEqual([
      "type: type 'agent' is not supported: dagflare runs 'chain' and 'graph' DAGs (not Dagu's agent or build DAGs) (line 1, col 7)",
    ]);
    expect(errorsOf("type: 3\nsteps:\n  - name: a\n    command: x\n")).toEqual([
      "type: expected 'chain' or 'graph' (line 1, col 7)",
    ]);
    expect(errorsOf("steps: build\n")).toEqual(["steps: expected a list of steps (line 1, col 8)"]);
    expect(errorsOf("- a\n- b\n")).toEqual(["spec: expected object, received array (line 1, col 1)"]);
  });

  it("missing required fields", () => {
    expect(errorsOf("description: nothing to do\n")).toEqual(["steps: is required (line 1, col 1)"]);
    expect(errorsOf("steps:\n  - name: a\n")).toEqual(["steps[0]: a step needs a command or a script (line 2, col 5)"]);
    expect(errorsOf("steps: []\n")).toEqual(["steps: a DAG needs at least one step (line 1, col 8)"]);
  });

  it("duplicate step names", () => {
    expect(errorsOf("steps:\n  - name: a\n    command: x\n  - name: a\n    command: y\n")).toEqual([
      "steps[1].name: duplicate step name 'a' (line 4, col 11)",
    ]);
  });

  it("invalid cron expressions and time zones", () => {
    expect(
      errorsOf(
        "schedule:\n  - '0 * * *'\n  - 'CRON_TZ=Mars/Base 0 1 * * *'\n  - '61 * * * *'\nsteps:\n  - name: a\n    command: x\n",
      ),
    ).toEqual([
      "schedule: '0 * * *': expected 5 fields (minute hour day-of-month month day-of-week) (line 2, col 5)",
      "schedule: 'CRON_TZ=Mars/Base 0 1 * * *': unknown time zone 'Mars/Base' (line 3, col 5)",
      expect.stringMatching(/^schedule: '61 \* \* \* \*': .*minute.* \(line 4, col 5\)$/),
    ]);
  });

  it("schedules in every form Dagu writes them: 1.x start/stop/restart, 2.x {expression} and {at} entries", () => {
    const scheduleOf = (yaml: string) => specOf(`schedule:\n${yaml}\nsteps:\n  - echo a\n`).schedule;
    expect(scheduleOf("  start: '0 1 * * *'")).toEqual(["0 1 * * *"]);
    expect(scheduleOf("  start: ['0 1 * * *', {expression: '0 2 * * *'}]")).toEqual(["0 1 * * *", "0 2 * * *"]);
    expect(scheduleOf("  - expression: '*/5 * * * *'\n    kind: cron\n  - '0 3 * * *'")).toEqual([
      "*/5 * * * *",
      "0 3 * * *",
    ]);
    expect(
      errorsOf("schedule:\n  start: '0 1 * * *'\n  stop: '0 2 * * *'\n  restart: ['0 3 * * *']\nsteps:\n  - echo a\n"),
    ).toEqual([
      "schedule.stop: 'stop' schedules are not supported: only start schedules are (line 3, col 9)",
      "schedule.restart: 'restart' schedules are not supported: only start schedules are (line 4, col 12)",
    ]);
    expect(errorsOf("schedule:\n  - at: '2026-12-24T18:00:00+01:00'\nsteps:\n  - echo a\n")).toEqual([
      "schedule[0]: one-off schedules ('at') are not supported: start the run through the API at that time (line 2, col 5)",
    ]);
    expect(errorsOf("schedule:\n  start: {expression: '61 * * * *'}\nsteps:\n  - echo a\n")[0]).toMatch(
      /^schedule: '61 \* \* \* \*': .*minute.*\(line 2, col 10\)$/,
    );
  });

  it("invalid precondition regexes", () => {
    expect(
      errorsOf(
        "steps:\n  - name: a\n    command: x\n    preconditions:\n      - condition: x\n        expected: 're:[a'\n",
      ),
    ).toEqual(["steps[0].preconditions: invalid regular expression '[a' (line 5, col 9)"]);
  });

  it("a name that differs from the file name, or breaks the naming rule", () => {
    expect(errorsOf("name: other\nsteps:\n  - name: a\n    command: x\n", "mine")).toEqual([
      "name: 'other' differs from the DAG's name 'mine'; remove it or make them equal (line 1, col 7)",
    ]);
    expect(errorsOf("name: has space\nsteps:\n  - name: a\n    command: x\n")[0]).toMatch(/^name: must match/);
  });

  it("malformed env entries", () => {
    expect(errorsOf("env:\n  - JUSTAKEY\nsteps:\n  - name: a\n    command: x\n")).toEqual([
      "env: expected KEY=value, got 'JUSTAKEY' (line 2, col 5)",
    ]);
  });

  it("oversized specs", () => {
    expect(errorsOf(`steps:\n  - name: a\n    command: "${"x".repeat(600 * 1024)}"\n`)).toEqual([
      "spec is larger than 512 KiB",
    ]);
  });
});

describe("spec helpers", () => {
  it("parseParamString handles quotes; a positional value is named by its place among all tokens (Dagu)", () => {
    expect(parseParamString(`A=1 B='x y' "free text"`)).toEqual([
      { key: "A", value: "1" },
      { key: "B", value: "x y" },
      { key: "3", value: "free text" },
    ]);
  });

  it("renameInSpec rewrites a name field and keeps comments; leaves specs without one alone", () => {
    expect(renameInSpec("# keep me\nname: old\nsteps: []\n", "new")).toBe("# keep me\nname: new\nsteps: []\n");
    expect(renameInSpec("steps: []\n", "new")).toBe("steps: []\n");
  });
});

it("a value with ': ' left unquoted gets a hint (the Dagu docs' Slack example makes this mistake)", () => {
  const result = parseDagSpec(
    'steps:\n  - name: log\n    command: echo "User ${WEBHOOK_PAYLOAD.user_name} requested: ${WEBHOOK_PAYLOAD.text}"\n',
  );
  expect(result.ok).toBe(false);
  expect(!result.ok && result.errors[0]!.message).toContain("must be quoted");
});
