/**
 * The trigger's round trips (issue 20, docs/latency.md), counted by the latency lab's wrapper
 * around the D1 and coordinator bindings (src/dev/latency.ts), turned on per request with env
 * overrides: a copy of the webhook decides the trigger and the coordinator confirms it, so a warm
 * isolate makes one round trip; and every change a trigger depends on acts on the very next
 * trigger although the copy is warm.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { config } from "../../../src/config.ts";
import { parseRoundTrips, ROUND_TRIPS_HEADER, TRIGGER_PATH_HEADER } from "../../../src/dev/latency.ts";
import { type ApiClient, type ApiResult, api, call, expectEnvelope, ok, unique, userWithRole } from "../helpers.ts";

/** Small round trips: enough to tell the trips apart in time, cheap for the suite. */
const LAB = { SIMULATE_D1_RTT_MS: "10", SIMULATE_D1_REPLICA_RTT_MS: "2", SIMULATE_DO_RTT_MS: "10" };

let asAdmin: ApiClient;
beforeAll(async () => {
  asAdmin = api((await userWithRole("admin")).token);
});

const dagPath = (fileName: string) => ({ params: { path: { fileName } } });
const SPEC = `steps:\n  - name: ping\n    executor: http\n    command: GET ${inject("echoUrl")}/\n`;
const runCount = async (name: string) =>
  (await ok(asAdmin.GET("/dag-runs", { params: { query: { name } } }))).dagRuns.length;

/** The DAG's inbound log rows, straight from D1. */
const inboundRows = async (name: string) =>
  (
    await env.DB.prepare(
      "SELECT w.outcome, w.run_id FROM webhook_requests w JOIN dags d ON d.id = w.dag_id WHERE d.name = ?1",
    )
      .bind(name)
      .all<{ outcome: string; run_id: string | null }>()
  ).results;

async function dagWithWebhook(): Promise<{ dag: string; token: string }> {
  const dag = unique("rtt");
  await ok(asAdmin.POST("/dags", { body: { name: dag, spec: SPEC } }), 201);
  const { token } = await ok(asAdmin.POST("/dags/{fileName}/webhook", dagPath(dag)), 201);
  return { dag, token };
}

type Triggered = ApiResult & { trips: Record<string, number> };

async function trigger(
  dag: string,
  token: string,
  options: { path?: "legacy" | "replica"; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Triggered> {
  const result = await call("POST", `/webhooks/${dag}`, {
    token,
    headers: {
      "CF-Connecting-IP": unique("ip"),
      ...(options.path ? { [TRIGGER_PATH_HEADER]: options.path } : {}),
      ...options.headers,
    },
    ...(options.body !== undefined ? { body: options.body } : {}),
    env: LAB,
  });
  return { ...result, trips: parseRoundTrips(result.headers.get(ROUND_TRIPS_HEADER)) };
}

/** A trigger that started a run, with the round trips it made. */
async function started(dag: string, token: string, path?: "legacy" | "replica"): Promise<Record<string, number>> {
  const result = await trigger(dag, token, path ? { path } : {});
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  return result.trips;
}

describe("round trips of a trigger (latency lab)", () => {
  it("a warm isolate: one round trip, to the coordinator; a cold one reads the nearest replica first; the old path two to the far side", async () => {
    const { dag, token } = await dagWithWebhook();
    // Cold: the nearest replica's copy, then the coordinator, which confirms it on the primary.
    expect(await started(dag, token)).toEqual({
      sequential: 2,
      d1: 0,
      "d1-replica": 1,
      coordinator: 1,
      "coordinator-d1": 0,
    });
    // Warm: the copy this isolate kept; nothing read before the coordinator.
    expect(await started(dag, token)).toMatchObject({ sequential: 1, d1: 0, "d1-replica": 0, coordinator: 1 });
    expect(await started(dag, token, "replica")).toMatchObject({
      sequential: 2,
      d1: 0,
      "d1-replica": 1,
      coordinator: 1,
    });
    // Before issue 20: the primary, then the coordinator.
    expect(await started(dag, token, "legacy")).toMatchObject({
      sequential: 2,
      d1: 1,
      "d1-replica": 0,
      coordinator: 1,
    });
  });

  it("a wrong token never reaches the coordinator: refused on the primary's row, as before", async () => {
    const { dag, token } = await dagWithWebhook();
    await started(dag, token);
    const wrong = `${token.slice(0, 12)}${"x".repeat(token.length - 12)}`;
    const refused = await trigger(dag, wrong);
    expectEnvelope(refused, 401, "unauthorized");
    expect(refused.trips).toMatchObject({ d1: 1, coordinator: 0 });
    // Seen again within the minute: refused from memory, no D1 at all.
    const again = await trigger(dag, wrong);
    expectEnvelope(again, 401, "unauthorized");
    expect(again.trips).toMatchObject({ sequential: 0, d1: 0, "d1-replica": 0, coordinator: 0 });
  });

  it("outside development the lab is off, whatever is set: no header, no path switch", async () => {
    const result = await call("GET", "/health", { env: { ...LAB, ENVIRONMENT: "staging" } });
    expect(result.status).toBe(200);
    expect(result.headers.get(ROUND_TRIPS_HEADER)).toBeNull();
    expect(config({ ...env, ...LAB, ENVIRONMENT: "production" }).latencyLab).toBeUndefined();
  });
});

describe("with the copy warm, every change acts on the very next trigger", () => {
  /** A DAG whose webhook copy is warm in this isolate (its last trigger made one round trip). */
  async function warm(): Promise<{ dag: string; token: string }> {
    const made = await dagWithWebhook();
    await started(made.dag, made.token);
    expect(await started(made.dag, made.token)).toMatchObject({ sequential: 1, coordinator: 1 });
    return made;
  }

  it("disable, then enable: the coordinator finds the copy stale and the primary decides", async () => {
    const { dag, token } = await warm();
    const toggle = (enabled: boolean) =>
      ok(asAdmin.POST("/dags/{fileName}/webhook/toggle", { ...dagPath(dag), body: { enabled } }));
    await toggle(false);
    const refused = await trigger(dag, token);
    expectEnvelope(refused, 403, "forbidden");
    // The stale copy's start (refused by the coordinator), then the primary's row.
    expect(refused.trips).toMatchObject({ coordinator: 1, d1: 1 });
    await toggle(true);
    // The copy is now the disabled row: it can't say yes, so the primary decides (and is kept).
    expect(await started(dag, token)).toMatchObject({ sequential: 2, coordinator: 1, d1: 1 });
    expect(await started(dag, token)).toMatchObject({ sequential: 1, coordinator: 1, d1: 0 });
  });

  it("regenerate: the old token is refused at once, the new one works", async () => {
    const { dag, token } = await warm();
    const { token: fresh } = await ok(asAdmin.POST("/dags/{fileName}/webhook/regenerate", dagPath(dag)));
    const old = await trigger(dag, token);
    expectEnvelope(old, 401, "unauthorized");
    expect(old.trips).toMatchObject({ coordinator: 1, d1: 1 });
    // The primary's row read for that refusal is the copy now.
    expect(await started(dag, fresh)).toMatchObject({ sequential: 1, d1: 0 });
    expectEnvelope(await trigger(dag, token), 401, "unauthorized");
  });

  it("delete the webhook, rename or delete the DAG: refused at once", async () => {
    const first = await warm();
    await ok(asAdmin.DELETE("/dags/{fileName}/webhook", dagPath(first.dag)), 204);
    expectEnvelope(await trigger(first.dag, first.token), 401, "unauthorized");

    const second = await warm();
    const renamed = unique("rtt-renamed");
    await ok(asAdmin.POST("/dags/{fileName}/rename", { ...dagPath(second.dag), body: { newFileName: renamed } }));
    expectEnvelope(await trigger(second.dag, second.token), 401, "unauthorized");
    await started(renamed, second.token);

    const third = await warm();
    await ok(asAdmin.DELETE("/dags/{fileName}", dagPath(third.dag)), 204);
    expectEnvelope(await trigger(third.dag, third.token), 401, "unauthorized");
    // The same name again, a new DAG and webhook: the old token stays refused.
    await ok(asAdmin.POST("/dags", { body: { name: third.dag, spec: SPEC } }), 201);
    const { token: renewed } = await ok(asAdmin.POST("/dags/{fileName}/webhook", dagPath(third.dag)), 201);
    expectEnvelope(await trigger(third.dag, third.token), 401, "unauthorized");
    await started(third.dag, renewed);
  });

  it("a new spec, an allowlist and a hand-made change to D1 act at once", async () => {
    const { dag, token } = await warm();
    // The spec now takes GitHub push events only: the copy's spec doesn't, but is never used.
    await ok(
      asAdmin.PUT("/dags/{fileName}/spec", {
        ...dagPath(dag),
        body: { spec: `webhook:\n  events: [push]\n${SPEC}` },
      }),
    );
    const ignored = await trigger(dag, token);
    expect(ignored.status, JSON.stringify(ignored.body)).toBe(202);
    expect((await trigger(dag, token)).status).toBe(202);
    await ok(asAdmin.PUT("/dags/{fileName}/spec", { ...dagPath(dag), body: { spec: SPEC } }));
    await started(dag, token);

    await ok(
      asAdmin.PUT("/dags/{fileName}/webhook/allowed-ips", { ...dagPath(dag), body: { allowedIps: ["192.0.2.0/24"] } }),
    );
    expectEnvelope(await trigger(dag, token), 403, "forbidden");
    await ok(asAdmin.PUT("/dags/{fileName}/webhook/allowed-ips", { ...dagPath(dag), body: { allowedIps: [] } }));
    await started(dag, token);

    // Another writer (`wrangler d1 execute`): the version moves with the row all the same.
    await env.DB.prepare("UPDATE webhooks SET enabled = 0 WHERE dag_id = (SELECT id FROM dags WHERE name = ?1)")
      .bind(dag)
      .run();
    expectEnvelope(await trigger(dag, token), 403, "forbidden");
  });

  it("exactly once: after a change, 20 concurrent triggers with one dagRunId start one run", async () => {
    const { dag, token } = await warm();
    await ok(asAdmin.PUT("/dags/{fileName}/webhook/allowed-ips", { ...dagPath(dag), body: { allowedIps: [] } }));
    const rowsBefore = (await inboundRows(dag)).length;
    const dagRunId = unique("once");
    const results = await Promise.all(Array.from({ length: 20 }, () => trigger(dag, token, { body: { dagRunId } })));
    const statuses = results.map((result) => result.status).sort();
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 409)).toHaveLength(19);
    expectEnvelope(await trigger(dag, token, { body: { dagRunId } }), 409, "already_exists");
    // One inbound row a request: the run's, written by its coordinator, and 20 refusals.
    const rows = await inboundRows(dag);
    expect(rows.filter((row) => row.run_id === dagRunId)).toEqual([{ outcome: "accepted", run_id: dagRunId }]);
    expect(rows.filter((row) => row.outcome === "refused")).toHaveLength(20);
    expect(rows).toHaveLength(rowsBefore + 21);
  });

  it("a change this request doesn't feel costs its first trigger one stale round trip, and only the first", async () => {
    const { dag, token } = await warm();
    const rowsBefore = await inboundRows(dag);
    await ok(asAdmin.PUT("/dags/{fileName}/webhook/allowed-ips", { ...dagPath(dag), body: { allowedIps: [] } }));
    // The copy says yes; the coordinator finds it stale; the primary's row; the coordinator again.
    expect(await started(dag, token)).toEqual({
      sequential: 3,
      d1: 1,
      "d1-replica": 0,
      coordinator: 2,
      "coordinator-d1": 0,
    });
    expect(await started(dag, token)).toMatchObject({ sequential: 1, coordinator: 1, d1: 0 });
    // The stale copy's call started nothing: four triggers, four runs, and one row for each.
    expect(await runCount(dag)).toBe(4);
    const rows = await inboundRows(dag);
    expect(rows).toHaveLength(rowsBefore.length + 2);
    expect(rows.every((row) => row.outcome === "accepted")).toBe(true);
    expect(new Set(rows.map((row) => row.run_id)).size).toBe(rows.length);
  });

  it("lastUsedAt, written after triggers, leaves the copy current", async () => {
    const { dag, token } = await warm();
    await env.DB.prepare("UPDATE webhooks SET last_used_at = ?2 WHERE dag_id = (SELECT id FROM dags WHERE name = ?1)")
      .bind(dag, new Date().toISOString())
      .run();
    expect(await started(dag, token)).toMatchObject({ sequential: 1, coordinator: 1, d1: 0 });
  });
});
