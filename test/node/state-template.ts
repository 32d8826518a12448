/**
 * A state folder for `npm run dev` whose local D1 has every migration applied and nothing else
 * (no users, no DAGs): the tests whose subject isn't the first start copy it instead of starting
 * on an empty folder, where `wrangler d1 migrations apply --local` starts a runtime per migration
 * file (~25 s of CPU for the 16 files); dev then finds nothing to apply. test/node/dev.test.ts
 * still starts on an empty folder.
 *
 * Built in one local runtime (wrangler's getPlatformProxy on the D1 alone, as dev's state step) with the
 * migrations applied as the workers tests apply them (the `d1_migrations` table wrangler reads).
 * The node and faults projects' globalSetup starts the build and returns at once (a globalSetup
 * delays every project); tests wait for it in `migratedState()` (dev-server.ts). The template is
 * kept in the system's temporary folder under a hash of what makes it (wrangler.toml, the
 * migrations, wrangler's version), so later runs skip the build.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** The template's folder once built, and a file that holds why the build failed. */
    stateTemplate: { dir: string; failed: string };
  }
}

const root = join(import.meta.dirname, "..", "..");
const TEMPLATE_BUILD = Symbol.for("dagflare.stateTemplateBuild");

type Build = { dir: string; failed: string; done: Promise<void> };

function templateDir(): string {
  const hash = createHash("sha256");
  hash.update(readFileSync(join(root, "wrangler.toml")));
  hash.update(JSON.parse(readFileSync(join(root, "node_modules", "wrangler", "package.json"), "utf8")).version);
  for (const file of readdirSync(join(root, "migrations")).sort()) {
    hash.update(file);
    hash.update(readFileSync(join(root, "migrations", file)));
  }
  return join(tmpdir(), "dagflare-test-state", hash.digest("hex").slice(0, 16));
}

/** Built into a folder of its own, then renamed: a template that exists is complete. */
function build(dir: string, failed: string): Promise<void> {
  if (existsSync(dir)) return Promise.resolve();
  mkdirSync(join(dir, ".."), { recursive: true });
  const building = mkdtempSync(`${dir}.building-`);
  // A process of its own: wrangler's output stays out of the test run's, but for a failure.
  const child = spawn(process.execPath, [import.meta.filename, building], {
    cwd: root,
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  return new Promise((done) => {
    child.on("close", (code) => {
      try {
        if (code !== 0) throw new Error(`building it exited ${code}:\n${output}`);
        // Another run may have finished the same template meanwhile: either copy will do.
        if (!existsSync(dir)) renameSync(building, dir);
      } catch (error) {
        writeFileSync(failed, String(error));
      } finally {
        rmSync(building, { recursive: true, force: true });
        done();
      }
    });
  });
}

export default function setup(project: TestProject) {
  // Both projects' setups run in this process: one build serves them.
  const shared = globalThis as { [TEMPLATE_BUILD]?: Build };
  if (!shared[TEMPLATE_BUILD]) {
    const dir = templateDir();
    const failed = join(tmpdir(), `dagflare-test-state-failed-${process.pid}.txt`);
    shared[TEMPLATE_BUILD] = { dir, failed, done: build(dir, failed) };
  }
  const { dir, failed, done } = shared[TEMPLATE_BUILD];
  project.provide("stateTemplate", { dir, failed });
  return async () => {
    await done;
    rmSync(failed, { force: true });
  };
}

/** The build itself, in the child: the D1 of `dir` (a state folder), migrated. */
async function migrate(dir: string): Promise<void> {
  const { readD1Migrations } = await import("@cloudflare/vitest-plugin");
  const { getPlatformProxy, unstable_readConfig } = await import("wrangler");
  // Only [env.dev]'s D1 database, as wrangler persists it (local state is keyed by its id): the
  // Worker's other bindings, its own entrypoints among them, need its code, not loaded here.
  const [d1] = unstable_readConfig({ config: join(root, "wrangler.toml"), env: "dev" }).d1_databases;
  if (!d1) throw new Error("wrangler.toml: [env.dev] has no D1 database");
  const configPath = `${dir}.wrangler.toml`;
  writeFileSync(
    configPath,
    [
      'name = "dagflare-state-template"',
      'compatibility_date = "2026-11-01"',
      "[[d1_databases]]",
      `binding = "DB"`,
      `database_name = "${d1.database_name}"`,
      `database_id = "${d1.database_id}"`,
      "",
    ].join("\n"),
  );
  const proxy = await getPlatformProxy<{ DB: D1Database }>({
    configPath,
    persist: { path: join(dir, "v3") },
    remoteBindings: false,
  });
  try {
    const db = proxy.env.DB;
    await db
      .prepare(`CREATE TABLE IF NOT EXISTS d1_migrations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT UNIQUE,
        applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
      )`)
      .run();
    for (const migration of await readD1Migrations(join(root, "migrations"))) {
      const queries = migration.queries.map((query) => db.prepare(query));
      await db.batch([...queries, db.prepare("INSERT INTO d1_migrations (name) VALUES (?1)").bind(migration.name)]);
    }
  } finally {
    await proxy.dispose();
    rmSync(configPath, { force: true });
  }
}

if (import.meta.main) await migrate(process.argv[2]!);
