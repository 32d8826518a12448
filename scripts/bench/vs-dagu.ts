/**
 * `npm run bench:vs-dagu`: dagflare beside Dagu 1.30.2 on this machine (issue 20). One script
 * starts each system fresh, drives both through the same `/api/v2` calls on identical DAG files,
 * and prints one table: each figure for dagflare and for Dagu, their ratio, the target and
 * whether it is met.
 *
 *   dagflare     `npm run dev` (scripts/dev.ts through scripts/lib/local-instance.ts): workerd with
 *                local D1, Durable Objects and queues, and the step runner for command steps
 *   Dagu 1.30.2  `dagu start-all` (scripts/lib/dagu-cli.ts): its server, scheduler and queue
 *                consumer in one process; each run a `dagu start` child process
 * Both keep their state on disk, in a fresh folder under BENCH_STATE_ROOT (the system's temporary
 * folder): the default a user gets (dagflare's .wrangler/state, Dagu's ~/.local/share/dagu), not
 * the /dev/shm the other benchmarks use to take the disk out of their figures. Both use builtin
 * auth with an admin, as their webhooks require.
 *
 * Dagu 1.30.2 has webhooks: POST /api/v2/webhooks/{fileName} with `Authorization: Bearer
 * dagu_wh_…` (checked with bcrypt against the stored hash; the run is enqueued for its scheduler's
 * queue consumer). dagflare serves the same route; both get the same request, `{"payload": {…}}`.
 *
 * Each round starts each system on a fresh state folder (the order alternates), then measures:
 *   cold start     spawn → GET /api/v2/health answers 200 (dagflare: its UI and Worker builds from
 *                  the build cache an earlier start filled; its ready line, printed for information,
 *                  comes later); and dagflare's first start after a clone, with an empty build
 *                  cache (the UI and the Worker built), in a start of its own before the others
 *   idle memory    SETTLE_MS after the start: RSS summed over the system's whole process tree, the
 *                  number of processes, and PSS from /proc/PID/smaps_rollup where the kernel has it
 *   trigger        TRIGGERS webhook triggers one at a time (p50); then CONCURRENCY clients for
 *                  PHASE_SECONDS (triggers/s, p50) beside GET /api/v2/health, the cheapest route,
 *                  at the same concurrency. The DAG's one step is an http step that a server in
 *                  this process answers after a minute, `maxActiveRuns: 1`: the runs queue behind
 *                  it, and the figures are the trigger's own cost, not that of running them
 *   wrong token    TRIGGERS triggers with random tokens, one at a time, each from its own client
 *                  address (no rate limit or failure cache applies: the full check)
 *   → running      a webhook trigger until its command step (`touch MARKS/${DAG_RUN_ID}`) has made
 *                  the file (seen through inotify), STARTS times; then the same from the API's
 *                  POST /dags/{name}/start. Dagu starts a webhook's run through its scheduler's
 *                  queue consumer, which passes over the queues at most every 3 s and waits for
 *                  each pass's starts: the triggers' flood (below) comes last so that no queue of
 *                  held runs delays this
 *   chain          30 command steps in a chain, started by the API: from the first step's command
 *                  (a `touch`) to the last one's, ÷ 29; the 28 between are `true`. RUNS runs
 *   chain beside   the same, while another DAG's http step waits on a server here that answers
 *                  only after 20 s; as a ratio to the chain alone in the same round
 *   fan-out/in     1 → 30 → 1 command steps: from the first step's command to the last one's
 *   parallel       `parallel:` over 100 child DAGs, each a one-step DAG with a command step
 *                  (scripts/lib/dag-api.ts, as bench:engine), from the start request until the
 *                  run's details say finished (polled every POLL_MS, 10 ms)
 * Figures are the medians of the rounds' own medians; each round prints its figures and the load
 * average before and after. The machine is shared (2 cores): read them with the load.
 *
 * Floors, measured in each round beside the systems: what this machine and the local Cloudflare
 * stack charge before any dagflare code runs. The table prints each row's floor, and a target
 * below its floor as such:
 *   processes      `bash -c true` started by sh, one after another and FAN_WIDTH at once
 *                  (scripts/lib/process-floor.ts): a chain step starts one, a fan-out 31
 *   bare Worker    a fresh Node that loads Miniflare and starts a one-line Worker, until it
 *                  answers, and that Node and its workerd's idle memory; and, behind the same front
 *                  as dagflare's, a Durable Object storing one row per request against the no-op
 *                  at concurrency CONCURRENCY (scripts/lib/stack-floor.ts): the least a trigger
 *                  that keeps exactly-once run ids does before it answers
 *
 * Targets (issue 20): every figure ≤ 0.5 × Dagu's (a throughput ≥ 2×); webhook triggers 10×
 * ahead of Dagu (p50 ≤ 0.1×, triggers/s ≥ 10×); chain ≤ 5 ms a step; fan-out/fan-in ≤ 120 ms;
 * idle RSS ≤ 400 MB; trigger p50 at concurrency 8 ≤ 2 × the health route's; chain beside the
 * 20 s step ≤ 1.2 × the chain alone. The last two are dagflare's (Dagu's shown for reference).
 *
 * ROUNDS (3), TRIGGERS (30), STARTS (8), RUNS (3), PHASE_SECONDS (4), SETTLE_MS (5000),
 * BENCH_STATE_ROOT; DAGU_BIN picks another Dagu binary (scripts/lib/dagu-cli.ts).
 */
import { type FSWatcher, mkdtempSync, rmSync, watch } from "node:fs";
import { createServer } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ApiClient,
  createDag,
  createWebhook,
  fanOutOverChildren,
  startRun,
  timeRun,
  unknownWebhookToken,
  waitForRun,
} from "../lib/dag-api.ts";
import { DAGU_VERSION, daguBinary, daguVersion, startDaguServer } from "../lib/dagu-cli.ts";
import { closedLoop, emptyPhase, failureSummary, oneByOne, type Phase } from "../lib/load.ts";
import { ADMIN, inMemory, median, startLocalInstance } from "../lib/local-instance.ts";
import { describeFloor, medianFloor, type ProcessFloor, processFloor } from "../lib/process-floor.ts";
import { treeMemory } from "../lib/process-tree.ts";
import { bareStart, startBareWorker } from "../lib/stack-floor.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const TRIGGERS = Number(process.env.TRIGGERS ?? 30);
const STARTS = Number(process.env.STARTS ?? 8);
const RUNS = Number(process.env.RUNS ?? 3);
const PHASE_SECONDS = Number(process.env.PHASE_SECONDS ?? 4);
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 5_000);
const CONCURRENCY = 8;
const POLL_MS = 10;
const SLOW_STEP_SECONDS = 20;
const CHAIN_STEPS = 30;
const FAN_WIDTH = 30;
const STATE_ROOT = process.env.BENCH_STATE_ROOT ?? tmpdir();
/** How long a step's marker file may take to appear before the round fails. */
const MARK_TIMEOUT_MS = 60_000;

type Server = ApiClient & { pid: number; healthyMs: number; readyMs?: number; stop: () => Promise<void> };
/**
 * `firstStartMs`: spawn → healthy on a fresh state folder with nothing cached from earlier starts
 * (dagflare's builds: the first start after a clone); a system without such a cache has none.
 */
type System = { name: string; start: () => Promise<Server>; firstStartMs?: () => Promise<number> };

/** One round's figures for one system. */
type Figures = {
  coldStartMs: number;
  firstStartMs: number;
  readyMs: number | undefined;
  rssMb: number;
  pssMb: number | undefined;
  processes: number;
  triggerP50: number;
  wrongTokenP50: number;
  triggersPerSecond: number;
  triggerC8P50: number;
  healthC8P50: number;
  toRunningP50: number;
  startToRunningP50: number;
  chainPerStep: number;
  chainBesidePerStep: number;
  fanOutMs: number;
  parallelMs: number;
};

// Steps' http requests land here: /hold/<seconds>/<id> is answered after that many seconds.
const arrivals = new Map<string, number>();
const answered = new Set<string>();
const server = createServer((request, response) => {
  const path = request.url ?? "";
  arrivals.set(path, performance.now());
  const seconds = Number(/^\/hold\/(\d+)\//.exec(path)?.[1] ?? 0);
  setTimeout(() => {
    answered.add(path);
    response.end("ok");
  }, seconds * 1000).unref();
});
await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
const serverUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

// Command steps mark the moment they run by creating a file here; inotify tells us at once.
const marksDir = mkdtempSync(join(STATE_ROOT, "vs-dagu-marks-"));
const marks = new Map<string, number>();
const markWaiters = new Map<string, () => void>();
const watcher: FSWatcher = watch(marksDir, (_event, file) => {
  if (!file || marks.has(file)) return;
  marks.set(file, performance.now());
  markWaiters.get(file)?.();
});

/** When the file `name` appeared in the marks folder (performance.now()). */
async function mark(name: string): Promise<number> {
  if (!marks.has(name)) {
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`no step made ${name} in ${MARK_TIMEOUT_MS} ms`)), MARK_TIMEOUT_MS);
      markWaiters.set(name, () => {
        clearTimeout(timer);
        done();
      });
    });
    markWaiters.delete(name);
  }
  return marks.get(name)!;
}

const touch = (suffix: string) => `touch ${marksDir}/\${DAG_RUN_ID}${suffix}`;
const commandStep = (name: string, command: string, depends: string[]) =>
  `  - name: ${name}\n    command: ${command}\n${depends.length > 0 ? `    depends: [${depends.join(", ")}]\n` : ""}`;
const httpStep = (name: string, seconds: number) =>
  `  - name: ${name}\n    executor: http\n    command: GET ${serverUrl}/hold/${seconds}/\${DAG_RUN_ID}\n`;

/** The DAG files, the same text for both systems. */
const DAGS: Record<string, string> = {
  "vs-trigger": `maxActiveRuns: 1\nsteps:\n${httpStep("hold", 60)}`,
  "vs-start": `steps:\n${commandStep("mark", touch(""), [])}`,
  "vs-chain": `type: graph\nsteps:\n${Array.from({ length: CHAIN_STEPS }, (_, i) =>
    commandStep(
      `s${i}`,
      i === 0 ? touch(".first") : i === CHAIN_STEPS - 1 ? touch(".last") : `"true"`,
      i === 0 ? [] : [`s${i - 1}`],
    ),
  ).join("")}`,
  "vs-fan": `type: graph\nsteps:\n${commandStep("begin", touch(".first"), [])}${Array.from(
    { length: FAN_WIDTH },
    (_, i) => commandStep(`p${i}`, `"true"`, ["begin"]),
  ).join("")}${commandStep(
    "end",
    touch(".last"),
    Array.from({ length: FAN_WIDTH }, (_, i) => `p${i}`),
  )}`,
  "vs-parallel": fanOutOverChildren(10),
  "vs-slow": `steps:\n${httpStep("wait", SLOW_STEP_SECONDS)}`,
};

/** From the run's first command to its last (`.first` and `.last` markers). */
async function markedRun(client: ApiClient, dag: string): Promise<number> {
  const runId = await startRun(client, dag);
  const first = await mark(`${runId}.first`);
  const last = await mark(`${runId}.last`);
  await waitForRun(client, dag, runId, POLL_MS);
  return last - first;
}

const loadNow = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(" ");
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

let sequence = 0;

async function measure(system: System, round: number): Promise<Figures> {
  const loadBefore = loadNow();
  let step = "start";
  const firstStartMs = await system.firstStartMs?.();
  const instance = await system.start().catch((error: unknown) => {
    throw new Error(`${system.name}, round ${round}: the start failed`, { cause: error });
  });
  const failures: string[] = [];
  const expect = (label: string, phase: Phase) => {
    if (phase.failures.size > 0) failures.push(`${label}: ${failureSummary(phase)}`);
  };
  try {
    step = "settling";
    await sleep(SETTLE_MS);
    const memory = treeMemory(instance.pid);

    step = "creating the DAGs";
    for (const [name, spec] of Object.entries(DAGS)) await createDag(instance, name, spec);
    const triggerToken = await createWebhook(instance, "vs-trigger");
    const startToken = await createWebhook(instance, "vs-start");
    const trigger = (dag: string, token: string) =>
      fetch(`${instance.api}/webhooks/${dag}`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${token}`,
          "Content-Type": "application/json",
          "CF-Connecting-IP": "10.0.0.1",
        },
        body: JSON.stringify({ payload: { n: ++sequence } }),
      });
    const wrongToken = () =>
      fetch(`${instance.api}/webhooks/vs-trigger`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${unknownWebhookToken()}`,
          "Content-Type": "application/json",
          "CF-Connecting-IP": `203.0.113.${++sequence % 250}-${crypto.randomUUID()}`,
        },
        body: "{}",
      });
    const health = () => fetch(`${instance.api}/health`);

    step = "trigger → command running";
    const toRunning: number[] = [];
    for (let i = 0; i <= STARTS; i++) {
      const begin = performance.now();
      const response = await trigger("vs-start", startToken);
      if (!response.ok) throw new Error(`trigger vs-start: ${response.status} ${await response.text()}`);
      const { dagRunId } = (await response.json()) as { dagRunId: string };
      const running = await mark(dagRunId);
      if (i > 0) toRunning.push(running - begin); // the first is the warm-up
      await waitForRun(instance, "vs-start", dagRunId, POLL_MS);
    }

    step = "API start → command running";
    const startToRunning: number[] = [];
    for (let i = 0; i <= STARTS; i++) {
      const begin = performance.now();
      const runId = await startRun(instance, "vs-start");
      const running = await mark(runId);
      if (i > 0) startToRunning.push(running - begin);
      await waitForRun(instance, "vs-start", runId, POLL_MS);
    }

    step = "chain";
    const chain: number[] = [];
    for (let i = 0; i <= RUNS; i++) {
      const ms = await markedRun(instance, "vs-chain");
      if (i > 0) chain.push(ms / (CHAIN_STEPS - 1));
    }

    step = "chain beside the slow step";
    const slowRun = await startRun(instance, "vs-slow");
    const slowPath = `/hold/${SLOW_STEP_SECONDS}/${slowRun}`;
    while (!arrivals.has(slowPath)) await sleep(5);
    const chainBeside: number[] = [];
    for (let i = 0; i < RUNS; i++) chainBeside.push((await markedRun(instance, "vs-chain")) / (CHAIN_STEPS - 1));
    if (answered.has(slowPath)) throw new Error(`the chain beside the ${SLOW_STEP_SECONDS} s step outlasted it`);
    await waitForRun(instance, "vs-slow", slowRun, 100); // the rest is measured without it

    step = "fan-out/fan-in";
    const fan: number[] = [];
    for (let i = 0; i <= RUNS; i++) {
      const ms = await markedRun(instance, "vs-fan");
      if (i > 0) fan.push(ms);
    }

    step = "parallel";
    await timeRun(instance, "vs-parallel", POLL_MS); // warm-up
    const parallelMs = await timeRun(instance, "vs-parallel", POLL_MS);

    // Last: the runs these triggers queue (behind the held step) must not delay the rest.
    step = "webhook triggers";
    // Warm-up: connections, the DAG's state, the parsed spec, the webhook.
    await oneByOne(emptyPhase(), 5, 200, () => trigger("vs-trigger", triggerToken));
    await oneByOne(emptyPhase(), 3, 401, wrongToken);

    const one = emptyPhase();
    await oneByOne(one, TRIGGERS, 200, () => trigger("vs-trigger", triggerToken));
    expect("trigger", one);
    const wrong = emptyPhase();
    await oneByOne(wrong, TRIGGERS, 401, wrongToken);
    expect("wrong token", wrong);
    const healthC8 = emptyPhase();
    await closedLoop(healthC8, { concurrency: CONCURRENCY, seconds: PHASE_SECONDS }, 200, health);
    expect("health", healthC8);
    const triggerC8 = emptyPhase();
    await closedLoop(triggerC8, { concurrency: CONCURRENCY, seconds: PHASE_SECONDS }, 200, () =>
      trigger("vs-trigger", triggerToken),
    );
    expect(`trigger ×${CONCURRENCY}`, triggerC8);

    const figures: Figures = {
      coldStartMs: instance.healthyMs,
      firstStartMs: firstStartMs ?? instance.healthyMs,
      readyMs: instance.readyMs,
      rssMb: memory.rssMb,
      pssMb: memory.pssMb,
      processes: memory.processes,
      triggerP50: median(one.latencies),
      wrongTokenP50: median(wrong.latencies),
      triggersPerSecond: triggerC8.requests / triggerC8.seconds,
      triggerC8P50: median(triggerC8.latencies),
      healthC8P50: median(healthC8.latencies),
      toRunningP50: median(toRunning),
      startToRunningP50: median(startToRunning),
      chainPerStep: median(chain),
      chainBesidePerStep: median(chainBeside),
      fanOutMs: median(fan),
      parallelMs,
    };
    const f = figures;
    console.log(
      `round ${round} ${system.name}, load average ${loadBefore} → ${loadNow()}\n` +
        `  cold start ${seconds(f.coldStartMs)} to healthy${f.readyMs ? ` (ready line ${seconds(f.readyMs)})` : ""}; ` +
        `idle ${f.rssMb} MB RSS${f.pssMb === undefined ? "" : `, ${f.pssMb} MB PSS`}, ${f.processes} processes\n` +
        `  trigger p50 ${ms(f.triggerP50)}; wrong token p50 ${ms(f.wrongTokenP50)}; ` +
        `×${CONCURRENCY}: ${f.triggersPerSecond.toFixed(1)} triggers/s, p50 ${ms(f.triggerC8P50)} (health p50 ${ms(f.healthC8P50)})\n` +
        `  trigger → command running p50 ${ms(f.toRunningP50)} (API start ${ms(f.startToRunningP50)}); chain ${ms(f.chainPerStep)}/step ` +
        `(beside a ${SLOW_STEP_SECONDS} s step ${ms(f.chainBesidePerStep)}); fan-out/fan-in ${ms(f.fanOutMs)}; ` +
        `parallel: 100 ${seconds(f.parallelMs)}` +
        (failures.length > 0 ? `\n  unexpected statuses: ${failures.join("; ")}` : ""),
    );
    return figures;
  } catch (error) {
    throw new Error(`${system.name}, round ${round}, during ${step}`, { cause: error });
  } finally {
    await instance.stop();
  }
}

const ms = (value: number) => `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
const seconds = (value: number) => `${(value / 1000).toFixed(2)} s`;

type Row = {
  label: string;
  value: (figures: Figures) => number;
  show: (value: number) => string;
  /** dagflare ÷ Dagu must be at most this (a throughput: at least). */
  vsDagu?: number;
  /** dagflare's own figure must be at most this. */
  atMost?: number;
  higherIsBetter?: boolean;
  /** A ratio within one system: no dagflare/Dagu column. */
  withinSystem?: boolean;
  /** The least any system could reach here on this machine and stack (see Floors). */
  floor?: (floors: Floors) => number;
};

/** One round's floors: this machine's for processes, the local Cloudflare stack's for the rest. */
type Floors = {
  processes: ProcessFloor;
  /** A one-line Worker in Miniflare: spawn → answered, and its Node and workerd's idle RSS. */
  bareStartMs: number;
  bareRssMb: number;
  barePssMb: number | undefined;
  /** A Durable Object storing one row per request, p50 ÷ the no-op's p50, at concurrency CONCURRENCY. */
  bareWriteRatio: number;
  /** The same with one D1 insert by the object, as a run's D1 copy (for information). */
  bareWriteD1Ratio: number;
};

async function measureFloors(): Promise<Floors> {
  const processes = processFloor(FAN_WIDTH);
  const start = await bareStart();
  const bare = await startBareWorker(STATE_ROOT);
  try {
    const load = async (request: () => Promise<Response>) => {
      const phase = emptyPhase();
      await closedLoop(phase, { concurrency: CONCURRENCY, seconds: PHASE_SECONDS }, 200, request);
      if (phase.failures.size > 0) throw new Error(`the bare Worker: ${failureSummary(phase)}`);
      return median(phase.latencies);
    };
    const health = await load(bare.health);
    const bareWriteRatio = (await load(bare.write)) / health;
    const bareWriteD1Ratio = (await load(bare.writeAndInsert)) / health;
    console.log(
      `round floors: ${describeFloor(processes)}; a bare Worker answers ${seconds(start.ms)} after the spawn, ` +
        `idles at ${start.rssMb} MB RSS; its object's write p50 ÷ its no-op p50 at ×${CONCURRENCY}: ` +
        `${bareWriteRatio.toFixed(2)}× (${bareWriteD1Ratio.toFixed(2)}× with a D1 insert)`,
    );
    return {
      processes,
      bareStartMs: start.ms,
      bareRssMb: start.rssMb,
      barePssMb: start.pssMb,
      bareWriteRatio,
      bareWriteD1Ratio,
    };
  } finally {
    await bare.stop();
  }
}

/** The row's target, as printed: what `atMost` and `vsDagu` say. */
function targetOf(row: Row): string {
  const parts: string[] = [];
  if (row.atMost !== undefined)
    parts.push(row.withinSystem ? `≤ ${row.atMost}× (dagflare)` : `≤ ${row.show(row.atMost)}`);
  if (row.vsDagu !== undefined) parts.push(`${row.higherIsBetter ? "≥" : "≤"} ${row.vsDagu}× Dagu`);
  return parts.join(", ");
}

const rows: Row[] = [
  {
    label: "webhook trigger p50, concurrency 1",
    value: (f) => f.triggerP50,
    show: ms,
    vsDagu: 0.1,
  },
  {
    label: `webhook triggers/s, concurrency ${CONCURRENCY}`,
    value: (f) => f.triggersPerSecond,
    show: (v) => `${v.toFixed(1)}/s`,
    vsDagu: 10,
    higherIsBetter: true,
  },
  {
    label: "wrong-token trigger p50, concurrency 1",
    value: (f) => f.wrongTokenP50,
    show: ms,
    vsDagu: 0.5,
  },
  {
    label: "trigger → command step running, p50",
    value: (f) => f.toRunningP50,
    show: ms,
    vsDagu: 0.5,
  },
  {
    label: "POST /dags/{name}/start → command running, p50",
    value: (f) => f.startToRunningP50,
    show: ms,
    vsDagu: 0.5,
  },
  {
    label: `${CHAIN_STEPS}-step chain of command steps, per step`,
    value: (f) => f.chainPerStep,
    show: ms,
    vsDagu: 0.5,
    atMost: 5,
    floor: (floors) => floors.processes.perProcessMs,
  },
  {
    label: `fan-out/fan-in of command steps (1 → ${FAN_WIDTH} → 1)`,
    value: (f) => f.fanOutMs,
    show: ms,
    vsDagu: 0.5,
    atMost: 120,
    // The 30 started together, then the last step's own.
    floor: (floors) => floors.processes.atOnceMs + floors.processes.perProcessMs,
  },
  {
    label: "parallel: over 100 child DAGs (command steps)",
    value: (f) => f.parallelMs,
    show: seconds,
    vsDagu: 0.5,
  },
  {
    label: "idle memory, RSS summed over the process tree",
    value: (f) => f.rssMb,
    show: (v) => `${Math.round(v)} MB`,
    vsDagu: 0.5,
    atMost: 400,
    floor: (floors) => floors.bareRssMb,
  },
  {
    label: "idle memory, PSS (/proc/PID/smaps_rollup)",
    value: (f) => f.pssMb ?? Number.NaN,
    show: (v) => (Number.isNaN(v) ? "n/a" : `${Math.round(v)} MB`),
    vsDagu: 0.5,
    floor: (floors) => floors.barePssMb ?? Number.NaN,
  },
  {
    label: "idle processes",
    value: (f) => f.processes,
    show: (v) => String(Math.round(v)),
  },
  {
    label: "cold start to healthy (fresh state folder)",
    value: (f) => f.coldStartMs,
    show: seconds,
    vsDagu: 0.5,
    floor: (floors) => floors.bareStartMs,
  },
  {
    label: "the same, first start after a clone (UI and Worker built)",
    value: (f) => f.firstStartMs,
    show: seconds,
    vsDagu: 0.5,
    floor: (floors) => floors.bareStartMs,
  },
  {
    label: `trigger p50, concurrency ${CONCURRENCY}`,
    value: (f) => f.triggerC8P50,
    show: ms,
  },
  {
    label: `no-op GET /api/v2/health p50, concurrency ${CONCURRENCY}`,
    value: (f) => f.healthC8P50,
    show: ms,
  },
  {
    label: `trigger p50 ÷ no-op p50, concurrency ${CONCURRENCY}`,
    value: (f) => f.triggerC8P50 / f.healthC8P50,
    show: (v) => `${v.toFixed(2)}×`,
    atMost: 2,
    withinSystem: true,
    floor: (floors) => floors.bareWriteRatio,
  },
  {
    label: `chain per step beside a ${SLOW_STEP_SECONDS} s http step`,
    value: (f) => f.chainBesidePerStep,
    show: ms,
    vsDagu: 0.5,
    floor: (floors) => floors.processes.perProcessMs,
  },
  {
    label: "chain beside the 20 s step ÷ chain alone",
    value: (f) => f.chainBesidePerStep / f.chainPerStep,
    show: (v) => `${v.toFixed(2)}×`,
    atMost: 1.2,
    withinSystem: true,
  },
];

function verdict(row: Row, ours: number, theirs: number, floor: number | undefined): string {
  if (row.vsDagu === undefined && row.atMost === undefined) return "";
  if (Number.isNaN(ours)) return "n/a";
  let pass = row.atMost === undefined || ours <= row.atMost;
  if (row.vsDagu !== undefined) {
    const ratio = ours / theirs;
    pass &&= row.higherIsBetter ? ratio >= row.vsDagu : ratio <= row.vsDagu;
  }
  if (pass) return "pass";
  // Lower is better wherever a floor is known: the target is the least of its bounds.
  const target = Math.min(row.atMost ?? Number.POSITIVE_INFINITY, (row.vsDagu ?? Number.POSITIVE_INFINITY) * theirs);
  return floor !== undefined && target < floor ? "FAIL, target below the floor" : "FAIL";
}

const binary = await daguBinary();
const version = await daguVersion(binary);
if (!version.includes(DAGU_VERSION)) console.log(`note: ${binary} says it is ${version}, not ${DAGU_VERSION}`);
/** dagflare's build cache (scripts/lib/build-cache.ts), emptied before each round's first start. */
const buildCache = mkdtempSync(join(STATE_ROOT, "vs-dagu-build-cache-"));
const systems: System[] = [
  {
    name: "dagflare",
    // On a fresh state folder, with the builds the round's first start put in its build cache.
    start: () => startLocalInstance({ BUILD_CACHE_DIR: buildCache }, { stateRoot: STATE_ROOT }),
    firstStartMs: async () => {
      rmSync(buildCache, { recursive: true, force: true });
      const instance = await startLocalInstance({ BUILD_CACHE_DIR: buildCache }, { stateRoot: STATE_ROOT });
      await instance.stop();
      // Its processes' ends (and the disk's flush of its state) don't spill into the next start.
      await sleep(2_000);
      return instance.healthyMs;
    },
  },
  {
    name: `Dagu ${DAGU_VERSION}`,
    start: () => startDaguServer(binary, { stateRoot: STATE_ROOT, admin: ADMIN }),
  },
];
const storage = inMemory(STATE_ROOT) ? "in memory (tmpfs)" : "on disk";
console.log(
  `dagflare vs Dagu ${DAGU_VERSION} (${binary}); state folders in ${STATE_ROOT}, ${storage}; ` +
    `${ROUNDS} rounds, each system started fresh in each`,
);

const results = new Map<string, Figures[]>(systems.map((system) => [system.name, []]));
const loads: string[] = [];
const floors: Floors[] = [];
try {
  for (let round = 1; round <= ROUNDS; round++) {
    loads.push(loadavg()[0]!.toFixed(2));
    floors.push(await measureFloors());
    // Alternating which goes first spreads the machine's drift over both.
    const order = round % 2 === 1 ? systems : [...systems].reverse();
    for (const system of order) results.get(system.name)!.push(await measure(system, round));
  }
} finally {
  watcher.close();
  server.closeAllConnections();
  server.close();
  rmSync(marksDir, { recursive: true, force: true });
  rmSync(buildCache, { recursive: true, force: true });
}

const [ours, theirs] = systems.map((system) => results.get(system.name)!);
const medianOf = (row: Row, figures: Figures[]) => median(figures.map(row.value));
console.log(
  `\nmedians of ${ROUNDS} rounds (${new Date().toISOString().slice(0, 10)}, load average (1 min) at each round: ${loads.join(", ")})`,
);
console.log(
  "Dagu's trigger is its own webhook route, POST /api/v2/webhooks/{fileName}: the token checked with bcrypt " +
    "(a wrong one too), the run queued for its scheduler, whose queue consumer passes at most every 3 s\n",
);
const header = ["", "dagflare", `Dagu ${DAGU_VERSION}`, "dagflare/Dagu", "floor", "target", ""];
const table = rows.map((row) => {
  const a = medianOf(row, ours!);
  const b = medianOf(row, theirs!);
  const floor = row.floor && median(floors.map(row.floor));
  return [
    row.label,
    row.show(a),
    row.show(b),
    row.withinSystem || Number.isNaN(a) ? "" : `${(a / b).toFixed(2)}`,
    floor === undefined ? "" : row.show(floor),
    targetOf(row),
    verdict(row, a, b, floor),
  ];
});
const widths = header.map((_, i) => Math.max(header[i]!.length, ...table.map((cells) => cells[i]!.length)));
const line = (cells: string[]) =>
  `| ${cells.map((cell, i) => (i === 0 || i >= 5 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(" | ")} |`;
console.log(line(header));
console.log(
  `| ${widths.map((width, i) => (i === 0 || i >= 5 ? "-".repeat(width) : `${"-".repeat(width - 1)}:`)).join(" | ")} |`,
);
for (const cells of table) console.log(line(cells));
// The command rows' targets are set against this: no engine can start a step's process for less.
console.log(`\nUnder the command rows, ${describeFloor(medianFloor(floors.map((floor) => floor.processes)))}`);
console.log(
  "Under the start, memory and trigger ÷ no-op rows, the local Cloudflare stack's (scripts/lib/stack-floor.ts): " +
    "a one-line Worker in Miniflare, and, behind the same front as dagflare's, a Durable Object storing one row " +
    `per request (with one D1 insert too, as a run's D1 copy: ${median(floors.map((floor) => floor.bareWriteD1Ratio)).toFixed(2)}× the no-op)`,
);
const ready = ours!.map((f) => f.readyMs).filter((value): value is number => value !== undefined);
if (ready.length > 0) {
  console.log(
    `\ndagflare's ready line (API, migrations, first admin and step runner all up): ${seconds(median(ready))} after the spawn`,
  );
}
