/**
 * Dagu executors dagflare can't run are refused when the DAG is validated, naming the executor
 * and what to use instead — never accepted and run as a shell command.
 */
import { describe, expect, it } from "vitest";
import { formatSpecError, parseDagSpec } from "../../../src/domain/dag-spec.ts";
import { executorRefusal } from "../../../src/domain/executor-support.ts";
import { api, expectEnvelope, ok, unique, userWithRole } from "../helpers.ts";
import { errorsOf, specOf } from "./spec-helpers.ts";

const withExecutor = (executor: string) => `steps:\n  - name: a\n    executor: ${executor}\n    command: echo hi\n`;

describe("step executors", () => {
  it("accepts Dagu's shell executor by each name, no executor at all, http and jq", () => {
    for (const spec of [
      withExecutor("shell"),
      withExecutor("command"),
      "steps:\n  - name: a\n    command: echo hi\n",
    ]) {
      expect(parseDagSpec(spec).ok).toBe(true);
    }
    expect(parseDagSpec("steps:\n  - name: a\n    executor: http\n    command: GET https://example.com\n").ok).toBe(
      true,
    );
    expect(parseDagSpec("steps:\n  - name: a\n    executor: jq\n    command: .a\n    script: '{}'\n").ok).toBe(true);
  });

  it("refuses a jq step Dagu can't run as a filter: a list, a filter of several lines, a file as input", () => {
    const jqStep = (rest: string) => `steps:\n  - name: a\n    executor: jq\n${rest}`;
    // Dagu 1.30.2 refuses the list ("executor does not support multiple commands"), and runs a
    // command of several lines as the script (the filter becomes the JSON it fails to read).
    expect(errorsOf(jqStep("    command: ['.a', '.b']\n    script: '{}'\n"))[0]).toMatch(
      /^steps\[0\]\.command: a jq step's command is its one filter, not a list/,
    );
    expect(errorsOf(jqStep("    command: |\n      .a\n      | .b\n    script: '{}'\n"))[0]).toMatch(
      /^steps\[0\]\.command: a jq filter of several lines/,
    );
    expect(specOf(jqStep("    command: |\n      .a\n    script: '{}'\n")).steps[0]!.command).toBe(".a\n");
    expect(errorsOf(jqStep("    command: .a\n    script: file:///data/x.json\n"))[0]).toMatch(
      /^steps\[0\]\.script: a jq step's 'file:\/\/' script reads a file/,
    );
    expect(errorsOf("steps:\n  - name: a\n    type: jq\n    config: {input: /x.json}\n    command: .a\n")[0]).toMatch(
      /^steps\[0\]\.type: jq's 'input' reads a JSON file/,
    );
  });

  it("refuses each executor it can't run, at its line, with the alternative", () => {
    const cases: [string, RegExp][] = [
      ["docker", /install what the command needs/],
      ["ssh", /no SSH client/],
      ["mail", /alert policy/],
      ["dag", /write `call: <dag>`/],
      ["subworkflow", /write `call: <dag>`/],
      ["parallel", /`call: <dag>` with `parallel:`/],
      ["github_action", /workflow_dispatch/],
      ["gha", /workflow_dispatch/],
      ["archive", /tar or zip/],
      ["hitl", /approval.*webhook/],
      ["nonsense", /unknown executor 'nonsense'/],
    ];
    for (const [type, alternative] of cases) {
      const result = parseDagSpec(withExecutor(type));
      expect(result.ok, type).toBe(false);
      if (result.ok) continue;
      const [message] = result.errors.map(formatSpecError);
      expect(message).toMatch(new RegExp(`^steps\\[0\\]\\.executor: (unknown )?executor '${type}'`));
      expect(message).toMatch(alternative);
      expect(message).toMatch(/\(line 3, col \d+\)$/);
    }
  });

  it("refuses the {type, config} form and handlers alike", () => {
    const spec = `handlerOn:\n  failure:\n    executor:\n      type: docker\n      config: {image: alpine}\n    command: echo x\nsteps:\n  - name: a\n    executor: {type: ssh, config: {host: h}}\n    command: ls\n`;
    const result = parseDagSpec(spec);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((error) => error.field).sort()).toEqual([
      "handlerOn.failure.executor",
      "steps[0].executor",
    ]);
    expect(executorRefusal("http")).toBeUndefined();
  });

  it("an API save of such a DAG is a 400 that stores nothing", async () => {
    const client = api((await userWithRole("manager")).token);
    const name = unique("docker-step");
    const refused = await client.POST("/dags", { body: { name, spec: withExecutor("docker") } });
    expect(expectEnvelope(refused, 400, "bad_request").message).toMatch(/executor 'docker'/);
    const missing = await client.GET("/dags/{fileName}", { params: { path: { fileName: name } } });
    expectEnvelope(missing, 404, "not_found");
    await ok(client.POST("/dags/validate", { body: { spec: withExecutor("shell") } }));
  });
});

describe("Dagu fields dagflare doesn't run", () => {
  const firstError = (source: string) => errorsOf(source)[0];

  it("are refused naming the feature and what to use instead, in either spelling, at the DAG and in steps", () => {
    expect(firstError("dotenv: .env\nsteps:\n  - echo a\n")).toBe(
      "dotenv: 'dotenv' loads .env files next to the DAG, which dagflare doesn't keep: set the variables in `env:` (line 1, col 1)",
    );
    expect(firstError("mail_on: {failure: true}\nsteps:\n  - echo a\n")).toMatch(
      /^mail_on: 'mail_on' sends e-mail.*alert policy/,
    );
    expect(firstError("steps:\n  - name: a\n    command: x\n    parallel: [a, b]\n")).toMatch(
      /^steps\[0\]\.parallel: 'parallel' runs one call per item of a sub-DAG: it goes with 'call'/,
    );
    expect(firstError("steps:\n  - name: a\n    command: x\n    signal_on_stop: SIGINT\n")).toMatch(
      /SIGTERM, then SIGKILL/,
    );
    expect(firstError("retry_policy: {limit: 2}\nsteps:\n  - echo a\n")).toMatch(/retries the whole DAG.*on the steps/);
    expect(firstError("handler_on:\n  init:\n    command: echo\nsteps:\n  - echo a\n")).toMatch(
      /^handler_on\.init: 'init' runs a handler before the steps, which is not supported yet/,
    );
    // Only where Dagu has them: a step field inside a retry policy is just unknown.
    expect(firstError("steps:\n  - name: a\n    command: x\n    retryPolicy: {limit: 1, stdout: x}\n")).toMatch(
      /^steps\[0\]\.retryPolicy\.stdout: unknown field 'stdout'/,
    );
  });

  // Every property of Dagu 2.15's dag.schema.json (../shared/reference/dagu-2), at the top and in a step.
  const DAGU_2_DAG_KEYS = [
    "actions",
    "artifacts",
    "catchup_window",
    "consts",
    "container",
    "defaults",
    "delay_sec",
    "description",
    "dotenv",
    "env",
    "error_mail",
    "group",
    "handler_on",
    "harness",
    "harnesses",
    "hist_retention_days",
    "hist_retention_runs",
    "info_mail",
    "kubernetes",
    "labels",
    "llm",
    "log_dir",
    "log_output",
    "mail_on",
    "max_active_runs",
    "max_active_steps",
    "max_clean_up_time_sec",
    "max_output_size",
    "name",
    "otel",
    "overlap_policy",
    "params",
    "preconditions",
    "queue",
    "redis",
    "registry_auths",
    "resources",
    "restart_wait_sec",
    "retry_policy",
    "run_config",
    "s3",
    "schedule",
    "secrets",
    "shell",
    "shell_args",
    "skip_if_successful",
    "smtp",
    "ssh",
    "step_types",
    "steps",
    "tags",
    "tasks",
    "timeout_sec",
    "tools",
    "type",
    "webhook",
    "worker_selector",
    "working_dir",
  ];
  const DAGU_2_STEP_KEYS = [
    "action",
    "approval",
    "call",
    "command",
    "config",
    "container",
    "continue_on",
    "dependencies",
    "depends",
    "description",
    "env",
    "exec",
    "foreach",
    "id",
    "inputs",
    "llm",
    "log_output",
    "mail_on_error",
    "messages",
    "name",
    "output",
    "output_schema",
    "outputs",
    "parallel",
    "params",
    "preconditions",
    "repeat_policy",
    "retry_policy",
    "routes",
    "run",
    "script",
    "shell",
    "shell_args",
    "shell_packages",
    "signal_on_stop",
    "stderr",
    "stdout",
    "timeout_sec",
    "tools",
    "type",
    "value",
    "with",
    "worker_selector",
    "working_dir",
  ];

  it("a command substitution in an env or param value (Dagu runs it when the DAG loads) is refused, not kept as text", () => {
    const source =
      'env:\n  - TODAY: "`date +%Y`"\nparams: D="`echo x`"\nsteps:\n  - name: s\n    command: echo "$TODAY $D"\n    env:\n      W: "`whoami`"\n';
    expect(errorsOf(source)).toEqual([
      expect.stringMatching(/^params: 'D' runs a command .*\(line 3, col 9\)$/),
      "env[0].TODAY: 'TODAY' runs a command (`…`) when the DAG loads, which dagflare doesn't: run it in a step with `output:` and use that variable (line 2, col 12)",
      expect.stringMatching(/^steps\[0\]\.env\.W: 'W' runs a command .*\(line 8, col 10\)$/),
    ]);
    // In a command, backticks are the shell's own business.
    expect(() => specOf("steps:\n  - name: s\n    command: echo `date`\n")).not.toThrow();
  });

  it("every field of Dagu 2.15's schema is read or refused with a reason, never an unknown field", () => {
    const problems = (source: string) => {
      const result = parseDagSpec(source);
      return result.ok ? [] : result.errors.map((error) => error.message);
    };
    const unknown = [
      ...DAGU_2_DAG_KEYS.map((key) => [key, problems(`${key}: 1\nsteps:\n  - echo a\n`)] as const),
      ...DAGU_2_STEP_KEYS.map((key) => [`steps[].${key}`, problems(`steps:\n  - name: a\n    ${key}: 1\n`)] as const),
    ].filter(([, messages]) => messages.some((message) => message.startsWith("unknown field")));
    expect(unknown).toEqual([]);
  });
});
