/**
 * The step runner (container/runner) as a real process-spawning server: auth, exit codes,
 * clean environments, large values through files, output caps and streaming, and timeouts and
 * cancels that kill the whole process tree.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_PATH, type ExecutionRequest, type Snapshot } from "../../container/runner/execution.ts";
import { IMAGE_SHELL, type Runner, startRunner } from "../../container/runner/server.ts";
import { STEP_PATH } from "../../src/domain/scope.ts";

const SECRET = "runner-test-secret-0123456789";
let runner: Runner;
const dagsDir = mkdtempSync(join(tmpdir(), "dagflare-dags-"));

beforeAll(async () => {
  writeFileSync(join(dagsDir, "hello.sh"), '#!/bin/sh\necho "hello from $(basename "$PWD")/$1"\n', { mode: 0o755 });
  process.env.HOST_ONLY_SECRET = "must-not-leak";
  runner = await startRunner({
    secret: SECRET,
    port: 0,
    host: "127.0.0.1",
    dagsDir,
    workRoot: mkdtempSync(join(tmpdir(), "dagflare-work-")),
    defaultShell: IMAGE_SHELL,
  });
});
afterAll(() => runner.close());

let keys = 0;
const auth = { Authorization: `Bearer ${SECRET}` };

async function run(
  request: Partial<ExecutionRequest>,
  wait = 10_000,
  key = `k${++keys}-${Date.now()}`,
): Promise<Snapshot> {
  const body: ExecutionRequest = {
    env: {},
    timeoutMs: 10_000,
    stdout: { limit: 256 * 1024, keep: "tail" },
    ...request,
  };
  const response = await fetch(`${runner.url}/executions/${key}?wait=${wait}`, {
    method: "PUT",
    headers: auth,
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Snapshot;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, "utf8").split(" ")[2]!.startsWith("Z");
  } catch {
    return false;
  }
};

describe("step runner", () => {
  it("refuses every request without the exact secret; answers pings", async () => {
    for (const headers of [
      {},
      { Authorization: "Bearer wrong" },
      { Authorization: `Bearer ${SECRET}x` },
      { Authorization: SECRET },
    ] as Record<string, string>[]) {
      const response = await fetch(`${runner.url}/executions/x`, { method: "PUT", headers, body: "{}" });
      expect(response.status).toBe(401);
    }
    expect((await fetch(`${runner.url}/ping`)).status).toBe(200);
  });

  it("runs commands and scripts with exit codes, in the DAGs folder, and a clean environment", async () => {
    expect((await run({ command: "exit 3" })).result).toMatchObject({ exitCode: 3, timedOut: false });
    const hello = await run({ command: "./hello.sh world" });
    expect(hello.result!.stdout.trim()).toBe(`hello from ${dagsDir.split("/").pop()}/world`);
    const script = await run({
      script: 'echo "$GREETING from a script"\necho oops >&2\nexit 0',
      env: { GREETING: "hi" },
    });
    expect(script.result).toMatchObject({ exitCode: 0, stdout: "hi from a script\n", stderr: "oops\n" });
    const interpreter = await run({ command: "cat", script: "print('${NOT_EXPANDED}')" });
    expect(interpreter.result!.stdout).toBe("print('${NOT_EXPANDED}')");

    const env = await run({ command: "env", env: { STEP_VAR: "visible" } });
    expect(env.result!.stdout).toContain("STEP_VAR=visible");
    expect(env.result!.stdout).not.toContain("must-not-leak");
    expect(env.result!.stdout).not.toContain(SECRET);
    expect((await run({ command: "exec 2>&1; no-such-command" })).result).toMatchObject({ exitCode: 127 });
  });

  it("passes values too large for the environment through files and shell variables", async () => {
    const big = `{"data": "${"x".repeat(300 * 1024)}"}\n\n`;
    const result = (
      await run({
        command:
          'printf %s "$WEBHOOK_PAYLOAD" | wc -c; wc -c < "$WEBHOOK_PAYLOAD_FILE"; env | grep -c "^WEBHOOK_PAYLOAD=" || true',
        env: { WEBHOOK_PAYLOAD: big },
      })
    ).result!;
    const [shellVar, file, exported] = result.stdout.trim().split("\n").map(Number);
    expect(shellVar).toBe(Buffer.byteLength(big));
    expect(file).toBe(Buffer.byteLength(big));
    expect(exported).toBe(0);
    const small = (
      await run({
        command: 'echo "$WEBHOOK_PAYLOAD"; cat "$WEBHOOK_PAYLOAD_FILE"',
        env: { WEBHOOK_PAYLOAD: '{"a":1}' },
      })
    ).result!;
    expect(small.stdout).toBe('{"a":1}\n{"a":1}');
  });

  it("caps output it returns, keeping the head or the tail; streams it by offsets while running", async () => {
    const tail = await run({ command: "seq 1 100000", stdout: { limit: 10, keep: "tail" } });
    expect(tail.result!.stdout).toBe("99\n100000\n");
    const head = await run({ command: "seq 1 100000", stdout: { limit: 8, keep: "head" } });
    expect(head.result!.stdout).toBe("1\n2\n3\n4\n");

    const key = `stream-${Date.now()}`;
    const streaming = await run({ command: "echo first; sleep 1; echo second" }, 300, key);
    expect(streaming.state).toBe("running");
    expect(streaming.stdout).toEqual({ chunk: "first\n", next: 6 });
    const later = (await (
      await fetch(`${runner.url}/executions/${key}?stdoutFrom=6&wait=5000`, { headers: auth })
    ).json()) as Snapshot;
    expect(later).toMatchObject({
      state: "done",
      stdout: { chunk: "second\n", next: 13 },
      result: { exitCode: 0, stdout: "first\nsecond\n" },
    });
  });

  it("a long poll answers soon after new output, not at the end of its wait (logs follow a running step)", async () => {
    const key = `follow-${Date.now()}`;
    const begin = Date.now();
    const first = await run({ command: "echo one; sleep 2; echo two >&2; sleep 30" }, 20_000, key);
    expect(first).toMatchObject({ state: "running", stdout: { chunk: "one\n", next: 4 } });
    const second = (await (
      await fetch(`${runner.url}/executions/${key}?stdoutFrom=4&wait=20000`, { headers: auth })
    ).json()) as Snapshot;
    expect(second).toMatchObject({
      state: "running",
      stdout: { chunk: "", next: 4 },
      stderr: { chunk: "two\n", next: 4 },
    });
    // Both answers came within a second or so of their output, far inside the 20 s waits.
    expect(Date.now() - begin).toBeLessThan(6_000);
    // Nothing new: the poll waits its full time (here 1.5 s) rather than spinning.
    const quietStart = Date.now();
    const quiet = (await (
      await fetch(`${runner.url}/executions/${key}?stdoutFrom=4&stderrFrom=4&wait=1500`, { headers: auth })
    ).json()) as Snapshot;
    expect(quiet.state).toBe("running");
    expect(Date.now() - quietStart).toBeGreaterThanOrEqual(1_400);
    await fetch(`${runner.url}/executions/${key}`, { method: "DELETE", headers: auth });
  });

  it("a timeout kills the whole process tree; exit code 124", async () => {
    const pidFile = join(mkdtempSync(join(tmpdir(), "pids-")), "pid");
    const started = Date.now();
    const result = (await run({ command: `sleep 30 & echo $! > ${pidFile}; sh -c 'sleep 30'`, timeoutMs: 500 }))
      .result!;
    expect(result).toMatchObject({ exitCode: 124, timedOut: true, error: "timed out after 1 s" });
    expect(Date.now() - started).toBeLessThan(5_000);
    const background = Number(readFileSync(pidFile, "utf8"));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(alive(background)).toBe(false);
  });

  it("DELETE cancels a running execution and its children", async () => {
    const pidFile = join(mkdtempSync(join(tmpdir(), "pids-")), "pid");
    const key = `cancel-${Date.now()}`;
    const body: ExecutionRequest = {
      command: `sleep 30 & echo $! > ${pidFile}; wait`,
      env: {},
      timeoutMs: 60_000,
      stdout: { limit: 1024, keep: "tail" },
    };
    await fetch(`${runner.url}/executions/${key}?wait=300`, {
      method: "PUT",
      headers: auth,
      body: JSON.stringify(body),
    });
    // Idempotent: the same key again starts nothing new.
    const again = (await (
      await fetch(`${runner.url}/executions/${key}`, { method: "PUT", headers: auth, body: JSON.stringify(body) })
    ).json()) as Snapshot;
    expect(again.state).toBe("running");
    const cancelled = (await (
      await fetch(`${runner.url}/executions/${key}`, { method: "DELETE", headers: auth })
    ).json()) as Snapshot;
    expect(cancelled.result).toMatchObject({ error: "cancelled", timedOut: false });
    expect(cancelled.result!.exitCode).not.toBe(0);
    expect(existsSync(pidFile)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(alive(Number(readFileSync(pidFile, "utf8")))).toBe(false);
  });

  it("runs a step in the runner's default shell unless it names one, with Dagu's variables; the DAG may set ENV, PATH and HOME", async () => {
    const substring = 'echo "$0 ${NAME:1:3}"';
    expect((await run({ command: substring, env: { NAME: "abcdefgh" } })).result).toMatchObject({
      exitCode: 0,
      stdout: `${IMAGE_SHELL} bcd\n`,
    });
    // A shell with options (`bash -e`), as Dagu splits it: the first failure ends the step.
    const strict = await run({ command: "false; echo after", shell: "/bin/bash -e" });
    expect(strict.result).toMatchObject({ exitCode: 1, stdout: "" });
    // A step's own shell wins (dash refuses the bash-only substring, as it does under Dagu).
    const inSh = await run({ command: substring, shell: "sh", env: { NAME: "abcdefgh" } });
    expect(inSh.result!.exitCode).not.toBe(0);
    expect(inSh.result!.stderr).toMatch(/Bad substitution/i);

    const dagu = await run({
      command:
        'echo "$SHELL|$ENV|$HOME|$PATH"; echo to-err >&2; cat "$DAG_RUN_STEP_STDERR_FILE"; test -f "$DAG_RUN_STEP_STDOUT_FILE"',
      env: { ENV: "production", HOME: "/tmp/elsewhere", PATH: "/usr/bin:/bin:/opt/tools" },
    });
    expect(dagu.result).toMatchObject({
      exitCode: 0,
      stdout: `${IMAGE_SHELL}|production|/tmp/elsewhere|/usr/bin:/bin:/opt/tools\nto-err\n`,
    });
    expect(dagu.result!.stderr).not.toContain("ignored the variable");
    // A working directory may use the step's variables and ~, as Dagu's `workingDir: $HOME`.
    const home = await run({ command: 'test "$PWD" = "$HOME" && echo home', dir: "$HOME" });
    expect(home.result).toMatchObject({ exitCode: 0, stdout: "home\n" });
    expect((await run({ command: "pwd", dir: "~" })).result!.stdout).toMatch(/^\/.+\n$/);
    expect((await run({ command: "pwd", dir: "${TOP}", env: { TOP: "/" } })).result!.stdout).toBe("/\n");
    // What the Worker expands ${PATH} to is the PATH a step gets without one.
    expect(DEFAULT_PATH).toBe(STEP_PATH);
    expect((await run({ command: 'echo "$PATH"' })).result!.stdout).toBe(`${STEP_PATH}\n`);
  });

  it("drops variables that make tools run code; refuses a missing working directory and NUL bytes as step failures", async () => {
    const marker = join(mkdtempSync(join(tmpdir(), "bash-env-")), "ran");
    writeFileSync(`${marker}.sh`, `touch ${marker}\n`);
    const dropped = await run({
      command: 'bash -c "echo \\$GREETING"',
      env: { BASH_ENV: `${marker}.sh`, LD_PRELOAD: "/nope.so", GREETING: "hi" },
    });
    expect(dropped.result).toMatchObject({ exitCode: 0, stdout: "hi\n" });
    expect(dropped.result!.stderr).toContain("ignored the variable BASH_ENV");
    expect(existsSync(marker)).toBe(false);
    expect((await run({ command: "pwd", dir: "no-such-dir" })).result).toMatchObject({
      exitCode: 1,
      error: "working directory no-such-dir does not exist",
    });
    expect((await run({ command: "echo hi", env: { V: "a\u0000b" } })).result).toMatchObject({
      exitCode: 1,
      error: expect.stringContaining("NUL"),
    });
    // A timeout beyond setTimeout's range doesn't fire at once.
    expect((await run({ command: "echo fine", timeoutMs: 10 * 2_147_483_647 })).result).toMatchObject({
      exitCode: 0,
      timedOut: false,
    });
  });

  it("answers 400 for a malformed execution and 404 for an unknown one", async () => {
    expect((await fetch(`${runner.url}/executions/bad1`, { method: "PUT", headers: auth, body: "{" })).status).toBe(
      400,
    );
    expect(
      (
        await fetch(`${runner.url}/executions/bad2`, {
          method: "PUT",
          headers: auth,
          body: JSON.stringify({ env: {} }),
        })
      ).status,
    ).toBe(400);
    expect((await fetch(`${runner.url}/executions/unknown`, { headers: auth })).status).toBe(404);
  });
});
