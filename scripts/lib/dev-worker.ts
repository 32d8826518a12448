/**
 * The Worker of `npm run dev` (scripts/dev.ts): Miniflare running the build of dev-build.ts — one
 * workerd, serving the API, the admin UI's files (Workers static assets) and the cron and queue
 * handlers on 127.0.0.1:$PORT, its state under $STATE_DIR/v3 where `wrangler dev --persist-to
 * $STATE_DIR` keeps it (so either can open the other's state).
 *
 * Not `wrangler dev`: two Node processes loading 15 MB of wrangler, a bundle at every start, and a
 * second workerd for its proxy (14–20 s of the former start-up on a loaded 2-core machine). This
 * loads Miniflare alone, in dev.ts's own process (a Node process of its own for it cost 100 MB
 * resident and a Node start-up on the way to ready), and runs one workerd.
 *
 * Miniflare starts workerd as a child in dev.ts's process group, where a kill of the group ends it
 * too; `onRuntime` hands its pid to dev.ts, whose reaper ends it if dev.ts dies alone. Miniflare
 * doesn't say which process it started, so it is looked for among dev.ts's children by name.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { WorkerBuild } from "./dev-build.ts";

type MiniflareModule = typeof import("miniflare");

export type DevWorkerSettings = {
  port: number;
  stateDir: string;
  /** Values for the Worker's declared vars and required secrets, as wrangler dev takes them from the environment. */
  environment: Record<string, string | undefined>;
  /** The workerd process now running the Worker (after a start and after each reload), and the one it replaced. */
  onRuntime: (pid: number, replaced: number | undefined) => void;
};

export class DevWorker {
  readonly #settings: DevWorkerSettings;
  #module: MiniflareModule | undefined;
  #miniflare: import("miniflare").Miniflare | undefined;
  #runtime: number | undefined;

  constructor(settings: DevWorkerSettings) {
    this.#settings = settings;
  }

  /**
   * Loads Miniflare (half a second of CPU, synchronously). require(), not import(): Node would
   * first scan Miniflare's 6 MB of CommonJS for its exports (~0.2 s more). NODE_COMPILE_CACHE,
   * set by `npm run dev`, saves another third.
   */
  load(): MiniflareModule {
    this.#module ??= createRequire(import.meta.url)("miniflare") as MiniflareModule;
    return this.#module;
  }

  /** Starts the Worker on the build, or reloads it on a new one; its URL. Throws what Miniflare throws. */
  async start(buildDir: string, uiDir: string): Promise<string> {
    const { Log, LogLevel, Miniflare, convertV4MiniflareOptions } = this.load();
    const options = this.#options(buildDir, uiDir, convertV4MiniflareOptions, new Log(LogLevel.WARN));
    if (this.#miniflare) await this.#miniflare.setOptions(options);
    else this.#miniflare = withoutSignalExits(() => new Miniflare(options));
    const url = String(await this.#miniflare.ready);
    const runtime = workerdChildOf(process.pid);
    if (runtime !== undefined && runtime !== this.#runtime) {
      this.#settings.onRuntime(runtime, this.#runtime);
      this.#runtime = runtime;
    }
    return url;
  }

  /** The workerd running now, if any: Miniflare restarts one that crashed, under a new pid. */
  findRuntime(): number | undefined {
    return workerdChildOf(process.pid);
  }

  /** Stops workerd and waits for it. */
  async dispose(): Promise<void> {
    await this.#miniflare?.dispose();
  }

  #options(
    buildDir: string,
    uiDir: string,
    convertV4MiniflareOptions: MiniflareModule["convertV4MiniflareOptions"],
    log: import("miniflare").Log,
  ) {
    const { port, stateDir, environment } = this.#settings;
    const build = JSON.parse(readFileSync(join(buildDir, "worker.json"), "utf8")) as WorkerBuild;
    // As wrangler dev binds them: wrangler.toml's vars, with values from the environment for the
    // declared vars and required secrets (as wrangler does when the config declares [secrets]).
    const bindings: Record<string, unknown> = { ...build.vars };
    for (const name of [...build.fromEnvironment, "DEV_SETUP_SECRET"]) {
      if (environment[name] !== undefined) bindings[name] = environment[name];
    }
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
}

const TERMINAL_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Miniflare's constructor hooks SIGINT, SIGTERM and SIGHUP to stop workerd and exit at once
 * (128 + the signal). dev.ts stops everything it started itself, workerd included, and exits 0:
 * those three hooks go. Its hook on "exit", which kills workerd however dev.ts exits, stays.
 */
function withoutSignalExits<T>(create: () => T): T {
  const before = new Map(TERMINAL_SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const created = create();
  for (const signal of TERMINAL_SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.off(signal, listener);
    }
  }
  return created;
}

/** The pid of the workerd process among `parent`'s children (`ps` is on Linux and macOS alike). */
function workerdChildOf(parent: number): number | undefined {
  const table = execFileSync("ps", ["-A", "-o", "pid=,ppid=,comm="], { encoding: "utf8" });
  for (const line of table.split("\n")) {
    const [pid, ppid, command] = line.trim().split(/\s+/, 3);
    if (Number(ppid) === parent && command !== undefined && /(^|\/)workerd$/.test(command)) return Number(pid);
  }
  return undefined;
}
