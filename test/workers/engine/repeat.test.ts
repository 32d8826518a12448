/**
 * repeatPolicy end to end, on the step runner: each case is one the Dagu 1.30.2 binary ran with
 * these results (runs, final status, and a log that keeps every run's stdout).
 */
import { describe, expect, it } from "vitest";
import { api, nodeOf, ok, unique, userWithRole, waitForRun } from "../helpers.ts";

/** A step that counts its runs in a file and prints the count, then does `then`. */
const counting = (name: string, folder: string, then: string, policy: string, extra = "") =>
  [
    `  - name: ${name}`,
    `    command: echo x >> ${folder}/${name}; n=$(wc -l < ${folder}/${name}); echo $n; ${then}`,
    extra,
    "    repeatPolicy:",
    ...policy.split("\n").map((line) => `      ${line}`),
  ]
    .filter((line) => line !== "")
    .join("\n");

describe("repeatPolicy", () => {
  it("repeats while / until, on exit codes, a variable's value or success, within its limit", async () => {
    const folder = `/tmp/${unique("dagflare-repeat")}`;
    const spec = [
      "type: graph",
      "steps:",
      `  - name: prepare\n    command: mkdir -p ${folder}`,
      counting("unconditional", folder, "true", "repeat: true\nlimit: 3"),
      counting("until-output", folder, "true", 'repeat: until\ncondition: "${N}"\nexpected: "3"', "    output: N"),
      counting("while-exit", folder, "test $n -ge 3", "repeat: while\nexitCode: [1]"),
      counting("until-exit-0", folder, "test $n -ge 2", "repeat: until\nexitCode: [0]"),
      counting("fails", folder, "exit 1", "repeat: true\nlimit: 3"),
      counting(
        "never-met",
        folder,
        "true",
        'repeat: until\ncondition: "${V}"\nexpected: "yes"\nlimit: 2',
        "    output: V",
      ),
      counting("while-fail-limit", folder, "exit 1", "repeat: while\nexitCode: [1]\nlimit: 2"),
      counting("implied-until", folder, "true", 'condition: "${L}"\nexpected: "2"', "    output: L"),
      counting(
        "true-is-while",
        folder,
        "true",
        'repeat: true\ncondition: "${E}"\nexpected: "2"\nlimit: 4',
        "    output: E",
      ),
      counting("implied-while", folder, "test $n -ge 2", "exitCode: [1]\nlimit: 4"),
      counting(
        "until-failing",
        folder,
        "exit 3",
        'repeat: until\ncondition: "${G}"\nexpected: "never"\nlimit: 3',
        "    output: G",
      ),
      // Conditions that run a command run on the runner after each run (Dagu 1.30.2: 2 runs).
      counting(
        "while-shell",
        folder,
        "true",
        `repeat: while\ncondition: "test $(wc -l < ${folder}/while-shell) -lt 2"`,
      ),
      counting(
        "until-shell-output",
        folder,
        "true",
        'repeat: until\ncondition: "`echo ${S}`"\nexpected: "3"',
        "    output: S",
      ),
      // An empty expected is none: the condition runs as a command (Dagu 1.30.2: 1 run).
      counting("until-empty-expected", folder, "true", 'repeat: until\ncondition: "true"\nexpected: ""\nlimit: 3'),
    ]
      .join("\n")
      .replace(/^ {2}- name: (?!prepare)(.*)$/gm, "  - name: $1\n    depends: prepare");
    const client = api((await userWithRole("manager")).token);
    const name = unique("repeat");
    await ok(client.POST("/dags", { body: { name, spec } }), 201);
    const { dagRunId } = await ok(
      client.POST("/dags/{fileName}/start", { params: { path: { fileName: name } }, body: {} }),
    );
    const run = await waitForRun((await userWithRole("viewer")).token, name, dagRunId, 30_000);
    const runs = (step: string) => [nodeOf(run, step).statusLabel, nodeOf(run, step).doneCount];
    expect({
      unconditional: runs("unconditional"),
      "until-output": runs("until-output"),
      "while-exit": runs("while-exit"),
      "until-exit-0": runs("until-exit-0"),
      fails: runs("fails"),
      "never-met": runs("never-met"),
      "while-fail-limit": runs("while-fail-limit"),
      "implied-until": runs("implied-until"),
      "true-is-while": runs("true-is-while"),
      "implied-while": runs("implied-while"),
      "until-failing": runs("until-failing"),
      "while-shell": runs("while-shell"),
      "until-shell-output": runs("until-shell-output"),
      "until-empty-expected": runs("until-empty-expected"),
    }).toEqual({
      unconditional: ["succeeded", 3],
      "until-output": ["succeeded", 3],
      "while-exit": ["succeeded", 3],
      "until-exit-0": ["succeeded", 2],
      fails: ["failed", 1],
      "never-met": ["succeeded", 2],
      "while-fail-limit": ["failed", 2],
      "implied-until": ["succeeded", 2],
      "true-is-while": ["succeeded", 1],
      "implied-while": ["succeeded", 2],
      "until-failing": ["failed", 3],
      "while-shell": ["succeeded", 2],
      "until-shell-output": ["succeeded", 3],
      "until-empty-expected": ["succeeded", 1],
    });
    expect(run.statusLabel).toBe("failed");
    // The log keeps every run's stdout; the output is the last run's.
    const log = await ok(
      client.GET("/dag-runs/{name}/{dagRunId}/steps/{stepName}/log", {
        params: { path: { name, dagRunId, stepName: "unconditional" }, query: { stream: "stdout" } },
      }),
    );
    expect(log.content).toBe("1\n2\n3\n");
    expect(nodeOf(run, "never-met").output).toBe("2");
    // ~30 command runs on the local runner: seconds when idle, more on a busy 2-core machine.
  }, 30_000);
});
