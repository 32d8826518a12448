/**
 * The trigger's front door (issue 17): Dagu 2.x's X-Dagu-Signature HMAC in its modes, its
 * `webhook.forward_headers`, a per-DAG payload limit, payload contracts (`webhook.schema`,
 * `webhook.events`, GitHub's ping), a JSON body read as JSON whatever its Content-Type, and a
 * per-webhook IP allowlist. Signatures are computed here as a Dagu 2.x sender computes them.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import {
  type ApiClient,
  type ApiResult,
  api,
  call,
  expectEnvelope,
  nodeOf,
  ok,
  stringField,
  unique,
  userWithRole,
  waitForRun,
  windowWithRoom,
} from "../helpers.ts";

const echo = inject("echoUrl");
let admin: string;
let asAdmin: ApiClient;
beforeAll(async () => {
  admin = (await userWithRole("admin")).token;
  asAdmin = api(admin);
});
afterEach(() => {
  vi.restoreAllMocks();
});

const dagPath = (fileName: string) => ({ params: { path: { fileName } } });
const runIdsOf = async (name: string) =>
  (await ok(asAdmin.GET("/dag-runs", { params: { query: { name } } }))).dagRuns.map((run) => run.dagRunId);

async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const signature = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text));
  return [...new Uint8Array(signature)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** A DAG with a webhook whose one http step prints `template`; `webhook` is its YAML `webhook:` block. */
async function dagWithWebhook(template = "${WEBHOOK_PAYLOAD}", webhook = "") {
  const dag = unique("front");
  const spec = `${webhook}steps:\n  - name: show\n    executor: {type: http, config: {body: '${template}'}}\n    command: POST ${echo}/body\n    output: SHOWN\n`;
  await ok(asAdmin.POST("/dags", { body: { name: dag, spec } }), 201);
  const { token } = await ok(asAdmin.POST("/dags/{fileName}/webhook", dagPath(dag)), 201);
  return { dag, token };
}

type TriggerOptions = { token?: string; headers?: Record<string, string>; ip?: string };
const trigger = (dag: string, body: string, options: TriggerOptions = {}) =>
  call("POST", `/webhooks/${dag}`, {
    headers: {
      "Content-Type": "application/json",
      "CF-Connecting-IP": options.ip ?? unique("ip"),
      ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    rawBody: body,
  });

const shown = async (dag: string, result: ApiResult) => {
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  return nodeOf(await waitForRun(admin, dag, stringField(result, "dagRunId")), "show").output;
};

describe("Dagu 2.x HMAC: X-Dagu-Signature: sha256=<hex>", () => {
  it("token_and_hmac (strict by default): the token and a signature of the raw body; a missing or wrong one is 401", async () => {
    const { dag, token } = await dagWithWebhook();
    const enabled = await ok(
      asAdmin.POST("/dags/{fileName}/webhook/hmac/enable", { ...dagPath(dag), body: { authMode: "token_and_hmac" } }),
    );
    const secret = enabled.hmacSecret;
    expect(secret).toMatch(/^[1-9A-HJ-NP-Za-km-z]{43,44}$/);
    expect(enabled.webhook).toMatchObject({
      authMode: "token_and_hmac",
      hmac: {
        enabled: true,
        secretConfigured: true,
        enforcementMode: "strict",
        algorithm: "HMAC-SHA256",
        headerName: "X-Dagu-Signature",
        format: "sha256=<hex>",
        updatedAt: expect.any(String),
      },
    });
    // The secret is shown once: never again, and never stored in plain text.
    expect(JSON.stringify(await ok(asAdmin.GET("/dags/{fileName}/webhook", dagPath(dag))))).not.toContain(secret);
    expect(JSON.stringify(await env.DB.prepare("SELECT * FROM webhooks").all())).not.toContain(secret);

    const body = '{"payload": {"branch": "main"}}';
    const signature = `sha256=${await hmacHex(secret, body)}`;
    expect(await shown(dag, await trigger(dag, body, { token, headers: { "X-Dagu-Signature": signature } }))).toBe(
      '{"branch":"main"}',
    );
    // Dagu decodes the hex: upper case is the same signature.
    const upper = `sha256=${signature.slice(7).toUpperCase()}`;
    expect((await trigger(dag, body, { token, headers: { "X-Dagu-Signature": upper } })).status).toBe(200);

    const before = await runIdsOf(dag);
    const missing = expectEnvelope(await trigger(dag, body, { token }), 401, "unauthorized");
    expect(missing.message).toBe("missing webhook HMAC signature");
    const wrong = await trigger(dag, `${body} `, { token, headers: { "X-Dagu-Signature": signature } });
    expect(expectEnvelope(wrong, 401, "unauthorized").message).toBe("invalid webhook HMAC signature");
    const malformed = await trigger(dag, body, { token, headers: { "X-Dagu-Signature": signature.slice(7) } });
    expect(expectEnvelope(malformed, 401, "unauthorized").message).toBe("invalid webhook HMAC signature");
    // The signature is no substitute for the token in this mode.
    expect(
      expectEnvelope(await trigger(dag, body, { headers: { "X-Dagu-Signature": signature } }), 401, "unauthorized")
        .message,
    ).not.toContain("HMAC");
    expect(await runIdsOf(dag)).toEqual(before);
  });

  it("observe: a missing or wrong signature is logged and accepted; the token still decides", async () => {
    const { dag, token } = await dagWithWebhook();
    const { hmacSecret } = await ok(
      asAdmin.POST("/dags/{fileName}/webhook/hmac/enable", {
        ...dagPath(dag),
        body: { authMode: "token_and_hmac", enforcementMode: "observe" },
      }),
    );
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const result = await trigger(dag, '{"n": 1}', {
      token,
      headers: { "X-Dagu-Signature": `sha256=${"0".repeat(64)}` },
    });
    expect(await shown(dag, result)).toBe('{"n":1}');
    expect(result.headers.get("X-Dagu-Signature-Observed")).toBe("invalid");
    const noted = warn.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
    expect(noted).toContainEqual(
      expect.objectContaining({
        level: "warn",
        msg: "webhook HMAC validation observed failure",
        dag,
        reason: "invalid",
      }),
    );
    expect(JSON.stringify(warn.mock.calls)).not.toContain(hmacSecret);
    expect((await trigger(dag, "{}", { token })).headers.get("X-Dagu-Signature-Observed")).toBe("missing");
    // A good signature is not noted; a wrong token is refused whatever the signature.
    const good = await trigger(dag, "{}", {
      token,
      headers: { "X-Dagu-Signature": `sha256=${await hmacHex(hmacSecret, "{}")}` },
    });
    expect(good.status).toBe(200);
    expect(good.headers.get("X-Dagu-Signature-Observed")).toBeNull();
    expectEnvelope(await trigger(dag, "{}", { token: `${token}x` }), 401, "unauthorized");

    // configure without enforcementMode keeps observe, as Dagu; hmac_only is strict and refuses observe.
    const kept = await ok(
      asAdmin.POST("/dags/{fileName}/webhook/hmac/configure", {
        ...dagPath(dag),
        body: { authMode: "token_and_hmac" },
      }),
    );
    expect(kept.hmac.enforcementMode).toBe("observe");
    const refused = await asAdmin.POST("/dags/{fileName}/webhook/hmac/configure", {
      ...dagPath(dag),
      body: { authMode: "hmac_only", enforcementMode: "observe" },
    });
    expect(expectEnvelope(refused, 400, "bad_request").message).toContain("invalid webhook HMAC enforcement mode");
  });

  it("hmac_only: the signature alone; regenerate retires the old secret; disable goes back to the token", async () => {
    const { dag, token } = await dagWithWebhook();
    const notYet = await asAdmin.POST("/dags/{fileName}/webhook/hmac/configure", {
      ...dagPath(dag),
      body: { authMode: "hmac_only" },
    });
    expect(expectEnvelope(notYet, 400, "bad_request").message).toBe("webhook HMAC is not configured");
    expectEnvelope(await asAdmin.POST("/dags/{fileName}/webhook/hmac/regenerate", dagPath(dag)), 400, "bad_request");
    const { hmacSecret: first, webhook } = await ok(
      asAdmin.POST("/dags/{fileName}/webhook/hmac/enable", { ...dagPath(dag), body: { authMode: "hmac_only" } }),
    );
    expect(webhook).toMatchObject({ authMode: "hmac_only", hmac: { enforcementMode: "strict" } });

    const body = '{"branch": "dev"}';
    const signed = async (secret: string) => ({ "X-Dagu-Signature": `sha256=${await hmacHex(secret, body)}` });
    expect(await shown(dag, await trigger(dag, body, { headers: await signed(first) }))).toBe('{"branch":"dev"}');
    // Dagu ignores the Authorization header in hmac_only.
    expect((await trigger(dag, body, { token: "dagu_wh_whatever", headers: await signed(first) })).status).toBe(200);
    // The token's holder is told the truth: this webhook takes a signature. Any other token is
    // told what an unknown DAG's caller is told: nobody learns the webhook exists.
    const signedOnly =
      "this webhook accepts signed requests only, not a token: send X-Dagu-Signature: sha256=<hex of the body's HMAC-SHA256>, signed with the webhook's HMAC secret";
    expect(expectEnvelope(await trigger(dag, body, { token }), 401, "unauthorized").message).toBe(signedOnly);
    const strangerAnswer = expectEnvelope(await trigger(dag, body, { token: "dagu_wh_whatever" }), 401, "unauthorized");
    const unknownDag = expectEnvelope(
      await trigger(unique("no-such-dag"), body, { token: "dagu_wh_whatever" }),
      401,
      "unauthorized",
    );
    expect(strangerAnswer.message).toBe("invalid webhook token for this DAG");
    expect(unknownDag.message).toBe(strangerAnswer.message);
    const wrongSignature = await trigger(dag, body, {
      token,
      headers: { "X-Dagu-Signature": `sha256=${"0".repeat(64)}` },
    });
    expect(expectEnvelope(wrongSignature, 401, "unauthorized").message).toBe(
      `${signedOnly}; the signature sent does not match (or is outside its time window)`,
    );
    // Without a token, nothing tells the webhook apart from a DAG that doesn't exist.
    const unsigned = expectEnvelope(await trigger(dag, body), 401, "unauthorized");
    expect(unsigned.message).toBe(
      expectEnvelope(await trigger(unique("no-such-dag"), body), 401, "unauthorized").message,
    );

    // A profile is signed with the body (Dagu's x-dagu-profile:<p>\n prefix); there are no profiles here.
    const profileSigned = `sha256=${await hmacHex(first, `x-dagu-profile:prod\n${body}`)}`;
    const profile = await trigger(dag, body, {
      headers: { "X-Dagu-Profile": "prod", "X-Dagu-Signature": profileSigned },
    });
    expect(expectEnvelope(profile, 403, "forbidden").message).toBe(
      "runtime profile selection is not allowed for this webhook",
    );

    const { hmacSecret: second } = await ok(asAdmin.POST("/dags/{fileName}/webhook/hmac/regenerate", dagPath(dag)));
    expect(second).not.toBe(first);
    expectEnvelope(await trigger(dag, body, { headers: await signed(first) }), 401, "unauthorized");
    expect((await trigger(dag, body, { headers: await signed(second) })).status).toBe(200);

    const disabled = await ok(asAdmin.POST("/dags/{fileName}/webhook/hmac/disable", dagPath(dag)));
    expect(disabled).toMatchObject({ authMode: "token", hmac: { enabled: false, secretConfigured: false } });
    expect((await trigger(dag, body, { token })).status).toBe(200);
    expectEnvelope(await trigger(dag, body, { headers: await signed(second) }), 401, "unauthorized");
  });

  it("Dagu's HMAC and a signed-sender scheme exclude each other, with a message saying which to remove", async () => {
    const { dag } = await dagWithWebhook();
    await ok(asAdmin.PUT("/dags/{fileName}/webhook/signature", { ...dagPath(dag), body: { scheme: "github" } }));
    const refused = await asAdmin.POST("/dags/{fileName}/webhook/hmac/enable", {
      ...dagPath(dag),
      body: { authMode: "token_and_hmac" },
    });
    expect(expectEnvelope(refused, 400, "bad_request").message).toContain("DELETE …/webhook/signature");
    await ok(asAdmin.DELETE("/dags/{fileName}/webhook/signature", dagPath(dag)));
    await ok(
      asAdmin.POST("/dags/{fileName}/webhook/hmac/enable", { ...dagPath(dag), body: { authMode: "hmac_only" } }),
    );
    const back = await asAdmin.PUT("/dags/{fileName}/webhook/signature", {
      ...dagPath(dag),
      body: { scheme: "github" },
    });
    expect(expectEnvelope(back, 400, "bad_request").message).toContain("hmac/disable");
  });
});

describe("a DAG's webhook options, as Dagu 2.x spells them", () => {
  it("forward_headers: lower-case names, each a list of values, {} when none came (WEBHOOK_HEADERS as Dagu 2.x)", async () => {
    const { dag, token } = await dagWithWebhook(
      "${WEBHOOK_HEADERS}",
      "webhook:\n  forward_headers: [X-GitHub-Event, X-Dagu-Signature, Authorization]\n",
    );
    expect(await shown(dag, await trigger(dag, "{}", { token, headers: { "X-GitHub-Event": "push" } }))).toBe(
      '{"x-github-event":["push"]}',
    );
    expect(await shown(dag, await trigger(dag, "{}", { token }))).toBe("{}");
  });

  it("max_payload_size: a body over the DAG's limit is 413 with Dagu's message; at the limit it runs", async () => {
    const { dag, token } = await dagWithWebhook("ok", "webhook:\n  max_payload_size: 64\n");
    const atLimit = JSON.stringify({ pad: "x".repeat(64 - 10) });
    expect(new TextEncoder().encode(atLimit).byteLength).toBe(64);
    expect((await trigger(dag, atLimit, { token })).status).toBe(200);
    const before = await runIdsOf(dag);
    const over = expectEnvelope(await trigger(dag, `${atLimit} `, { token }), 413, "payload_too_large");
    expect(over.message).toBe("webhook payload too large (max 64 bytes)");
    expect(await runIdsOf(dag)).toEqual(before);
    // Unauthenticated, the limit isn't told: the answer is the one every bad credential gets.
    expectEnvelope(await trigger(dag, `${atLimit} `, { token: "dagu_wh_nope" }), 401, "unauthorized");

    const tooBig = await asAdmin.POST("/dags", {
      body: { name: unique("big"), spec: "webhook:\n  max_payload_size: 2097152\nsteps:\n  - echo hi\n" },
    });
    expect(expectEnvelope(tooBig, 400, "bad_request").message).toContain("webhook.max_payload_size");
  });
});

describe("payload contracts", () => {
  const schema = `webhook:
  schema:
    type: object
    required: [ref, repository]
    properties:
      ref: {type: string, pattern: "^refs/heads/"}
      repository:
        type: object
        required: [name]
        properties: {name: {type: string, minLength: 1}}
`;

  it("a payload that fails webhook.schema is 400 with every failing path, and starts no run", async () => {
    const { dag, token } = await dagWithWebhook("${WEBHOOK_PAYLOAD.ref}", schema);
    const before = await runIdsOf(dag);
    const refused = expectEnvelope(
      await trigger(dag, '{"ref": "v1.0", "repository": {}}', { token }),
      400,
      "bad_request",
    );
    expect(refused.message).toContain("does not match the DAG's webhook.schema");
    expect(refused.details).toEqual({
      errors: [
        { path: "/ref", message: "must match the pattern ^refs/heads/" },
        { path: "/repository/name", message: "is required" },
      ],
    });
    // Dagu's envelope ({"payload": …}) is validated as the payload it carries.
    expectEnvelope(await trigger(dag, '{"payload": {"ref": 1}}', { token }), 400, "bad_request");
    expect(await runIdsOf(dag)).toEqual(before);
    expect(
      await shown(dag, await trigger(dag, '{"ref": "refs/heads/main", "repository": {"name": "app"}}', { token })),
    ).toBe("refs/heads/main");
  });

  it("a schema outside the supported subset, or not a schema, is refused when the DAG is saved, naming where", async () => {
    const refused = await asAdmin.POST("/dags", {
      body: {
        name: unique("contract"),
        spec: "webhook:\n  schema:\n    type: object\n    properties:\n      a: {$ref: '#/defs/a'}\nsteps:\n  - echo hi\n",
      },
    });
    const envelope = expectEnvelope(refused, 400, "bad_request");
    expect(envelope.message).toMatch(/webhook\.schema\.properties\.a\.\$ref: the keyword '\$ref' is not supported/);
    expect(envelope.message).toMatch(/\(line 5, col \d+\)/);
    const notSchema = await asAdmin.POST("/dags", {
      body: { name: unique("contract"), spec: "webhook:\n  schema: {type: text}\nsteps:\n  - echo hi\n" },
    });
    expect(expectEnvelope(notSchema, 400, "bad_request").message).toContain("webhook.schema.type");
  });

  it("events: a GitHub event not listed is 202 ignored with no run; a ping is 200 pong with no run, signed or not", async () => {
    const { dag, token } = await dagWithWebhook("${WEBHOOK_PAYLOAD.ref}", "webhook:\n  events: [push]\n");
    const before = await runIdsOf(dag);
    const ignored = await trigger(dag, '{"action": "opened"}', { token, headers: { "X-GitHub-Event": "issues" } });
    expect(ignored.status).toBe(202);
    expect(ignored.body).toEqual({
      status: "ignored",
      message: "event 'issues' ignored: the DAG takes only the events push",
      dagName: dag,
    });
    expect((await trigger(dag, "{}", { token })).status).toBe(202);
    const ping = await trigger(dag, '{"zen": "Keep it logically awesome.", "hook_id": 1}', {
      token,
      headers: { "X-GitHub-Event": "ping" },
    });
    expect(ping.status).toBe(200);
    expect(ping.body).toEqual({ status: "pong", message: "pong", dagName: dag });
    expect(await runIdsOf(dag)).toEqual(before);
    expect(
      await shown(
        dag,
        await trigger(dag, '{"ref": "refs/heads/main"}', { token, headers: { "X-GitHub-Event": "push" } }),
      ),
    ).toBe("refs/heads/main");
    // A wrong credential is refused before any of this.
    expectEnvelope(
      await trigger(dag, "{}", { token: "dagu_wh_nope", headers: { "X-GitHub-Event": "ping" } }),
      401,
      "unauthorized",
    );
  });

  it("a ping signed by GitHub never starts the DAG, even one without an events list", async () => {
    const { dag } = await dagWithWebhook();
    const { signingSecret } = await ok(
      asAdmin.PUT("/dags/{fileName}/webhook/signature", {
        ...dagPath(dag),
        body: { scheme: "github", authMode: "signature" },
      }),
    );
    const body = '{"zen": "Design for failure.", "hook_id": 42}';
    const ping = await trigger(dag, body, {
      headers: {
        "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": crypto.randomUUID(),
        "X-Hub-Signature-256": `sha256=${await hmacHex(signingSecret!, body)}`,
      },
    });
    expect(ping.status, JSON.stringify(ping.body)).toBe(200);
    expect(ping.body).toMatchObject({ status: "pong" });
    expect(await runIdsOf(dag)).toEqual([]);
  });
});

describe("a body that is JSON is the JSON payload, whatever its Content-Type says", () => {
  it("curl -d '{…}' (sent as a form) is JSON; a form that isn't JSON is still its fields", async () => {
    const { dag, token } = await dagWithWebhook("${WEBHOOK_PAYLOAD.branch}|${WEBHOOK_PAYLOAD}");
    const form = { "Content-Type": "application/x-www-form-urlencoded" };
    expect(await shown(dag, await trigger(dag, '{"branch":"dev"}', { token, headers: form }))).toBe(
      'dev|{"branch":"dev"}',
    );
    expect(await shown(dag, await trigger(dag, "branch=dev&x=1", { token, headers: form }))).toBe(
      'dev|{"branch":"dev","x":"1"}',
    );
    expect(
      await shown(dag, await trigger(dag, '{"branch":"text"}', { token, headers: { "Content-Type": "text/plain" } })),
    ).toBe('text|{"branch":"text"}');
  });
});

describe("per-webhook IP allowlist", () => {
  it("set through the API (IPv4 and IPv6 CIDRs, canonical); a bad entry is 400 naming it", async () => {
    const { dag } = await dagWithWebhook();
    const bad = await asAdmin.PUT("/dags/{fileName}/webhook/allowed-ips", {
      ...dagPath(dag),
      body: { allowedIps: ["10.0.0.0/8", "10.0.0.1/8", "nope"] },
    });
    const envelope = expectEnvelope(bad, 400, "bad_request");
    expect(envelope.message).toContain("'10.0.0.1/8': host bits are set after /8: did you mean 10.0.0.0/8?");
    expect(envelope.message).toContain("'nope'");
    const set = await ok(
      asAdmin.PUT("/dags/{fileName}/webhook/allowed-ips", {
        ...dagPath(dag),
        body: { allowedIps: ["203.0.113.0/24", "2001:DB8:0::/32", "198.51.100.7", "203.0.113.0/24"] },
      }),
    );
    expect(set.allowedIps).toEqual(["203.0.113.0/24", "2001:db8::/32", "198.51.100.7/32"]);
    expect((await ok(asAdmin.GET("/dags/{fileName}/webhook", dagPath(dag)))).allowedIps).toEqual(set.allowedIps);
  });

  it("CF-Connecting-IP outside the list is 403 (IPv4 and IPv6), counted like a failure; inside it runs", async () => {
    const { dag, token } = await dagWithWebhook("ok");
    await ok(
      asAdmin.PUT("/dags/{fileName}/webhook/allowed-ips", {
        ...dagPath(dag),
        body: { allowedIps: ["203.0.113.0/24", "2001:db8:1234::/48"] },
      }),
    );
    expect((await trigger(dag, "{}", { token, ip: "203.0.113.9" })).status).toBe(200);
    expect((await trigger(dag, "{}", { token, ip: "2001:db8:1234:5::1" })).status).toBe(200);
    const outside = expectEnvelope(await trigger(dag, "{}", { token, ip: "2001:db8:1235::1" }), 403, "forbidden");
    expect(outside.message).toBe(`the webhook of DAG '${dag}' does not accept requests from this address`);
    expectEnvelope(await trigger(dag, "{}", { token }), 403, "forbidden");
    // A wrong token from outside gets the answer every wrong token gets.
    expectEnvelope(await trigger(dag, "{}", { token: "dagu_wh_nope", ip: "198.51.100.1" }), 401, "unauthorized");

    const ip = "198.51.100.2";
    await windowWithRoom(60_000, 8_000);
    for (let attempt = 1; attempt <= 30; attempt++)
      expectEnvelope(await trigger(dag, "{}", { token, ip }), 403, "forbidden");
    expectEnvelope(await trigger(dag, "{}", { token, ip }), 429, "too_many_requests");

    // An empty list admits every address again.
    await ok(asAdmin.PUT("/dags/{fileName}/webhook/allowed-ips", { ...dagPath(dag), body: { allowedIps: [] } }));
    expect((await trigger(dag, "{}", { token, ip: "192.0.2.1" })).status).toBe(200);
  });
});
