/**
 * `npm run dev`: the whole product on one machine, from a fresh clone.
 *
 *   1. D1 migrations applied to the local state folder (wrangler, as in production);
 *   2. the first admin created (ADMIN_USERNAME / ADMIN_PASSWORD, or a generated password printed
 *      once) and the repository's dags/ loaded, through the same code the Worker uses
 *      (scripts/lib/dev-state.ts);
 *   3. the admin UI built into $STATE_DIR/ui-dist (this instance's own copy, so a build elsewhere
 *      can't pull files from under it) and rebuilt on every change under ui/; wrangler serves it
 *      next to the API (same origin) and picks up each rebuild, so a reload shows UI edits;
 *   4. the step runner (container/runner) started as a local process on a free port — the
 *      program the production container runs — for command and script steps;
 *   5. `wrangler dev` started (no container builds: RUNNER_URL points at the local runner), and
 *      "ready" printed once /api/v2/health answers;
 *   6. the cron trigger fired at start and then every minute, as Cloudflare fires it in production.
 *
 * It owns every process it starts (wrangler, workerd, the UI watcher, the runner and its steps):
 * SIGINT, SIGTERM or SIGHUP stop them all; so does its death however it comes, a SIGKILL of
 * dev.ts alone or of its whole process group included, through a reaper process
 * (container/runner/reaper.ts) that outlives it by a few seconds. The port is checked first: a
 * busy one (another `npm run dev`?) gets a few seconds to free up, then a clear error.
 * With EXIT_WITH_PARENT=1 (the test helpers) it also stops when its stdin pipe closes.
 *
 * Environment: PORT (8787), STATE_DIR (.wrangler/state), AUTH_MODE (builtin | none),
 * ADMIN_USERNAME (admin), ADMIN_PASSWORD (generated), JWT_SECRET (generated per start),
 * DAGS_DIR (the repository's dags/: the working directory of steps without `dir`).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { exitWithParent, startReaper } from "../container/runner/reaper.ts";
import { IMAGE_SHELL } from "../container/runner/server.ts";
import { freePort } from "./lib/local-instance.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const wranglerBin = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
const viteBin = join(root, "node_modules", "vite", "bin", "vite.js");

const port = Number(process.env.PORT ?? 8787);
const stateDir = resolve(process.env.STATE_DIR ?? join(root, ".wrangler", "state"));
const authMode = process.env.AUTH_MODE ?? "builtin";
const uiDir = join(stateDir, "ui-dist");
const stepsDir = resolve(process.env.DAGS_DIR ?? join(root, "dags"));
const READY_TIMEOUT_MS = 60_000;
/** A busy port may be a previous instance still stopping (its reaper allows 3 s): wait this long. */
const PORT_WAIT_MS = 5_000;

const log = (message: string) => console.log(`[dagflare] ${message}`);

// Offline-friendly defaults for wrangler/miniflare: no Request.cf download, no telemetry.
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false";
process.env.WRANGLER_SEND_METRICS ??= "false";
// Generated before anything reads the config, so wrangler sees its required secret everywhere.
const generatedJwtSecret = !process.env.JWT_SECRET;
process.env.JWT_SECRET ||= randomBytes(48).toString("base64url");
// Shared by the Worker and the local runner, for this run only.
process.env.RUNNER_SECRET = randomBytes(32).toString("base64url");

const children = new Set<ChildProcess>();
let stopping = false;

if (!Number.isInteger(port) || port <= 0 || port > 65535) fail(`PORT must be a TCP port, not '${process.env.PORT}'`);
if (authMode !== "builtin" && authMode !== "none") fail(`AUTH_MODE must be 'builtin' or 'none', not '${authMode}'`);

// Before the first child: children lead process groups of their own (see spawnChild), out of
// reach of a kill of this script's group, and this script can't clean up after a SIGKILL. The
// reaper, told each group, kills them once this process is gone, however it went.
const reaper = startReaper({
  onExit: (reason) => !stopping && log(`the process reaper ${reason}; a crash of dev would leave processes behind`),
});

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => void stop(signal));
}
exitWithParent(() => void stop("the parent process is gone"));

await waitForFreePort();

// [env.dev] in wrangler.toml: development vars and queues that deliver at once.
const WRANGLER_ENV = "dev";

await runToEnd(
  [wranglerBin, "d1", "migrations", "apply", "DB", "--local", "--env", WRANGLER_ENV, "--persist-to", stateDir],
  "applying the D1 migrations",
);
await runToEnd([join(root, "scripts", "lib", "dev-state.ts")], "preparing the state (admin, DAGs)", {
  STATE_DIR: stateDir,
  WRANGLER_ENV,
  AUTH_MODE: authMode,
});
await buildUi();
const runnerUrl = await startRunner();
await startWorker();
tickEveryMinute();

/**
 * Fails early, and clearly, on a port in use rather than after the whole start-up with wrangler's
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

/**
 * The admin UI: built before the Worker starts (about a second), then rebuilt in place on every
 * change. Rebuilds don't empty the folder, so a page being served never loses its files.
 */
async function buildUi(): Promise<void> {
  const build = [
    viteBin,
    "build",
    "--config",
    join(root, "ui", "vite.config.ts"),
    "--logLevel",
    "warn",
    "--outDir",
    uiDir,
  ];
  await runToEnd([...build, "--emptyOutDir"], "the UI build");
  const watcher = spawnChild([...build, "--watch", "--emptyOutDir=false"]);
  watcher.on("exit", (code, signal) => {
    if (!stopping) log(`the UI rebuilder exited (${signal ?? code}); the UI stays as last built`);
  });
}

/** The step runner, as the container runs it, with DAGS_DIR (the repository's dags/) as working directory. */
async function startRunner(): Promise<string> {
  const runnerPort = await freePort();
  const runner = spawnChild(
    [join(root, "container", "runner", "server.ts")],
    {
      PORT: String(runnerPort),
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
    void stop(undefined, code ?? 1);
  });
  const url = `http://127.0.0.1:${runnerPort}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && !stopping) {
    if (
      await fetch(`${url}/ping`).then(
        (response) => response.ok,
        () => false,
      )
    )
      return url;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  fail(`the step runner did not start on ${url}`);
}

/** Cloudflare fires the cron trigger every minute in production; wrangler dev only on request. */
function tickEveryMinute(): void {
  const tick = () => {
    void fetch(`http://127.0.0.1:${port}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent("* * * * *")}`).catch(
      () => undefined,
    );
    setTimeout(tick, 60_000 - (Date.now() % 60_000) + 500).unref();
  };
  // Once at start too: after a restart (a crash, a kill) the tick wakes the coordinators of
  // unfinished runs and re-sends overdue alert deliveries now, not at the next minute. Schedules
  // due this minute start now (their run ids make a second tick in the same minute a no-op).
  tick();
}

async function startWorker(): Promise<void> {
  if (generatedJwtSecret) log("JWT_SECRET not set: generated one for this run (sessions end when dev restarts)");
  // Wrangler reads vars and required secrets from the process environment (wrangler.toml [secrets]);
  // nothing secret goes on a command line or into a file.
  const worker = spawnChild(
    [
      wranglerBin,
      "dev",
      "--env",
      WRANGLER_ENV,
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--persist-to",
      stateDir,
      "--show-interactive-dev-session=false",
      "--enable-containers=false",
      "--assets",
      uiDir,
    ],
    // Set here so a stray ENVIRONMENT in the developer's shell can't make dev act as production.
    { ENVIRONMENT: "development", AUTH_MODE: authMode, RUNNER_URL: runnerUrl, PUBLIC_URL: `http://127.0.0.1:${port}` },
  );
  worker.on("exit", (code, signal) => {
    if (stopping) return;
    log(`wrangler dev exited (${signal ?? code}); stopping`);
    void stop(undefined, code ?? 1);
  });

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && !stopping) {
    const healthy = await fetch(`${url}/api/v2/health`).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) {
      log(`ready: UI on ${url}/, API on ${url}/api/v2 (OpenAPI: ${url}/api/v2/openapi.json), state in ${stateDir}`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (!stopping) {
    log(`the Worker did not answer ${url}/api/v2/health within ${READY_TIMEOUT_MS / 1000} s`);
    await stop(undefined, 1);
  }
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
): ChildProcess {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...extraEnv },
    stdio: [stdin, "inherit", "inherit"],
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

async function runToEnd(args: string[], what: string, extraEnv: Record<string, string> = {}): Promise<void> {
  const child = spawnChild(args, extraEnv);
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  if (code !== 0 && !stopping) fail(`${what} failed (exit ${code})`);
}

/** `why`: a signal's name or what happened, for the log. */
async function stop(why?: string, exitCode = 0): Promise<never> {
  if (!stopping) {
    stopping = true;
    if (why) log(`${why}: stopping`);
    await Promise.all([...children].map((child) => stopGroup(child)));
    reaper.close();
  }
  process.exit(exitCode);
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
  // workerd may outlive wrangler by a moment: spawnChild's exit handler has killed the group.
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // the group is already gone
  }
}

function fail(message: string): never {
  console.error(`[dagflare] ${message}`);
  for (const child of children) killGroup(child, "SIGKILL");
  process.exit(1);
}
