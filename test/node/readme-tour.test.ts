/**
 * The README's Five-minute tour, run as written: its first block's `npm run dev` line starts the
 * server (on a free port, in a fresh state folder), its receiver block runs as a background
 * process, and the other blocks run one after another in one bash, as in the reader's third
 * terminal. Only the ports differ (8787 and 9000 in the text).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { freePort } from "../../scripts/lib/local-instance.ts";
import { killLeftovers, root, startDev, stopDev } from "./dev-server.ts";

afterAll(killLeftovers);

const readme = readFileSync(join(root, "README.md"), "utf8");
const start = readme.indexOf("## Five-minute tour");
const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
const blocks = (language: string) =>
  // A block that holds ``` (the tour's templates do) is fenced with more backticks.
  [...section.matchAll(new RegExp(`^(\`{3,})${language}\\n([\\s\\S]*?)^\\1$`, "gm"))].map((match) => match[2]!);

/** Whether something listens on the port. */
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.end();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });

const ALERT_WAIT_MS = 30_000;

/** A bash the blocks run in one after another, keeping their variables; each block's stdout is returned. */
function terminal(env: NodeJS.ProcessEnv) {
  const dir = mkdtempSync(join(tmpdir(), "dagflare-tour-"));
  const shell = spawn("bash", ["--norc", "--noprofile"], { env, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  shell.stdout.on("data", (chunk) => (stdout += chunk));
  shell.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => shell.once("exit", resolve));
  shell.stdin.write("set -euo pipefail\n");
  let count = 0;
  return {
    async run(block: string): Promise<string> {
      const n = ++count;
      const file = join(dir, `block-${n}.sh`);
      writeFileSync(file, block);
      const done = `--- block ${n} done ---`;
      const from = stdout.length;
      // Sourced with stdin from /dev/null, so no command of the block can read the script's own input.
      shell.stdin.write(`source ${file} < /dev/null\necho '${done}'\n`);
      const deadline = Date.now() + 30_000;
      while (!stdout.includes(done, from)) {
        if (shell.exitCode !== null)
          throw new Error(`block ${n} failed (bash exited ${shell.exitCode}):\n${block}\n${stderr}`);
        if (Date.now() > deadline) throw new Error(`block ${n} did not finish within 30 s:\n${block}\n${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return stdout.slice(from, stdout.indexOf(done, from));
    },
    async close(): Promise<void> {
      shell.stdin.end();
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The receiver block as a background process group (node -e starts no children, but bash -c may fork). */
function startReceiver(block: string): { child: ChildProcess; output: () => string } {
  const child = spawn("bash", ["-c", block], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  return { child, output: () => output };
}

it("the README's five-minute tour works as written", async () => {
  const begin = Date.now();
  const bash = blocks("bash");
  expect(bash).toHaveLength(6);
  const [devBlock, receiverBlock, setup, policy, trigger, inspect] = bash as [string, ...string[]];

  // 1. The dev block: `npm install`, then dev with a fresh state folder and the admin password the
  // later blocks log in with. The helper runs the script `npm run dev` runs, with PORT, so the test
  // can stop it (and everything it started) cleanly.
  const devLine = /^npm install\nSTATE_DIR=\$\(mktemp -d\) ADMIN_PASSWORD=(\S+) npm run dev\n$/.exec(devBlock);
  expect(devLine, devBlock).not.toBeNull();
  const password = devLine![1]!;
  // The only substitutions: the two ports, wherever the tour names them.
  expect(new Set(section.match(/127\.0\.0\.1:\d+|listen\(\d+\)/g))).toEqual(
    new Set(["127.0.0.1:8787", "127.0.0.1:9000", "listen(9000)"]),
  );
  const dev = await startDev(
    { STATE_DIR: mkdtempSync(join(tmpdir(), "dagflare-state-")), ADMIN_PASSWORD: password },
    { readyMs: 150_000 },
  );
  const port = new URL(dev.url).port;
  // The ready line the tour tells the reader to wait for.
  expect(dev.output()).toMatch(
    new RegExp(`\\[dagflare\\] ready in \\d+\\.\\d s \\([^)]*\\): UI on http://127\\.0\\.0\\.1:${port}/, `),
  );
  const receiverPort = await freePort();
  const ports = (block: string) =>
    block
      .replaceAll("127.0.0.1:8787", `127.0.0.1:${port}`)
      .replaceAll("127.0.0.1:9000", `127.0.0.1:${receiverPort}`)
      .replaceAll(".listen(9000)", `.listen(${receiverPort})`);

  // 2. The receiver, as written but on a free port.
  const receiver = startReceiver(ports(receiverBlock!));
  const shell = terminal({ ...process.env });
  try {
    for (let i = 0; !(await listening(receiverPort)); i++) {
      if (receiver.child.exitCode !== null || i > 200)
        throw new Error(`the receiver did not start:\n${receiver.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    // 3. Login, the DAG, its webhook.
    const [created, webhookToken] = (await shell.run(ports(setup!))).trim().split("\n");
    expect(JSON.parse(created!)).toEqual({ name: "tour-deploy" });
    expect(webhookToken).toMatch(/^dagu_wh_\w+$/);

    // 4. The alert policy, a Discord destination on a 127.0.0.1 URL.
    expect(JSON.parse(await shell.run(ports(policy!)))).toBe("discord");

    // 5. Two triggers: the first answers with its run, the second's run id is kept in $RUN.
    const receivedBefore = receiver.output();
    const first = JSON.parse(await shell.run(trigger!));
    expect(first).toEqual({ dagRunId: expect.any(String), dagName: "tour-deploy" });
    // The reader waits for the receiver to print the alert: delivered at once, no retry needed.
    const deadline = Date.now() + ALERT_WAIT_MS;
    const received = () => receiver.output().slice(receivedBefore.length);
    while (!received().includes("\n") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const lines = received().trim().split("\n").filter(Boolean);
    expect(lines, `no alert within ${ALERT_WAIT_MS / 1000} s:\n${dev.output().slice(-3000)}`).toHaveLength(1);
    const alert = JSON.parse(lines[0]!);

    // 6. The failed run as pretty JSON, its step's stdout, its UI link.
    const printed = await shell.run(ports(inspect!));
    const end = printed.indexOf("\n}\n") + 2;
    const details = JSON.parse(printed.slice(0, end));
    const [log, uiLink, ...more] = printed.slice(end + 1).split("\n");
    expect(more).toEqual([""]);
    expect(uiLink).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/runs/tour-deploy/[\\w-]+$`));
    expect(details).toEqual({
      statusLabel: "failed",
      triggeredBy: `webhook:${webhookToken!.slice(0, 12)}`,
      webhookPayload: '{"version":"broken","target":"staging"}',
      error: "exit code 3",
    });
    expect(log).toBe("Deploying broken to staging");
    const page = await fetch(uiLink!);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<!doctype html>/i);

    // The alert the receiver printed is the one the README shows, for this run.
    const [shown] = blocks("json");
    const expected = JSON.parse(shown!);
    expect(alert).toEqual({
      ...expected,
      embeds: [{ ...expected.embeds[0], url: uiLink, timestamp: expect.stringMatching(/^\d{4}-.*Z$/) }],
    });
    expect(expected.embeds[0].url).toBe("http://127.0.0.1:8787/runs/tour-deploy/<the run's id>");

    // The first run (1.2.0) succeeded and printed its payload; it alerted nothing.
    const session = (await (
      await fetch(`${dev.url}/api/v2/auth/login`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: "admin", password }),
      })
    ).json()) as { token: string };
    const headers = { Authorization: `Bearer ${session.token}` };
    const firstRun = (await (
      await fetch(`${dev.url}/api/v2/dag-runs/tour-deploy/${first.dagRunId}`, { headers })
    ).json()) as { dagRunDetails: { statusLabel: string } };
    expect(firstRun.dagRunDetails.statusLabel).toBe("succeeded");
    const firstLog = (await (
      await fetch(`${dev.url}/api/v2/dag-runs/tour-deploy/${first.dagRunId}/steps/deploy/log`, { headers })
    ).json()) as { content: string };
    expect(firstLog.content).toBe("Deploying 1.2.0 to staging\n");
    console.log(
      `tour: dev ready in ${(dev.readyMs / 1000).toFixed(1)} s, all in ${((Date.now() - begin) / 1000).toFixed(1)} s`,
    );
  } finally {
    await shell.close();
    if (receiver.child.exitCode === null) process.kill(-receiver.child.pid!, "SIGTERM");
    await stopDev(dev, "SIGTERM");
  }
}, 240_000);
