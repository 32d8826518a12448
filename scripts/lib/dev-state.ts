/**
 * Step 2 of `npm run dev` (scripts/dev.ts), run by it as a child process: the first admin and the
 * repository's DAG files, written with the Worker's own functions through a local D1 binding.
 *
 * A process of its own, not a function of dev.ts: getPlatformProxy starts a workerd, which a
 * SIGKILL of the process that started it leaves running. Started by dev.ts in a process group of
 * its own, that workerd is in a group dev.ts's reaper knows.
 *
 * Environment (set by dev.ts): STATE_DIR (absolute), WRANGLER_ENV, AUTH_MODE, ADMIN_USERNAME,
 * ADMIN_PASSWORD.
 */
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { getPlatformProxy } from "wrangler";
import { bootstrapFirstAdmin } from "../../src/auth/bootstrap.ts";
import { upsertDag } from "../../src/db/dags.ts";
import { now } from "../../src/db/time.ts";
import { generatePassword } from "../../src/domain/secrets.ts";
import { readDagFiles } from "./dag-files.ts";

const root = resolve(import.meta.dirname, "..", "..");
/** [env.dev]'s D1 database_id in wrangler.toml: local state is keyed by it. */
const LOCAL_D1_DATABASE_ID = "00000000-0000-0000-0000-000000000000";
const stateDir = process.env.STATE_DIR ?? "";
const log = (message: string) => console.log(`[dagflare] ${message}`);

// Only the D1 database, as wrangler.toml's [env.dev] names it and wrangler persists it: the
// Worker's other bindings (its own entrypoints among them) need its code, not loaded here.
const configPath = join(stateDir, "dev-state.wrangler.toml");
writeFileSync(
  configPath,
  [
    'name = "dagflare-dev-state"',
    'compatibility_date = "2026-11-01"',
    "[[d1_databases]]",
    'binding = "DB"',
    'database_name = "dagflare"',
    `database_id = "${LOCAL_D1_DATABASE_ID}"`,
    "",
  ].join("\n"),
);
const proxy = await getPlatformProxy<Cloudflare.Env>({
  configPath,
  persist: { path: join(stateDir, "v3") },
  remoteBindings: false,
});
try {
  const db = proxy.env.DB;
  if (process.env.AUTH_MODE === "builtin") {
    const username = process.env.ADMIN_USERNAME || "admin";
    const given = process.env.ADMIN_PASSWORD;
    const password = given || generatePassword();
    if (await bootstrapFirstAdmin(db, username, password)) {
      if (given) log(`created admin '${username}' with the password from ADMIN_PASSWORD`);
      else printGeneratedPassword(username, password);
    } else {
      log(`users exist in ${stateDir}; no admin created (ADMIN_USERNAME/ADMIN_PASSWORD only seed an empty instance)`);
    }
  }
  for (const dag of await readDagFiles(join(root, "dags"))) {
    if (!dag.ok) {
      log(`skipped ${dag.file}:\n    ${dag.errors.join("\n    ")}`);
      continue;
    }
    const outcome = await upsertDag(db, dag.record, now());
    if (outcome !== "unchanged") log(`${outcome} DAG '${dag.record.name}' from ${dag.file}`);
  }
} finally {
  await proxy.dispose();
}

function printGeneratedPassword(username: string, password: string): void {
  const lines = [
    `First admin created: ${username}`,
    `Password (shown once, stored only as a bcrypt hash): ${password}`,
    "Set ADMIN_USERNAME / ADMIN_PASSWORD before the first start to choose them.",
  ];
  const width = Math.max(...lines.map((line) => line.length));
  console.log(
    ["", "=".repeat(width + 4), ...lines.map((line) => `| ${line.padEnd(width)} |`), "=".repeat(width + 4), ""].join(
      "\n",
    ),
  );
}
