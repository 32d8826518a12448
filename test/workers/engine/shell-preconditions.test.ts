/**
 * Preconditions Dagu runs as shell text run on the step runner before the step, and skip it
 * when not met — the same file, run on the Dagu 1.30.2 binary, gave the same statuses.
 */
import { describe, expect, it } from "vitest";
import { api, nodeOf, ok, runWithoutRunner, unique, userWithRole, waitForRun } from "../helpers.ts";

const SPEC = [
  "type: graph",
  "params: B=main",
  "steps:",
  "  - name: a",
  "    command: echo ran-a",
  "    preconditions:",
  '      - condition: "test -f /nonexistent/dagflare"',
  "  - name: after-a",
  "    command: echo ran-after-a",
  "    depends: a",
  "  - name: b",
  "    command: echo ran-b",
  '    preconditions: ["true"]',
  "  - name: c",
  "    command: echo ran-c",
  "    preconditions:",
  '      - condition: "`echo $B`"',
  "        expected: main",
  "  - name: d",
  "    command: echo ran-d",
  "    preconditions:",
  '      - condition: "$B"',
  "        expected: main",
  "  - name: e",
  "    executor: http",
  "    command: GET http://127.0.0.1:1/never",
  "    preconditions:",
  '      - condition: "`echo $B`"',
  "        expected: dev",
  // An empty expected is none: the condition runs as a command (Dagu 1.30.2 ran i).
  "  - name: i",
  "    command: echo ran-i",
  "    preconditions:",
  '      - condition: "true"',
  '        expected: ""',
  // negate turns each kind around (Dagu 1.30.2: f runs, g and h are skipped).
  "  - name: f",
  "    command: echo ran-f",
  "    preconditions:",
  '      - condition: "test -f /nonexistent/dagflare"',
  "        negate: true",
  "  - name: g",
  "    command: echo ran-g",
  "    preconditions:",
  '      - condition: "true"',
  "        negate: true",
  "  - name: h",
  "    command: echo ran-h",
  "    preconditions:",
  '      - condition: "$B"',
  '        expected: "re:ma.*"',
  "        negate: true",
].join("\n");

describe("preconditions that are shell commands", () => {
  it("run before the step, on the runner: one not met skips it (and what depends on it), as in Dagu", async () => {
    const client = api((await userWithRole("manager")).token);
    const name = unique("shell-conditions");
    await ok(client.POST("/dags", { body: { name, spec: SPEC } }), 201);
    const { dagRunId } = await ok(
      client.POST("/dags/{fileName}/start", { params: { path: { fileName: name } }, body: {} }),
    );
    const run = await waitForRun((await userWithRole("viewer")).token, name, dagRunId);
    expect(run.statusLabel).toBe("succeeded");
    const statuses = Object.fromEntries(run.nodes.map((node) => [node.step.name, node.statusLabel]));
    expect(statuses).toEqual({
      a: "skipped",
      "after-a": "skipped",
      b: "succeeded",
      c: "succeeded",
      d: "succeeded",
      e: "skipped",
      f: "succeeded",
      g: "skipped",
      h: "skipped",
      i: "succeeded",
    });
    expect(nodeOf(run, "a").error).toBe(
      "precondition not met: 'test -f /nonexistent/dagflare' exited with a non-zero code",
    );
    expect(nodeOf(run, "e").error).toBe("precondition not met: '`echo $B`' did not print 'dev'");
  });

  it("a check the runner can't make fails the step: an unreachable runner is no reason to skip it", async () => {
    const check = { command: "true", env: {}, expected: undefined, negate: false, skipReason: "not met" };
    const outcome = await runWithoutRunner({
      executor: "http",
      command: "GET http://127.0.0.1:1/never",
      preconditionChecks: [check],
    });
    expect(outcome).toMatchObject({
      exitCode: 1,
      runnerUnavailable: true,
      error: expect.stringContaining("no step runner"),
    });
    expect(outcome).not.toHaveProperty("skipped");
  });
});
