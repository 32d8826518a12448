/**
 * Webhooks end to end, case by case as seeds/dagu-webhooks.md and issue 4 describe them: the
 * management API, the trigger with its payload rules and errors, rate limiting of failures,
 * and that no token is ever stored in plain text.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { coordinatorFor } from "../../../src/coordinator/index.ts";
import githubPush from "../fixtures/github-push.json?raw";
import {
  type ApiClient,
  type ApiResult,
  api,
  call,
  expectEnvelope,
  nodeOf,
  ok,
  type Schemas,
  stringField,
  unique,
  until,
  userWithRole,
  waitForRun,
  windowWithRoom,
} from "../helpers.ts";

const echo = inject("echoUrl");
let admin: { id: string; token: string };
let asAdmin: ApiClient;
beforeAll(async () => {
  admin = await userWithRole("admin");
  asAdmin = api(admin.token);
});

const dagPath = (fileName: string) => ({ params: { path: { fileName } } });
const runIdsOf = async (name: string) =>
  (await ok(asAdmin.GET("/dag-runs", { params: { query: { name } } }))).dagRuns.map((run) => run.dagRunId);

/** A DAG whose one http step prints `template` (after expansion) as its output. */
const echoSpec = (template: string, extra = "") => `${extra}steps:
  - name: show
    executor: {type: http, config: {body: '${template}'}}
    command: POST ${echo}/body
    output: SHOWN
`;

async function dagWithWebhook(
  spec = echoSpec("${WEBHOOK_PAYLOAD}"),
): Promise<{ dag: string; token: string; created: Schemas["WebhookCreateResponse"] }> {
  const dag = unique("wh");
  await ok(asAdmin.POST("/dags", { body: { name: dag, spec } }), 201);
  const created = await ok(asAdmin.POST("/dags/{fileName}/webhook", dagPath(dag)), 201);
  return { dag, token: created.token, created };
}

/** The trigger is called raw: its own token scheme, a client address, exact bytes and bodies of any JSON type. */
const trigger = (
  dag: string,
  token: string | undefined,
  options: { body?: unknown; rawBody?: string; ip?: string; env?: Partial<Cloudflare.Env> } = {},
) =>
  call("POST", `/webhooks/${dag}`, {
    ...(token
      ? { headers: { Authorization: `Bearer ${token}`, "CF-Connecting-IP": options.ip ?? unique("ip") } }
      : { headers: { "CF-Connecting-IP": options.ip ?? unique("ip") } }),
    ...(options.body !== undefined ? { body: options.body } : {}),
    ...(options.rawBody !== undefined ? { rawBody: options.rawBody } : {}),
    ...(options.env ? { env: options.env } : {}),
  });

async function shownBy(dag: string, result: ApiResult): Promise<string> {
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  const run = await waitForRun(admin.token, dag, stringField(result, "dagRunId"));
  expect(run.statusLabel, JSON.stringify(run.nodes)).toBe("succeeded");
  return nodeOf(run, "show").output ?? "";
}

describe("managing webhooks (admin only)", () => {
  it("create returns the webhook and the token once; get, list, toggle, regenerate and delete", async () => {
    const { dag, token, created } = await dagWithWebhook();
    expect(token).toMatch(/^dagu_wh_[1-9A-HJ-NP-Za-km-z]{42,44}$/);
    expect(created.webhook).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      dagName: dag,
      tokenPrefix: token.slice(0, 12),
      enabled: true,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      createdBy: admin.id,
      authMode: "token",
      signature: null,
      hmac: { enabled: false, secretConfigured: false },
      allowedIps: [],
    });

    const fetched = await ok(asAdmin.GET("/dags/{fileName}/webhook", dagPath(dag)));
    expect(fetched).toEqual(created.webhook);
    expect(JSON.stringify(fetched)).not.toContain(token);
    const listed = await ok(asAdmin.GET("/webhooks"));
    expect(listed.webhooks).toContainEqual(created.webhook);
    expect(JSON.stringify(listed)).not.toContain(token.slice(12));

    expectEnvelope(await asAdmin.POST("/dags/{fileName}/webhook", dagPath(dag)), 409, "already_exists");

    const toggle = (enabled: boolean) =>
      ok(asAdmin.POST("/dags/{fileName}/webhook/toggle", { ...dagPath(dag), body: { enabled } }));
    expect(await toggle(false)).toMatchObject({ enabled: false, tokenPrefix: token.slice(0, 12) });
    expectEnvelope(await trigger(dag, token), 403, "forbidden");
    await toggle(true);
    expect((await trigger(dag, token)).status).toBe(200);

    const regenerated = await ok(asAdmin.POST("/dags/{fileName}/webhook/regenerate", dagPath(dag)));
    const fresh = regenerated.token;
    expect(fresh).not.toBe(token);
    expect(regenerated.webhook).toMatchObject({ id: created.webhook.id, tokenPrefix: fresh.slice(0, 12) });
    expectEnvelope(await trigger(dag, token), 401, "unauthorized");
    expect((await trigger(dag, fresh)).status).toBe(200);

    await ok(asAdmin.DELETE("/dags/{fileName}/webhook", dagPath(dag)), 204);
    expectEnvelope(await asAdmin.GET("/dags/{fileName}/webhook", dagPath(dag)), 404, "not_found");
    expectEnvelope(await trigger(dag, fresh), 401, "unauthorized");
    expectEnvelope(await asAdmin.DELETE("/dags/{fileName}/webhook", dagPath(dag)), 404, "not_found");
  });

  it("404 for an unknown DAG; bad toggle bodies are 400 and change nothing", async () => {
    const missing = unique("missing");
    for (const [method, path] of [
      ["GET", ""],
      ["POST", ""],
      ["DELETE", ""],
      ["POST", "/regenerate"],
    ] as const) {
      expectEnvelope(await call(method, `/dags/${missing}/webhook${path}`, { token: admin.token }), 404, "not_found");
    }
    const { dag } = await dagWithWebhook();
    for (const body of [{}, { enabled: "no" }, { enabled: false, extra: 1 }]) {
      expectEnvelope(
        await call("POST", `/dags/${dag}/webhook/toggle`, { token: admin.token, body }),
        400,
        "bad_request",
      );
    }
    expectEnvelope(
      await call("POST", `/dags/${dag}/webhook/toggle`, {
        token: admin.token,
        rawBody: "{",
        headers: { "Content-Type": "application/json" },
      }),
      400,
      "bad_request",
    );
    expect((await ok(asAdmin.GET("/dags/{fileName}/webhook", dagPath(dag)))).enabled).toBe(true);
  });

  it("with AUTH_MODE=none: management answers 401, the trigger 404", async () => {
    const { dag, token } = await dagWithWebhook();
    const none = { AUTH_MODE: "none" };
    const anonymous = api(undefined, none);
    expectEnvelope(await anonymous.GET("/webhooks"), 401, "unauthorized");
    expectEnvelope(await anonymous.POST("/dags/{fileName}/webhook/regenerate", dagPath(dag)), 401, "unauthorized");
    const off = expectEnvelope(await trigger(dag, token, { env: none }), 404, "not_found");
    expect(off.message).toBe("webhooks are off on this deployment (AUTH_MODE=none): set AUTH_MODE=builtin to use them");
  });

  it("the webhook follows its DAG: kept by a rename, deleted with the DAG", async () => {
    const { dag, token, created } = await dagWithWebhook();
    const renamed = unique("wh-renamed");
    await ok(asAdmin.POST("/dags/{fileName}/rename", { ...dagPath(dag), body: { newFileName: renamed } }));
    expect(await ok(asAdmin.GET("/dags/{fileName}/webhook", dagPath(renamed)))).toMatchObject({
      id: created.webhook.id,
      dagName: renamed,
    });
    expectEnvelope(await trigger(dag, token), 401, "unauthorized");
    const result = await trigger(renamed, token);
    expect(result.body).toEqual({ dagRunId: expect.any(String), dagName: renamed });

    await ok(asAdmin.DELETE("/dags/{fileName}", dagPath(renamed)), 204);
    const { results } = await env.DB.prepare("SELECT id FROM webhooks WHERE id = ?1").bind(created.webhook.id).all();
    expect(results).toEqual([]);
    expectEnvelope(await trigger(renamed, token), 401, "unauthorized");
  });
});

describe("triggering", () => {
  it("the seed's basic request: no body, 200 {dagRunId, dagName}; the run records the webhook", async () => {
    const { dag, token } = await dagWithWebhook();
    const result = await trigger(dag, token);
    expect(result.body).toEqual({ dagRunId: expect.any(String), dagName: dag });
    expect(await shownBy(dag, result)).toBe("{}");
    const run = await waitForRun(admin.token, dag, stringField(result, "dagRunId"));
    expect(run).toMatchObject({
      trigger: "webhook",
      triggeredBy: `webhook:${token.slice(0, 12)}`,
      webhookPayload: "{}",
      webhookHeaders: null,
    });
  });

  it("run lists say how each run started, and filter by it: webhook runs apart from manual ones", async () => {
    const { dag, token } = await dagWithWebhook();
    const byWebhook = stringField(await trigger(dag, token), "dagRunId");
    const byHand = (await ok(asAdmin.POST("/dags/{fileName}/start", { ...dagPath(dag), body: {} }))).dagRunId;
    const listed = await ok(asAdmin.GET("/dag-runs", { params: { query: { name: dag } } }));
    expect(listed.dagRuns.map(({ dagRunId, trigger, triggeredBy }) => ({ dagRunId, trigger, triggeredBy }))).toEqual([
      { dagRunId: byHand, trigger: "manual", triggeredBy: expect.stringMatching(/^admin-/) },
      { dagRunId: byWebhook, trigger: "webhook", triggeredBy: `webhook:${token.slice(0, 12)}` },
    ]);
    const webhookOnly = await ok(asAdmin.GET("/dag-runs", { params: { query: { name: dag, trigger: "webhook" } } }));
    expect(webhookOnly.dagRuns.map((run) => run.dagRunId)).toEqual([byWebhook]);
    expect(webhookOnly.pagination.totalRecords).toBe(1);
    const manualOnly = await ok(
      asAdmin.GET("/dag-runs/{name}", { params: { path: { name: dag }, query: { trigger: "manual" } } }),
    );
    expect(manualOnly.dagRuns.map((run) => run.dagRunId)).toEqual([byHand]);
    expectEnvelope(await call("GET", `/dag-runs?name=${dag}&trigger=cron`, { token: admin.token }), 400, "bad_request");
  });

  it("the seed's payload examples: fields, nested fields, array indices both ways", async () => {
    const { dag, token } = await dagWithWebhook(
      echoSpec(
        "Building branch ${WEBHOOK_PAYLOAD.branch} at commit ${WEBHOOK_PAYLOAD.commit} | ${WEBHOOK_PAYLOAD.repository.name} | ${WEBHOOK_PAYLOAD.commits.0.author.name} = ${WEBHOOK_PAYLOAD.commits[0].author.name} | [${WEBHOOK_PAYLOAD.missing.field}]",
      ),
    );
    const body = {
      branch: "main",
      commit: "abc123",
      repository: { name: "dagflare" },
      commits: [{ author: { name: "Ada" } }],
    };
    expect(await shownBy(dag, await trigger(dag, token, { body }))).toBe(
      "Building branch main at commit abc123 | dagflare | Ada = Ada | []",
    );
  });

  it("WEBHOOK_PAYLOAD is exact: big integers and key order kept; objects expand to compact JSON", async () => {
    const { dag, token } = await dagWithWebhook(
      echoSpec("${WEBHOOK_PAYLOAD} ${WEBHOOK_PAYLOAD.id} ${WEBHOOK_PAYLOAD.nested}"),
    );
    const raw =
      '{ "b": 1, "10": 2, "a": [1, 2.50, -0, 1e400],\n "id": 12345678901234567890123, "nested": {"z": "é \\" $(x)", "y": null} }';
    const result = await trigger(dag, token, { rawBody: raw });
    const exact =
      '{"b":1,"10":2,"a":[1,2.50,-0,1e400],"id":12345678901234567890123,"nested":{"z":"é \\" $(x)","y":null}}';
    expect(await shownBy(dag, result)).toBe(`${exact} 12345678901234567890123 {"z":"é \\" $(x)","y":null}`);
    // The run's details show the payload exactly as the steps saw it (the UI's run page).
    expect((await waitForRun(admin.token, dag, stringField(result, "dagRunId"))).webhookPayload).toBe(exact);
  });

  it("Dagu's envelope {payload, dagRunId}; arrays and strings are payloads too; an empty body is {}", async () => {
    const { dag, token } = await dagWithWebhook();
    const enveloped = await trigger(dag, token, {
      body: { payload: { branch: "dev", n: 2 }, dagRunId: unique("env") },
    });
    expect(await shownBy(dag, enveloped)).toBe('{"branch":"dev","n":2}');
    expect(await shownBy(dag, await trigger(dag, token, { body: { dagRunId: unique("only-id") } }))).toBe("{}");
    // Other keys next to dagRunId: the whole body is the payload, and the dagRunId still names the run.
    const id = unique("bare");
    const bare = await trigger(dag, token, { body: { dagRunId: id, branch: "x" } });
    expect(stringField(bare, "dagRunId")).toBe(id);
    expect(await shownBy(dag, bare)).toBe(`{"dagRunId":"${id}","branch":"x"}`);
    expect(await shownBy(dag, await trigger(dag, token, { body: [1, { a: 2 }] }))).toBe('[1,{"a":2}]');
    expect(await shownBy(dag, await trigger(dag, token, { body: "text" }))).toBe('"text"');
    expect(await shownBy(dag, await trigger(dag, token, { rawBody: "" }))).toBe("{}");
  });

  it("payload fields reach params, env and http executor fields, and are never expanded again", async () => {
    const spec = `params: BRANCH=\${WEBHOOK_PAYLOAD.branch}
env:
  - TARGET: \${WEBHOOK_PAYLOAD.env}
steps:
  - name: show
    executor:
      type: http
      config:
        headers: {X-Branch: "\${WEBHOOK_PAYLOAD.branch}"}
        query: {env: "\${TARGET}"}
        body: '\${BRANCH}|\${TARGET}|\${WEBHOOK_PAYLOAD.trap}'
        json: true
    command: POST ${echo}/echo
    output: SHOWN
`;
    const { dag, token } = await dagWithWebhook(spec);
    const shown = JSON.parse(
      await shownBy(
        dag,
        await trigger(dag, token, { body: { branch: "feat/x", env: "prod", trap: "${DAG_NAME}`id`$(id)" } }),
      ),
    );
    const echoed = JSON.parse(shown.body);
    expect(echoed.body).toBe("feat/x|prod|${DAG_NAME}`id`$(id)");
    expect(echoed.headers["x-branch"]).toBe("feat/x");
    expect(echoed.query).toEqual({ env: "prod" });
  });

  it("a GitHub push event, sent verbatim: ${WEBHOOK_PAYLOAD.commits.0.author.name}", async () => {
    const { dag, token } = await dagWithWebhook(
      echoSpec(
        "${WEBHOOK_PAYLOAD.commits.0.author.name} pushed ${WEBHOOK_PAYLOAD.after} to ${WEBHOOK_PAYLOAD.repository.full_name}",
      ),
    );
    const result = await trigger(dag, token, { rawBody: githubPush });
    expect(await shownBy(dag, result)).toBe(
      "Ada Lovelace pushed 0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c to acme-platform/deploy-service",
    );
  });

  it("dagRunId: echoed, then 409 forever; an invalid one is 400", async () => {
    const { dag, token } = await dagWithWebhook();
    const id = unique("deploy-abc123");
    expect((await trigger(dag, token, { body: { dagRunId: id } })).body).toEqual({ dagRunId: id, dagName: dag });
    await waitForRun(admin.token, dag, id);
    expectEnvelope(await trigger(dag, token, { body: { dagRunId: id } }), 409, "already_exists");
    for (const bad of ["has space", "a/b", "x".repeat(65), ""]) {
      expectEnvelope(await trigger(dag, token, { body: { dagRunId: bad } }), 400, "bad_request");
    }
    expectEnvelope(await trigger(dag, token, { body: { dagRunId: 7 } }), 400, "bad_request");
  });

  it("100 concurrent triggers with one dagRunId create exactly one run", async () => {
    const { dag, token } = await dagWithWebhook();
    const id = unique("once");
    const results = await Promise.all(
      Array.from({ length: 100 }, () => trigger(dag, token, { body: { dagRunId: id } })),
    );
    const statuses = results.map((result) => result.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 409)).toHaveLength(99);
    expect(await runIdsOf(dag)).toEqual([id]);
  });

  it("errors: one 401 for every wrong credential or target, 400 for malformed JSON, 413 before any token work", async () => {
    const { dag, token } = await dagWithWebhook();
    const other = await dagWithWebhook();
    const noWebhook = unique("no-webhook");
    await ok(asAdmin.POST("/dags", { body: { name: noWebhook, spec: echoSpec("x") } }), 201);

    const missing = await trigger(dag, undefined);
    expectEnvelope(missing, 401, "unauthorized");
    expectEnvelope(
      await call("POST", `/webhooks/${dag}`, { headers: { Authorization: `Basic ${btoa("a:b")}` } }),
      401,
      "unauthorized",
    );
    expectEnvelope(
      await call("POST", `/webhooks/${dag}`, { headers: { Authorization: "Bearer" } }),
      401,
      "unauthorized",
    );
    expectEnvelope(await call("POST", `/webhooks/${dag}`, { token: admin.token }), 401, "unauthorized");

    const wrong = [
      await trigger(dag, `${token.slice(0, -1)}${token.endsWith("a") ? "b" : "a"}`),
      await trigger(dag, `${token.slice(0, 12)}${"1".repeat(token.length - 12)}`),
      await trigger(dag, other.token),
      await trigger(unique("nope"), token),
      await trigger(noWebhook, token),
    ];
    for (const result of wrong) expectEnvelope(result, 401, "unauthorized");
    expect(new Set(wrong.map((result) => expectEnvelope(result, 401, "unauthorized").message)).size).toBe(1);

    expectEnvelope(await trigger(dag, token, { rawBody: '{"branch": ' }), 400, "bad_request");
    expectEnvelope(await trigger(dag, token, { rawBody: "[".repeat(300) + "]".repeat(300) }), 400, "bad_request");
    const huge = JSON.stringify({ blob: "x".repeat(1024 * 1024) });
    expectEnvelope(await trigger(dag, "dagu_wh_wrong", { rawBody: huge }), 413, "payload_too_large");
    expect(await runIdsOf(dag)).toEqual([]);
  });

  it("lastUsedAt is set by an accepted trigger, visible within a second", async () => {
    const { dag, token } = await dagWithWebhook();
    const lastUsed = async () => (await ok(asAdmin.GET("/dags/{fileName}/webhook", dagPath(dag)))).lastUsedAt;
    expect(await lastUsed()).toBeUndefined();
    const before = new Date().toISOString();
    expect((await trigger(dag, token)).status).toBe(200);
    const lastUsedAt = await until(lastUsed, 1000);
    expect(lastUsedAt >= before).toBe(true);
  });

  it("after JWT_SECRET rotation a token still works: bcrypt once, then its digest is renewed", async () => {
    const { dag, token } = await dagWithWebhook();
    const rotated = { JWT_SECRET: `${env.JWT_SECRET}-rotated` };
    const stored = async () =>
      (await env.DB.prepare("SELECT token_digest FROM webhooks w JOIN dags d ON d.id = w.dag_id WHERE d.name = ?1")
        .bind(dag)
        .first<{ token_digest: string }>())!.token_digest;
    const original = await stored();
    expect((await trigger(dag, token, { env: rotated })).status).toBe(200);
    const renewed = await stored();
    expect(renewed).not.toBe(original);
    expect(renewed.split(":")[0]).not.toBe(original.split(":")[0]);
    expect((await trigger(dag, token, { env: rotated })).status).toBe(200);
    expectEnvelope(
      await trigger(dag, `${token.slice(0, 12)}${"2".repeat(token.length - 12)}`, { env: rotated }),
      401,
      "unauthorized",
    );
  });
});

describe("failed attempts are rate-limited per client and DAG", () => {
  it("30 failures a minute are answered 401; then 429 with Retry-After, even for the right token; others are unaffected", async () => {
    const { dag, token } = await dagWithWebhook();
    const ip = unique("attacker");
    await windowWithRoom(60_000, 8_000);
    for (let attempt = 1; attempt <= 30; attempt++) {
      expectEnvelope(await trigger(dag, `dagu_wh_${attempt}wrong`, { ip }), 401, "unauthorized");
    }
    const limited = await trigger(dag, "dagu_wh_wrong-again", { ip });
    expectEnvelope(limited, 429, "too_many_requests");
    expect(limited.headers.get("Retry-After")).toBe("60");
    expectEnvelope(await trigger(dag, token, { ip }), 429, "too_many_requests");
    // Another client, and the same client on another DAG, are not limited.
    expect((await trigger(dag, token, { ip: unique("honest") })).status).toBe(200);
    const other = await dagWithWebhook();
    expect((await trigger(other.dag, other.token, { ip })).status).toBe(200);
  });

  it("successes don't count", async () => {
    const { dag, token } = await dagWithWebhook();
    const ip = unique("busy");
    for (let attempt = 1; attempt <= 40; attempt++) expect((await trigger(dag, token, { ip })).status).toBe(200);
  });
});

describe("no token in plain text, anywhere", () => {
  it("after create, trigger and regenerate, neither token is in any D1 table or the DAG's coordinator storage", async () => {
    const { dag, token } = await dagWithWebhook();
    const runId = stringField(await trigger(dag, token, { body: { hello: "world" } }), "dagRunId");
    await waitForRun(admin.token, dag, runId);
    const second = (await ok(asAdmin.POST("/dags/{fileName}/webhook/regenerate", dagPath(dag)))).token;
    await trigger(dag, second);

    const secrets = [token, second].flatMap((value) => [value, value.slice(12)]);
    const { results: tables } = await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
    ).all<{ name: string }>();
    expect(tables.map((table) => table.name)).toContain("webhooks");
    for (const { name } of tables) {
      const { results } = await env.DB.prepare(`SELECT * FROM "${name}"`).all();
      const dump = JSON.stringify(results);
      for (const secret of secrets)
        expect(dump.includes(secret), `${secret.slice(0, 12)}… in D1 table ${name}`).toBe(false);
    }

    const dagRow = (await env.DB.prepare("SELECT id FROM dags WHERE name = ?1").bind(dag).first<{ id: string }>())!;
    const storage = await runInDurableObject(coordinatorFor(env, dagRow.id), (_instance, state) => {
      const names = state.storage.sql
        .exec(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'sqlite_%'",
        )
        .toArray();
      return names
        .map(({ name }) => JSON.stringify(state.storage.sql.exec(`SELECT * FROM "${String(name)}"`).toArray()))
        .join("\n");
    });
    expect(storage).toContain("hello");
    for (const secret of secrets) expect(storage.includes(secret)).toBe(false);
  });
});
