/**
 * `npm run bench:engine`: the run engine on the local stack (`npm run dev`: workerd, local
 * Durable Objects and queues), with HTTP steps against an echo server in this process.
 *
 *   baseline        one HTTP request from here to the echo server (what a step's own work costs)
 *   Worker floor    GET /health through the local stack (wrangler's proxy + the Worker, no storage):
 *                   the part of every API figure that is the local stack, not the engine
 *   dispatch        POST /dags/{name}/start: it returns once the run is recorded (D1 too) and its
 *                   first step sent to the STEPS queue
 *   first request   POST /dags/{name}/start until the first step's request reaches the echo
 *                   server (dispatch + queue delivery + claim + the request itself)
 *   chain           a 30-step chain, from the start request until the run details say finished, / 30
 *   fan-out/fan-in  1 step, then 100 in parallel, then 1 that depends on all 100
 *   sub-DAG call    a step that calls a one-step DAG: from the calling step's dispatch until the
 *                   child's first step is dispatched (both coordinators' timestamps)
 *   parallel: 100   a step with `parallel:` over 100 items (max_concurrent 10, Dagu's default),
 *                   each a run of a one-step child DAG whose step is a command (`echo`), from the
 *                   start request until the run is finished; beside it the same 100 calls one at
 *                   a time (max_concurrent 1), and the same file run by the Dagu 1.30.2 binary
 *                   (`dagu start`, wall time; DAGU_BIN or the cached npm package, see
 *                   scripts/lib/dagu-cli.ts; skipped with DAGU=0)
 *
 * The client polls the run's details every POLL_MS (10 ms), as a real client would; a tight
 * polling loop would mostly measure the load it puts on the DAG's own Durable Object.
 *
 * Targets (issue 3): chain ≤ 15 ms per step, fan-out/fan-in ≤ 2 s, dispatch ≤ 20 ms; (issue
 * 15) sub-DAG call overhead ≤ 25 ms, parallel over 100 child DAGs ≤ 3 s.
 * Medians over ROUNDS runs; the machine is shared and noisy, so read ratios to the baseline.
 * The local state lives in memory where possible (see scripts/lib/local-instance.ts).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createDag as createDagIn, fanOutOverChildren, startRun, timeRun as timeRunIn } from "../lib/dag-api.ts";
import { daguBinary, daguStart } from "../lib/dagu-cli.ts";
import { median, STATE_ROOT, startLocalInstance } from "../lib/local-instance.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const POLL_MS = Number(process.env.POLL_MS ?? 10);

const seen = new Map<string, number>();
const echo = createServer((request, response) => {
  seen.set(request.url ?? "", performance.now());
  response.writeHead(200, { "content-type": "text/plain" });
  response.end("ok");
});
await new Promise<void>((done) => echo.listen(0, "127.0.0.1", done));
const echoUrl = `http://127.0.0.1:${(echo.address() as { port: number }).port}`;

const instance = await startLocalInstance();
const { api, token } = instance;
const headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
const client = { api, token };
const createDag = (name: string, spec: string) => createDagIn(client, name, spec);
const start = (name: string) => startRun(client, name);
const timeRun = (name: string) => timeRunIn(client, name, POLL_MS);

const step = (name: string, depends?: string[]) =>
  `  - name: ${name}\n    executor: http\n    command: GET ${echoUrl}/${name}/\${DAG_RUN_ID}\n${depends ? `    depends: [${depends.join(", ")}]\n` : ""}`;

type Details = { nodes: { startedAt: string; subRuns?: { dagRunId: string }[] }[]; rootDAGRunId: string };

async function details(path: string): Promise<Details> {
  const response = await fetch(`${api}${path}`, { headers });
  return ((await response.json()) as { dagRunDetails: Details }).dagRunDetails;
}

/** Calling step dispatched → the child's first step dispatched, from the two coordinators' records. */
async function callOverhead(name: string): Promise<number> {
  const runId = await start(name);
  let parent: Details;
  do {
    await new Promise((done) => setTimeout(done, POLL_MS));
    parent = await details(`/dag-runs/${name}/${runId}`);
  } while (!parent.nodes[0]!.subRuns?.length);
  const childPath = `/dag-runs/${name}/${runId}/sub-dag-runs/${parent.nodes[0]!.subRuns[0]!.dagRunId}`;
  let child = await details(childPath);
  while (child.nodes[0]!.startedAt === "") {
    await new Promise((done) => setTimeout(done, POLL_MS));
    child = await details(childPath);
  }
  return Date.parse(child.nodes[0]!.startedAt) - Date.parse(parent.nodes[0]!.startedAt);
}

try {
  const baseline: number[] = [];
  for (let i = 0; i < 50; i++) {
    const begin = performance.now();
    await (await fetch(`${echoUrl}/baseline/${i}`)).text();
    baseline.push(performance.now() - begin);
  }
  const floor: number[] = [];
  for (let i = 0; i < 50; i++) {
    const begin = performance.now();
    await (await fetch(`${api}/health`)).text();
    floor.push(performance.now() - begin);
  }

  await createDag("bench-dispatch", `steps:\n${step("first")}`);
  const dispatch: number[] = [];
  const firstRequest: number[] = [];
  for (let i = 0; i < ROUNDS * 4; i++) {
    const begin = performance.now();
    const runId = await start("bench-dispatch");
    dispatch.push(performance.now() - begin);
    const path = `/first/${runId}`;
    while (!seen.has(path)) await new Promise((done) => setImmediate(done));
    firstRequest.push(seen.get(path)! - begin);
  }

  await createDag("bench-chain", `steps:\n${Array.from({ length: 30 }, (_, i) => step(`s${i}`)).join("")}`);
  await timeRun("bench-chain"); // warm-up
  const chain: number[] = [];
  for (let i = 0; i < ROUNDS; i++) chain.push((await timeRun("bench-chain")) / 30);

  const fanOut = Array.from({ length: 100 }, (_, i) => step(`p${i}`, ["begin"])).join("");
  await createDag(
    "bench-fan",
    `type: graph\nsteps:\n${step("begin")}${fanOut}${step(
      "end",
      Array.from({ length: 100 }, (_, i) => `p${i}`),
    )}`,
  );
  await timeRun("bench-fan");
  const fan: number[] = [];
  for (let i = 0; i < ROUNDS; i++) fan.push(await timeRun("bench-fan"));

  await createDag("bench-call", `steps:\n  - name: call\n    call: one\n---\nname: one\nsteps:\n${step("only")}`);
  await timeRun("bench-call");
  const overhead: number[] = [];
  for (let i = 0; i < ROUNDS * 4; i++) overhead.push(await callOverhead("bench-call"));

  await createDag("bench-parallel", fanOutOverChildren(10));
  await createDag("bench-sequential", fanOutOverChildren(1));
  await timeRun("bench-parallel");
  const parallel: number[] = [];
  const sequential: number[] = [];
  const loads: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    loads.push(loadavg()[0]!);
    parallel.push(await timeRun("bench-parallel"));
    sequential.push(await timeRun("bench-sequential"));
  }

  // The same fan-out file on the Dagu 1.30.2 binary, on this machine, in the same minutes.
  const dagu: number[] = [];
  if (process.env.DAGU !== "0") {
    const binary = await daguBinary();
    const folder = mkdtempSync(join(tmpdir(), "bench-dagu-"));
    const file = join(folder, "bench-parallel.yaml");
    writeFileSync(file, fanOutOverChildren(10));
    execFileSync(binary, ["version"], { stdio: "ignore" }); // page the binary in before timing it
    for (let i = 0; i < ROUNDS; i++) {
      const begin = performance.now();
      const run = await daguStart(binary, file, 120_000);
      if (run.status !== 4) throw new Error(`Dagu's run of the fan-out ended with status ${run.status}`);
      dagu.push(performance.now() - begin);
    }
  }

  const base = median(baseline);
  const rows: [string, number, string][] = [
    ["baseline: one request to the echo server", base, ""],
    ["Worker floor: GET /health", median(floor), ""],
    ["trigger to first step dispatched (start)", median(dispatch), "≤ 20 ms"],
    ["trigger to first step's request received", median(firstRequest), ""],
    ["30-step chain, per step", median(chain), "≤ 15 ms"],
    ["100-step fan-out/fan-in, whole run", median(fan), "≤ 2000 ms"],
    ["sub-DAG call: step dispatched → child's step", median(overhead), "≤ 25 ms"],
    ["parallel: 100 child DAGs (command), whole run", median(parallel), "≤ 3000 ms"],
    ["  the same 100 calls one at a time", median(sequential), ""],
    ...(dagu.length > 0
      ? ([["  the same file on Dagu 1.30.2 (dagu start)", median(dagu), ""]] as [string, number, string][])
      : []),
  ];
  console.log(`\nlocal state in ${STATE_ROOT}; ${ROUNDS} rounds (dispatch: ${dispatch.length} starts)`);
  console.log(`${"measure".padEnd(44)} ${"median ms".padStart(10)} ${"x baseline".padStart(11)}  target`);
  for (const [label, value, target] of rows) {
    console.log(
      `${label.padEnd(44)} ${value.toFixed(2).padStart(10)} ${(value / base).toFixed(1).padStart(11)}  ${target}`,
    );
  }
  console.log(
    `\nparallel ÷ one at a time: ${(median(parallel) / median(sequential)).toFixed(2)}` +
      (dagu.length > 0 ? `; dagflare ÷ Dagu 1.30.2: ${(median(parallel) / median(dagu)).toFixed(2)}` : "") +
      `; load average (1 min) at the fan-out rounds: ${loads.map((load) => load.toFixed(2)).join(", ")}`,
  );
} finally {
  await instance.stop();
  echo.close();
}
