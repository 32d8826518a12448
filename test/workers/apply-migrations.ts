import { applyD1Migrations, type D1Migration } from "cloudflare:test";
import { env } from "cloudflare:workers";

// The same migration files `wrangler d1 migrations apply` uses. Once per runtime: a project
// without isolation runs this before each of its files in the same workerd and the same D1.
const applied = Symbol.for("dagflare.migrationsApplied");
const runtime = globalThis as { [applied]?: Promise<void> };
runtime[applied] ??= applyD1Migrations(env.DB, (env as unknown as { TEST_MIGRATIONS: D1Migration[] }).TEST_MIGRATIONS);
await runtime[applied];
