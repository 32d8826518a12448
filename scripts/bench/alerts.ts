/**
 * `npm run bench:alerts`: what alerts cost.
 *
 *   render    the Discord preset rendered for a failure whose message is 100 KB (quotes, newlines
 *             and all), median of RENDERS renders, next to a baseline measured in the same run:
 *             JSON.stringify of the same values in a hand-built object (what a naive renderer does)
 *   fitting   for each destination's preset and a 100 KB failure (ASCII, then multi-byte): the
 *             median render as written (no destination) and fitted to the destination, interleaved
 *             in one loop; what fitting adds is the difference (negative when the fitted body,
 *             being smaller, serialises faster than the 100 KB one)
 *   deliver   ALERTS alerts (POLICIES policies × failing runs) through the local stack — the
 *             coordinator's event, the ALERTS queue fan-out, one delivery per policy — to a
 *             receiver in this process; alerts/s from the first run's start to the last request
 *
 * Targets: render ≤ 1 ms median (issue 6); fitting adds ≤ 0.5 ms to a 100 KB render (issue 16). The machine is shared: read medians and ratios.
 */
import { createServer } from "node:http";
import { tokenValues } from "../../src/alerts/context.ts";
import { DESTINATION_KINDS, type DestinationKind, renderBody } from "../../src/alerts/destinations.ts";
import { PRESETS } from "../../src/alerts/presets.ts";
import { checkTemplate } from "../../src/alerts/template.ts";
import { median, STATE_ROOT, startLocalInstance } from "../lib/local-instance.ts";

const RENDERS = Number(process.env.RENDERS ?? 2000);
const POLICIES = Number(process.env.POLICIES ?? 100);
const RUNS = Number(process.env.RUNS ?? 10);

// --- render ---------------------------------------------------------------------------------
const asciiFailure =
  `step "build" failed: exit code 2\n${'npm ERR! "quoted" \\ back\\slash ``` [x](https://e.example) <!here>\n'.repeat(2000)}`.slice(
    0,
    100 * 1024,
  );
const multiByteFailure = (() => {
  let text = "";
  while (new TextEncoder().encode(text).length < 100 * 1024) text += "🚀 デプロイ失敗 ünïcødé — 错误 ```\n";
  return text;
})();
const policy = { id: "p", name: "Critical", description: "", options: {} };
const factsOf = (error: string) => ({
  dagName: "deploy",
  runId: "r1",
  runStatus: "failed",
  error,
  failedStep: "build",
  failureOutput: error.slice(-2048),
  failedSteps: ["build"],
  startedAt: new Date().toISOString(),
  finishedAt: new Date().toISOString(),
  durationMs: 300_000,
});
const env = { DEPLOYMENT_NAME: "prod", PUBLIC_URL: "https://dagflare.example.com" };
const presetTemplate = (id: string) => {
  const body = PRESETS.find((preset) => preset.id === id)!.body;
  const check = checkTemplate(body);
  if (!check.ok) throw new Error(`preset ${id} does not parse`);
  return { body, tree: check.tree };
};

/** Per destination and message: the same template rendered as written and fitted, interleaved. */
const fitting: { kind: DestinationKind; message: string; plain: number; fitted: number }[] = [];
const baseline: number[] = [];
for (const [message, error] of [
  ["100 KB ASCII", asciiFailure],
  ["100 KB multi-byte", multiByteFailure],
] as const) {
  const facts = factsOf(error);
  for (const kind of DESTINATION_KINDS.filter((kind) => kind !== "generic")) {
    const { body, tree } = presetTemplate(kind);
    const plain: number[] = [];
    const fitted: number[] = [];
    for (let i = 0; i < RENDERS; i++) {
      let start = performance.now();
      renderBody(tree, body, "generic", tokenValues(env, policy, "JOB_FAILURE", facts));
      plain.push(performance.now() - start);
      start = performance.now();
      renderBody(tree, body, kind, tokenValues(env, policy, "JOB_FAILURE", facts));
      fitted.push(performance.now() - start);
      if (kind === "discord" && message === "100 KB ASCII") {
        start = performance.now();
        const values = tokenValues(env, policy, "JOB_FAILURE", facts);
        const naive = {
          content: values.alert_summary,
          embeds: [{ title: values.alert_summary, description: values.alert_content, timestamp: values.start_time }],
        };
        JSON.parse(JSON.stringify(naive));
        baseline.push(performance.now() - start);
      }
    }
    fitting.push({ kind, message, plain: median(plain), fitted: median(fitted) });
  }
}
const renders = fitting.find((row) => row.kind === "discord" && row.message === "100 KB ASCII")!;

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

const renderMedian = renders.fitted;
const baseMedian = median(baseline);
console.log(`\nlocal state in ${STATE_ROOT}`);
console.log(`${"measure".padEnd(58)} ${"median".padStart(10)}  target`);
console.log(
  `${"baseline: JSON.stringify of the values, hand-built object".padEnd(58)} ${`${baseMedian.toFixed(3)} ms`.padStart(10)}`,
);
console.log(
  `${"render the Discord preset, 100 KB failure message".padEnd(58)} ${`${renderMedian.toFixed(3)} ms`.padStart(10)}  ≤ 1 ms (${(renderMedian / baseMedian).toFixed(1)}x baseline)`,
);
for (const row of fitting) {
  const added = row.fitted - row.plain;
  console.log(
    `${`fitting adds, ${row.kind} preset, ${row.message}`.padEnd(58)} ${`${added.toFixed(3)} ms`.padStart(10)}  ≤ 0.5 ms (as written ${row.plain.toFixed(3)} ms, fitted ${row.fitted.toFixed(3)} ms)`,
  );
}
console.log(
  `${`deliver ${total} alerts (${POLICIES} policies × ${RUNS} failed runs)`.padEnd(58)} ${`${alertsPerSecond.toFixed(0)}/s`.padStart(10)}`,
);
