/**
 * The webhook inbound log (issue 17): every trigger attempt recorded with its outcome, code,
 * run, redacted headers and a bounded, redacted body; the DAG's opt-out of bodies; retention;
 * replay of an accepted request as a new run; and who may see and replay.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { coordinatorFor } from "../../../src/coordinator/index.ts";
import { upsertRuns } from "../../../src/db/runs.ts";
import { insertWebhookRequest } from "../../../src/db/webhook-requests.ts";
import { pruneInboundLog } from "../../../src/webhooks/inbound-log.ts";
import {
  type ApiClient,
  api,
  call,
  expectEnvelope,
  expectLogged,
  nodeOf,
  ok,
  type Schemas,
  stringField,
  unique,
  userWithRole,
  waitForRun,
  windowWithRoom,
} from "../helpers.ts";

const echo = inject("echoUrl");
let admin: string;
let asAdmin: ApiClient;
let asOperator: ApiClient;
let asViewer: ApiClient;
beforeAll(async () => {
  admin = (await userWithRole("admin")).token;
  asAdmin = api(admin);
  asOperator = api((await userWithRole("operator")).token);
  asViewer = api((await userWithRole("viewer")).token);
});

const SPEC = `steps:
  - name: show
    executor: {type: http, config: {body: '\${WEBHOOK_PAYLOAD}'}}
    command: POST ${echo}/body
`;

const dagPath = (fileName: string) => ({ params: { path: { fileName } } });
const requestPath = (fileName: string, id: string) => ({ params: { path: { fileName, id } } });

async function dagWithWebhook(webhookOptions = ""): Promise<{ dag: string; token: string }> {
  const dag = unique("inbound");
  await ok(asAdmin.POST("/dags", { body: { name: dag, spec: `${webhookOptions}${SPEC}` } }), 201);
  const { token } = await ok(asAdmin.POST("/dags/{fileName}/webhook", dagPath(dag)), 201);
  return { dag, token };
}

type TriggerOptions = {
  token?: string;
  body?: string;
  contentType?: string;
  ip?: string;
  headers?: Record<string, string>;
};
const trigger = (dag: string, options: TriggerOptions = {}) =>
  call("POST", `/webhooks/${dag}`, {
    headers: {
      "CF-Connecting-IP": options.ip ?? "198.51.100.7",
      ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}),
      ...(options.contentType ? { "Content-Type": options.contentType } : {}),
      ...options.headers,
    },
    ...(options.body !== undefined ? { rawBody: options.body } : {}),
  });

/** The headers Slack signs a request with (v0 signatures: HMAC-SHA256 of `v0:{timestamp}:{body}`). */
async function slackSigned(
  secret: string,
  body: string,
): Promise<{ "X-Slack-Request-Timestamp": string; "X-Slack-Signature": string }> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(
    await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`v0:${timestamp}:${body}`)),
  );
  const hex = [...mac].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return { "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": `v0=${hex}` };
}

const logOf = async (
  dag: string,
  query: { outcome?: Schemas["WebhookRequestSummary"]["outcome"]; limit?: number } = {},
) =>
  (await ok(asOperator.GET("/dags/{fileName}/webhook/requests", { params: { path: { fileName: dag }, query } })))
    .requests;
const detailsOf = (dag: string, id: string) =>
  ok(asOperator.GET("/dags/{fileName}/webhook/requests/{id}", requestPath(dag, id)));

describe("every attempt is recorded", () => {
  it("accepted, refused and rate-limited attempts with outcome, code, run and client address, newest first", async () => {
    const { dag, token } = await dagWithWebhook();
    const accepted = await trigger(dag, { token, body: '{"branch":"main"}', contentType: "application/json" });
    const runId = stringField(accepted, "dagRunId");
    expectEnvelope(await trigger(dag, { token: "dagu_wh_wrong" }), 401, "unauthorized");
    expectEnvelope(
      await trigger(dag, { token, body: "{not json", contentType: "application/json" }),
      400,
      "bad_request",
    );
    const attacker = unique("attacker");
    await windowWithRoom(60_000, 8_000);
    for (let attempt = 0; attempt < 30; attempt++)
      expectEnvelope(await trigger(dag, { token: `dagu_wh_${attempt}wrong`, ip: attacker }), 401, "unauthorized");
    expectEnvelope(await trigger(dag, { token: "dagu_wh_wrong-again", ip: attacker }), 429, "too_many_requests");
    // More refusals of a client over its budget are not each a row (once per 10 s per isolate).
    expectEnvelope(await trigger(dag, { token, ip: attacker }), 429, "too_many_requests");

    const all = await logOf(dag, { limit: 200 });
    expect(all).toHaveLength(34);
    expect(all.map((entry) => entry.receivedAt)).toEqual(
      all
        .map((entry) => entry.receivedAt)
        .sort()
        .reverse(),
    );
    const [limited] = await logOf(dag, { outcome: "rate_limited" });
    expect(await logOf(dag, { outcome: "rate_limited" })).toHaveLength(1);
    expect(limited).toMatchObject({
      statusCode: 429,
      errorCode: "too_many_requests",
      clientIp: attacker,
      dagRunId: null,
    });
    const [started] = await logOf(dag, { outcome: "accepted" });
    expect(started).toMatchObject({
      statusCode: 200,
      errorCode: null,
      dagRunId: runId,
      clientIp: "198.51.100.7",
      method: "POST",
      contentType: "application/json",
      bodyBytes: 17,
      bodyStored: true,
      bodyTruncated: false,
      replayOf: null,
    });
    const refused = await logOf(dag, { outcome: "refused", limit: 200 });
    expect(refused).toHaveLength(32);
    expect(refused.at(-1)).toMatchObject({ statusCode: 401, errorCode: "unauthorized", dagRunId: null });
    expect(refused.at(-2)).toMatchObject({
      statusCode: 400,
      errorCode: "bad_request",
      message: expect.stringContaining("the body must be JSON"),
    });
    expect((await detailsOf(dag, started!.id)).body).toBe('{"branch":"main"}');
  });

  it("pages with a cursor and filters by time; a bad filter is a 400 envelope", async () => {
    const { dag, token } = await dagWithWebhook();
    for (let n = 0; n < 5; n++) await trigger(dag, { token, body: `{"n":${n}}` });
    const list = (query: Record<string, string | number>) =>
      asOperator.GET("/dags/{fileName}/webhook/requests", { params: { path: { fileName: dag }, query } });
    const first = await ok(list({ limit: 2 }));
    const second = await ok(list({ limit: 2, cursor: first.nextCursor! }));
    const third = await ok(list({ limit: 2, cursor: second.nextCursor! }));
    expect(third.nextCursor).toBeNull();
    const ids = [...first.requests, ...second.requests, ...third.requests].map((entry) => entry.id);
    expect(new Set(ids).size).toBe(5);
    expect((await ok(list({ since: new Date(Date.now() + 60_000).toISOString() }))).requests).toEqual([]);
    expect((await ok(list({ since: Math.floor(Date.now() / 1000) - 60 }))).requests).toHaveLength(5);
    expectEnvelope(await list({ since: "yesterday" }), 400, "bad_request");
    expectEnvelope(await list({ cursor: "nope" }), 400, "bad_request");
    expectEnvelope(await list({ outcome: "maybe" }), 400, "bad_request");
    expectEnvelope(await list({ limit: 0 }), 400, "bad_request");
    expectEnvelope(
      await asOperator.GET("/dags/{fileName}/webhook/requests", dagPath(unique("no-such-dag"))),
      404,
      "not_found",
    );
    expectEnvelope(
      await asOperator.GET("/dags/{fileName}/webhook/requests/{id}", requestPath(dag, crypto.randomUUID())),
      404,
      "not_found",
    );
  });

  it("a refusal's failed insert doesn't change the answer; a started run's row is its coordinator's to write", async () => {
    const { dag, token } = await dagWithWebhook();
    // The Worker's own writes to the log fail.
    const failingLog = new Proxy(env.DB, {
      get(target, property) {
        if (property !== "prepare") return Reflect.get(target, property, target);
        return (query: string) => {
          if (query.includes("INSERT INTO webhook_requests")) throw new Error("D1 is down");
          return target.prepare(query);
        };
      },
    });
    const withFailingLog = { env: { DB: failingLog } };
    const refused = await expectLogged([{ level: "error", msg: "recording a webhook request failed", dag }], () =>
      call("POST", `/webhooks/${dag}`, { headers: { Authorization: "Bearer dagu_wh_wrong" }, ...withFailingLog }),
    );
    expect(refused.status).toBe(401);
    expect(await logOf(dag)).toEqual([]);

    // A run started: its row went to the coordinator with the start, and was written in the same
    // D1 batch as the run's copy — there as soon as the trigger answers, whatever the Worker's D1 does.
    const started = await call("POST", `/webhooks/${dag}`, {
      headers: { Authorization: `Bearer ${token}` },
      ...withFailingLog,
    });
    expect(started.status).toBe(200);
    const runId = stringField(started, "dagRunId");
    const rows = await env.DB.prepare("SELECT outcome, run_id FROM webhook_requests WHERE run_id = ?1")
      .bind(runId)
      .all();
    expect(rows.results).toEqual([{ outcome: "accepted", run_id: runId }]);
    expect(await logOf(dag)).toMatchObject([{ outcome: "accepted", dagRunId: runId }]);
  });
});

describe("a started run's row, written by its coordinator", () => {
  it("goes in by the DAG's id, once however often its batch is sent (a lost answer), and not twice with the fallback", async () => {
    const { dag } = await dagWithWebhook();
    const { id: dagId } = (await env.DB.prepare("SELECT id FROM dags WHERE name = ?1")
      .bind(dag)
      .first<{ id: string }>())!;
    const entry = {
      id: crypto.randomUUID(),
      dag_name: "a-name-since-changed",
      dag_id: dagId,
      received_at: new Date().toISOString(),
      client_ip: "198.51.100.7",
      method: "POST",
      outcome: "accepted" as const,
      status_code: 200,
      error_code: null,
      message: "",
      run_id: "01a236cc-16d9-7f2c-88b9-17f5d5967987",
      headers: "{}",
      content_type: "application/json",
      body: "{}",
      body_bytes: 2,
      body_truncated: false,
      replay_of: null,
      replayed_by: null,
    };
    await upsertRuns(env.DB, [], [], [entry]);
    await upsertRuns(env.DB, [], [], [entry]);
    // The middleware's fallback for the same request (same id) adds nothing either.
    expect(await insertWebhookRequest(env.DB, { ...entry, dag_id: undefined, dag_name: dag, outcome: "failed" })).toBe(
      false,
    );
    expect(await logOf(dag)).toMatchObject([{ id: entry.id, outcome: "accepted", dagRunId: entry.run_id }]);
  });
});

describe("credentials are never stored", () => {
  it("headers that carry credentials and credential fields of JSON and form bodies are redacted", async () => {
    const { dag, token } = await dagWithWebhook();
    const secrets = {
      apiKey: "key-0f9e8d7c6b5a4f3e2d1c",
      cookie: "session=cookie-secret-4242",
      slackToken: "xyzz0WbapA4vBCDEFasx0q6G",
      nested: "nested-client-secret-9876",
      password: "hunter2-but-longer",
    };
    const json = `{"big":123456789012345678901234567890,"repository":{"name":"dagflare","deploy":{"client_secret":"${secrets.nested}"}},"items":[{"password":"${secrets.password}"}],"author":{"name":"Ada"}}`;
    const accepted = await trigger(dag, {
      token,
      body: json,
      contentType: "application/json",
      headers: { "X-Api-Key": secrets.apiKey, Cookie: secrets.cookie, "X-GitHub-Event": "push" },
    });
    expect(accepted.status).toBe(200);
    const form = `token=${secrets.slackToken}&user_name=roadrunner&text=deploy+api`;
    expect((await trigger(dag, { token, body: form, contentType: "application/x-www-form-urlencoded" })).status).toBe(
      200,
    );
    const github = `payload=${encodeURIComponent(`{"ref":"main","access_token":"${secrets.nested}"}`)}`;
    expect((await trigger(dag, { token, body: github, contentType: "application/x-www-form-urlencoded" })).status).toBe(
      200,
    );

    const [githubEntry, formEntry, jsonEntry] = await logOf(dag);
    const jsonDetails = await detailsOf(dag, jsonEntry!.id);
    expect(jsonDetails.headers).toMatchObject({
      authorization: "[redacted]",
      "x-api-key": "[redacted]",
      cookie: "[redacted]",
      "x-github-event": "push",
      "content-type": "application/json",
    });
    // Exact otherwise: the big number keeps its digits, keys their order.
    expect(jsonDetails.body).toBe(
      '{"big":123456789012345678901234567890,"repository":{"name":"dagflare","deploy":{"client_secret":"[redacted]"}},"items":[{"password":"[redacted]"}],"author":{"name":"Ada"}}',
    );
    expect(jsonDetails.bodyBytes).toBe(new TextEncoder().encode(json).byteLength);
    const formDetails = await detailsOf(dag, formEntry!.id);
    expect(new URLSearchParams(formDetails.body!).get("token")).toBe("[redacted]");
    expect(new URLSearchParams(formDetails.body!).get("user_name")).toBe("roadrunner");
    const githubDetails = await detailsOf(dag, githubEntry!.id);
    expect(JSON.parse(new URLSearchParams(githubDetails.body!).get("payload")!)).toEqual({
      ref: "main",
      access_token: "[redacted]",
    });

    const answers = JSON.stringify([
      await logOf(dag),
      jsonDetails,
      formDetails,
      githubDetails,
      await ok(asOperator.GET("/dags/{fileName}/webhook/requests", dagPath(dag))),
    ]);
    for (const secret of [token, token.slice(12), ...Object.values(secrets)])
      expect(answers.includes(secret), `${secret.slice(0, 8)}… in an answer`).toBe(false);
    const { results } = await env.DB.prepare("SELECT * FROM webhook_requests").all();
    const stored = JSON.stringify(results);
    for (const secret of [token, token.slice(12), ...Object.values(secrets)])
      expect(stored.includes(secret), `${secret.slice(0, 8)}… in D1`).toBe(false);
  });

  it("a signed Slack command: its signature header and its legacy token field are redacted", async () => {
    const { dag } = await dagWithWebhook();
    const secret = "8f742231b10e8888abcd99yyyzzz85a5";
    await ok(
      asAdmin.PUT("/dags/{fileName}/webhook/signature", {
        ...dagPath(dag),
        body: { scheme: "slack", authMode: "signature", secret },
      }),
    );
    const body = "token=xyzz0WbapA4vBCDEFasx0q6G&user_name=roadrunner&command=%2Fdeploy&text=api";
    const headers = await slackSigned(secret, body);
    const signature = headers["X-Slack-Signature"];
    const result = await trigger(dag, { body, contentType: "application/x-www-form-urlencoded", headers });
    expect(result.status).toBe(200);
    const [entry] = await logOf(dag);
    const details = await detailsOf(dag, entry!.id);
    expect(details.headers["x-slack-signature"]).toBe("[redacted]");
    expect(details.headers["x-slack-request-timestamp"]).toBe(headers["X-Slack-Request-Timestamp"]);
    const answer = JSON.stringify(details);
    for (const value of [signature, signature.slice(3), "xyzz0WbapA4vBCDEFasx0q6G", secret])
      expect(answer.includes(value)).toBe(false);
    expect(answer).toContain("roadrunner");
  });
});

describe("a sender's credential fields never reach the run", () => {
  it("Slack's legacy token is dropped from the payload: not in the run, its steps, its replay, D1 or the DAG's storage", async () => {
    const dag = unique("slack-token");
    const spec = `steps:
  - name: payload
    executor: {type: http, config: {body: '\${WEBHOOK_PAYLOAD}'}}
    command: POST ${echo}/body
    output: PAYLOAD
  - name: fields
    executor: {type: http, config: {body: '\${WEBHOOK_PAYLOAD.user_name} asked: \${WEBHOOK_PAYLOAD.text} [\${WEBHOOK_PAYLOAD.token}]'}}
    command: POST ${echo}/body
    output: FIELDS
`;
    await ok(asAdmin.POST("/dags", { body: { name: dag, spec } }), 201);
    await ok(asAdmin.POST("/dags/{fileName}/webhook", dagPath(dag)), 201);
    const secret = "8f742231b10e8888abcd99yyyzzz85a5";
    await ok(
      asAdmin.PUT("/dags/{fileName}/webhook/signature", {
        ...dagPath(dag),
        body: { scheme: "slack", authMode: "signature", secret },
      }),
    );
    const legacyToken = `xoxv${crypto.randomUUID().replaceAll("-", "")}`;
    const body = `token=${legacyToken}&team_id=T1DC2JH3J&user_name=roadrunner&command=%2Fdeploy&text=deploy+api&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1`;
    const result = await trigger(dag, {
      body,
      contentType: "application/x-www-form-urlencoded",
      headers: await slackSigned(secret, body),
    });
    const run = await waitForRun(admin, dag, stringField(result, "dagRunId"));
    const payload =
      '{"team_id":"T1DC2JH3J","user_name":"roadrunner","command":"/deploy","text":"deploy api","response_url":"https://hooks.slack.com/commands/1"}';
    expect(run.webhookPayload).toBe(payload);
    expect(nodeOf(run, "payload").output).toBe(payload);
    expect(nodeOf(run, "fields").output).toBe("roadrunner asked: deploy api []");

    // The inbound log shows the field, its value redacted; a replay runs without it, as the original did.
    const [entry] = await logOf(dag);
    const logged = await detailsOf(dag, entry!.id);
    expect(new URLSearchParams(logged.body!).get("token")).toBe("[redacted]");
    const replayed = await ok(
      asOperator.POST("/dags/{fileName}/webhook/requests/{id}/replay", requestPath(dag, entry!.id)),
    );
    const replay = await waitForRun(admin, dag, replayed.dagRunId);
    expect(replay.webhookPayload).toBe(payload);

    const runPath = (dagRunId: string) => ({ params: { path: { name: dag, dagRunId } } });
    const answers = JSON.stringify([
      run,
      replay,
      await ok(asViewer.GET("/dag-runs/{name}/{dagRunId}", runPath(run.dagRunId))),
      await ok(asViewer.GET("/dag-runs/{name}/{dagRunId}/outputs", runPath(run.dagRunId))),
      await ok(asViewer.GET("/dag-runs", { params: { query: { name: dag } } })),
      await logOf(dag),
      logged,
    ]);
    expect(answers).toContain("roadrunner");
    expect(answers.includes(legacyToken), "the token in an answer").toBe(false);

    const { results: tables } = await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
    ).all<{ name: string }>();
    for (const { name } of tables) {
      const { results } = await env.DB.prepare(`SELECT * FROM "${name}"`).all();
      expect(JSON.stringify(results).includes(legacyToken), `the token in D1 table ${name}`).toBe(false);
    }
    const dagRow = (await env.DB.prepare("SELECT id FROM dags WHERE name = ?1").bind(dag).first<{ id: string }>())!;
    const storage = await runInDurableObject(coordinatorFor(env, dagRow.id), (_instance, state) =>
      state.storage.sql
        .exec(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'sqlite_%'",
        )
        .toArray()
        .map(({ name }) => JSON.stringify(state.storage.sql.exec(`SELECT * FROM "${String(name)}"`).toArray()))
        .join("\n"),
    );
    expect(storage).toContain("roadrunner");
    expect(storage.includes(legacyToken), "the token in the DAG's Durable Object").toBe(false);
  });
});

describe("bodies are bounded, and a DAG may keep none", () => {
  it("an accepted body is kept up to 64 KiB, a refused one up to 4 KiB, with the size received", async () => {
    const { dag, token } = await dagWithWebhook();
    const big = JSON.stringify({ padding: "x".repeat(100 * 1024) });
    expect((await trigger(dag, { token, body: big, contentType: "application/json" })).status).toBe(200);
    expectEnvelope(await trigger(dag, { token: "dagu_wh_nope", body: big }), 401, "unauthorized");
    const [refused, accepted] = await logOf(dag);
    const acceptedDetails = await detailsOf(dag, accepted!.id);
    expect(acceptedDetails).toMatchObject({ bodyBytes: big.length, bodyTruncated: true, bodyStored: true });
    expect(acceptedDetails.body).toBe(big.slice(0, 64 * 1024));
    const refusedDetails = await detailsOf(dag, refused!.id);
    expect(refusedDetails).toMatchObject({ bodyBytes: big.length, bodyTruncated: true });
    expect(refusedDetails.body).toHaveLength(4 * 1024);
    expectEnvelope(
      await asOperator.POST("/dags/{fileName}/webhook/requests/{id}/replay", requestPath(dag, accepted!.id)),
      400,
      "bad_request",
    );
  });

  it("webhook.store_bodies: false (or storeBodies) keeps headers and sizes, no body; such a request can't be replayed", async () => {
    const { dag, token } = await dagWithWebhook("webhook:\n  store_bodies: false\n");
    expect((await trigger(dag, { token, body: '{"private":"data"}', contentType: "application/json" })).status).toBe(
      200,
    );
    expectEnvelope(
      await trigger(dag, { token: "dagu_wh_nope", body: '{"private":"data"}', contentType: "application/json" }),
      401,
      "unauthorized",
    );
    const entries = await logOf(dag);
    expect(entries).toHaveLength(2);
    for (const entry of entries) {
      const details = await detailsOf(dag, entry.id);
      expect(details).toMatchObject({ body: null, bodyStored: false, bodyTruncated: false, bodyBytes: 18 });
      expect(details.headers["content-type"]).toBe("application/json");
    }
    const { results } = await env.DB.prepare(
      "SELECT body FROM webhook_requests WHERE dag_id = (SELECT id FROM dags WHERE name = ?1)",
    )
      .bind(dag)
      .all<{ body: string | null }>();
    expect(results.map((row) => row.body)).toEqual([null, null]);
    const refusal = expectEnvelope(
      await asOperator.POST(
        "/dags/{fileName}/webhook/requests/{id}/replay",
        requestPath(dag, entries.find((entry) => entry.outcome === "accepted")!.id),
      ),
      400,
      "bad_request",
    );
    expect(refusal.details).toEqual({ reason: "body_not_stored" });

    await ok(
      asAdmin.PUT("/dags/{fileName}/spec", {
        ...dagPath(dag),
        body: { spec: `webhook: {storeBodies: true}\n${SPEC}` },
      }),
    );
    await trigger(dag, { token, body: '{"kept":true}' });
    expect((await detailsOf(dag, (await logOf(dag))[0]!.id)).body).toBe('{"kept":true}');
  });
});

describe("replay", () => {
  it("starts a new run with the recorded payload and forwarded headers, marked as a replay, and is itself recorded", async () => {
    const { dag, token } = await dagWithWebhook("webhook:\n  forwardHeaders: [X-GitHub-Event]\n");
    const body = '{"dagRunId":"first-delivery","branch":"main","big":123456789012345678901234567890}';
    const first = await trigger(dag, {
      token,
      body,
      contentType: "application/json",
      headers: { "X-GitHub-Event": "push" },
    });
    expect(stringField(first, "dagRunId")).toBe("first-delivery");
    const [original] = await logOf(dag);

    const replayed = await ok(
      asOperator.POST("/dags/{fileName}/webhook/requests/{id}/replay", requestPath(dag, original!.id)),
    );
    expect(replayed.dagName).toBe(dag);
    expect(replayed.dagRunId).not.toBe("first-delivery");
    expect(replayed.request).toMatchObject({
      replayOf: original!.id,
      dagRunId: replayed.dagRunId,
      outcome: "accepted",
    });

    const runOf = async (runId: string) =>
      (await ok(asOperator.GET("/dag-runs/{name}/{dagRunId}", { params: { path: { name: dag, dagRunId: runId } } })))
        .dagRunDetails;
    const [originalRun, replayRun] = [await runOf("first-delivery"), await runOf(replayed.dagRunId)];
    expect(replayRun.webhookPayload).toBe(originalRun.webhookPayload);
    expect(replayRun.webhookPayload).toContain("123456789012345678901234567890");
    expect(replayRun.webhookHeaders).toBe(originalRun.webhookHeaders);
    expect(JSON.parse(replayRun.webhookHeaders!)).toEqual({ "x-github-event": "push" });
    expect(replayRun.triggeredBy).toBe(`replay:${original!.id}`);

    const [replayEntry] = await logOf(dag);
    expect(replayEntry).toMatchObject({
      id: replayed.request.id,
      replayOf: original!.id,
      message: expect.stringMatching(/^replayed by operator-/),
    });
    expect((await detailsOf(dag, replayEntry!.id)).body).toBe(body);
    // A replay can be replayed again: each is a new run.
    const again = await ok(
      asOperator.POST("/dags/{fileName}/webhook/requests/{id}/replay", requestPath(dag, replayEntry!.id)),
    );
    expect(again.dagRunId).not.toBe(replayed.dagRunId);
  });

  it("refused for a request that was not accepted; 404 for another DAG's request", async () => {
    const { dag, token } = await dagWithWebhook();
    expectEnvelope(await trigger(dag, { token: "dagu_wh_wrong", body: "{}" }), 401, "unauthorized");
    const [refused] = await logOf(dag);
    const answer = expectEnvelope(
      await asOperator.POST("/dags/{fileName}/webhook/requests/{id}/replay", requestPath(dag, refused!.id)),
      400,
      "bad_request",
    );
    expect(answer.details).toEqual({ reason: "not_accepted", outcome: "refused" });
    expect((await logOf(dag)).length).toBe(1);

    await trigger(dag, { token, body: "{}" });
    const [accepted] = await logOf(dag, { outcome: "accepted" });
    const other = await dagWithWebhook();
    expectEnvelope(
      await asOperator.POST("/dags/{fileName}/webhook/requests/{id}/replay", requestPath(other.dag, accepted!.id)),
      404,
      "not_found",
    );
    expectEnvelope(
      await asOperator.POST("/dags/{fileName}/webhook/requests/{id}/replay", requestPath(dag, "not-a-uuid")),
      400,
      "bad_request",
    );
  });
});

describe("who may see the log and replay", () => {
  it("operators and up; viewers get 403; anonymous callers 401; AUTH_MODE=none has no log", async () => {
    const { dag, token } = await dagWithWebhook();
    await trigger(dag, { token, body: "{}" });
    const [entry] = await logOf(dag);
    const path = requestPath(dag, entry!.id);
    expectEnvelope(await asViewer.GET("/dags/{fileName}/webhook/requests", dagPath(dag)), 403, "forbidden");
    expectEnvelope(await asViewer.GET("/dags/{fileName}/webhook/requests/{id}", path), 403, "forbidden");
    expectEnvelope(await asViewer.POST("/dags/{fileName}/webhook/requests/{id}/replay", path), 403, "forbidden");
    const anonymous = api();
    expectEnvelope(await anonymous.GET("/dags/{fileName}/webhook/requests", dagPath(dag)), 401, "unauthorized");
    expectEnvelope(await anonymous.POST("/dags/{fileName}/webhook/requests/{id}/replay", path), 401, "unauthorized");
    await ok(asAdmin.GET("/dags/{fileName}/webhook/requests/{id}", path));
    await ok(asAdmin.POST("/dags/{fileName}/webhook/requests/{id}/replay", path));

    const none = api(undefined, { AUTH_MODE: "none" });
    expectEnvelope(await none.GET("/dags/{fileName}/webhook/requests", dagPath(dag)), 401, "unauthorized");
    expect((await call("POST", `/webhooks/${dag}`, { env: { AUTH_MODE: "none" } })).status).toBe(404);
    expect(await logOf(dag)).toHaveLength(2);
  });
});

describe("retention", () => {
  it("the cron tick's prune keeps the newest N accepted and N other requests per DAG, and nothing older than D days", async () => {
    const { dag, token } = await dagWithWebhook();
    for (let n = 0; n < 4; n++) await trigger(dag, { token, body: `{"n":${n}}` });
    for (let n = 0; n < 4; n++) await trigger(dag, { token: `dagu_wh_wrong${n}`, body: `{"n":${n}}` });
    const old = await dagWithWebhook();
    await trigger(old.dag, { token: old.token, body: "{}" });
    await trigger(old.dag, { token: old.token, body: "{}" });
    await env.DB.prepare(
      "UPDATE webhook_requests SET received_at = ?2 WHERE id = (SELECT r.id FROM webhook_requests r JOIN dags d ON d.id = r.dag_id WHERE d.name = ?1 ORDER BY r.received_at LIMIT 1)",
    )
      .bind(old.dag, new Date(Date.now() - 15 * 86_400_000).toISOString())
      .run();

    await pruneInboundLog({ ...env, WEBHOOK_LOG_MAX_PER_DAG: "1000" } as Cloudflare.Env, Date.now());
    expect(await logOf(old.dag)).toHaveLength(1);
    expect(await logOf(dag)).toHaveLength(8);

    await pruneInboundLog({ ...env, WEBHOOK_LOG_MAX_PER_DAG: "3" } as Cloudflare.Env, Date.now());
    const kept = await logOf(dag);
    expect(kept.filter((entry) => entry.outcome === "accepted").map((entry) => entry.bodyBytes)).toHaveLength(3);
    expect(kept.filter((entry) => entry.outcome === "refused")).toHaveLength(3);
    const bodies = await Promise.all(
      kept.filter((entry) => entry.outcome === "accepted").map(async (entry) => (await detailsOf(dag, entry.id)).body),
    );
    expect(bodies).toEqual(['{"n":3}', '{"n":2}', '{"n":1}']);
  });

  it("deleting the DAG deletes its log", async () => {
    const { dag, token } = await dagWithWebhook();
    await trigger(dag, { token, body: "{}" });
    const id = (await env.DB.prepare("SELECT id FROM dags WHERE name = ?1").bind(dag).first<{ id: string }>())!.id;
    await ok(asAdmin.DELETE("/dags/{fileName}", dagPath(dag)), 204);
    const left = await env.DB.prepare("SELECT count(*) AS n FROM webhook_requests WHERE dag_id = ?1")
      .bind(id)
      .first<{ n: number }>();
    expect(left?.n).toBe(0);
  });
});
