/**
 * `npm run dev` as a new user meets it: a fresh state folder, the documented environment
 * variables, readiness within 60 s, and nothing left running after SIGINT/SIGTERM.
 */
import { mkdtempSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { killLeftovers, login, startDev, stopDev } from "./dev-server.ts";

afterAll(killLeftovers);

/** POSTs `bytes` chunked (no Content-Length) with node's client; the status and body, or the connection's error. */
function postChunked(url: string, bytes: number): Promise<{ status?: number; body?: string; error?: string }> {
  return new Promise((done) => {
    const req = request(url, { method: "POST", headers: { "Content-Type": "application/json" } });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    req.on("response", (res) => {
      let body = "";
      res.on("data", (data) => (body += data));
      res.on("end", () => done({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", (error) => done({ error: error.message }));
    const write = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", write);
      }
      req.end();
    };
    write();
  });
}

describe("npm run dev", () => {
  const stateDir = mkdtempSync(join(tmpdir(), "dagflare-state-"));
  let generatedPassword = "";

  // How fast it starts is measured by a bench, not asserted here: these machines are shared and noisy.
  it("on a fresh state folder: migrations, a generated admin password printed once, example DAGs, ready", async () => {
    const dev = await startDev({ STATE_DIR: stateDir });
    generatedPassword = /Password \(shown once[^)]*\): (\S+)/.exec(dev.output())?.[1] ?? "";
    expect(generatedPassword).toMatch(/^[1-9A-HJ-NP-Za-km-z]{20,}$/);

    const signedIn = await login(dev.url, "admin", generatedPassword);
    expect(signedIn.status).toBe(200);
    const { token } = (await signedIn.json()) as { token: string };
    const dags = await fetch(`${dev.url}/api/v2/dags?tag=example`, { headers: { Authorization: `Bearer ${token}` } });
    const names = ((await dags.json()) as { dags: { fileName: string }[] }).dags.map((dag) => dag.fileName);
    expect(names).toEqual(["example-http-check", "example-nightly-report", "example-process-webhook", "slack-command"]);
    expect((await fetch(`${dev.url}/api/v2/users`)).status).toBe(401);

    // The cron trigger (which dev fires every minute) starts a due DAG, whose command step runs
    // on the local step runner.
    const headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
    const spec =
      'schedule: "* * * * *"\nsteps:\n  - name: hello\n    command: echo "tick from $DAG_NAME"\n    output: HELLO\n';
    expect(
      (
        await fetch(`${dev.url}/api/v2/dags`, {
          method: "POST",
          headers,
          body: JSON.stringify({ name: "every-minute", spec }),
        })
      ).status,
    ).toBe(201);
    expect((await fetch(`${dev.url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent("* * * * *")}`)).status).toBe(
      200,
    );
    let run: { statusLabel: string; trigger: string; nodes: { output: string }[] } | undefined;
    for (let i = 0; i < 100 && run?.statusLabel !== "succeeded"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      run = (
        (await (await fetch(`${dev.url}/api/v2/dags/every-minute/dag-runs/latest`, { headers })).json()) as {
          dagRun?: typeof run;
        }
      ).dagRun;
    }
    expect(run).toMatchObject({
      statusLabel: "succeeded",
      trigger: "schedule",
      nodes: [{ output: "tick from every-minute" }],
    });

    await stopDev(dev, "SIGINT");
  });

  it("on restart: keeps the admin, prints no new password; SIGTERM stops everything", async () => {
    const dev = await startDev({ STATE_DIR: stateDir });
    expect(dev.output()).not.toContain("shown once");
    expect(dev.output()).toContain("users exist");
    expect((await login(dev.url, "admin", generatedPassword)).status).toBe(200);
    // Issue 17: a 20 MiB chunked upload got a reset connection instead of its 413.
    const upload = await postChunked(`${dev.url}/api/v2/webhooks/any-dag`, 20 * 1024 * 1024);
    expect(upload).toMatchObject({ status: 413, body: expect.stringContaining('"code":"payload_too_large"') });
    await stopDev(dev, "SIGTERM");
  });

  it("honours ADMIN_USERNAME/ADMIN_PASSWORD on a fresh state, and AUTH_MODE=none", async () => {
    const fresh = mkdtempSync(join(tmpdir(), "dagflare-state-"));
    const dev = await startDev({ STATE_DIR: fresh, ADMIN_USERNAME: "ops", ADMIN_PASSWORD: "chosen-password-1" });
    expect(dev.output()).not.toContain("chosen-password-1");
    expect((await login(dev.url, "ops", "chosen-password-1")).status).toBe(200);
    await stopDev(dev, "SIGTERM");

    const open = await startDev({ STATE_DIR: fresh, AUTH_MODE: "none" });
    expect((await fetch(`${open.url}/api/v2/users`)).status).toBe(200);
    await stopDev(open, "SIGINT");
  });
});
