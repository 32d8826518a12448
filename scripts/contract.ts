/**
 * `npm run contract`: does dagflare keep Dagu's API contract? Starts the local stack (`npm run
 * dev` on a free port, fresh state), drives a session over every operation of Dagu 1.30.3's
 * /api/v2 document (users, API keys, DAGs, runs and their logs, sub-DAG runs, stop, retry,
 * reschedule, queues, webhooks, metrics, the 501s), and checks every answer: its status is
 * declared for that operation (exactly or by `default`) and its body validates against that
 * response's schema. Then the same session at /api/v1 against Dagu 2.15's document, for the
 * operations it shares.
 *
 * Dagu's documents are another project's text and are not kept in this repository: each is read
 * from a path (DAGU_OPENAPI for 1.30.3, DAGU2_OPENAPI for 2.15.1) or downloaded once from GitHub
 * into node_modules/.cache/dagu-openapi/. Without 1.30.3's it says so and exits 2; without
 * 2.15's it skips that pass.
 *
 * Prints per operation: calls, violations, state (served, 501, not exercised); then the totals.
 * Known deviations shared with Dagu itself (README, "Dagu API coverage") are counted apart.
 * Exits 1 on any violation by a served operation of the 1.30.3 pass, 0 otherwise.
 *
 *   npm run contract
 *   DAGU_OPENAPI=path/to/api.yaml DAGU2_OPENAPI=path/to/v1/api.yaml npm run contract
 *   VERBOSE=1 npm run contract     (every violation, not only the first ones of each operation)
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { ADMIN, startLocalInstance } from "./lib/local-instance.ts";
import { Contract, type OpenApiDocument, type Operation } from "./lib/openapi-contract.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CACHE = join(root, "node_modules", ".cache", "dagu-openapi");
const SPECS = {
  v2: {
    label: "Dagu 1.30.3 /api/v2",
    env: "DAGU_OPENAPI",
    url: "https://raw.githubusercontent.com/dagu-org/dagu/v1.30.3/api/v2/api.yaml",
    cache: "dagu-1.30.3-api-v2.yaml",
  },
  v1: {
    label: "Dagu 2.15.1 /api/v1",
    env: "DAGU2_OPENAPI",
    url: "https://raw.githubusercontent.com/dagucloud/dagu/v2.15.1/api/v1/api.yaml",
    cache: "dagu-2.15.1-api-v1.yaml",
  },
} as const;

/**
 * Deviations Dagu 1.30.2 itself answers with, kept because Dagu clients rely on them: a DAG that
 * never ran has a latestDAGRun whose ids are "" (the document's DAGRunId pattern forbids "",
 * and the field is required, so no answer could keep the document).
 */
const KNOWN_DEVIATIONS = [/latestDAGRun\/(dagRunId|rootDAGRunId): must match pattern/];

/** The operations dagflare answers with 501 on purpose (src/routes/system.ts). */
const NOT_IMPLEMENTED = new Set([
  "getWorkers",
  "getResourceHistory",
  "getSchedulerStatus",
  "getCoordinatorStatus",
  "approveDAGRunStep",
  "rejectDAGRunStep",
  "approveSubDAGRunStep",
  "rejectSubDAGRunStep",
]);

async function loadSpec(which: keyof typeof SPECS): Promise<OpenApiDocument | undefined> {
  const spec = SPECS[which];
  const path = process.env[spec.env];
  if (path) return parse(await readFile(path, "utf8")) as OpenApiDocument;
  const cached = join(CACHE, spec.cache);
  if (existsSync(cached)) return parse(await readFile(cached, "utf8")) as OpenApiDocument;
  try {
    const response = await fetch(spec.url, { signal: AbortSignal.timeout(30_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const text = await response.text();
    const document = parse(text) as OpenApiDocument;
    await mkdir(CACHE, { recursive: true });
    await writeFile(cached, text);
    return document;
  } catch (error) {
    console.error(`${spec.label}: no ${spec.env} and the download of ${spec.url} failed (${String(error)})`);
    return undefined;
  }
}

type Tally = { calls: number; violations: number; known: number; statuses: Set<number>; problems: string[] };
type Answer = { status: number; json: unknown; text: string };

/** One pass: requests under `base`, each checked against `contract`. */
class Session {
  readonly tallies = new Map<string, Tally>();
  readonly unmatched = new Map<string, number>();
  readonly #api: string;
  readonly #contract: Contract;
  readonly #prefix: string;
  token = "";

  constructor(api: string, contract: Contract, prefix: string) {
    this.#api = api;
    this.#contract = contract;
    this.#prefix = prefix;
  }

  /** A name no other pass uses. */
  name(what: string): string {
    return `${this.#prefix}-${what}`;
  }

  async call(
    method: string,
    path: string,
    options: { body?: unknown; auth?: string | null; query?: Record<string, string | number> } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = {};
    const auth = options.auth === undefined ? `Bearer ${this.token}` : options.auth;
    if (auth) headers.Authorization = auth;
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const query = options.query
      ? `?${new URLSearchParams(Object.entries(options.query).map(([k, v]) => [k, String(v)]))}`
      : "";
    const response = await fetch(`${this.#api}${path}${query}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    const operation = this.#contract.match(method, path);
    if (!operation) {
      const key = `${method} ${path}`;
      this.unmatched.set(key, (this.unmatched.get(key) ?? 0) + 1);
    } else {
      this.#record(operation, response.status, response.headers.get("Content-Type") ?? "", text);
    }
    return { status: response.status, json, text };
  }

  /** A call that must answer `status`; the session can't go on otherwise. */
  async expect(status: number, method: string, path: string, options?: Parameters<Session["call"]>[2]) {
    const answer = await this.call(method, path, options);
    if (answer.status !== status) {
      throw new Error(`${method} ${path}: expected ${status}, got ${answer.status} ${answer.text.slice(0, 300)}`);
    }
    return answer.json as Record<string, unknown>;
  }

  #record(operation: Operation, status: number, contentType: string, text: string) {
    let tally = this.tallies.get(operation.id);
    if (!tally) {
      tally = { calls: 0, violations: 0, known: 0, statuses: new Set(), problems: [] };
      this.tallies.set(operation.id, tally);
    }
    tally.calls += 1;
    tally.statuses.add(status);
    for (const problem of this.#contract.check(operation, status, contentType, text)) {
      if (KNOWN_DEVIATIONS.some((known) => known.test(problem))) {
        tally.known += 1;
        continue;
      }
      tally.violations += 1;
      if (tally.problems.length < 5 || process.env.VERBOSE) tally.problems.push(`${status} ${problem}`);
    }
  }
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function waitUntilDone(session: Session, dag: string, runId: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 300; i++) {
    const { dagRunDetails } = await session.expect(200, "GET", `/dag-runs/${dag}/${runId}`);
    const run = dagRunDetails as { status: number };
    if (run.status !== 1 && run.status !== 5 && run.status !== 0) return run as Record<string, unknown>;
    await sleep(100);
  }
  throw new Error(`run ${runId} of ${dag} did not finish`);
}

async function waitForStatus(session: Session, dag: string, runId: string, status: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const { dagRunDetails } = await session.expect(200, "GET", `/dag-runs/${dag}/${runId}`);
    if ((dagRunDetails as { status: number }).status === status) return;
    await sleep(100);
  }
  throw new Error(`run ${runId} of ${dag} never reached status ${status}`);
}

/** Every operation of Dagu's document, good answers and the usual errors. */
async function drive(s: Session): Promise<void> {
  // --- auth, users, API keys -----------------------------------------------------------------
  await s.expect(200, "GET", "/health", { auth: null });
  const login = await s.expect(200, "POST", "/auth/login", { auth: null, body: ADMIN });
  s.token = login.token as string;
  await s.expect(401, "POST", "/auth/login", { auth: null, body: { ...ADMIN, password: "wrong-password" } });
  await s.expect(200, "GET", "/auth/me");
  await s.expect(200, "GET", "/auth/me", { auth: `Basic ${btoa(`${ADMIN.username}:${ADMIN.password}`)}` });
  await s.expect(401, "GET", "/auth/me", { auth: null });

  const username = s.name("user");
  const created = await s.expect(201, "POST", "/users", {
    body: { username, password: "first-password-1", role: "viewer" },
  });
  const userId = (created.user as { id: string }).id;
  await s.expect(409, "POST", "/users", { body: { username, password: "first-password-1", role: "viewer" } });
  await s.expect(400, "POST", "/users", { body: { username: s.name("short"), password: "x", role: "viewer" } });
  await s.expect(200, "GET", "/users");
  await s.expect(200, "GET", `/users/${userId}`);
  await s.expect(404, "GET", "/users/no-such-user");
  await s.expect(200, "PATCH", `/users/${userId}`, { body: { role: "operator" } });
  await s.expect(200, "POST", `/users/${userId}/reset-password`, { body: { newPassword: "second-password-2" } });
  const userLogin = await s.expect(200, "POST", "/auth/login", {
    auth: null,
    body: { username, password: "second-password-2" },
  });
  await s.expect(200, "POST", "/auth/change-password", {
    auth: `Bearer ${userLogin.token as string}`,
    body: { currentPassword: "second-password-2", newPassword: "third-password-3" },
  });
  await s.expect(401, "POST", "/auth/change-password", {
    auth: `Basic ${btoa(`${username}:third-password-3`)}`,
    body: { currentPassword: "wrong-password", newPassword: "fourth-password-4" },
  });
  await s.expect(403, "GET", "/users", { auth: `Basic ${btoa(`${username}:third-password-3`)}` });
  await s.expect(204, "DELETE", `/users/${userId}`);
  await s.expect(404, "DELETE", `/users/${userId}`);

  const key = await s.expect(201, "POST", "/api-keys", { body: { name: s.name("key"), role: "operator" } });
  const keyId = (key.apiKey as { id: string }).id;
  await s.expect(200, "GET", "/api-keys");
  await s.expect(200, "GET", `/api-keys/${keyId}`);
  await s.expect(200, "PATCH", `/api-keys/${keyId}`, { body: { description: "contract check" } });
  await s.expect(200, "GET", "/dags", { auth: `Bearer ${key.key as string}` });
  await s.expect(204, "DELETE", `/api-keys/${keyId}`);
  await s.expect(404, "GET", `/api-keys/${keyId}`);

  // --- DAGs -----------------------------------------------------------------------------------
  const child = s.name("child");
  const dag = s.name("dag");
  const slow = s.name("slow");
  const spec = `description: contract check
tags: [contract]
params: WHO=world
steps:
  - name: hello
    command: echo hello \${WHO}
    output: GREETING
  - name: call-child
    call: ${child}
    params: "X=1"
    depends: [hello]
handlerOn:
  exit:
    command: echo done
`;
  await s.expect(201, "POST", "/dags", {
    body: { name: child, spec: "steps:\n  - name: inner\n    command: echo inner\n" },
  });
  await s.expect(201, "POST", "/dags", { body: { name: dag, spec } });
  await s.expect(201, "POST", "/dags", {
    body: { name: slow, spec: "maxActiveRuns: 1\nsteps:\n  - name: wait\n    command: sleep 30\n" },
  });
  await s.expect(409, "POST", "/dags", { body: { name: dag } });
  await s.expect(400, "POST", "/dags", { body: { name: s.name("bad"), spec: "steps: [{name: a, depends: [b]}]" } });
  await s.expect(200, "POST", "/dags/validate", { body: { spec } });
  await s.expect(200, "POST", "/dags/validate", { body: { spec: "steps: 1" } });
  await s.expect(200, "GET", "/dags");
  await s.expect(200, "GET", "/dags", { query: { name: s.name(""), tag: "contract", page: 1, perPage: 100 } });
  await s.expect(200, "GET", `/dags/${dag}`);
  await s.expect(404, "GET", `/dags/${s.name("missing")}`);
  await s.expect(200, "GET", `/dags/${dag}/spec`);
  await s.expect(200, "PUT", `/dags/${dag}/spec`, { body: { spec } });
  await s.expect(200, "POST", `/dags/${dag}/suspend`, { body: { suspend: true } });
  await s.expect(200, "POST", `/dags/${dag}/suspend`, { body: { suspend: false } });
  await s.expect(200, "GET", "/dags/search", { query: { q: "echo hello" } });
  await s.expect(200, "GET", "/dags/tags");
  const renamed = s.name("renamed");
  await s.expect(200, "POST", `/dags/${child}/rename`, { body: { newFileName: renamed } });
  await s.expect(404, "POST", `/dags/${s.name("missing")}/rename`, { body: { newFileName: s.name("x") } });
  await s.expect(200, "POST", `/dags/${renamed}/rename`, { body: { newFileName: child } });

  // --- runs -----------------------------------------------------------------------------------
  const started = await s.expect(200, "POST", `/dags/${dag}/start`, { body: { params: "WHO=contract" } });
  const runId = started.dagRunId as string;
  await s.expect(409, "POST", `/dags/${dag}/start`, { body: { dagRunId: runId } });
  await s.expect(404, "POST", `/dags/${s.name("missing")}/start`, { body: {} });
  await waitUntilDone(s, dag, runId);
  await s.expect(200, "GET", "/dag-runs");
  await s.expect(200, "GET", "/dag-runs", { query: { name: dag, status: 4 } });
  await s.expect(200, "GET", `/dag-runs/${dag}`);
  await s.expect(200, "GET", `/dag-runs/${dag}/${runId}`);
  await s.expect(200, "GET", `/dag-runs/${dag}/latest`);
  await s.expect(404, "GET", `/dag-runs/${dag}/no-such-run`);
  await s.expect(200, "GET", `/dag-runs/${dag}/${runId}/spec`);
  await s.expect(200, "GET", `/dag-runs/${dag}/${runId}/log`);
  await s.expect(200, "GET", `/dag-runs/${dag}/${runId}/log`, { query: { tail: 5 } });
  await s.expect(200, "GET", `/dag-runs/${dag}/${runId}/outputs`);
  await s.expect(200, "GET", `/dag-runs/${dag}/${runId}/steps/hello/log`);
  await s.expect(200, "GET", `/dag-runs/${dag}/${runId}/steps/hello/log`, { query: { stream: "stderr" } });
  await s.expect(404, "GET", `/dag-runs/${dag}/${runId}/steps/no-such-step/log`);
  const { subRuns } = await s.expect(200, "GET", `/dag-runs/${dag}/${runId}/sub-dag-runs`);
  const subRunId = (subRuns as { dagRunId: string }[])[0]?.dagRunId;
  if (!subRunId) throw new Error("the sub-DAG call left no sub-DAG run");
  await s.expect(200, "GET", `/dag-runs/${dag}/${runId}/sub-dag-runs/${subRunId}`);
  await s.expect(200, "GET", `/dag-runs/${dag}/${runId}/sub-dag-runs/${subRunId}/log`);
  await s.expect(200, "GET", `/dag-runs/${dag}/${runId}/sub-dag-runs/${subRunId}/steps/inner/log`);
  await s.expect(404, "GET", `/dag-runs/${dag}/${runId}/sub-dag-runs/no-such-run`);
  await s.expect(200, "GET", `/dags/${dag}/dag-runs`);
  await s.expect(200, "GET", `/dags/${dag}/dag-runs`, { query: { perPage: 1000 } });
  await s.expect(200, "GET", `/dags/${dag}/dag-runs/${runId}`);
  await s.expect(200, "GET", `/dags/${dag}/dag-runs/latest`);
  await s.expect(200, "GET", `/dags/${dag}`);
  await s.expect(200, "POST", `/dag-runs/${dag}/${runId}/retry`, { body: { dagRunId: runId } });
  await waitUntilDone(s, dag, runId);
  await s.expect(200, "POST", `/dag-runs/${dag}/${runId}/retry`, { body: { dagRunId: runId, stepName: "hello" } });
  await waitUntilDone(s, dag, runId);
  await s.expect(400, "POST", `/dag-runs/${dag}/${runId}/stop`);
  // A step's status set by hand, in the finished run and in its sub-DAG run.
  await s.expect(200, "PATCH", `/dag-runs/${dag}/${runId}/steps/hello/status`, { body: { status: 4 } });
  await s.expect(404, "PATCH", `/dag-runs/${dag}/${runId}/steps/no-such-step/status`, { body: { status: 4 } });
  await s.expect(400, "PATCH", `/dag-runs/${dag}/${runId}/steps/hello/status`, { body: { status: 9 } });
  await s.expect(200, "PATCH", `/dag-runs/${dag}/${runId}/sub-dag-runs/${subRunId}/steps/inner/status`, {
    body: { status: 4 },
  });
  const again = await s.expect(200, "POST", `/dag-runs/${dag}/${runId}/reschedule`, { body: {} });
  await waitUntilDone(s, dag, again.dagRunId as string);
  await s.expect(404, "POST", `/dag-runs/${dag}/no-such-run/reschedule`, { body: {} });

  // Runs from a spec in the request.
  const inline = s.name("inline");
  const fromSpec = await s.expect(200, "POST", "/dag-runs", {
    body: { name: inline, spec: "steps:\n  - name: one\n    command: echo one\n" },
  });
  await waitUntilDone(s, inline, fromSpec.dagRunId as string);
  const queuedFromSpec = await s.expect(200, "POST", "/dag-runs/enqueue", {
    body: { name: inline, spec: "steps:\n  - name: two\n    command: echo two\n" },
  });
  await waitUntilDone(s, inline, queuedFromSpec.dagRunId as string);
  await s.expect(400, "POST", "/dag-runs", { body: { spec: "steps:\n  - name: one\n    command: echo one\n" } });

  // Queues: one run of `slow` running, one waiting; dequeue the waiting one, stop the other.
  const running = (await s.expect(200, "POST", `/dags/${slow}/start`, { body: {} })).dagRunId as string;
  const waiting = (await s.expect(200, "POST", `/dags/${slow}/enqueue`, { body: {} })).dagRunId as string;
  await waitForStatus(s, slow, running, 1);
  await s.expect(200, "GET", "/queues");
  await s.expect(400, "GET", `/dag-runs/${slow}/${running}/dequeue`);
  await s.expect(200, "GET", `/dag-runs/${slow}/${waiting}/dequeue`);
  await s.expect(200, "POST", `/dag-runs/${slow}/${running}/stop`);
  await waitUntilDone(s, slow, running);
  const third = (await s.expect(200, "POST", `/dags/${slow}/start`, { body: {} })).dagRunId as string;
  await waitForStatus(s, slow, third, 1);
  await s.expect(200, "POST", `/dags/${slow}/stop-all`);
  await waitUntilDone(s, slow, third);
  await s.expect(404, "POST", `/dags/${s.name("missing")}/stop-all`);
  await s.expect(200, "GET", "/metrics");

  // --- webhooks -------------------------------------------------------------------------------
  const hook = await s.expect(201, "POST", `/dags/${dag}/webhook`);
  await s.expect(409, "POST", `/dags/${dag}/webhook`);
  await s.expect(200, "GET", `/dags/${dag}/webhook`);
  await s.expect(200, "GET", "/webhooks");
  const regenerated = await s.expect(200, "POST", `/dags/${dag}/webhook/regenerate`);
  const token = regenerated.token as string;
  await s.expect(401, "POST", `/webhooks/${dag}`, { auth: `Bearer ${hook.token as string}`, body: {} });
  const triggered = await s.expect(200, "POST", `/webhooks/${dag}`, {
    auth: `Bearer ${token}`,
    body: { payload: { branch: "main" }, dagRunId: s.name("hook-run") },
  });
  await s.expect(409, "POST", `/webhooks/${dag}`, {
    auth: `Bearer ${token}`,
    body: { dagRunId: triggered.dagRunId },
  });
  await waitUntilDone(s, dag, triggered.dagRunId as string);
  await s.expect(200, "POST", `/dags/${dag}/webhook/toggle`, { body: { enabled: false } });
  await s.expect(403, "POST", `/webhooks/${dag}`, { auth: `Bearer ${token}`, body: {} });
  await s.expect(204, "DELETE", `/dags/${dag}/webhook`);
  await s.expect(404, "GET", `/dags/${dag}/webhook`);

  // --- what Workers don't serve: 501 ------------------------------------------------------------
  for (const path of ["/workers", "/services/resources/history", "/services/scheduler", "/services/coordinator"])
    await s.expect(501, "GET", path);
  for (const action of ["approve", "reject"]) {
    await s.expect(501, "POST", `/dag-runs/${dag}/${runId}/steps/hello/${action}`, { body: {} });
    await s.expect(501, "POST", `/dag-runs/${dag}/${runId}/sub-dag-runs/${subRunId}/steps/inner/${action}`, {
      body: {},
    });
  }

  // --- clean up ---------------------------------------------------------------------------------
  await s.expect(204, "DELETE", `/dags/${inline}`);
  await s.expect(404, "DELETE", `/dags/${inline}`);
}

type PassResult = { violations: number; known: number; notExercised: string[] };

function report(label: string, contract: Contract, session: Session, only?: Set<string>): PassResult {
  console.log(`\n== ${label}`);
  let violations = 0;
  let known = 0;
  const notExercised: string[] = [];
  const rows: string[] = [];
  for (const operation of contract.operations) {
    if (only && !only.has(`${operation.method} ${operation.path}`)) continue;
    const tally = session.tallies.get(operation.id);
    const state = NOT_IMPLEMENTED.has(operation.id) ? "501" : tally ? "served" : "not exercised";
    if (!tally) {
      notExercised.push(operation.id);
      rows.push(`  ${operation.id.padEnd(30)} ${`${operation.method} ${operation.path}`.padEnd(86)} ${state}`);
      continue;
    }
    if (state === "served") {
      violations += tally.violations;
      known += tally.known;
    }
    const statuses = [...tally.statuses].sort().join(",");
    rows.push(
      `  ${operation.id.padEnd(30)} ${`${operation.method} ${operation.path}`.padEnd(86)} ${state.padEnd(7)} calls ${String(tally.calls).padStart(3)}  statuses ${statuses.padEnd(15)} violations ${tally.violations}${tally.known ? ` (+${tally.known} known)` : ""}`,
    );
    for (const problem of tally.problems) rows.push(`      ${problem}`);
  }
  console.log(rows.join("\n"));
  if (session.unmatched.size) {
    console.log(
      `  requests matching no operation of the document (not checked): ${[...session.unmatched.keys()].join("; ")}`,
    );
  }
  const served = [...session.tallies.keys()].filter((id) => !NOT_IMPLEMENTED.has(id)).length;
  console.log(
    `  ${label}: ${served} operations served and checked, ${[...session.tallies.keys()].length - served} answered 501, ${notExercised.length} not exercised; violations by served operations: ${violations}; known deviations shared with Dagu: ${known}`,
  );
  return { violations, known, notExercised };
}

async function main(): Promise<number> {
  const v2 = await loadSpec("v2");
  if (!v2) {
    console.error("cannot check the contract without Dagu 1.30.3's document: set DAGU_OPENAPI to its path");
    return 2;
  }
  const v1 = await loadSpec("v1");
  const contract = new Contract(v2);
  const instance = await startLocalInstance();
  try {
    const base = instance.api.replace(/\/api\/v2$/, "");
    const session = new Session(`${base}/api/v2`, contract, `c2-${Date.now().toString(36)}`);
    await drive(session);
    const first = report(SPECS.v2.label, contract, session);

    if (v1) {
      const contract1 = new Contract(v1);
      const shared = new Set(
        contract1.operations
          .map((operation) => `${operation.method} ${operation.path}`)
          .filter((key) => contract.operations.some((operation) => `${operation.method} ${operation.path}` === key)),
      );
      const session1 = new Session(`${base}/api/v1`, contract1, `c1-${Date.now().toString(36)}`);
      await drive(session1);
      report(`${SPECS.v1.label} (the ${shared.size} operations it shares with 1.30.3)`, contract1, session1, shared);
    } else {
      console.log(`\n${SPECS.v1.label}: document unavailable, pass skipped`);
    }
    console.log(
      `\nTOTAL (${SPECS.v2.label}): ${first.violations} violations by served operations${first.violations ? " — FAIL" : ""}`,
    );
    return first.violations > 0 ? 1 : 0;
  } finally {
    await instance.stop();
  }
}

process.exitCode = await main();
