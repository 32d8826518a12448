/**
 * Dagu 2.7's step forms (`run:`, `action:` + `with:`) read as the 1.x forms and run as Dagu runs
 * them; actions dagflare can't run are refused at validation, never run as something else.
 */
import { describe, expect, inject, it } from "vitest";
import { api, nodeOf, ok, unique, userWithRole, waitForRun } from "../helpers.ts";
import { errorsOf, specOf } from "./spec-helpers.ts";

const echo = inject("echoUrl");

const stepOf = (source: string) => specOf(source).steps[0]!;

describe("Dagu 2.7 step forms", () => {
  it("run: one line is a command, several a script; with.shell picks the shell", () => {
    expect(stepOf("steps:\n  - name: a\n    run: echo hi\n")).toMatchObject({ command: "echo hi", script: undefined });
    const multi = stepOf(
      "steps:\n  - name: a\n    run: |\n      echo one\n      echo two\n    with:\n      shell: bash\n",
    );
    expect(multi).toMatchObject({ command: undefined, script: "echo one\necho two\n", shell: "bash" });
  });

  it("http.request is the http executor; exec quotes its program and arguments; noop succeeds", () => {
    const http = stepOf(
      "steps:\n  - name: a\n    action: http.request\n    with:\n      method: POST\n      url: https://x/y\n      headers: {A: b}\n      body: '{}'\n      format: json\n",
    );
    expect(http).toMatchObject({
      command: "POST https://x/y",
      executor: { type: "http", config: { headers: { A: "b" }, body: "{}", json: true } },
    });
    const exec = stepOf(
      "steps:\n  - name: a\n    action: exec\n    with:\n      command: printf\n      args: ['%s|', \"it's $(id)\", 3]\n",
    );
    expect(exec.command).toBe(`'printf' '%s|' 'it'"'"'s $(id)' '3'`);
    expect(stepOf("steps:\n  - name: a\n    action: noop\n").command).toBe("true");
  });

  it("jq.filter is the jq executor: the filter as command, data as the script (a map as JSON), raw as config", () => {
    const inline = stepOf(
      "steps:\n  - name: a\n    action: jq.filter\n    with:\n      filter: '.items[] | .name'\n      data:\n        items:\n          - name: a\n      raw: true\n",
    );
    expect(inline).toMatchObject({
      command: ".items[] | .name",
      script: '{"items":[{"name":"a"}]}',
      executor: { type: "jq", config: { raw: true } },
    });
    const text = stepOf(
      'steps:\n  - action: jq.filter\n    with:\n      filter: .name\n      data: |\n        {"name": "${WHO}"}\n',
    );
    // Named as Dagu 2.x names it (by the executor the action becomes), the data kept as text.
    expect(text).toMatchObject({ name: "jq_1", script: '{"name": "${WHO}"}\n', executor: { type: "jq", config: {} } });
    const errors = (withBlock: string) =>
      errorsOf(`steps:\n  - name: a\n    action: jq.filter\n    with:\n${withBlock}`);
    expect(errors("      data: {a: 1}\n")[0]).toMatch(/^steps\[0\]\.with\.filter: jq\.filter needs 'filter'/);
    expect(errors("      filter: .\n")[0]).toMatch(/^steps\[0\]\.with: jq\.filter needs 'data'/);
    expect(errors("      filter: .\n      data: '  '\n")[0]).toMatch(/'data' must not be empty/);
    expect(errors("      filter: .\n      input: /tmp/x.json\n")[0]).toMatch(
      /^steps\[0\]\.with\.input: 'input' reads a JSON file.*put the JSON in 'data'/,
    );
    expect(errors("      filter: .\n      data: {}\n      compact: true\n")[0]).toMatch(
      /'compact' of jq\.filter is not supported/,
    );
    // A problem with the data (the step's script) is shown where the file wrote it: in `with`.
    expect(errors("      filter: .\n      data: file://in.json\n")).toEqual([
      expect.stringMatching(/^steps\[0\]\.with: a jq step's 'file:\/\/' script reads a file.* \(line 5, col 7\)$/),
    ]);
  });

  it("Dagu 2.0–2.6's type + config is the executor, and exec: is direct exec; neither mixes with the other spellings", () => {
    const http = stepOf(
      "steps:\n  - name: a\n    type: http\n    command: GET https://x/y\n    config:\n      timeout: 5\n",
    );
    expect(http.executor).toEqual({ type: "http", config: { timeout: 5 } });
    expect(errorsOf("steps:\n  - name: a\n    type: docker\n    command: echo\n")[0]).toMatch(
      /^steps\[0\]\.type: executor 'docker' runs a container image/,
    );
    expect(stepOf("steps:\n  - name: a\n    exec:\n      command: echo\n      args: [a b]\n").command).toBe(
      `'echo' 'a b'`,
    );
    expect(
      errorsOf("steps:\n  - name: a\n    type: http\n    executor: http\n    command: GET https://x\n")[0],
    ).toMatch(/'type'\/'config' \(Dagu 2\.0–2\.6\) and 'executor' \(1\.x\) are two spellings/);
    expect(errorsOf("steps:\n  - name: a\n    config: {timeout: 5}\n    command: GET https://x\n")[0]).toMatch(
      /^steps\[0\]\.config: 'config' goes with 'type'/,
    );
    expect(errorsOf("steps:\n  - name: a\n    run: echo\n    exec: {command: echo}\n")[0]).toMatch(
      /not 'run' and 'exec'/,
    );
  });

  it("refuses what it can't run: actions by name and family, mixed forms, stray options", () => {
    const refusal = (action: string) => errorsOf(`steps:\n  - name: a\n    action: ${action}\n`)[0];
    expect(refusal("docker.run")).toMatch(
      /^steps\[0\]\.action: action 'docker\.run' runs a container image.*\(line 3, col 13\)$/,
    );
    expect(refusal("dag.run")).toMatch(/^steps\[0\]\.with\.dag: expected the name of the DAG to run/);
    expect(refusal("router.route")).toMatch(/^steps\[0\]\.action\.value: is required/);
    expect(refusal("postgres.query")).toMatch(/database/);
    expect(refusal("redis.get")).toMatch(/Redis/);
    expect(refusal("acme/deploy@v1")).toMatch(/remote and custom actions/);
    expect(refusal("frobnicate")).toMatch(/unknown action 'frobnicate'/);
    expect(errorsOf("steps:\n  - name: a\n    call: other\n    run: echo\n")[0]).toMatch(
      /^steps\[0\]\.call: a step either calls a DAG or runs something itself, not 'call' and 'run'/,
    );
    expect(errorsOf("steps:\n  - name: a\n    run: echo\n    command: echo\n")[0]).toMatch(/not 'run' and 'command'/);
    expect(errorsOf("steps:\n  - name: a\n    command: echo\n    with: {shell: bash}\n")[0]).toMatch(
      /'with' goes with/,
    );
    expect(errorsOf("steps:\n  - name: a\n    run: echo\n    with: {shell_args: [-e]}\n")[0]).toMatch(
      /^steps\[0\]\.with\.shell_args: 'shell_args' is not supported with run/,
    );
    expect(
      errorsOf(
        "steps:\n  - name: a\n    action: http.request\n    with: {method: GET, url: 'https://x', files: {a: b}}\n",
      )[0],
    ).toMatch(/'files' of http\.request is not supported/);
  });

  it("an error about a 2.x step names the key the file wrote, at its line", () => {
    expect(errorsOf("steps:\n  - name: a\n    run: echo\n    executor: docker\n")[0]).toMatch(
      /^steps\[0\]\.run: a step is one of .*\(line 3, col 10\)$/,
    );
  });

  it("run, exec, noop, http.request, jq.filter and log.write steps run through the API as Dagu runs them", async () => {
    const client = api((await userWithRole("manager")).token);
    const name = unique("two-x");
    const spec = `type: graph
steps:
  - name: shell
    run: |
      echo "one"
      echo "two"
    output: LINES
  - name: direct
    action: exec
    with:
      command: printf
      args: ["%s", "$(echo not-a-subshell)"]
  - name: nothing
    action: noop
  - name: call-api
    action: http.request
    with:
      method: GET
      url: ${echo}/text/hello
      silent: true
  - name: filter
    action: jq.filter
    with:
      filter: '.data[] | [., 100 * .] | @tsv'
      data: |
        { "data": [1, 2, 3] }
      raw: true
    output: TSV
  - name: note
    action: log.write
    with:
      message: "deployed \${LINES.missing}to ${"$"}{DAG_NAME}"
    depends: shell
    output: NOTE
`;
    await ok(client.POST("/dags", { body: { name, spec } }), 201);
    const { dagRunId } = await ok(
      client.POST("/dags/{fileName}/start", { params: { path: { fileName: name } }, body: {} }),
    );
    const run = await waitForRun((await userWithRole("viewer")).token, name, dagRunId);
    expect(run.statusLabel).toBe("succeeded");
    expect(nodeOf(run, "shell").output).toBe("one\ntwo");
    const direct = await ok(
      client.GET("/dag-runs/{name}/{dagRunId}/steps/{stepName}/log", {
        params: { path: { name, dagRunId, stepName: "direct" }, query: { stream: "stdout" } },
      }),
    );
    expect(direct.content).toBe("$(echo not-a-subshell)");
    const callApi = await ok(
      client.GET("/dag-runs/{name}/{dagRunId}/steps/{stepName}/log", {
        params: { path: { name, dagRunId, stepName: "call-api" }, query: { stream: "stdout" } },
      }),
    );
    expect(callApi.content).toBe("hello");
    // Dagu 2.x's own test of this step (internal/intg/jq_test.go, TSVOutputWithRawTrue) expects this output.
    expect(nodeOf(run, "filter").output).toBe("1\t100\n2\t200\n3\t300");
    expect(nodeOf(run, "nothing").statusLabel).toBe("succeeded");
    // log.write writes its expanded message and a newline (Dagu 2.x's log executor).
    const note = await ok(
      client.GET("/dag-runs/{name}/{dagRunId}/steps/{stepName}/log", {
        params: { path: { name, dagRunId, stepName: "note" }, query: { stream: "stdout" } },
      }),
    );
    expect(note.content).toBe(`deployed to ${name}\n`);
  });

  it("log.write takes one option, its message; an unnamed one is log_N", () => {
    expect(stepOf("steps:\n  - action: log.write\n    with: {message: hi}\n")).toMatchObject({
      name: "log_1",
      command: "hi",
      executor: { type: "log" },
    });
    expect(errorsOf("steps:\n  - action: log.write\n    with: {msg: hi}\n")).toEqual(
      expect.arrayContaining([
        "steps[0].with.msg: unknown option 'msg' of log.write (it has 'message') (line 3, col 17)",
        expect.stringMatching(/^steps\[0\]\.with\.message: log\.write needs 'message': the text to write/),
      ]),
    );
  });
});
