/**
 * The Worker of `npm run dev` (scripts/dev.ts): Miniflare running the build of dev-build.ts — one
 * workerd, serving the API, the admin UI's files (Workers static assets) and the cron and queue
 * handlers on 127.0.0.1:$PORT, its state under $STATE_DIR/v3 where `wrangler dev --persist-to
 * $STATE_DIR` keeps it (so either can open the other's state).
 *
 * Not `wrangler dev`: two Node processes loading 15 MB of wrangler, a bundle at every start, and a
 * second workerd for its proxy (14–20 s of the former start-up on a loaded 2-core machine). This
 * loads Miniflare alone, while dev.ts checks the builds, and runs one workerd.
 *
 * A process of its own, started by dev.ts in a process group of its own (its workerd is in it),
 * which dev.ts's reaper ends if dev.ts dies. It talks to dev.ts over the IPC channel:
 *   ← { type: "start" | "reload", buildDir, uiDir }   → { type: "started" | "reloaded", url }
 *                                                     → { type: "failed", message }
 * and exits when the channel closes (dev.ts gone).
 *
 * Environment (set by dev.ts): PORT, STATE_DIR, the Worker's secrets and the vars it overrides
 * (ENVIRONMENT, AUTH_MODE, RUNNER_URL, PUBLIC_URL, JWT_SECRET, RUNNER_SECRET), DEV_SETUP_SECRET.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { WorkerBuild } from "./dev-build.ts";

export type DevWorkerCommand = { type: "start" | "reload"; buildDir: string; uiDir: string };
export type DevWorkerEvent = { type: "started" | "reloaded"; url: string } | { type: "failed"; message: string };

// Loading while dev.ts checks the builds; the listeners below are in place before the first
// message. require(), not import(): Node would first scan Miniflare's 6 MB of CommonJS for its
// exports (~0.2 s of CPU). dev.ts sets NODE_COMPILE_CACHE, which saves another third.
const loading = Promise.resolve().then(() => createRequire(import.meta.url)("miniflare") as typeof import("miniflare"));

const port = Number(process.env.PORT);
const stateDir = process.env.STATE_DIR ?? "";
let miniflare: import("miniflare").Miniflare | undefined;

const send = (event: DevWorkerEvent) => process.send?.(event);

process.on("disconnect", () => {
  if (!miniflare) process.exit(0);
  void miniflare.dispose().finally(() => process.exit(0));
});

process.on("message", (command: DevWorkerCommand) => {
  void (async () => {
    try {
      const { Log, LogLevel, Miniflare, convertV4MiniflareOptions } = await loading;
      const options = miniflareOptions(command, convertV4MiniflareOptions, new Log(LogLevel.WARN));
      if (!miniflare) {
        miniflare = new Miniflare(options);
        send({ type: "started", url: String(await miniflare.ready) });
      } else {
        await miniflare.setOptions(options);
        send({ type: "reloaded", url: String(await miniflare.ready) });
      }
    } catch (error) {
      send({ type: "failed", message: error instanceof Error ? error.message : String(error) });
    }
  })();
});

function miniflareOptions(
  { buildDir, uiDir }: DevWorkerCommand,
  convertV4MiniflareOptions: typeof import("miniflare").convertV4MiniflareOptions,
  log: import("miniflare").Log,
) {
  const build = JSON.parse(readFileSync(join(buildDir, "worker.json"), "utf8")) as WorkerBuild;
  // As wrangler dev binds them: wrangler.toml's vars, with values from the environment for the
  // declared vars and required secrets (as wrangler does when the config declares [secrets]).
  const bindings: Record<string, unknown> = { ...build.vars };
  for (const name of build.fromEnvironment) {
    if (process.env[name] !== undefined) bindings[name] = process.env[name];
  }
  bindings.DEV_SETUP_SECRET = process.env.DEV_SETUP_SECRET;
  const assets = build.workerOptions.assets as Record<string, unknown> | undefined;
  return convertV4MiniflareOptions({
    host: "127.0.0.1",
    port,
    resourcePersistencePath: join(stateDir, "v3"),
    // Only warnings and errors of Miniflare's own; the Worker's console lines pass through as they are.
    log,
    logRequests: false,
    // /cdn-cgi/local/scheduled: dev.ts's tick, as Cloudflare's cron trigger in production.
    unsafeTriggerHandlers: true,
    workers: [
      {
        ...build.workerOptions,
        name: build.name,
        bindings,
        ...(assets && { assets: { ...assets, directory: uiDir } }),
        modulesRoot: buildDir,
        modules: build.modules.map((module) => ({ type: module.type, path: join(buildDir, module.path) })),
      },
    ],
  } as Parameters<typeof convertV4MiniflareOptions>[0]);
}
