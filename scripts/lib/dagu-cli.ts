/**
 * The real Dagu binary (1.30.2, the version dagflare's 1.x behaviour is checked against), for
 * comparisons: found or installed from npm, and run with a throwaway DAGU_HOME and HOME so
 * nothing it writes lands in the user's ~/.config/dagu or ~/.local/share/dagu.
 *
 * The binary comes from `@dagu-org/dagu-linux-x64` (Linux x64 only). DAGU_BIN names another copy;
 * otherwise a project dependency is used if present, else it is installed once into
 * node_modules/.cache (not a dependency: only `npm run compat` needs its 50 MB).
 *
 * `startDaguServer` runs its server (`dagu start-all`) for the benchmarks that drive Dagu and
 * dagflare through the same API.
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type ApiClient, login } from "./dag-api.ts";
import { freePort, waitForHealth } from "./local-instance.ts";
import { processTree } from "./process-tree.ts";

export const DAGU_VERSION = "1.30.2";
const PACKAGE = "@dagu-org/dagu-linux-x64";
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CACHE = join(root, "node_modules", ".cache", `dagu-${DAGU_VERSION}`);
const binaryIn = (folder: string) => join(folder, "node_modules", PACKAGE, "bin", "dagu");

const run = promisify(execFile);
/** `dagu dry` may wait on a DAG's exporters (OpenTelemetry) before it gives up. */
const DRY_TIMEOUT_MS = 30_000;

/** The path of a Dagu 1.30.2 binary, installing it into the cache on first use. */
export async function daguBinary(): Promise<string> {
  if (process.env.DAGU_BIN) return process.env.DAGU_BIN;
  for (const candidate of [binaryIn(root), binaryIn(CACHE)]) if (existsSync(candidate)) return candidate;
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(`${PACKAGE} is for Linux x64; set DAGU_BIN to a Dagu ${DAGU_VERSION} binary for this machine`);
  }
  console.log(`installing ${PACKAGE}@${DAGU_VERSION} into ${CACHE}`);
  await run("npm", [
    "install",
    "--no-save",
    "--no-audit",
    "--no-fund",
    "--prefix",
    CACHE,
    `${PACKAGE}@${DAGU_VERSION}`,
  ]);
  return binaryIn(CACHE);
}

/** The binary's version (Dagu prints it on stderr). */
export async function daguVersion(binary: string): Promise<string> {
  const { stdout, stderr } = await run(binary, ["version"]);
  return `${stdout}${stderr}`.trim();
}

/** A folder for one Dagu process's state, removed afterwards; HOME too, so `~` in a step and Dagu's config stay inside. */
export async function withDaguHome<T>(use: (home: string) => Promise<T>): Promise<T> {
  const home = await mkdtemp(join(tmpdir(), "compat-dagu-"));
  try {
    return await use(home);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

/** The environment Dagu runs in: the caller's, with its own HOME and DAGU_HOME and no DAGU_* settings. */
function daguEnvironment(home: string): NodeJS.ProcessEnv {
  const env: Record<string, string | undefined> = {
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("DAGU_"))),
    HOME: home,
    DAGU_HOME: join(home, ".dagu"),
    DAGU_SKIP_EXAMPLES: "true",
  };
  return env as NodeJS.ProcessEnv;
}

export type DaguServer = ApiClient & {
  /** The `dagu start-all` process: the root of Dagu's process tree (each run is a `dagu start` child). */
  pid: number;
  /** From the spawn until GET /api/v2/health first answered 200. */
  healthyMs: number;
  /** Its DAGU_HOME: the DAG files, the runs, the users, the webhooks, the logs. */
  home: string;
  stop: () => Promise<void>;
};

/**
 * `dagu start-all` — the web server with the API, the scheduler and the queue consumer, one
 * process — on free ports of 127.0.0.1 with a fresh DAGU_HOME under `stateRoot` (removed by
 * `stop()`), and builtin auth with `admin` as its first user: Dagu's webhooks need builtin auth.
 * `stop()` ends it and any run it started that outlived it.
 */
export async function startDaguServer(
  binary: string,
  { stateRoot = tmpdir(), admin }: { stateRoot?: string; admin: { username: string; password: string } },
): Promise<DaguServer> {
  const home = await mkdtemp(join(stateRoot, "dagu-bench-"));
  const port = await freePort();
  const began = performance.now();
  const child = spawn(binary, ["start-all"], {
    cwd: home,
    env: {
      ...daguEnvironment(home),
      DAGU_HOST: "127.0.0.1",
      DAGU_PORT: String(port),
      // The scheduler's own health server (8090 by default) would collide with a second Dagu.
      DAGU_SCHEDULER_PORT: String(await freePort()),
      DAGU_AUTH_MODE: "builtin",
      DAGU_AUTH_ADMIN_USERNAME: admin.username,
      DAGU_AUTH_ADMIN_PASSWORD: admin.password,
      DAGU_AUTH_TOKEN_SECRET: randomBytes(32).toString("base64url"),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => (output = `${output}${chunk}`.slice(-20_000));
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = () => (child.exitCode === null && child.signalCode === null ? undefined : `dagu exited:\n${output}`);
  const stop = async () => {
    const tree = processTree(child.pid!);
    if (exited() === undefined) {
      const gone = new Promise((done) => child.once("exit", done));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await gone;
      clearTimeout(timer);
    }
    for (const member of tree.slice(1)) {
      try {
        process.kill(member, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await rm(home, { recursive: true, force: true });
  };
  try {
    const api = `http://127.0.0.1:${port}/api/v2`;
    const healthyMs = await waitForHealth(`${api}/health`, began, exited);
    return { api, token: await login(api, admin), pid: child.pid!, healthyMs, home, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Whether Dagu takes the file: `undefined` when it does, else its error. `dagu validate` checks
 * the spec; `dagu dry` then builds the run's plan without running a step, which is where Dagu
 * finds dependency cycles (validate doesn't, and `start` panics on them).
 */
export async function daguCheck(binary: string, file: string, home: string): Promise<string | undefined> {
  for (const command of ["validate", "dry"]) {
    try {
      // In HOME, as a run's folder is: a backtick param (`git rev-parse`) sees what a run sees.
      await run(binary, [command, file], { cwd: home, env: daguEnvironment(home), timeout: DRY_TIMEOUT_MS });
    } catch (error) {
      const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
      return errorText(`${stderr}\n${stdout}`) || `dagu ${command} failed`;
    }
  }
  return undefined;
}

/** Dagu's error lines: from its first `Error:` line to the usage text or a Go stack trace. */
function errorText(output: string): string {
  const from = output.search(/^Error:/m);
  return (from < 0 ? "" : output.slice(from))
    .split(/^(?:Usage:|goroutine |panic:)/m)[0]!
    .replace(/^Error: Validation failed for \S+\s*/, "")
    .replace(/^Error: /, "")
    .replace(/^- /, "")
    .replace(/\s+/g, " ")
    .trim();
}

/** A node of Dagu's run status (status.jsonl): a step or a handler. */
type StatusNode = { step: { name: string }; status: number; stdout: string; stderr: string };
type StatusLine = {
  dagRunId: string;
  status: number;
  nodes: StatusNode[];
  onSuccess?: StatusNode;
  onFailure?: StatusNode;
  onCancel?: StatusNode;
  onExit?: StatusNode;
};

export type DaguStep = { name: string; status: number; stdout: string; stderr: string };
export type DaguRun = {
  runId: string;
  status: number;
  steps: DaguStep[];
  handlers: DaguStep[];
  timedOut: boolean;
  /** The run's HOME: steps that print it print this. */
  home: string;
};

/**
 * `dagu start FILE` (default params) in the file's folder, stopped after `timeoutMs`; the result
 * is read from the run's status file (the last line of status.jsonl), which holds each node's
 * status and the path of its stdout log.
 */
export function daguStart(binary: string, file: string, timeoutMs: number): Promise<DaguRun> {
  return withDaguHome((home) => startIn(home, binary, file, timeoutMs));
}

async function startIn(home: string, binary: string, file: string, timeoutMs: number): Promise<DaguRun> {
  const child = spawn(binary, ["start", "--quiet", file], {
    cwd: dirname(file),
    env: daguEnvironment(home),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    process.kill(-child.pid!, "SIGKILL");
  }, timeoutMs);
  await new Promise((done) => child.once("exit", done));
  clearTimeout(timer);
  const status = await lastStatus(join(home, ".dagu", "data", "dag-runs")).catch(() => {
    throw new Error(`Dagu ran nothing: ${errorText(output) || `exit ${child.exitCode}`}`);
  });
  const log = (path: string) => (path ? readFile(path, "utf8").catch(() => "") : "");
  const read = async (node: StatusNode): Promise<DaguStep> => ({
    name: node.step.name,
    status: node.status,
    stdout: await log(node.stdout),
    stderr: await log(node.stderr),
  });
  const handlers = [status.onSuccess, status.onFailure, status.onCancel, status.onExit].filter(
    (node): node is StatusNode => node !== undefined,
  );
  return {
    runId: status.dagRunId,
    status: status.status,
    steps: await Promise.all(status.nodes.map(read)),
    handlers: await Promise.all(handlers.map(read)),
    timedOut,
    home,
  };
}

/** The status of the one run started (its sub-DAG runs' statuses are under its `children/`). */
async function lastStatus(folder: string): Promise<StatusLine> {
  const files = (await readdir(folder, { recursive: true })).filter(
    (path) => path.endsWith("status.jsonl") && !path.split(sep).includes("children"),
  );
  if (files.length !== 1) throw new Error(`expected one Dagu run under ${folder}, found ${files.length}`);
  const lines = (await readFile(join(folder, files[0]!), "utf8")).trim().split("\n");
  return JSON.parse(lines.at(-1)!) as StatusLine;
}
