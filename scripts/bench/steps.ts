/**
 * `npm run bench:steps`: where a command step's time goes, step by step (issue 20). A chain of
 * command steps is the most common shape of a DAG, and the one where dagflare trailed Dagu.
 *
 * On the local stack (`npm run dev`, its state on disk as a user has it; BENCH_STATE_ROOT moves
 * it), a 30-step chain of `true` command steps and, for contrast, of http steps against an echo
 * server in this process. From each run's step records (the consumer's clock):
 *   step      the consumer's call to the step runner: request, process start, the process, answer
 *   hand-on   result reported to the DAG's coordinator → the next step claimed and started (the
 *             coordinator hands the next step of a chain back to the same consumer: no queue hop)
 * and the run's whole time from the start request, per step. Then a 1 → 30 → 1 fan-out/fan-in.
 *
 * In this process, in the same minutes, the parts of "step" measured alone:
 *   runner    the step runner (container/runner, the same code) started here: PUT of `true`
 *   spawn     Node's child_process.spawn of `bash -c true`, to its exit: what the runner pays for
 *             the process (Node forks, and a fork costs in proportion to the parent's memory;
 *             on these VMs it is most of a step)
 *   from sh   `bash -c true` started by a small process (a sh loop): the floor for any spawner;
 *             and 30 of them started at once, the floor under the fan-out (../lib/process-floor.ts)
 *
 * Medians over ROUNDS (3) runs, with the load average at each.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { startRunner } from "../../container/runner/server.ts";
import { createDag, runDetails, startRun, waitForRun } from "../lib/dag-api.ts";
import { median, startLocalInstance } from "../lib/local-instance.ts";
import { describeFloor, medianFloor, processFloor } from "../lib/process-floor.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CHAIN = 30;
const FAN_WIDTH = 30;
const SAMPLES = 40;
/** How often the run's details are polled, as a client would. */
const POLL_MS = 10;

const echo = createServer((_request, response) => response.end("ok"));
await new Promise<void>((done) => echo.listen(0, "127.0.0.1", done));
const echoUrl = `http://127.0.0.1:${(echo.address() as { port: number }).port}`;

type StepRecord = { step: { name: string }; startedAt: string; finishedAt: string };

const load = () => loadavg()[0]!.toFixed(2);
const ms = (value: number) => value.toFixed(1).padStart(7);

/** Each sample of `task`, in ms. */
async function sample(count: number, task: (i: number) => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const begin = performance.now();
    await task(i);
    times.push(performance.now() - begin);
  }
  return times;
}

async function floors() {
  const secret = "bench-".repeat(8);
  const workRoot = mkdtempSync(join(tmpdir(), "bench-steps-runner-"));
  const runner = await startRunner({ secret, port: 0, host: "127.0.0.1", dagsDir: tmpdir(), workRoot });
  try {
    const put = await sample(SAMPLES, async (i) => {
      const response = await fetch(`${runner.url}/executions/bench-${Date.now()}-${i}?wait=20000`, {
        method: "PUT",
        headers: { Authorization: `Bearer ${secret}`, "Content-Type": "application/json" },
        body: JSON.stringify({ command: "true", shell: "bash", env: {}, timeoutMs: 60_000 }),
      });
      await response.json();
    });
    const fromNode = await sample(
      SAMPLES,
      () =>
        new Promise((done) => spawn("bash", ["-c", "true"], { stdio: "ignore", detached: true }).once("exit", done)),
    );
    const floor = processFloor(FAN_WIDTH);
    return { runner: median(put), spawn: median(fromNode), floor };
  } finally {
    await runner.close();
    rmSync(workRoot, { recursive: true, force: true });
  }
}

// On disk, as `npm run dev` keeps it (local D1 and Durable Object writes sync to it).
const stateRoot = process.env.BENCH_STATE_ROOT ?? tmpdir();
const instance = await startLocalInstance({}, { stateRoot });
/** Runs a DAG to its end: the whole time from the start request, and its step records. */
async function run(name: string): Promise<{ ms: number; nodes: StepRecord[] }> {
  const begin = performance.now();
  const runId = await startRun(instance, name);
  await waitForRun(instance, name, runId, POLL_MS);
  const ms = performance.now() - begin;
  return { ms, nodes: (await runDetails<{ nodes: StepRecord[] }>(instance, name, runId)).nodes };
}

const at = (time: string) => Date.parse(time);
/** Per step of a chain: the step itself, and the hand-on from its result to the next step's start. */
function timeline(nodes: StepRecord[]) {
  const steps = nodes.map((node) => at(node.finishedAt) - at(node.startedAt));
  const handOn = nodes.slice(1).map((node, i) => at(node.startedAt) - at(nodes[i]!.finishedAt));
  return { step: median(steps), handOn: median(handOn) };
}

const commandStep = (name: string, depends: string[]) =>
  `  - name: ${name}\n    command: "true"\n${depends.length ? `    depends: [${depends.join(", ")}]\n` : ""}`;
const httpStep = (name: string, depends: string[]) =>
  `  - name: ${name}\n    executor: http\n    command: GET ${echoUrl}/${name}\n${depends.length ? `    depends: [${depends.join(", ")}]\n` : ""}`;
const chainOf = (step: typeof commandStep) =>
  `steps:\n${Array.from({ length: CHAIN }, (_, i) => step(`s${i}`, i ? [`s${i - 1}`] : [])).join("")}`;
const fanned = Array.from({ length: FAN_WIDTH }, (_, i) => `f${i}`);
const fan = `type: graph\nsteps:\n${commandStep("begin", [])}${fanned.map((name) => commandStep(name, ["begin"])).join("")}${commandStep("end", fanned)}`;

try {
  await createDag(instance, "steps-command-chain", chainOf(commandStep));
  await createDag(instance, "steps-http-chain", chainOf(httpStep));
  await createDag(instance, "steps-command-fan", fan);
  for (const name of ["steps-command-chain", "steps-http-chain", "steps-command-fan"]) await run(name); // warm-up

  type Round = {
    load: string;
    command: ReturnType<typeof timeline> & { perStep: number };
    http: ReturnType<typeof timeline> & { perStep: number };
    fan: number;
    floors: Awaited<ReturnType<typeof floors>>;
  };
  const rounds: Round[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const command = await run("steps-command-chain");
    const http = await run("steps-http-chain");
    const fanRun = await run("steps-command-fan");
    const measured = await floors();
    const entry: Round = {
      load: load(),
      command: { ...timeline(command.nodes), perStep: command.ms / CHAIN },
      http: { ...timeline(http.nodes), perStep: http.ms / CHAIN },
      fan: fanRun.ms,
      floors: measured,
    };
    rounds.push(entry);
    console.log(
      `round ${round}: command chain ${entry.command.perStep.toFixed(1)} ms/step (step ${entry.command.step}, hand-on ${entry.command.handOn}), ` +
        `http chain ${entry.http.perStep.toFixed(1)} ms/step, fan-out 1→${FAN_WIDTH}→1 ${fanRun.ms.toFixed(0)} ms; ` +
        `runner PUT ${measured.runner.toFixed(1)}, spawn from Node ${measured.spawn.toFixed(1)}, from sh ${measured.floor.perProcessMs.toFixed(1)} ms ` +
        `(${FAN_WIDTH} at once ${measured.floor.atOnceMs.toFixed(0)} ms); load average ${entry.load}`,
    );
  }

  const m = (pick: (round: Round) => number) => median(rounds.map(pick));
  console.log(`\nA command step of a chain, per step (medians of ${ROUNDS}; local state in ${stateRoot}):`);
  console.log(
    `${ms(m((r) => r.command.perStep))} ms  the whole run / ${CHAIN} (start request to finished, client polling every 10 ms)`,
  );
  console.log(`${ms(m((r) => r.command.step))} ms  step: the consumer's call to the runner, from request to answer`);
  console.log(`${ms(m((r) => r.floors.runner))} ms    the runner alone (PUT of \`true\` from here, same code)`);
  console.log(
    `${ms(m((r) => r.floors.spawn))} ms      of which the process: Node's spawn of \`bash -c true\` to its exit`,
  );
  console.log(
    `${ms(m((r) => r.floors.floor.perProcessMs))} ms      the same process started by a small program (sh): the floor`,
  );
  console.log(`${ms(m((r) => r.command.handOn))} ms  hand-on: result to the coordinator, next step claimed inline`);
  console.log(
    `An http step of a chain, for contrast: ${m((r) => r.http.perStep).toFixed(1)} ms per step (step ${m((r) => r.http.step)} ms, hand-on ${m((r) => r.http.handOn)} ms)`,
  );
  console.log(`Fan-out/fan-in of command steps (1 → ${FAN_WIDTH} → 1): ${m((r) => r.fan).toFixed(0)} ms`);
  console.log(`  under it, ${describeFloor(medianFloor(rounds.map((r) => r.floors.floor)))}`);
  console.log(`Load averages: ${rounds.map((r) => r.load).join(", ")}`);
} finally {
  await instance.stop();
  echo.close();
}
