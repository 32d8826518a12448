/**
 * `npm run bench:alerts`: what alerts cost.
 *
 *   render    the Discord preset rendered for a failure whose message is 100 KB (quotes, newlines
 *             and all), median of RENDERS renders, next to a baseline measured in the same run:
 *             JSON.stringify of the same values in a hand-built object (what a naive renderer does)
 *   deliver   ALERTS alerts (POLICIES policies × failing runs) through the local stack — the
 *             coordinator's event, the ALERTS queue fan-out, one delivery per policy — to a
 *             receiver in this process; alerts/s from the first run's start to the last request
 *
 * Target (issue 6): render ≤ 1 ms median. The machine is shared: read medians and ratios.
 */
import { createServer } from "node:http";
import { tokenValues } from "../../src/alerts/context.ts";
import { PRESETS } from "../../src/alerts/presets.ts";
import { checkTemplate, renderTemplate } from "../../src/alerts/template.ts";
import { median, STATE_ROOT, startLocalInstance } from "../lib/local-instance.ts";

const RENDERS = Number(process.env.RENDERS ?? 2000);
const POLICIES = Number(process.env.POLICIES ?? 100);
const RUNS = Number(process.env.RUNS ?? 10);

// --- render ---------------------------------------------------------------------------------
const failure = `step "build" failed: exit code 2\n${'npm ERR! "quoted" \\ back\\slash\n'.repeat(3000)}`.slice(
  0,
  100 * 1024,
);
const policy = { id: "p", name: "Critical", description: "", options: {} };
const facts = {
  dagName: "deploy",
  runId: "r1",
  runStatus: "failed",
  error: failure,
  failedSteps: ["build"],
  startedAt: new Date().toISOString(),
  finishedAt: new Date().toISOString(),
  durationMs: 300_000,
};
const env = { DEPLOYMENT_NAME: "prod", PUBLIC_URL: "https://dagflare.example.com" };
const discord = checkTemplate(PRESETS.find((preset) => preset.id === "discord")!.body);
if (!discord.ok) throw new Error("preset does not parse");

const renders: number[] = [];
const baseline: number[] = [];
for (let i = 0; i < RENDERS; i++) {
  let start = performance.now();
  const values = tokenValues(env, policy, "JOB_FAILURE", facts);
  JSON.parse(renderTemplate(discord.tree, values));
  renders.push(performance.now() - start);
  start = performance.now();
  const naive = {
    content: values.alert_summary,
    embeds: [{ title: values.alert_summary, description: values.alert_content, timestamp: values.start_time }],
  };
  JSON.parse(JSON.stringify(naive));
  baseline.push(performance.now() - start);
}

// --- deliver --------------------------------------------------------------------------------
let received = 0;
let lastAt = 0;
const receiver = createServer((request, response) => {
  request.resume();
  request.on("end", () => {
    if (request.url?.startsWith("/fail")) {
      response.writeHead(500).end("step failure");
      return;
    }
    received++;
    lastAt = performance.now();
    response.writeHead(200).end("ok");
  });
});
await new Promise<void>((done) => receiver.listen(0, "127.0.0.1", done));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;

const instance = await startLocalInstance();
const headers = { Authorization: `Bearer ${instance.token}`, "Content-Type": "application/json" };
const post = (path: string, body: unknown) =>
  fetch(`${instance.api}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
let alertsPerSecond = 0;
let total = 0;
try {
  const spec = `maxActiveRuns: ${RUNS}\nsteps:\n  - name: fail\n    executor: http\n    command: GET ${receiverUrl}/fail\n`;
  await post("/dags", { name: "bench-alerts", spec });
  for (let i = 0; i < POLICIES; i++) {
    const created = await post("/alert-policies", {
      name: `bench-${i}`,
      eventTypes: ["JOB_FAILURE"],
      dagNames: ["bench-alerts"],
      webhook: { url: `${receiverUrl}/alert/${i}`, body: PRESETS.find((preset) => preset.id === "discord")!.body },
    });
    if (created.status !== 201) throw new Error(`policy ${i}: ${created.status} ${await created.text()}`);
  }
  total = POLICIES * RUNS;
  const began = performance.now();
  await Promise.all(Array.from({ length: RUNS }, () => post("/dags/bench-alerts/start", {})));
  const deadline = Date.now() + 120_000;
  while (received < total && Date.now() < deadline) await new Promise((done) => setTimeout(done, 20));
  if (received < total) throw new Error(`only ${received} of ${total} alerts arrived in 120 s`);
  alertsPerSecond = total / ((lastAt - began) / 1000);
} finally {
  await instance.stop();
  receiver.close();
}

const renderMedian = median(renders);
const baseMedian = median(baseline);
console.log(`\nlocal state in ${STATE_ROOT}`);
console.log(`${"measure".padEnd(58)} ${"median".padStart(10)}  target`);
console.log(
  `${"baseline: JSON.stringify of the values, hand-built object".padEnd(58)} ${`${baseMedian.toFixed(3)} ms`.padStart(10)}`,
);
console.log(
  `${"render the Discord preset, 100 KB failure message".padEnd(58)} ${`${renderMedian.toFixed(3)} ms`.padStart(10)}  ≤ 1 ms (${(renderMedian / baseMedian).toFixed(1)}x baseline)`,
);
console.log(
  `${`deliver ${total} alerts (${POLICIES} policies × ${RUNS} failed runs)`.padEnd(58)} ${`${alertsPerSecond.toFixed(0)}/s`.padStart(10)}`,
);
