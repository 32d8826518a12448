/**
 * `npm run bench:dev`: how long `npm run dev` takes to be ready, as a developer meets it
 * (scripts/dev.ts started directly, its state on disk):
 *   first     a fresh state folder with an empty build cache, as the first start after a clone:
 *             the UI and Worker builds, every migration, the first admin
 *   fresh     another fresh state folder: the builds from the cache the first start filled
 *             (scripts/lib/build-cache.ts), every migration, the first admin
 *   restart   the first start's state folder again: nothing to build or apply
 *
 * Baseline, measured in the same run: the floor under any restart — a Node process that loads
 * Miniflare and starts a one-line Worker in workerd, until it answers. Prints each start (the
 * time seen from here, and dev's own "ready in" figure) with the load average around it, the
 * medians and their ratio to the baseline's, and the resident memory of the idle stack after the
 * last restart. The machine is shared and noisy: quote figures with their load average.
 *
 * ROUNDS (3) starts of each kind, a baseline before each pair; BENCH_STATE_ROOT (the system's
 * temporary folder) holds the state folders, removed at the end.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort, LONG_LIVED_NODE_FLAGS, median } from "../lib/local-instance.ts";
import { treeMemory } from "../lib/process-tree.ts";
import { bareStart } from "../lib/stack-floor.ts";

const root = resolve(import.meta.dirname, "..", "..");
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const STATE_ROOT = process.env.BENCH_STATE_ROOT ?? tmpdir();
// As `npm run dev`'s script sets it (package.json), for dev.ts and, through it, the processes it
// starts; the baseline's Node gets it too, to load Miniflare from the same cache.
process.env.NODE_COMPILE_CACHE ??= join(tmpdir(), "node-compile-cache");

type Start = { ms: number; reported: number; load: string; built?: string; rssMb?: number };

const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(" ");

/** A one-line Worker in Miniflare, from a fresh Node process until it answers (scripts/lib/stack-floor.ts). */
async function baseline(): Promise<Start> {
  const before = load();
  const { ms } = await bareStart(0);
  return { ms, reported: ms, load: `${before} → ${load()}` };
}

async function startDev(stateDir: string, buildCache: string, measureMemory = false): Promise<Start> {
  const before = load();
  const began = performance.now();
  const child = spawn(process.execPath, [...LONG_LIVED_NODE_FLAGS, join(root, "scripts", "dev.ts")], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(await freePort()),
      STATE_DIR: stateDir,
      BUILD_CACHE_DIR: buildCache,
      ADMIN_PASSWORD: "bench-password-1",
      EXIT_WITH_PARENT: "1",
    },
    stdio: ["pipe", "pipe", "inherit"],
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  try {
    while (!output.includes("[dagflare] ready")) {
      if (child.exitCode !== null) throw new Error(`dev exited:\n${output}`);
      await new Promise((done) => setTimeout(done, 20));
    }
    const ms = performance.now() - began;
    const reported = Number(/ready in (\d+\.\d) s/.exec(output)?.[1]) * 1000;
    const built = /ready in [\d.]+ s \(((built|the) [^;]+);/.exec(output)?.[1];
    let rssMb: number | undefined;
    if (measureMemory) {
      await new Promise((done) => setTimeout(done, 5_000)); // settled: the first tick is done
      rssMb = treeMemory(child.pid!).rssMb;
    }
    return { ms, reported, load: `${before} → ${load()}`, built, rssMb };
  } finally {
    await stop(child);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((done) => child.once("exit", done));
  child.kill("SIGTERM");
  await exited;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const rows: { kind: string; start: Start }[] = [];
const folders: string[] = [];
try {
  for (let round = 1; round <= ROUNDS; round++) {
    const [stateDir, secondStateDir, buildCache] = ["dev", "dev", "cache"].map((name) =>
      mkdtempSync(join(STATE_ROOT, `dagflare-bench-${name}-`)),
    ) as [string, string, string];
    folders.push(stateDir, secondStateDir, buildCache);
    rows.push({ kind: "baseline", start: await baseline() });
    rows.push({ kind: "first", start: await startDev(stateDir, buildCache) });
    rows.push({ kind: "fresh", start: await startDev(secondStateDir, buildCache) });
    rows.push({ kind: "restart", start: await startDev(stateDir, buildCache, round === ROUNDS) });
    for (const { kind, start } of rows.slice(-4)) {
      console.log(
        `round ${round} ${kind.padEnd(8)} ${seconds(start.ms).padStart(8)}` +
          `${kind === "baseline" ? "" : ` (dev says ${seconds(start.reported)}${start.built ? `, ${start.built}` : ""})`}` +
          `  load average ${start.load}`,
      );
    }
  }
} finally {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
}

const base = median(rows.filter((row) => row.kind === "baseline").map((row) => row.start.ms));
console.log(`\nmedians of ${ROUNDS} (ratio to the baseline: a one-line Worker in Miniflare from a fresh Node)`);
for (const kind of ["baseline", "first", "fresh", "restart"]) {
  const value = median(rows.filter((row) => row.kind === kind).map((row) => row.start.ms));
  console.log(`${kind.padEnd(8)} ${seconds(value).padStart(8)} ${(value / base).toFixed(1).padStart(6)}x`);
}
const memory = rows.find((row) => row.start.rssMb !== undefined)?.start.rssMb;
if (memory !== undefined) console.log(`\nidle stack after the last restart: ${memory} MB resident (all its processes)`);
