/**
 * `npm run dev`'s start-up work, done by the Worker itself in one request once it is up
 * (scripts/dev.ts): the pending D1 migrations applied and recorded as wrangler records them, the
 * first admin created, the repository's DAG files loaded — through the Worker's own D1 binding and
 * code, in milliseconds, where a wrangler command per migration file and a second workerd for the
 * rest took most of a minute.
 *
 * Closed everywhere else: it answers only while DEV_SETUP_SECRET is set and ENVIRONMENT is
 * "development" (src/config.ts), which `npm run dev` alone does, with a secret generated per
 * start; any other request, or one without that secret, goes on to the API, which doesn't know
 * the path (404). Cloudflare's edge keeps /cdn-cgi/ to itself in production anyway.
 */
import { z } from "zod";
import { bootstrapFirstAdmin } from "../auth/bootstrap.ts";
import { config } from "../config.ts";
import { applyMigration, ensureMigrationsTable, listAppliedMigrations } from "../db/d1-migrations.ts";
import { upsertDag } from "../db/dags.ts";
import { now } from "../db/time.ts";
import { dagFromFile } from "../domain/dag-files.ts";
import { generatePassword } from "../domain/secrets.ts";
import { DEV_SETUP_PATH, type DevSetupRequest, type DevSetupResult } from "./protocol.ts";

/**
 * wrangler dev's older path of the scheduled trigger, which its proxy rewrote to Miniflare's:
 * scripts and tests written against it keep working under `npm run dev`, which runs Miniflare
 * without that proxy.
 */
const LEGACY_SCHEDULED_PATH = "/cdn-cgi/handler/scheduled";
const SCHEDULED_PATH = "/cdn-cgi/local/scheduled";

const SetupRequestSchema = z.object({
  migrations: z.object({
    table: z.string().min(1),
    files: z.array(z.object({ name: z.string().min(1), statements: z.array(z.string()).min(1) })),
  }),
  admin: z.object({ username: z.string().min(1), password: z.string().min(1).optional() }).optional(),
  dags: z.array(z.object({ fileName: z.string().min(1), source: z.string() })),
}) satisfies z.ZodType<DevSetupRequest>;

/** The response when the request is `npm run dev`'s, `undefined` when it is the API's. */
export function devRoutes(request: Request, env: Cloudflare.Env): Promise<Response> | undefined {
  let secret: string;
  try {
    secret = config(env).devSetupSecret;
  } catch {
    return undefined; // a misconfiguration: the API reports it, in its error envelope
  }
  if (!secret) return undefined;
  const url = new URL(request.url);
  if (url.pathname === LEGACY_SCHEDULED_PATH) {
    return Promise.resolve(Response.redirect(new URL(`${SCHEDULED_PATH}${url.search}`, url).href, 307));
  }
  if (url.pathname !== DEV_SETUP_PATH || request.method !== "POST") return undefined;
  if (!sameSecret(request.headers.get("Authorization") ?? "", `Bearer ${secret}`)) return undefined;
  return setUp(request, env);
}

async function setUp(request: Request, env: Cloudflare.Env): Promise<Response> {
  const parsed = SetupRequestSchema.safeParse(await request.json().catch(() => undefined));
  if (!parsed.success) return Response.json({ code: "bad_request", message: parsed.error.message }, { status: 400 });
  const { migrations, admin, dags } = parsed.data;
  const result: DevSetupResult = { migrations: await migrate(env.DB, migrations), dags: [] };
  // On a schema short of a migration, nothing more: the failure is what `npm run dev` reports.
  if (result.migrations.failed) return Response.json(result);
  if (admin) {
    const password = admin.password ?? generatePassword();
    result.admin = (await bootstrapFirstAdmin(env.DB, admin.username, password))
      ? { created: true, generatedPassword: admin.password ? undefined : password }
      : { created: false };
  }
  for (const { fileName, source } of dags) {
    const dag = dagFromFile(fileName, source);
    result.dags.push(
      dag.ok ? { fileName, outcome: await upsertDag(env.DB, dag.record, now()) } : { fileName, errors: dag.errors },
    );
  }
  return Response.json(result);
}

/**
 * `wrangler d1 migrations apply --local`, in process: the migrations not yet recorded, in order,
 * each in a transaction of its own with its record; the first failure stops the rest.
 */
async function migrate(
  db: D1Database,
  migrations: DevSetupRequest["migrations"],
): Promise<DevSetupResult["migrations"]> {
  await ensureMigrationsTable(db, migrations.table);
  const applied = new Set(await listAppliedMigrations(db, migrations.table));
  const done: string[] = [];
  for (const file of migrations.files) {
    if (applied.has(file.name)) continue;
    try {
      await applyMigration(db, file.statements);
    } catch (error) {
      return {
        applied: done,
        failed: { name: file.name, error: error instanceof Error ? error.message : String(error) },
      };
    }
    done.push(file.name);
  }
  return { applied: done };
}

function sameSecret(given: string, expected: string): boolean {
  const encoder = new TextEncoder();
  const left = encoder.encode(given);
  const right = encoder.encode(expected);
  return left.byteLength === right.byteLength && crypto.subtle.timingSafeEqual(left, right);
}
