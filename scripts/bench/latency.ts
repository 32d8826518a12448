/**
 * `npm run bench:latency`: a far sender's webhook trigger, on this machine (issue 20,
 * docs/latency.md). The local stack runs with the latency lab on (src/dev/latency.ts, development
 * only): every D1 round trip and every call to a DAG's coordinator takes the time it would take
 * from the sender's Cloudflare location, and each response says which round trips its request made.
 *
 * Scenarios (one `npm run dev` each, milliseconds per round trip; override with FAR / NEAR as
 * "d1,replica,do,doD1"):
 *   far   a sender in Sydney, the D1 primary and the coordinator in us-east: 150 ms to the primary
 *         and to the coordinator, 5 ms to the nearest read replica (OC), 2 ms from the coordinator
 *         (placed by COORDINATOR_LOCATION_HINT) to the primary
 *   near  a sender in us-east: 5 ms to everything, 2 ms from the coordinator to the primary
 *
 * Paths, interleaved request by request in one instance so that load and drift hit them alike:
 *   before    the trigger before issue 20 (X-Dagflare-Trigger-Path: legacy): the webhook read from
 *             the primary, then the coordinator — the baseline
 *   cold      this design in an isolate that has no copy yet: the nearest replica's copy, then the
 *             coordinator, which confirms it against the primary next door
 *   warm      this design with the copy in the isolate's memory: the coordinator only
 *   changed   the first trigger after a change to the webhook (the copy is stale, and found so)
 *
 * Requests go one at a time (ROUNDS of each path, default 40; CHANGED_ROUNDS, default 10), so
 * each response's round-trip count is exact. Prints p50/p90 per path, the ratio to the baseline's
 * p50, the round trips made (medians) and the load average.
 */
import { createServer } from "node:http";
import { loadavg } from "node:os";
import { parseRoundTrips, ROUND_TRIPS_HEADER, TRIGGER_PATH_HEADER } from "../../src/dev/latency.ts";
import { percentile, startLocalInstance } from "../lib/local-instance.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 40);
const CHANGED_ROUNDS = Number(process.env.CHANGED_ROUNDS ?? 10);

type Scenario = {
  name: string;
  label: string;
  d1: number;
  replica: number;
  coordinator: number;
  coordinatorD1: number;
};

function scenario(name: string, label: string, fallback: string, override: string | undefined): Scenario {
  const [d1, replica, coordinator, coordinatorD1] = (override ?? fallback).split(",").map(Number);
  if ([d1, replica, coordinator, coordinatorD1].some((ms) => !Number.isFinite(ms)))
    throw new Error(`${name.toUpperCase()} must be "d1,replica,do,doD1" in milliseconds`);
  return { name, label, d1: d1!, replica: replica!, coordinator: coordinator!, coordinatorD1: coordinatorD1! };
}

const SCENARIOS = [
  scenario("far", "Sydney → us-east (D1 primary and coordinator)", "150,5,150,2", process.env.FAR),
  scenario("near", "us-east, next to both", "5,5,5,2", process.env.NEAR),
];

type Path = "before" | "cold" | "warm" | "changed";
type Sample = { ms: number; trips: Record<string, number> };

// The DAG's step answers after a minute: runs queue behind the first (maxActiveRuns 1), so the
// figures are the trigger's, not those of executing runs.
const slow = createServer((_request, response) => void setTimeout(() => response.end("ok"), 60_000).unref());
await new Promise<void>((done) => slow.listen(0, "127.0.0.1", done));
const slowUrl = `http://127.0.0.1:${(slow.address() as { port: number }).port}`;

const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(" ");
const loadBefore = load();
const results: { scenario: Scenario; samples: Record<Path, Sample[]>; load: string }[] = [];
try {
  for (const current of SCENARIOS) results.push(await run(current));
} finally {
  slow.close();
}

console.log(`\nbench:latency — one trigger at a time; load average before ${loadBefore}, after ${load()}`);
for (const { scenario: s, samples, load: during } of results) {
  console.log(
    `\n${s.name}: ${s.label} — round trips: D1 primary ${s.d1} ms, nearest replica ${s.replica} ms, coordinator ${s.coordinator} ms, coordinator → D1 ${s.coordinatorD1} ms (load average after: ${during})`,
  );
  console.log(
    `${"path".padEnd(36)} ${"n".padStart(4)} ${"p50 ms".padStart(8)} ${"p90 ms".padStart(8)} ${"p50 / before".padStart(13)}  round trips (median): sequential, D1, replica, DO, DO→D1`,
  );
  const baseline = percentile(
    samples.before.map((sample) => sample.ms),
    50,
  );
  const labels: Record<Path, string> = {
    before: "before issue 20 (primary, then DO)",
    cold: "cold isolate (replica, then DO)",
    warm: "warm isolate (DO only)",
    changed: "first trigger after a change",
  };
  for (const path of ["before", "cold", "warm", "changed"] as const) {
    const list = samples[path];
    const times = list.map((sample) => sample.ms);
    const trip = (kind: string) =>
      percentile(
        list.map((sample) => sample.trips[kind] ?? 0),
        50,
      );
    const p50 = percentile(times, 50);
    console.log(
      `${labels[path].padEnd(36)} ${String(list.length).padStart(4)} ${p50.toFixed(1).padStart(8)} ${percentile(times, 90).toFixed(1).padStart(8)} ${(p50 / baseline).toFixed(2).padStart(13)}  ${trip("sequential")}, ${trip("d1")}, ${trip("d1-replica")}, ${trip("coordinator")}, ${trip("coordinator-d1")}`,
    );
  }
}

async function run(current: Scenario): Promise<{ scenario: Scenario; samples: Record<Path, Sample[]>; load: string }> {
  const instance = await startLocalInstance({
    SIMULATE_D1_RTT_MS: String(current.d1),
    SIMULATE_D1_REPLICA_RTT_MS: String(current.replica),
    SIMULATE_DO_RTT_MS: String(current.coordinator),
    SIMULATE_DO_D1_RTT_MS: String(current.coordinatorD1),
  });
  const { api } = instance;
  const admin = { Authorization: `Bearer ${instance.token}`, "Content-Type": "application/json" };
  try {
    const dag = "bench-latency";
    const spec = `steps:\n  - name: wait\n    executor: http\n    command: GET ${slowUrl}/\n`;
    await fetch(`${api}/dags`, { method: "POST", headers: admin, body: JSON.stringify({ name: dag, spec }) });
    const created = await fetch(`${api}/dags/${dag}/webhook`, { method: "POST", headers: admin });
    const { token } = (await created.json()) as { token: string };

    let sequence = 0;
    const trigger = async (path?: "legacy" | "replica"): Promise<Sample> => {
      const start = performance.now();
      const response = await fetch(`${api}/webhooks/${dag}`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${token}`,
          "Content-Type": "application/json",
          "CF-Connecting-IP": "10.0.0.1",
          ...(path ? { [TRIGGER_PATH_HEADER]: path } : {}),
        },
        body: JSON.stringify({ dagRunId: `bench-${process.pid}-${++sequence}` }),
      });
      await response.arrayBuffer();
      const ms = performance.now() - start;
      if (response.status !== 200) throw new Error(`trigger answered ${response.status}`);
      return { ms, trips: parseRoundTrips(response.headers.get(ROUND_TRIPS_HEADER)) };
    };
    /** A change the trigger doesn't feel (the allowlist set to what it is): only the copy's version moves. */
    const change = async () => {
      const answer = await fetch(`${api}/dags/${dag}/webhook/allowed-ips`, {
        method: "PUT",
        headers: admin,
        body: JSON.stringify({ allowedIps: [] }),
      });
      if (answer.status !== 200) throw new Error(`allowed-ips answered ${answer.status}`);
    };

    // Warm-up: the isolate, the coordinator, the copy.
    for (let i = 0; i < 5; i++) {
      await trigger("legacy");
      await trigger();
    }
    const samples: Record<Path, Sample[]> = { before: [], cold: [], warm: [], changed: [] };
    const paths = [
      ["before", () => trigger("legacy")],
      ["cold", () => trigger("replica")],
      ["warm", () => trigger()],
    ] as const;
    for (let round = 0; round < ROUNDS; round++) {
      // A different order each round: no path always follows another.
      for (const [path, send] of [...paths].sort(() => Math.random() - 0.5)) samples[path].push(await send());
    }
    for (let round = 0; round < CHANGED_ROUNDS; round++) {
      await change();
      samples.changed.push(await trigger());
    }
    return { scenario: current, samples, load: load() };
  } finally {
    await instance.stop();
  }
}
