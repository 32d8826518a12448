/**
 * `npm run dev`: the whole product on one machine, from a fresh clone, ready in seconds (README,
 * Quick start, for the figures of `npm run bench:dev`; the ready line says how long it took).
 *
 * It does at start only what changed since the last start on the same state folder, and the rest
 * side by side:
 *   - the step runner (container/runner) started as a local process on a free port — the program
 *     the production container runs — for command and script steps;
 *   - the admin UI built into $STATE_DIR/ui-dist (this instance's own copy, so a build elsewhere
 *     can't pull files from under it) when ui/ or the dependencies changed since the build there
 *     ($STATE_DIR/ui-dist.sha256 records its sources' hash);
 *   - the Worker built from wrangler.toml by wrangler's own code into $STATE_DIR/worker-build
 *     (scripts/lib/dev-build.ts: the Miniflare options, the bundle, the D1 migrations split into
 *     statements) when src/, migrations/, wrangler.toml or the dependencies changed (the hashes
 *     of its sources are in its worker.json; after an edit under src/ only the bundle is redone);
 *   - either build copied instead from the build cache shared by the checkout's state folders
 *     (scripts/lib/build-cache.ts) when it holds one of the same sources;
 *   - meanwhile this process loads Miniflare (scripts/lib/dev-worker.ts), then starts the Worker
 *     on the build: one workerd serving the API, the UI's files and the cron and queue handlers,
 *     with the state of `wrangler dev --persist-to $STATE_DIR`;
 *   - then, through the Worker itself in one request (src/dev/setup.ts): the pending D1
 *     migrations applied and recorded in wrangler's own `d1_migrations` table (so `wrangler d1
 *     migrations list/apply DB --local --env dev --persist-to $STATE_DIR` agree with it), the first
 *     admin created (ADMIN_USERNAME / ADMIN_PASSWORD, or a generated password printed once), the
 *     repository's dags/ loaded;
 *   - "ready in N s" printed, with the load average, once the runner answers too;
 *   - the cron trigger fired at once and then every minute, as Cloudflare fires it in production.
 * No bundler stays running: with --watch (`npm run dev -- --watch`, or WATCH=1) Vite rebuilds the
 * UI on every change under ui/, and the Worker is rebuilt and reloaded on every change under src/,
 * migrations/ or wrangler.toml; without it, a restart picks changes up.
 *
 * Its log is its own lines, the Worker's and the runner's, and real problems (a failed build or
 * migration, a port in use, a crash of the Workers runtime): wrangler's and Miniflare's
 * known-harmless notices are gone at their cause (no wrangler dev, no getPlatformProxy, no
 * wrangler command per migration, [env.dev] declaring what production declares).
 *
 * It owns every process it starts (the builds, the Worker's workerd, the UI watcher, the runner
 * and its steps): SIGINT, SIGTERM or SIGHUP stop them all; so does its death
 * however it comes, a SIGKILL of dev.ts alone or of its whole process group included, through a
 * reaper process (container/runner/reaper.ts) that outlives it by a few seconds. The port is
 * checked first: a busy one (another `npm run dev`?) gets a few seconds to free up, then a clear
 * error. With EXIT_WITH_PARENT=1 (the test helpers) it also stops when its stdin pipe closes.
 *
 * Environment: PORT (8787), STATE_DIR (.wrangler/state), AUTH_MODE (builtin | none),
 * ADMIN_USERNAME (admin), ADMIN_PASSWORD (generated), JWT_SECRET (generated per start),
 * DAGS_DIR (the repository's dags/: the working directory of steps without `dir`), WATCH,
 * BUILD_CACHE_DIR (node_modules/.cache/dagflare).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, type FSWatcher, mkdirSync, readFileSync, rmSync, watch, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { exitWithParent, startReaper } from "../container/runner/reaper.ts";
import { IMAGE_SHELL } from "../container/runner/shell.ts";
import { DEV_SETUP_PATH, type DevSetupRequest, type DevSetupResult } from "../src/dev/protocol.ts";
import { BuildCache } from "./lib/build-cache.ts";
import { readDagSources } from "./lib/dag-files.ts";
import {
  WORKER_BUILD_FILE,
  WORKER_BUNDLE_INPUTS,
  WORKER_CONFIG_INPUTS,
  type WorkerBuild,
  workerBuildKeys,
} from "./lib/dev-build.ts";
import { DevWorker } from "./lib/dev-worker.ts";
import { freePort, LONG_LIVED_NODE_FLAGS } from "./lib/local-instance.ts";
import { hashSources } from "./lib/source-hash.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const viteBin = join(root, "node_modules", "vite", "bin", "vite.js");

const port = Number(process.env.PORT ?? 8787);
const stateDir = resolve(process.env.STATE_DIR ?? join(root, ".wrangler", "state"));
const authMode = process.env.AUTH_MODE ?? "builtin";
const uiDir = join(stateDir, "ui-dist");
const buildDir = join(stateDir, "worker-build");
const dagsDir = join(root, "dags");
const stepsDir = resolve(process.env.DAGS_DIR ?? dagsDir);
const watching = process.argv.includes("--watch") || process.env.WATCH === "1";
const url = `http://127.0.0.1:${port}`;
const READY_TIMEOUT_MS = 60_000;
/** How long a crashed workerd gets to come back (Miniflare restarts it) before dev gives up. */
const RUNTIME_RESTART_MS = 10_000;
/** A busy port may be a previous instance still stopping (its reaper allows 3 s): wait this long. */
const PORT_WAIT_MS = 5_000;
/** [env.dev] in wrangler.toml: development vars and queues that deliver at once. */
const WRANGLER_ENV = "dev";
/** What the UI build reads (not ui/functions, the Pages function, nor ui/README.md), and the dependencies. */
const UI_BUILD_INPUTS = [
  "ui/index.html",
  "ui/src",
  "ui/public",
  "ui/vite.config.ts",
  "ui/tsconfig.json",
  "package.json",
  "package-lock.json",
];

/** What the UI build is run with, but for its output folder (a state folder's own). */
const UI_BUILD_SETTINGS = ["build", "--config", join(root, "ui", "vite.config.ts"), "--logLevel", "warn"];
const buildCache = new BuildCache(root);

const log = (message: string) => console.log(`[dagflare] ${message}`);

// Offline-friendly defaults for wrangler/Miniflare: no Request.cf download, no telemetry.
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false";
process.env.WRANGLER_SEND_METRICS ??= "false";
// Node's cache of compiled code (V8's, and TypeScript stripped of its types) for every Node
// process dev starts, in Node's default folder: Miniflare's and wrangler's bundles and the
// TypeScript programs load in about two thirds of the time from the second start on. `npm run
// dev` sets it for this process too (package.json: it must be set before Node starts).
process.env.NODE_COMPILE_CACHE ??= join(tmpdir(), "node-compile-cache");
// Generated before anything reads the config: the Worker's build (wrangler) checks that the
// required secrets are set, and the Worker gets them from this environment.
const generatedJwtSecret = !process.env.JWT_SECRET;
process.env.JWT_SECRET ||= randomBytes(48).toString("base64url");
// Shared by the Worker and the local runner, for this run only.
process.env.RUNNER_SECRET = randomBytes(32).toString("base64url");
// Opens the Worker's start-up route (src/dev/setup.ts) to this process alone, for this run only.
const devSetupSecret = randomBytes(32).toString("base64url");

const children = new Set<ChildProcess>();
/** The workerd running the Worker: Miniflare's child, in this process's group (see DevWorker). */
let runtimePid: number | undefined;
/** While a reload replaces workerd, the old one's end is expected. */
let replacingRuntime = false;
let stopping = false;

const unknownArgument = process.argv.slice(2).find((argument) => argument !== "--watch");
if (unknownArgument) fail(`unknown argument '${unknownArgument}' (npm run dev takes --watch)`);
if (!Number.isInteger(port) || port <= 0 || port > 65535) fail(`PORT must be a TCP port, not '${process.env.PORT}'`);
if (authMode !== "builtin" && authMode !== "none") fail(`AUTH_MODE must be 'builtin' or 'none', not '${authMode}'`);

// Before the first child: children lead process groups of their own (see spawnChild), out of
// reach of a kill of this script's group, and this script can't clean up after a SIGKILL. The
// reaper, told each group, kills them once this process is gone, however it went.
const reaper = startReaper({
  onExit: (reason) => !stopping && log(`the process reaper ${reason}; a crash of dev would leave processes behind`),
});

const runnerUrl = `http://127.0.0.1:${await freePort()}`;
const worker = new DevWorker({
  port,
  stateDir,
  environment: {
    ...process.env,
    // Set here so a stray ENVIRONMENT in the developer's shell can't make dev act as production.
    ENVIRONMENT: "development",
    AUTH_MODE: authMode,
    RUNNER_URL: runnerUrl,
    PUBLIC_URL: url,
    DEV_SETUP_SECRET: devSetupSecret,
  },
  // workerd runs in this process's group (Miniflare starts it): the reaper ends it by its pid.
  onRuntime: (pid, replaced) => {
    if (replaced !== undefined) reaper.forgetProcess(replaced);
    reaper.watchProcess(pid);
    runtimePid = pid;
  },
});

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => void stop(signal));
}
exitWithParent(() => void stop("the parent process is gone"));

await waitForFreePort();
mkdirSync(stateDir, { recursive: true });
if (generatedJwtSecret) log("JWT_SECRET not set: generated one for this run (sessions end when dev restarts)");

// The runner boots on the other core while this process checks the builds and loads Miniflare
// (half a second of CPU, the longest part of a restart).
const runnerReady = startRunner();
const dagSources = readDagSources(dagsDir);
const builds = Promise.all([buildUiIfChanged(), buildWorkerIfChanged()]);
worker.load();
const buildNotes = describeBuilds(await builds);
await startWorker();
await setUp();
await runnerReady;
// Since this process began (Node's own start included), with what took longest when it happened.
log(
  `ready in ${seconds(performance.now())} s (${buildNotes.map((note) => `${note}; `).join("")}` +
    `load average ${loadavg()[0]!.toFixed(2)}): UI on ${url}/, API on ${url}/api/v2 ` +
    `(OpenAPI: ${url}/api/v2/openapi.json), state in ${stateDir}${watching ? "; rebuilding on changes" : ""}`,
);
tickEveryMinute();
watchRuntime();
if (watching) watchSources();

/**
 * Fails early, and clearly, on a port in use rather than after the whole start-up with workerd's
 * "Address already in use"; waits a moment first, as the port may belong to a previous instance
 * that is still stopping.
 */
async function waitForFreePort(): Promise<void> {
  const deadline = Date.now() + PORT_WAIT_MS;
  let waiting = false;
  for (;;) {
    const error = await new Promise<string | undefined>((done) => {
      const server = createServer();
      server.once("error", (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
      server.listen(port, "127.0.0.1", () => server.close(() => done(undefined)));
    });
    if (error === undefined) return;
    if (error !== "EADDRINUSE") fail(`can't listen on 127.0.0.1:${port} (${error}); choose another port with PORT=…`);
    if (Date.now() >= deadline) {
      fail(
        `port ${port} is in use — is another \`npm run dev\` running? Stop it, or start this one on another port with PORT=…`,
      );
    }
    if (!waiting) log(`port ${port} is in use; waiting up to ${PORT_WAIT_MS / 1000} s in case it is being freed`);
    waiting = true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

/** The hash a build folder was made from, or "" when there is none (or it is incomplete). */
function builtFrom(dir: string, requiredFile: string): string {
  if (!existsSync(join(dir, requiredFile))) return "";
  try {
    return readFileSync(`${dir}.sha256`, "utf8").trim();
  } catch {
    return "";
  }
}

/**
 * The admin UI, only when its sources changed: copied from the build cache (build-cache.ts) when
 * it has them, else built by Vite (a few seconds). The recorded hash goes before a build starts
 * and comes back after it succeeds, so a build that fails or is interrupted is done again next
 * time. What it did, for the ready line.
 */
async function buildUiIfChanged(): Promise<BuildDone | undefined> {
  // Not the output folder: it doesn't change what is built, and the cache serves every state folder.
  const sources = await hashSources(root, UI_BUILD_INPUTS, { extra: UI_BUILD_SETTINGS });
  let done: BuildDone | undefined;
  if (builtFrom(uiDir, "index.html") !== sources) {
    const began = performance.now();
    rmSync(`${uiDir}.sha256`, { force: true });
    if (buildCache.restore("ui", sources, uiDir)) done = { what: "the UI" };
    else {
      log(existsSync(uiDir) ? "building the UI (ui/ changed since its last build here)" : "building the UI");
      const code = await runToEnd([viteBin, ...uiBuildArgs(), "--emptyOutDir"]);
      if (code !== 0) fail(`the UI build failed (exit ${code})`);
      buildCache.save("ui", sources, uiDir);
      done = { what: "the UI", ms: performance.now() - began };
    }
    writeFileSync(`${uiDir}.sha256`, sources);
  }
  if (watching) {
    // Vite's own watcher rewrites the folder from here on: the hash no longer says what is in it.
    rmSync(`${uiDir}.sha256`, { force: true });
    const watcher = spawnChild([viteBin, ...uiBuildArgs(), "--watch", "--emptyOutDir=false"]);
    watcher.on("exit", (code, signal) => {
      if (!stopping) log(`the UI rebuilder exited (${signal ?? code}); the UI stays as last built`);
    });
  }
  return done;
}

function uiBuildArgs(): string[] {
  return [...UI_BUILD_SETTINGS, "--outDir", uiDir];
}

/**
 * The Worker's build (scripts/lib/dev-build.ts), only when its inputs changed: copied from the
 * build cache when it has them, else built — just the bundle when only src/ did. What it did,
 * for the ready line; undefined when nothing was to do. A failed build leaves the last one.
 */
async function buildWorkerIfChanged(fatal = true): Promise<BuildDone | undefined> {
  const config = await hashSources(root, WORKER_CONFIG_INPUTS, { extra: [WRANGLER_ENV] });
  const bundle = await hashSources(root, WORKER_BUNDLE_INPUTS, { extra: [config] });
  const built = workerBuildKeys(buildDir);
  if (built?.config === config && built.bundle === bundle) return undefined;
  // The build names files of this checkout (its sources, for stack traces): part of its key.
  const key = createHash("sha256").update(`${root}\0${config}\0${bundle}`).digest("hex");
  if (buildCache.restore("worker", key, buildDir)) return { what: "the Worker" };
  const began = performance.now();
  const changed = built?.config === config ? "src/ changed" : "wrangler.toml, migrations/ or the dependencies changed";
  log(built ? `building the Worker (${changed} since its last build here)` : "building the Worker");
  // wrangler's warnings and errors only: its "Using secrets defined in process.env" is dev's doing.
  const code = await runToEnd([join(root, "scripts", "lib", "dev-build.ts"), buildDir, WRANGLER_ENV, config, bundle], {
    WRANGLER_LOG: "warn",
  });
  if (code !== 0) {
    if (fatal) fail(`the Worker build failed (exit ${code})`);
    log(`the Worker build failed (exit ${code}); the Worker runs on as last built`);
    return undefined;
  }
  buildCache.save("worker", key, buildDir);
  return { what: "the Worker", ms: performance.now() - began };
}

/** A build brought up to date: made, in `ms`, or (without) copied from the build cache. */
type BuildDone = { what: string; ms?: number };

/** For the ready line: "built the UI in 2.1 s", "the UI and the Worker from the build cache". */
function describeBuilds(builds: (BuildDone | undefined)[]): string[] {
  const done = builds.filter((build) => build !== undefined);
  const made = done.filter((build) => build.ms !== undefined);
  const cached = done.filter((build) => build.ms === undefined);
  return [
    made.length > 0 && `built ${made.map((build) => `${build.what} in ${seconds(build.ms!)} s`).join(" and ")}`,
    cached.length > 0 && `${cached.map((build) => build.what).join(" and ")} from the build cache`,
  ].filter((note) => note !== false);
}

/** Starts (or, after a rebuild, reloads) the Worker on the build; false when a reload failed (it runs on as before). */
async function startWorker(reload = false): Promise<boolean> {
  replacingRuntime = reload;
  try {
    await worker.start(buildDir, uiDir);
    return true;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!reload) fail(`the Worker did not start: ${message}`);
    log(`the Worker did not reload: ${message}`);
    return false;
  } finally {
    replacingRuntime = false;
  }
}

/**
 * Miniflare restarts a workerd that crashed, under a new pid: the reaper is told of the new one.
 * If none comes back within RUNTIME_RESTART_MS, dev stops, saying so.
 */
function watchRuntime(): void {
  let goneSince: number | undefined;
  setInterval(() => {
    if (stopping || replacingRuntime || runtimePid === undefined) return;
    if (signalProcess(runtimePid, 0)) return;
    goneSince ??= Date.now();
    const restarted = worker.findRuntime();
    if (restarted !== undefined) {
      log("the Workers runtime (workerd) crashed; Miniflare is restarting it");
      reaper.forgetProcess(runtimePid);
      reaper.watchProcess(restarted);
      runtimePid = restarted;
      goneSince = undefined;
    } else if (Date.now() - goneSince > RUNTIME_RESTART_MS) {
      log("the Workers runtime (workerd) exited and did not restart; stopping");
      void stop(undefined, 1);
    }
  }, 1_000).unref();
}

/**
 * Sends `signal` to a process (a negative pid: a whole group); whether it was there to get it.
 * Signal 0 only asks.
 */
function signalProcess(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false; // already gone
  }
}

/**
 * The start-up work, done by the Worker (src/dev/setup.ts): pending migrations, the first admin,
 * the DAG files; after a rebuild (--watch), the migrations only. A failed migration stops dev at
 * start, after saying which and why.
 */
async function setUp(reload = false): Promise<void> {
  const build = JSON.parse(readFileSync(join(buildDir, WORKER_BUILD_FILE), "utf8")) as WorkerBuild;
  const request: DevSetupRequest = {
    migrations: build.migrations,
    ...(authMode === "builtin" &&
      !reload && {
        admin: { username: process.env.ADMIN_USERNAME || "admin", password: process.env.ADMIN_PASSWORD || undefined },
      }),
    dags: reload ? [] : (await dagSources).map(({ fileName, source }) => ({ fileName, source })),
  };
  const response = await fetch(`${url}${DEV_SETUP_PATH}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${devSetupSecret}`, "Content-Type": "application/json" },
    body: JSON.stringify(request),
  }).catch((error: Error) => fail(`the Worker did not answer on ${url}: ${error.message}`));
  if (!response.ok) fail(`the Worker's start-up work failed (${response.status}): ${await response.text()}`);
  const result = (await response.json()) as DevSetupResult;

  const { applied, failed } = result.migrations;
  if (applied.length > 0) {
    const names = applied.length > 2 ? `${applied[0]} … ${applied.at(-1)}` : applied.join(", ");
    log(`applied ${applied.length} D1 migration${applied.length === 1 ? "" : "s"} (${names})`);
  }
  if (failed) {
    const what = `the D1 migration ${failed.name} failed, and was rolled back: ${failed.error}`;
    if (!reload) fail(what);
    log(`${what}; fix it and save again`);
  }

  const username = request.admin?.username;
  if (result.admin?.created && result.admin.generatedPassword)
    printGeneratedPassword(username!, result.admin.generatedPassword);
  else if (result.admin?.created) log(`created admin '${username}' with the password from ADMIN_PASSWORD`);
  else if (result.admin) {
    log(`users exist in ${stateDir}; no admin created (ADMIN_USERNAME/ADMIN_PASSWORD only seed an empty instance)`);
  }
  for (const dag of result.dags) {
    const file = join(dagsDir, dag.fileName);
    if ("errors" in dag) log(`skipped ${file}:\n    ${dag.errors.join("\n    ")}`);
    else if (dag.outcome !== "unchanged")
      log(`${dag.outcome} DAG '${dag.fileName.replace(/\.[^.]*$/, "")}' from ${file}`);
  }
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

/** The step runner, as the container runs it, with DAGS_DIR (the repository's dags/) as working directory. */
async function startRunner(): Promise<void> {
  const runner = spawnChild(
    [...LONG_LIVED_NODE_FLAGS, join(root, "container", "runner", "server.ts")],
    {
      PORT: new URL(runnerUrl).port,
      HOST: "127.0.0.1",
      DAGS_DIR: stepsDir,
      WORK_DIR: join(stateDir, "runner"),
      // Steps run in bash, as in the runner image, whatever this machine's login shell is.
      SHELL: IMAGE_SHELL,
      // Its stdin is a pipe from here: when this process is gone, the runner stops its steps at
      // once, even if the reaper is gone too.
      EXIT_WITH_PARENT: "1",
    },
    "pipe",
  );
  runner.on("exit", (code, signal) => {
    if (stopping) return;
    log(`the step runner exited (${signal ?? code}); stopping`);
    void stop(undefined, code || 1);
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && !stopping) {
    if (
      await fetch(`${runnerUrl}/ping`).then(
        (response) => response.ok,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  fail(`the step runner did not start on ${runnerUrl}`);
}

/** Cloudflare fires the cron trigger every minute in production; Miniflare only on request. */
function tickEveryMinute(): void {
  const tick = () => {
    void fetch(`${url}/cdn-cgi/local/scheduled?cron=${encodeURIComponent("* * * * *")}`).catch(() => undefined);
    setTimeout(tick, 60_000 - (Date.now() % 60_000) + 500).unref();
  };
  // Once at start too: after a restart (a crash, a kill) the tick wakes the coordinators of
  // unfinished runs and re-sends overdue alert deliveries now, not at the next minute. Schedules
  // due this minute start now (their run ids make a second tick in the same minute a no-op).
  tick();
}

/**
 * --watch: the Worker rebuilt and reloaded when its sources change (the start-up work again:
 * a new migration is applied), and reloaded when Vite has rewritten the UI (Miniflare lists the
 * static files when it starts). Changes are taken together, 300 ms after the last one.
 */
function watchSources(): void {
  let timer: NodeJS.Timeout | undefined;
  let workerChanged = false;
  let reloading: Promise<void> = Promise.resolve();
  const changed = (worker: boolean) => () => {
    workerChanged ||= worker;
    clearTimeout(timer);
    timer = setTimeout(() => {
      const rebuild = workerChanged;
      workerChanged = false;
      reloading = reloading.then(() => reload(rebuild));
    }, 300);
  };
  const watchers: FSWatcher[] = [
    ...["src", "migrations"].map((dir) => watch(join(root, dir), { recursive: true }, changed(true))),
    watch(join(root, "wrangler.toml"), changed(true)),
    watch(uiDir, { recursive: true }, changed(false)),
  ];
  for (const watcher of watchers) watcher.on("error", () => undefined);
}

async function reload(rebuildWorker: boolean): Promise<void> {
  if (stopping) return;
  const began = performance.now();
  if (rebuildWorker && (await buildWorkerIfChanged(false)) === undefined) return;
  if (!(await startWorker(true))) return;
  if (rebuildWorker) await setUp(true);
  log(
    `${rebuildWorker ? "Worker rebuilt and reloaded" : "reloaded the UI's files"} in ${Math.round(performance.now() - began)} ms`,
  );
}

/**
 * Each child leads its own process group, so stopping it also stops what it started (workerd);
 * signals from the terminal reach this script, which passes them on. The reaper is told of each
 * group, and forgets it once the child has exited and its group is killed (nothing of it left,
 * so its number can't be another's yet).
 */
function spawnChild(
  args: string[],
  extraEnv: Record<string, string> = {},
  stdin: "ignore" | "pipe" = "ignore",
  ipc = false,
): ChildProcess {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...extraEnv },
    stdio: ipc ? [stdin, "inherit", "inherit", "ipc"] : [stdin, "inherit", "inherit"],
    detached: true,
  });
  children.add(child);
  if (child.pid) reaper.watch(child.pid);
  child.on("exit", () => {
    killGroup(child, "SIGKILL");
    if (child.pid) reaper.forget(child.pid);
    children.delete(child);
  });
  return child;
}

/** Runs a program to its end; its exit code (null when a signal ended it). */
async function runToEnd(args: string[], extraEnv: Record<string, string> = {}): Promise<number | null> {
  const child = spawnChild(args, extraEnv);
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  if (stopping) await new Promise(() => undefined); // stop() exits the process
  return code;
}

/** `why`: a signal's name or what happened, for the log. */
async function stop(why?: string, exitCode = 0): Promise<never> {
  if (!stopping) {
    stopping = true;
    if (why) log(`${why}: stopping`);
    await Promise.all([...children].map((child) => stopGroup(child)).concat(stopWorker()));
    reaper.close();
  }
  process.exit(exitCode);
}

/** Miniflare stops its workerd; one that hasn't within 5 s is killed. */
async function stopWorker(): Promise<void> {
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, 5_000).unref());
  await Promise.race([worker.dispose().catch(() => undefined), timeout]);
  if (runtimePid !== undefined) {
    signalProcess(runtimePid, "SIGKILL");
    reaper.forgetProcess(runtimePid);
  }
}

async function stopGroup(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  killGroup(child, "SIGTERM");
  const timer = setTimeout(() => killGroup(child, "SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
  // What the child started may outlive it by a moment: spawnChild's exit handler has killed the group.
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid) signalProcess(-child.pid, signal);
}

function fail(message: string): never {
  console.error(`[dagflare] ${message}`);
  for (const child of children) killGroup(child, "SIGKILL");
  if (runtimePid !== undefined) signalProcess(runtimePid, "SIGKILL");
  process.exit(1);
}
