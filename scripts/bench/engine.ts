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
 *
 * The client polls the run's details every POLL_MS (10 ms), as a real client would; a tight
 * polling loop would mostly measure the load it puts on the DAG's own Durable Object.
 *
 * Targets (issue 3): chain ≤ 15 ms per step, fan-out/fan-in ≤ 2 s, dispatch ≤ 20 ms.
 * Medians over ROUNDS runs; the machine is shared and noisy, so read ratios to the baseline.
 * The local state lives in memory where possible (see scripts/lib/local-instance.ts).
 */
import { createServer } from "node:http";
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

const step = (name: string, depends?: string[]) =>
  `  - name: ${name}\n    executor: http\n    command: GET ${echoUrl}/${name}/\${DAG_RUN_ID}\n${depends ? `    depends: [${depends.join(", ")}]\n` : ""}`;

async function createDag(name: string, spec: string): Promise<void> {
  const response = await fetch(`${api}/dags`, { method: "POST", headers, body: JSON.stringify({ name, spec }) });
  if (response.status !== 201) throw new Error(`create ${name}: ${response.status} ${await response.text()}`);
}

async function start(name: string): Promise<string> {
  const response = await fetch(`${api}/dags/${name}/start`, { method: "POST", headers, body: "{}" });
  if (!response.ok) throw new Error(`start ${name}: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { dagRunId: string }).dagRunId;
}

/** Milliseconds from the start request until the run's details report it finished. */
async function timeRun(name: string): Promise<number> {
  const begin = performance.now();
  const runId = await start(name);
  for (;;) {
    const response = await fetch(`${api}/dag-runs/${name}/${runId}`, { headers });
    const { dagRunDetails } = (await response.json()) as { dagRunDetails: { status: number; statusLabel: string } };
    if (dagRunDetails.status !== 1 && dagRunDetails.status !== 5) {
      if (dagRunDetails.statusLabel !== "succeeded") throw new Error(`${name} ${runId}: ${dagRunDetails.statusLabel}`);
      return performance.now() - begin;
    }
    await new Promise((done) => setTimeout(done, POLL_MS));
  }
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

  const base = median(baseline);
  const rows: [string, number, string][] = [
    ["baseline: one request to the echo server", base, ""],
    ["Worker floor: GET /health", median(floor), ""],
    ["trigger to first step dispatched (start)", median(dispatch), "≤ 20 ms"],
    ["trigger to first step's request received", median(firstRequest), ""],
    ["30-step chain, per step", median(chain), "≤ 15 ms"],
    ["100-step fan-out/fan-in, whole run", median(fan), "≤ 2000 ms"],
  ];
  console.log(`\nlocal state in ${STATE_ROOT}; ${ROUNDS} rounds (dispatch: ${dispatch.length} starts)`);
  console.log(`${"measure".padEnd(44)} ${"median ms".padStart(10)} ${"x baseline".padStart(11)}  target`);
  for (const [label, value, target] of rows) {
    console.log(
      `${label.padEnd(44)} ${value.toFixed(2).padStart(10)} ${(value / base).toFixed(1).padStart(11)}  ${target}`,
    );
  }
} finally {
  await instance.stop();
  echo.close();
}
