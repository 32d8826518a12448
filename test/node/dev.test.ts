/**
 * `npm run dev` as a new user meets it: a fresh state folder, the documented environment
 * variables, readiness, and nothing left running after SIGINT/SIGTERM. Its log: our
 * lines and real problems only, the start-up time on the ready line; a restart redoes nothing
 * that hasn't changed (no migration, no build); its D1 migrations are wrangler's.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { createDag, fanOutOverChildren, login as loginToken, startRun, waitForRun } from "../../scripts/lib/dag-api.ts";
import { killLeftovers, login, root, startDev, stopDev } from "./dev-server.ts";

afterAll(killLeftovers);

const READY_LINE =
  /\[dagflare\] ready in \d+\.\d s \((built the .+ in \d+\.\d s; )?(the .+ from the build cache; )?load average \d+\.\d\d\): UI on http/;

/**
 * What wrangler and Miniflare used to print at every start, all harmless (scripts/dev.ts): none
 * may come back. Any other warning of theirs fails the test too, until it is looked at.
 */
const KNOWN_HARMLESS = [
  "Migrations to be applied", // the migration table, per file
  "commands executed successfully",
  '"env.dev" environment configuration', // [env.dev] lacking RUNNER_INSTANCES, RUNNER, containers
  "no such Durable Object class is exported",
  "internal Durable Objects",
  "Scheduled Workers are not automatically triggered", // dev fires the cron itself
  "Using secrets defined in",
  "PLUGIN_TIMINGS", // Vite's note on a slow build
];

function expectQuietLog(output: string): void {
  for (const notice of KNOWN_HARMLESS) expect(output).not.toContain(notice);
  expect(output).not.toMatch(/WARNING|\[mf:warn\]|\[mf:error\]|✘/);
}

const wrangler = (...args: string[]) =>
  promisify(execFile)(process.execPath, [join(root, "node_modules", "wrangler", "bin", "wrangler.js"), ...args], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });

/**
 * Sends `bytes` of body with node's client, chunked (no Content-Length) unless `withLength`; the
 * status and body, or the connection's error.
 */
function upload(
  url: string,
  bytes: number,
  { method = "POST", withLength = false }: { method?: string; withLength?: boolean } = {},
): Promise<{ status?: number; body?: string; error?: string }> {
  return new Promise((done) => {
    const headers = { "Content-Type": "application/json", ...(withLength && { "Content-Length": String(bytes) }) };
    const req = request(url, { method, headers });
    const chunk = Buffer.alloc(64 * 1024, 0x5b);
    let sent = 0;
    req.on("response", (res) => {
      let body = "";
      res.on("data", (data) => (body += data));
      res.on("end", () => done({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", (error) => done({ error: error.message }));
    const write = () => {
      while (sent < bytes) {
        const size = Math.min(chunk.length, bytes - sent);
        sent += size;
        if (!req.write(chunk.subarray(0, size))) return void req.once("drain", write);
      }
      req.end();
    };
    write();
  });
}

/** The X-Request-Id that answers a GET sending `id` (node writes a header's characters as latin1 bytes). */
function answeredRequestId(url: string, id: string): Promise<string | string[] | undefined> {
  return new Promise((done, fail) => {
    const req = request(url, { headers: { "X-Request-Id": id } }, (res) => {
      res.resume();
      done(res.headers["x-request-id"]);
    });
    req.on("error", fail);
    req.end();
  });
}

describe("npm run dev", () => {
  const stateDir = mkdtempSync(join(tmpdir(), "dagflare-state-"));
  // Its own build cache (scripts/lib/build-cache.ts), empty: the first start builds.
  const buildCache = mkdtempSync(join(tmpdir(), "dagflare-build-cache-"));
  let generatedPassword = "";

  // How fast it starts is measured by a bench, not asserted here: these machines are shared and noisy.
  it("on a fresh state folder: migrations, a generated admin password printed once, example DAGs, ready", async () => {
    const dev = await startDev({ STATE_DIR: stateDir, BUILD_CACHE_DIR: buildCache });
    const migrations = readdirSync(join(root, "migrations")).filter((file) => file.endsWith(".sql"));
    expect(dev.output()).toContain(`[dagflare] applied ${migrations.length} D1 migrations (${migrations[0]} … `);
    expect(dev.output()).toContain("[dagflare] building the UI");
    expect(dev.output()).toContain("[dagflare] building the Worker");
    expect(dev.output()).toMatch(READY_LINE);
    expectQuietLog(dev.output());
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

    // wrangler reads dev's record of the migrations as its own: all of them applied, in order.
    const local = ["DB", "--local", "--env", "dev", "--persist-to", stateDir];
    expect((await wrangler("d1", "migrations", "list", ...local)).stdout).toContain("No migrations to apply");
    const { stdout } = await wrangler(
      "d1",
      "execute",
      ...local,
      "--json",
      "--command",
      "SELECT name FROM d1_migrations ORDER BY id",
    );
    expect((JSON.parse(stdout) as { results: { name: string }[] }[])[0]!.results.map((row) => row.name)).toEqual(
      migrations,
    );
  });

  it("on restart: keeps the admin, prints no new password, redoes nothing unchanged; SIGTERM stops everything", async () => {
    const dev = await startDev({ STATE_DIR: stateDir });
    expect(dev.output()).not.toContain("shown once");
    expect(dev.output()).toContain("users exist");
    // Nothing changed since the last start on this state: no migration, no build, no DAG written.
    expect(dev.output()).not.toMatch(/applied \d+ D1 migration|building the|created DAG|updated DAG/);
    expect(dev.output()).toMatch(READY_LINE);
    expectQuietLog(dev.output());
    expect((await login(dev.url, "admin", generatedPassword)).status).toBe(200);
    // Issue 17: a 20 MiB chunked upload got a reset connection instead of its 413.
    const tooLarge = await upload(`${dev.url}/api/v2/webhooks/any-dag`, 20 * 1024 * 1024);
    expect(tooLarge).toMatchObject({ status: 413, body: expect.stringContaining('"code":"payload_too_large"') });
    // A body the answer doesn't read (a GET's; a 401 given before the body is looked at) is read
    // to its end before the answer goes out: one in ten such GETs used to get a reset (the fuzz).
    const unread: string[] = [];
    for (let i = 0; i < 10; i++) {
      const get = await upload(`${dev.url}/api/v2/openapi.json`, 500 * 1024, { method: "GET", withLength: true });
      const post = await upload(`${dev.url}/api/v2/dags`, 500 * 1024, { withLength: true });
      unread.push(`GET ${get.status ?? get.error}`, `POST ${post.status ?? post.error}`);
    }
    expect(new Set(unread)).toEqual(new Set(["GET 200", "POST 401"]));
    // A non-ASCII request id, as its bytes arrive from a client, is replaced by a fresh one
    // (request-id.test.ts checks the other characters: workerd warns when a test builds this header).
    expect(await answeredRequestId(`${dev.url}/api/v2/health`, "id\u00e9")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
    await stopDev(dev, "SIGTERM");
  });

  it("a parallel fan-out's runs that end together all reach their caller at once", async () => {
    // A run's end its caller missed is found by a timer only (a calling step's check, an executor's
    // silence: 20 s and more), and shows as a long run in the caller's record. A change that
    // asked for sub-DAG traffic just as a pass decided to stop was lost: a fan-out over 100 child
    // DAGs took 17–20 s instead of 3 in 5 of 12 runs on this stack (it never showed in the
    // workers pool's timing); three runs find it nearly always.
    const dev = await startDev({ STATE_DIR: stateDir, BUILD_CACHE_DIR: buildCache });
    const client = {
      api: `${dev.url}/api/v2`,
      token: await loginToken(`${dev.url}/api/v2`, { username: "admin", password: generatedPassword }),
    };
    await createDag(client, "fan-ends", fanOutOverChildren(10));
    for (let run = 0; run < 3; run++) {
      const runId = await startRun(client, "fan-ends");
      await waitForRun(client, "fan-ends", runId, 50);
      const response = await fetch(`${client.api}/dag-runs/fan-ends/${runId}/sub-dag-runs`, {
        headers: { Authorization: `Bearer ${client.token}` },
      });
      const { subRuns } = (await response.json()) as { subRuns: { startedAt: string; finishedAt: string }[] };
      expect(subRuns).toHaveLength(100);
      const longest = Math.max(...subRuns.map((each) => Date.parse(each.finishedAt) - Date.parse(each.startedAt)));
      expect(longest).toBeLessThan(8_000);
    }
    await stopDev(dev, "SIGTERM");
  });

  it("honours ADMIN_USERNAME/ADMIN_PASSWORD on a fresh state, and AUTH_MODE=none", async () => {
    const fresh = mkdtempSync(join(tmpdir(), "dagflare-state-"));
    const dev = await startDev({
      STATE_DIR: fresh,
      BUILD_CACHE_DIR: buildCache,
      ADMIN_USERNAME: "ops",
      ADMIN_PASSWORD: "chosen-password-1",
    });
    // The first test's builds, from the cache: nothing built again for a second state folder.
    expect(dev.output()).toContain("(the UI and the Worker from the build cache; load average");
    expect(dev.output()).not.toContain("building the");
    expect(readFileSync(join(fresh, "ui-dist", "index.html"), "utf8")).toBe(
      readFileSync(join(stateDir, "ui-dist", "index.html"), "utf8"),
    );
    expect(dev.output()).not.toContain("chosen-password-1");
    expect(dev.output()).toContain("created admin 'ops' with the password from ADMIN_PASSWORD");
    expect((await login(dev.url, "ops", "chosen-password-1")).status).toBe(200);
    await stopDev(dev, "SIGTERM");

    // The UI's recorded sources no longer match (as after an edit under ui/), and the cache has
    // no build of them: rebuilt, and only it.
    writeFileSync(join(fresh, "ui-dist.sha256"), "an edit under ui/");
    const emptyCache = mkdtempSync(join(tmpdir(), "dagflare-build-cache-"));
    const open = await startDev({ STATE_DIR: fresh, BUILD_CACHE_DIR: emptyCache, AUTH_MODE: "none" });
    expect(open.output()).toContain("[dagflare] building the UI");
    expect(open.output()).not.toContain("building the Worker");
    expect((await fetch(`${open.url}/api/v2/users`)).status).toBe(200);
    expect((await fetch(`${open.url}/dags`)).headers.get("content-type")).toContain("text/html");

    // Its start-up route (src/dev/setup.ts) is closed to anyone without its per-start secret,
    // even with every API route open.
    const body = JSON.stringify({ migrations: { table: "d1_migrations", files: [] }, dags: [] });
    const attempts: Record<string, string>[] = [{}, { Authorization: "Bearer not-the-secret" }];
    for (const headers of attempts) {
      const response = await fetch(`${open.url}/cdn-cgi/dagflare/dev-setup`, { method: "POST", headers, body });
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ code: "not_found" });
    }
    await stopDev(open, "SIGINT");
  });
});
