/**
 * `npm run dev`'s start-up route (src/dev/setup.ts): closed but to dev's per-start secret in
 * development; wrangler's migration semantics (pending files only, in order, each file atomic
 * with its record, the first failure stops the rest); the DAG files and the first admin.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DEV_SETUP_PATH, type DevSetupRequest, type DevSetupResult } from "../../../src/dev/protocol.ts";
import { sendToWorker } from "../api-client.ts";
import { unique, userWithRole } from "../helpers.ts";

const SECRET = "dev-setup-test-secret-0123456789abcdef";

function setUp(request: DevSetupRequest, overrides: Partial<Cloudflare.Env> = {}, token = SECRET): Promise<Response> {
  return sendToWorker(
    new Request(`http://dagflare.test${DEV_SETUP_PATH}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify(request),
    }),
    { DEV_SETUP_SECRET: SECRET, ...overrides },
  );
}

async function result(request: DevSetupRequest): Promise<DevSetupResult> {
  const response = await setUp(request);
  expect(response.status).toBe(200);
  return response.json();
}

/** A migration file as dev-build.ts hands it over: its statements, then wrangler's record of it. */
const file = (table: string, name: string, ...statements: string[]) => ({
  name,
  statements: [...statements, `INSERT INTO "${table}" (name)\nvalues ('${name}')`],
});

const tables = async (prefix: string) =>
  (
    await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?1 ORDER BY name")
      .bind(`${prefix}%`)
      .all<{ name: string }>()
  ).results.map((row) => row.name);

describe("npm run dev's start-up route", () => {
  const nothing: DevSetupRequest = { migrations: { table: "d1_migrations", files: [] }, dags: [] };

  it("is closed without dev's secret, with another, and outside development", async () => {
    const closed = [
      await setUp(nothing, { DEV_SETUP_SECRET: undefined }),
      await setUp(nothing, {}, "not-the-secret"),
      await setUp(nothing, { ENVIRONMENT: "production" }),
      await setUp(nothing, { ENVIRONMENT: "staging" }),
    ];
    for (const response of closed) {
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ code: "not_found" });
    }
    expect((await setUp(nothing)).status).toBe(200);
  });

  it("applies the pending migrations only, in order, and records each as wrangler does", async () => {
    const table = unique("dev_migrations").replaceAll("-", "_");
    const prefix = `${table}_t`;
    const first = file(table, "0001_a.sql", `CREATE TABLE ${prefix}1 (id INTEGER)`);
    const second = file(
      table,
      "0002_b.sql",
      `CREATE TABLE ${prefix}2 (id INTEGER)`,
      `INSERT INTO ${prefix}2 VALUES (1)`,
    );
    expect((await result({ ...nothing, migrations: { table, files: [first] } })).migrations).toEqual({
      applied: ["0001_a.sql"],
    });
    expect((await result({ ...nothing, migrations: { table, files: [first, second] } })).migrations).toEqual({
      applied: ["0002_b.sql"],
    });
    expect((await result({ ...nothing, migrations: { table, files: [first, second] } })).migrations).toEqual({
      applied: [],
    });
    const recorded = await env.DB.prepare(`SELECT id, name, applied_at FROM "${table}" ORDER BY id`).all<{
      id: number;
      name: string;
      applied_at: string;
    }>();
    expect(recorded.results.map((row) => [row.id, row.name])).toEqual([
      [1, "0001_a.sql"],
      [2, "0002_b.sql"],
    ]);
    expect(recorded.results[0]!.applied_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(await tables(prefix)).toEqual([`${prefix}1`, `${prefix}2`]);
  });

  it("stops at a failing migration, rolled back with its record; the ones before stay applied", async () => {
    const table = unique("dev_migrations").replaceAll("-", "_");
    const prefix = `${table}_t`;
    const files = [
      file(table, "0001_ok.sql", `CREATE TABLE ${prefix}1 (id INTEGER)`),
      file(table, "0002_bad.sql", `CREATE TABLE ${prefix}2 (id INTEGER)`, `INSERT INTO ${prefix}_missing VALUES (1)`),
      file(table, "0003_later.sql", `CREATE TABLE ${prefix}3 (id INTEGER)`),
    ];
    const { migrations, dags, admin } = await result({
      migrations: { table, files },
      admin: { username: "someone" },
      dags: [{ fileName: "never-read.yaml", source: "steps: []" }],
    });
    expect(migrations).toEqual({
      applied: ["0001_ok.sql"],
      failed: { name: "0002_bad.sql", error: expect.stringContaining(`no such table: ${prefix}_missing`) },
    });
    // Nothing else is attempted on a schema short of a migration.
    expect(admin).toBeUndefined();
    expect(dags).toEqual([]);
    expect(await tables(prefix)).toEqual([`${prefix}1`]);
    const recorded = await env.DB.prepare(`SELECT name FROM "${table}"`).all<{ name: string }>();
    expect(recorded.results.map((row) => row.name)).toEqual(["0001_ok.sql"]);
  });

  it("loads DAG files as the API reads specs, and leaves an existing instance's users alone", async () => {
    const name = unique("dev-setup");
    const spec = "steps:\n  - name: hello\n    command: echo hi\n";
    const dags = [
      { fileName: `${name}.yaml`, source: spec },
      { fileName: `${name}-broken.yml`, source: "steps: 42\n" },
      { fileName: "Not A Name.yaml", source: spec },
    ];
    await userWithRole("viewer");
    const first = await result({ ...nothing, admin: { username: "admin" }, dags });
    // An instance with a user (any user): no admin, no password.
    expect(first.admin).toEqual({ created: false });
    expect(first.dags).toEqual([
      { fileName: `${name}.yaml`, outcome: "created" },
      { fileName: `${name}-broken.yml`, errors: [expect.any(String)] },
      { fileName: "Not A Name.yaml", errors: [expect.stringContaining("file name 'Not A Name'")] },
    ]);
    const again = await result({ ...nothing, dags: [{ fileName: `${name}.yaml`, source: spec }] });
    expect(again.dags).toEqual([{ fileName: `${name}.yaml`, outcome: "unchanged" }]);
    const changed = await result({ ...nothing, dags: [{ fileName: `${name}.yaml`, source: `${spec}# edited\n` }] });
    expect(changed.dags).toEqual([{ fileName: `${name}.yaml`, outcome: "updated" }]);
  });

  it("refuses a malformed request", async () => {
    const response = await setUp({ dags: [] } as unknown as DevSetupRequest);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: "bad_request" });
  });

  it("keeps wrangler dev's former path of the scheduled trigger working under npm run dev", async () => {
    const response = await sendToWorker(new Request("http://dagflare.test/cdn-cgi/handler/scheduled?cron=*+*+*+*+*"), {
      DEV_SETUP_SECRET: SECRET,
    });
    expect(response.status).toBe(307);
    expect(response.headers.get("Location")).toBe("http://dagflare.test/cdn-cgi/local/scheduled?cron=*+*+*+*+*");
    const closed = await sendToWorker(new Request("http://dagflare.test/cdn-cgi/handler/scheduled?cron=*+*+*+*+*"));
    expect(closed.status).toBe(404);
  });
});
