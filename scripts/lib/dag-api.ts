/**
 * The few `/api/v2` calls the benchmarks make, written once for both servers they drive: a local
 * dagflare (scripts/lib/local-instance.ts) and Dagu 1.30.2's own server (scripts/lib/dagu-cli.ts)
 * answer them alike — login, create a DAG, its webhook, start a run, a run's details — and a
 * DAG file both run the same way.
 */

/** A server's `/api/v2` base URL and an admin's session token. */
export type ApiClient = { api: string; token: string };

const adminHeaders = (client: ApiClient) => ({
  Authorization: `Bearer ${client.token}`,
  "Content-Type": "application/json",
});

/** A session token for builtin auth's user. */
export async function login(api: string, credentials: { username: string; password: string }): Promise<string> {
  const response = await fetch(`${api}/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(credentials),
  });
  if (!response.ok) throw new Error(`login: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

export async function createDag(client: ApiClient, name: string, spec: string): Promise<void> {
  const response = await fetch(`${client.api}/dags`, {
    method: "POST",
    headers: adminHeaders(client),
    body: JSON.stringify({ name, spec }),
  });
  if (response.status !== 201) throw new Error(`create ${name}: ${response.status} ${await response.text()}`);
}

/** Creates the DAG's webhook; its token (shown once). */
export async function createWebhook(client: ApiClient, name: string): Promise<string> {
  const response = await fetch(`${client.api}/dags/${name}/webhook`, { method: "POST", headers: adminHeaders(client) });
  if (!response.ok) throw new Error(`webhook of ${name}: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

/** A webhook token that no webhook has: the prefix is right, the rest random. */
export const unknownWebhookToken = () => `dagu_wh_${crypto.randomUUID().replaceAll("-", "")}`;

/** POST /dags/{name}/start; the new run's id. */
export async function startRun(client: ApiClient, name: string): Promise<string> {
  const response = await fetch(`${client.api}/dags/${name}/start`, {
    method: "POST",
    headers: adminHeaders(client),
    body: "{}",
  });
  if (!response.ok) throw new Error(`start ${name}: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { dagRunId: string }).dagRunId;
}

/** Dagu's status numbers (persisted, shared by dagflare): not started, running, queued. */
const UNFINISHED = new Set([0, 1, 5]);

/**
 * Polls the run's details every `pollMs` until it has finished, as a real client would (a tight
 * loop would mostly measure the load it puts on the server); throws unless it succeeded.
 */
export async function waitForRun(client: ApiClient, name: string, runId: string, pollMs: number): Promise<void> {
  for (;;) {
    const response = await fetch(`${client.api}/dag-runs/${name}/${runId}`, { headers: adminHeaders(client) });
    if (response.ok) {
      const { dagRunDetails } = (await response.json()) as { dagRunDetails: { status: number; statusLabel: string } };
      if (!UNFINISHED.has(dagRunDetails.status)) {
        if (dagRunDetails.statusLabel !== "succeeded")
          throw new Error(`${name} ${runId}: ${dagRunDetails.statusLabel}`);
        return;
      }
    } else if (response.status !== 404) {
      // 404: a run that is only queued yet has no record on some servers.
      throw new Error(`${name} ${runId}: ${response.status} ${await response.text()}`);
    }
    await new Promise((done) => setTimeout(done, pollMs));
  }
}

/** A run's details (GET /dag-runs/{name}/{runId}), typed as far as the caller reads them. */
export async function runDetails<T>(client: ApiClient, name: string, runId: string): Promise<T> {
  const response = await fetch(`${client.api}/dag-runs/${name}/${runId}`, { headers: adminHeaders(client) });
  if (!response.ok) throw new Error(`${name} ${runId}: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { dagRunDetails: T }).dagRunDetails;
}

/** Milliseconds from the start request until the run's details report it finished. */
export async function timeRun(client: ApiClient, name: string, pollMs: number): Promise<number> {
  const begin = performance.now();
  const runId = await startRun(client, name);
  await waitForRun(client, name, runId, pollMs);
  return performance.now() - begin;
}

/**
 * A DAG file (several documents) fanning out over 100 items, each a run of the one-step child DAG
 * after `---`, whose step is a command (`echo`); `maxConcurrent` 10 is Dagu's default.
 */
export const fanOutOverChildren = (maxConcurrent: number) => `steps:
  - name: fan
    call: item
    parallel:
      items: [${Array.from({ length: 100 }, (_, i) => `"i${i}"`).join(", ")}]
      maxConcurrent: ${maxConcurrent}
    params: "ITEM_VAL=\${ITEM}"
---
name: item
params: "ITEM_VAL=none"
steps:
  - name: work
    command: echo "item \${ITEM_VAL}"
`;
