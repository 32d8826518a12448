/**
 * Command and script steps end to end: the Worker's consumer drives the real step runner
 * (container/runner, a local process started by global-setup.ts) through RUNNER_URL.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import slackCommandDag from "../../../dags/slack-command.yaml?raw";
import { coordinatorFor } from "../../../src/coordinator/index.ts";
import type { StepResult } from "../../../src/domain/run.ts";
import { commandExecutor } from "../../../src/executors/command.ts";
import { callRunner, executionKey } from "../../../src/executors/runner.ts";
import type { paths } from "../../../ui/src/api/schema";
import {
  type ApiClient,
  api,
  call,
  createAndStart,
  expectEnvelope,
  nodeOf,
  ok,
  runWithoutRunner,
  stringField,
  unique,
  until,
  userWithRole,
  waitForRun,
} from "../helpers.ts";

const echo = inject("echoUrl");
let token: string;
let client: ApiClient;
beforeAll(async () => {
  token = (await userWithRole("admin")).token;
  client = api(token);
});

async function webhookFor(dag: string, spec: string): Promise<string> {
  await ok(client.POST("/dags", { body: { name: dag, spec } }), 201);
  return (await ok(client.POST("/dags/{fileName}/webhook", { params: { path: { fileName: dag } } }), 201)).token;
}

/** Triggers with exactly these bytes (a raw call), then waits for the run. */
const triggerRun = async (dag: string, webhookToken: string, rawBody: string) => {
  const result = await call("POST", `/webhooks/${dag}`, {
    headers: { Authorization: `Bearer ${webhookToken}` },
    rawBody,
  });
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  return waitForRun(token, dag, stringField(result, "dagRunId"), 20_000);
};

const stepLog = async (name: string, dagRunId: string, stepName: string, query: StepLogQuery = {}) =>
  ok(
    client.GET("/dag-runs/{name}/{dagRunId}/steps/{stepName}/log", {
      params: { path: { name, dagRunId, stepName }, query },
    }),
  );
type StepLogQuery = NonNullable<
  paths["/dag-runs/{name}/{dagRunId}/steps/{stepName}/log"]["get"]["parameters"]["query"]
>;

describe("command steps", () => {
  it("mix with http steps; outputs flow both ways; scripts and exit codes", async () => {
    const dag = unique("mixed");
    const spec = `params: WHO=world
steps:
  - name: greet
    command: echo "hello-\${WHO}"
    output: GREETING
  - name: fetch
    executor: http
    command: GET ${echo}/text/\${GREETING}
    output: FETCHED
  - name: shout
    script: |
      printf '%s!\\n' "\${FETCHED}" | tr a-z A-Z
      echo "on stderr" >&2
    output: SHOUTED
  - name: fails
    command: exit 3
    continueOn: {exitCode: [3]}
`;
    const run = await waitForRun(token, dag, await createAndStart(token, dag, spec), 20_000);
    expect(run.nodes.map((node) => [node.step.name, node.statusLabel, node.exitCode])).toEqual([
      ["greet", "succeeded", 0],
      ["fetch", "succeeded", 0],
      ["shout", "succeeded", 0],
      ["fails", "failed", 3],
    ]);
    expect(nodeOf(run, "shout").output).toBe("HELLO-WORLD!");
    const stderr = await stepLog(dag, run.dagRunId, "shout", { stream: "stderr" });
    expect(stderr).toMatchObject({ content: "on stderr\n", lineCount: 1, totalLines: 1, hasMore: false });
    // The final newline ends the last line: tail=1 is that line, not an empty one.
    const tail = await stepLog(dag, run.dagRunId, "greet", { stream: "stdout", tail: 1 });
    expect(tail).toEqual({ content: "hello-world\n", lineCount: 1, totalLines: 1, hasMore: false });
    expect(run.statusLabel).toBe("partially_succeeded");
  });

  it("env values get Dagu's expansions before the step sees them; the command's own are the shell's", async () => {
    const dag = unique("expansions");
    // What Dagu 1.30.2 printed for the same DAG: abc|dflt|cdefgh|ABCDEFGH|abcdefgh-x|cd|orld.
    const spec = `params:
  - WHO: world
env:
  - NAME: abcdefgh
  - SHORT: \${NAME:0:3}
  - DEFAULTED: \${UNSET:-dflt}
  - STRIPPED: \${NAME#ab}
  - UPPER: \${NAME^^}
  - BARE: $NAME-x
steps:
  - name: show
    env:
      - S1: \${NAME:2:2}
    preconditions:
      - condition: "\${NAME/cd/XX}-$NAME"
        expected: abXXefgh-abcdefgh
    command: echo "$SHORT|$DEFAULTED|$STRIPPED|$UPPER|$BARE|$S1|\${WHO#w}"
`;
    const run = await waitForRun(token, dag, await createAndStart(token, dag, spec), 20_000);
    expect(nodeOf(run, "show").statusLabel).toBe("succeeded");
    expect((await stepLog(dag, run.dagRunId, "show")).content).toBe("abc|dflt|cdefgh|ABCDEFGH|abcdefgh-x|cd|orld\n");
  });

  it("the seed's echo example prints exactly what it prints in Dagu", async () => {
    const dag = unique("seed-echo");
    const webhookToken = await webhookFor(
      dag,
      'steps:\n  - name: process-webhook\n    command: echo "Building branch ${WEBHOOK_PAYLOAD.branch} at commit ${WEBHOOK_PAYLOAD.commit}"\n  - name: details\n    command: |\n      echo "Repository: ${WEBHOOK_PAYLOAD.repository.name}"\n      echo "Author: ${WEBHOOK_PAYLOAD.commits.0.author.name}"\n',
    );
    const run = await triggerRun(
      dag,
      webhookToken,
      JSON.stringify({
        branch: "main",
        commit: "abc123",
        repository: { name: "dagflare" },
        commits: [{ author: { name: "Ada" } }],
      }),
    );
    const log = async (step: string) => (await stepLog(dag, run.dagRunId, step)).content;
    expect(await log("process-webhook")).toBe("Building branch main at commit abc123\n");
    expect(await log("details")).toBe("Repository: dagflare\nAuthor: Ada\n");
  });

  it("positional params are the shell's $1, $2…, in the string and the list form (Dagu 1.30.2 printed the same)", async () => {
    const printed = async (params: string) => {
      const dag = unique("positional");
      const spec = `params:${params}\nsteps:\n  - name: s\n    command: echo "$A|$1|$2|\${2}"\n`;
      const run = await waitForRun(token, dag, await createAndStart(token, dag, spec));
      expect(run.statusLabel).toBe("succeeded");
      return (await stepLog(dag, run.dagRunId, "s")).content;
    };
    expect(await printed(" x y")).toBe("|x|y|y\n");
    expect(await printed("\n  - A: b\n  - C")).toBe("b||C|C\n");
  });

  it("maxOutputSize counts the bytes a step printed, its trailing newline too (as Dagu 1.30.2)", async () => {
    const dag = unique("output-limit");
    const spec =
      'maxOutputSize: 4\ntype: graph\nsteps:\n  - name: fits\n    command: printf "abcd"\n    output: A\n  - name: newline\n    command: printf "abcd\\n"\n    output: B\n  - name: space\n    command: printf "abc \\n"\n    output: C\n';
    const run = await waitForRun(token, dag, await createAndStart(token, dag, spec));
    expect(run.nodes.map((node) => [node.step.name, node.statusLabel])).toEqual([
      ["fits", "succeeded"],
      ["newline", "failed"],
      ["space", "failed"],
    ]);
    expect(nodeOf(run, "newline").error).toBe("output exceeded maxOutputSize (4 bytes)");
  });

  it("hostile payload values are printed, never run", async () => {
    const dag = unique("hostile");
    const marker = `/tmp/dagflare-pwned-${dag}`;
    const webhookToken = await webhookFor(
      dag,
      `steps:
  - name: quoted
    command: echo "[\${WEBHOOK_PAYLOAD.a}] [\${WEBHOOK_PAYLOAD.b}] [\${WEBHOOK_PAYLOAD.c}] [\${WEBHOOK_PAYLOAD.d}]"
    output: QUOTED
  - name: unquoted
    command: echo \${WEBHOOK_PAYLOAD.c} \${WEBHOOK_PAYLOAD.e}
    output: UNQUOTED
  - name: single
    command: echo '\${WEBHOOK_PAYLOAD.d}'
    output: SINGLE
  - name: script
    script: |
      cat <<EOF
      \${WEBHOOK_PAYLOAD.a}
      EOF
      echo "\${QUOTED}"
    output: SCRIPT
  - name: check
    command: test -e ${marker} && echo pwned || echo safe
    output: CHECK
`,
    );
    const payload = {
      a: `$(touch ${marker})`,
      b: `\`touch ${marker}\``,
      c: `; touch ${marker}`,
      d: `'"; touch ${marker}; echo "'`,
      e: "${DAG_NAME}",
    };
    const run = await triggerRun(dag, webhookToken, JSON.stringify(payload));
    expect(run.statusLabel).toBe("succeeded");
    expect(nodeOf(run, "quoted").output).toBe(`[${payload.a}] [${payload.b}] [${payload.c}] [${payload.d}]`);
    expect(nodeOf(run, "unquoted").output).toBe(`; touch ${marker} \${DAG_NAME}`);
    expect(nodeOf(run, "single").output).toBe(payload.d);
    expect(nodeOf(run, "script").output).toBe(
      `${payload.a}\n[${payload.a}] [${payload.b}] [${payload.c}] [${payload.d}]`,
    );
    expect(nodeOf(run, "check").output).toBe("safe");
  });

  it("a 1 MiB payload reaches the step (as a file and a shell variable)", async () => {
    const dag = unique("big");
    const webhookToken = await webhookFor(
      dag,
      'steps:\n  - name: size\n    command: echo "$(wc -c < "$WEBHOOK_PAYLOAD_FILE") ${#WEBHOOK_PAYLOAD} ${WEBHOOK_PAYLOAD.n}"\n    output: SIZE\n',
    );
    const body = JSON.stringify({ n: 7, blob: "x".repeat(1024 * 1024 - 100) });
    const run = await triggerRun(dag, webhookToken, body);
    expect(nodeOf(run, "size").output).toBe(`${body.length} ${body.length} 7`);
  });

  it("files next to the DAG: the seed's Slack example runs ./scripts/handle-slack-command.sh", async () => {
    const dag = unique("slack");
    const webhookToken = await webhookFor(dag, slackCommandDag);
    const run = await triggerRun(dag, webhookToken, JSON.stringify({ user_name: "ada", text: "deploy api; rm -rf ~" }));
    const log = async (step: string) => (await stepLog(dag, run.dagRunId, step)).content;
    expect(await log("log-request")).toBe("User ada requested: deploy api; rm -rf ~\n");
    expect(await log("execute-action")).toBe("would deploy: api; rm -rf ~\n");
  });

  it("timeoutSec kills the command (exit 124); stop kills a running one; output streams into the log", async () => {
    const dag = unique("kill");
    const spec = "steps:\n  - name: slow\n    command: sleep 30\n    timeoutSec: 1\n";
    const timedOut = await waitForRun(token, dag, await createAndStart(token, dag, spec), 15_000);
    expect(nodeOf(timedOut, "slow")).toMatchObject({ statusLabel: "failed", exitCode: 124 });

    const chatty = unique("stop");
    const runId = await createAndStart(
      token,
      chatty,
      'steps:\n  - name: loop\n    command: for i in 1 2 3 4 5 6 7 8 9 10; do echo "line $i"; sleep 1; done\n',
    );
    // While it runs, the step log already shows its first lines.
    const content = await until(async () => {
      const { content } = await stepLog(chatty, runId, "loop");
      return content.includes("line 1") ? content : undefined;
    }, 10_000);
    expect(content).toContain("line 1");
    // Stopped, it ends now: its process doesn't print the rest of its ten seconds.
    await ok(client.POST("/dag-runs/{name}/{dagRunId}/stop", { params: { path: { name: chatty, dagRunId: runId } } }));
    const stopped = await waitForRun(token, chatty, runId);
    expect(nodeOf(stopped, "loop")).toMatchObject({ statusLabel: "aborted" });
    expect((await stepLog(chatty, runId, "loop")).content).not.toContain("line 10");
  }, 40_000);

  it("stop kills the process on the runner", async () => {
    const dag = unique("stopped");
    const runId = await createAndStart(token, dag, "steps:\n  - name: long\n    command: sleep 60\n");
    const { id: dagId } = (await env.DB.prepare("SELECT id FROM dags WHERE name = ?1")
      .bind(dag)
      .first<{ id: string }>())!;
    const key = await executionKey({ dagId, runId, step: "long", attempt: 1 });
    await until(async () => {
      const snapshot = await callRunner(env, key, "GET").catch(() => undefined);
      return snapshot?.state === "running" ? true : undefined;
    }, 10_000);
    await ok(client.POST("/dag-runs/{name}/{dagRunId}/stop", { params: { path: { name: dag, dagRunId: runId } } }));
    const run = await waitForRun(token, dag, runId);
    expect(run.statusLabel).toBe("aborted");
    const killed = await callRunner(env, key, "GET", { wait: 5_000 });
    expect(killed.result).toMatchObject({ error: "cancelled" });
  }, 30_000);

  it("without a runner, a command step fails with a clear reason", async () => {
    expect(await runWithoutRunner()).toMatchObject({
      exitCode: 1,
      error: expect.stringContaining("no step runner configured"),
    });
  });

  it("a reference whose value would end a quoted heredoc is refused, not run", async () => {
    const dag = unique("heredoc");
    const webhookToken = await webhookFor(
      dag,
      "steps:\n  - name: doc\n    script: |\n      cat <<'END'\n      ${WEBHOOK_PAYLOAD.v}\n      END\n",
    );
    const run = await triggerRun(dag, webhookToken, JSON.stringify({ v: "x\nEND\ntouch /tmp/nope" }));
    expect(nodeOf(run, "doc")).toMatchObject({
      statusLabel: "failed",
      error: expect.stringContaining("quoted heredoc"),
    });
    expectEnvelope(
      await client.GET("/dag-runs/{name}/{dagRunId}", { params: { path: { name: dag, dagRunId: "nope" } } }),
      404,
      "not_found",
    );
  });

  it("a long command is handed from one consumer to the next, which resumes polling where it stopped", async () => {
    const dag = unique("handoff");
    const runId = await createAndStart(
      token,
      dag,
      "steps:\n  - name: long\n    command: echo one; sleep 2; echo two\n    output: OUT\n",
    );
    const { id: dagId } = (await env.DB.prepare("SELECT id FROM dags WHERE name = ?1")
      .bind(dag)
      .first<{ id: string }>())!;
    const coordinator = coordinatorFor(env, dagId);
    const attempt = { dagId, runId, step: "long", attempt: 1 };
    const invocation = await until(
      async () => (await coordinator.claim({ ...attempt, resume: { stdoutFrom: 0, stderrFrom: 0 } })) ?? undefined,
      5_000,
    );
    expect(invocation).toMatchObject({ executor: "command", resume: { stdoutFrom: 0, stderrFrom: 0 } });
    const progress = (output: { stdout: string; stderr: string }) => coordinator.progress(attempt, output);
    // This consumer's time is up at once: it reports what it saw and hands the attempt over.
    const handed = await commandExecutor.run(invocation, AbortSignal.timeout(10_000), {
      env,
      handOffAt: Date.now(),
      progress,
      fence: new AbortController().signal,
    });
    expect(handed).toEqual({ handOff: { stdoutFrom: expect.any(Number), stderrFrom: 0 } });
    // The next one resumes from those offsets and sees the end.
    const resumed = await coordinator.claim({
      ...attempt,
      resume: (handed as { handOff: { stdoutFrom: number; stderrFrom: number } }).handOff,
    });
    const outcome = await commandExecutor.run(resumed!, AbortSignal.timeout(10_000), {
      env,
      handOffAt: Date.now() + 10_000,
      progress,
      fence: new AbortController().signal,
    });
    expect(outcome).toMatchObject({ exitCode: 0, stdout: "one\ntwo\n" });
    // The resumed claim fenced out the queue's own consumer (its token is old): the result is
    // this holder's to report, and only with its token.
    const finishedAt = new Date().toISOString();
    const result = { ...attempt, ...outcome, startedAt: finishedAt, finishedAt } as StepResult;
    expect(await coordinator.finish({ ...result, claim: resumed!.claim! - 1 })).toBeNull();
    expect((await coordinator.getRun(runId))!.statusLabel).toBe("running");
    await coordinator.finish({ ...result, claim: resumed!.claim });
    const run = await waitForRun(token, dag, runId);
    expect(nodeOf(run, "long").output).toBe("one\ntwo");
    // A resume for a finished attempt claims nothing.
    expect(await coordinator.claim({ ...attempt, resume: { stdoutFrom: 0, stderrFrom: 0 } })).toBeNull();
  });
});
