/**
 * Signed senders calling the trigger directly: GitHub (X-Hub-Signature-256), Slack (v0
 * signatures over form bodies) and Standard Webhooks, each signed exactly as that sender signs,
 * plus header forwarding and the sender's delivery id as the run id.
 */
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { beforeAll, describe, expect, inject, it } from "vitest";
import type { paths } from "../../../ui/src/api/schema";
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
  userWithRole,
  waitForRun,
} from "../helpers.ts";

const echo = inject("echoUrl");
let admin: string;
let asAdmin: ApiClient;
beforeAll(async () => {
  admin = (await userWithRole("admin")).token;
  asAdmin = api(admin);
});

const dagPath = (fileName: string) => ({ params: { path: { fileName } } });
type SignatureSettings = NonNullable<
  paths["/dags/{fileName}/webhook/signature"]["put"]["requestBody"]
>["content"]["application/json"];
const configure = (dag: string, body: SignatureSettings) =>
  asAdmin.PUT("/dags/{fileName}/webhook/signature", { ...dagPath(dag), body });
/** The new signing secret a response shows once (not for Slack). */
const secretOf = (response: Schemas["WebhookSignatureResponse"]) => {
  if (!response.signingSecret) throw new Error(`no signing secret in ${JSON.stringify(response)}`);
  return response.signingSecret;
};

const hex = (bytes: ArrayBuffer) =>
  [...new Uint8Array(bytes)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return hex(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text)));
}

/** A DAG with a webhook whose one http step prints `template`. */
async function signedDag(template: string, webhookSettings = "") {
  const dag = unique("signed");
  const spec = `${webhookSettings}steps:\n  - name: show\n    executor: {type: http, config: {body: '${template}'}}\n    command: POST ${echo}/body\n    output: SHOWN\n`;
  await ok(asAdmin.POST("/dags", { body: { name: dag, spec } }), 201);
  const { token } = await ok(asAdmin.POST("/dags/{fileName}/webhook", dagPath(dag)), 201);
  return { dag, token };
}

// Senders sign exact bytes and set their own headers: triggers are raw calls.
const shown = async (dag: string, result: ApiResult) => {
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  return nodeOf(await waitForRun(admin, dag, stringField(result, "dagRunId")), "show").output;
};

describe("GitHub", () => {
  it("a push event signed with X-Hub-Signature-256; its delivery id names the run; chosen headers are forwarded", async () => {
    const { dag, token } = await signedDag(
      "${WEBHOOK_PAYLOAD.commits.0.author.name}|${WEBHOOK_HEADERS}",
      "webhook:\n  forwardHeaders: [X-GitHub-Event, Authorization, X-Hub-Signature-256, Cookie]\n  runIdHeader: X-GitHub-Delivery\n",
    );
    const configured = await ok(configure(dag, { scheme: "github" }));
    const secret = secretOf(configured);
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(configured.webhook).toMatchObject({
      authMode: "token_or_signature",
      signature: { scheme: "github", updatedAt: expect.any(String) },
    });
    expect(JSON.stringify(await ok(asAdmin.GET("/dags/{fileName}/webhook", dagPath(dag))))).not.toContain(secret);
    expect(JSON.stringify(await env.DB.prepare("SELECT * FROM webhooks").all())).not.toContain(secret);

    const delivery = crypto.randomUUID();
    const headers = {
      "Content-Type": "application/json",
      "User-Agent": "GitHub-Hookshot/abc123",
      "X-GitHub-Event": "push",
      "X-GitHub-Delivery": delivery,
      "X-Hub-Signature-256": `sha256=${await hmacHex(secret, githubPush)}`,
      Cookie: "session=nope",
    };
    const result = await call("POST", `/webhooks/${dag}`, { headers, rawBody: githubPush });
    expect(result.body).toEqual({ dagRunId: delivery, dagName: dag });
    expect(await shown(dag, result)).toBe('Ada Lovelace|{"x-github-event":"push"}');
    expect((await waitForRun(admin, dag, delivery)).webhookHeaders).toBe('{"x-github-event":"push"}');
    // GitHub redelivers the same event: the same run id, refused.
    expectEnvelope(await call("POST", `/webhooks/${dag}`, { headers, rawBody: githubPush }), 409, "already_exists");
    // A wrong signature, and a body changed after signing.
    expectEnvelope(
      await call("POST", `/webhooks/${dag}`, {
        headers: {
          ...headers,
          "X-GitHub-Delivery": crypto.randomUUID(),
          "X-Hub-Signature-256": `sha256=${"0".repeat(64)}`,
        },
        rawBody: githubPush,
      }),
      401,
      "unauthorized",
    );
    expectEnvelope(
      await call("POST", `/webhooks/${dag}`, {
        headers: { ...headers, "X-GitHub-Delivery": crypto.randomUUID() },
        rawBody: `${githubPush} `,
      }),
      401,
      "unauthorized",
    );
    // The Bearer token still works in token_or_signature mode.
    expect(
      (
        await call("POST", `/webhooks/${dag}`, {
          headers: { Authorization: `Bearer ${token}`, "X-GitHub-Delivery": crypto.randomUUID() },
        })
      ).status,
    ).toBe(200);
  });

  it("the form variant (payload=<json>) is understood", async () => {
    const { dag, token } = await signedDag("${WEBHOOK_PAYLOAD.repository.full_name}");
    const secret = secretOf(await ok(configure(dag, { scheme: "github", authMode: "signature" })));
    const body = `payload=${encodeURIComponent(githubPush)}`;
    const headers = {
      "Content-Type": "application/x-www-form-urlencoded",
      "X-Hub-Signature-256": `sha256=${await hmacHex(secret, body)}`,
    };
    const result = await call("POST", `/webhooks/${dag}`, { headers, rawBody: body });
    expect(await shown(dag, result)).toBe("acme-platform/deploy-service");

    // Signature-only: the token is ignored, so a signed request that also carries it is accepted,
    // and the token alone is told which signature to send.
    const both = await call("POST", `/webhooks/${dag}`, {
      headers: { ...headers, Authorization: `Bearer ${token}` },
      rawBody: body,
    });
    expect(await shown(dag, both)).toBe("acme-platform/deploy-service");
    const tokenOnly = await call("POST", `/webhooks/${dag}`, {
      headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: `Bearer ${token}` },
      rawBody: body,
    });
    expect(expectEnvelope(tokenOnly, 401, "unauthorized").message).toBe(
      "this webhook accepts signed requests only, not a token: send X-Hub-Signature-256: sha256=<hex of the body's HMAC-SHA256>, signed with the webhook's signing secret",
    );
  });
});

describe("Slack", () => {
  // The request of Slack's "Verifying requests" documentation, with a current timestamp.
  const secret = "8f742231b10e8888abcd99yyyzzz85a5";
  const body =
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=deploy+api&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
  const slackHeaders = async (timestamp: number, signedBody = body) => ({
    "Content-Type": "application/x-www-form-urlencoded",
    "X-Slack-Request-Timestamp": String(timestamp),
    "X-Slack-Signature": `v0=${await hmacHex(secret, `v0:${timestamp}:${signedBody}`)}`,
  });

  it("a slash command: form fields become the payload, the answer is a short text for the user", async () => {
    const { dag, token } = await signedDag("User ${WEBHOOK_PAYLOAD.user_name} requested: ${WEBHOOK_PAYLOAD.text}");
    expectEnvelope(await configure(dag, { scheme: "slack" }), 400, "bad_request");
    const configured = await ok(configure(dag, { scheme: "slack", authMode: "signature", secret }));
    expect(configured.signingSecret).toBeUndefined();
    const result = await call("POST", `/webhooks/${dag}`, {
      headers: await slackHeaders(Math.floor(Date.now() / 1000)),
      rawBody: body,
    });
    expect(result.body).toMatchObject({ response_type: "ephemeral", text: expect.stringContaining(`Started ${dag}`) });
    expect(await shown(dag, result)).toBe("User roadrunner requested: deploy api");

    expectEnvelope(
      await call("POST", `/webhooks/${dag}`, {
        headers: await slackHeaders(Math.floor(Date.now() / 1000) - 600),
        rawBody: body,
      }),
      401,
      "unauthorized",
    );
    const tampered = await slackHeaders(Math.floor(Date.now() / 1000));
    expectEnvelope(
      await call("POST", `/webhooks/${dag}`, { headers: tampered, rawBody: body.replace("roadrunner", "coyote") }),
      401,
      "unauthorized",
    );
    expectEnvelope(
      await asAdmin.POST("/dags/{fileName}/webhook/signature/regenerate", dagPath(dag)),
      400,
      "bad_request",
    );
    const late = await call("POST", `/webhooks/${dag}`, {
      headers: { ...(await slackHeaders(Math.floor(Date.now() / 1000) - 600)), Authorization: `Bearer ${token}` },
      rawBody: body,
    });
    expect(expectEnvelope(late, 401, "unauthorized").message).toBe(
      "this webhook accepts signed requests only, not a token: send X-Slack-Signature and X-Slack-Request-Timestamp, as Slack signs with the app's signing secret; the signature sent does not match (or is outside its time window)",
    );
  });
});

describe("Standard Webhooks", () => {
  it("signed by the reference library; regenerate retires the old secret; signature-only refuses the token", async () => {
    const { dag, token } = await signedDag("${WEBHOOK_PAYLOAD.type}");
    const first = secretOf(await ok(configure(dag, { scheme: "standard", authMode: "signature" })));
    expect(first).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const send = (secret: string, id = `msg_${crypto.randomUUID()}`) => {
      const payload = JSON.stringify({ type: "invoice.paid", data: { id: 1 } });
      const now = new Date();
      return call("POST", `/webhooks/${dag}`, {
        headers: {
          "Content-Type": "application/json",
          "webhook-id": id,
          "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
          "webhook-signature": new Webhook(secret).sign(id, now, payload),
        },
        rawBody: payload,
      });
    };
    const once = await send(first, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W");
    expect(stringField(once, "dagRunId")).toBe("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W");
    expect(await shown(dag, once)).toBe("invoice.paid");
    // The same message replayed (within the 5-minute window) starts nothing.
    expectEnvelope(await send(first, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"), 409, "already_exists");
    // The webhook's own token is told what this webhook takes instead (it still admits nothing).
    const withToken = await call("POST", `/webhooks/${dag}`, { headers: { Authorization: `Bearer ${token}` } });
    expect(expectEnvelope(withToken, 401, "unauthorized").message).toBe(
      "this webhook accepts signed requests only, not a token: send webhook-id, webhook-timestamp and webhook-signature (Standard Webhooks), signed with the webhook's signing secret",
    );

    const second = secretOf(await ok(asAdmin.POST("/dags/{fileName}/webhook/signature/regenerate", dagPath(dag))));
    expect(second).not.toBe(first);
    expectEnvelope(await send(first), 401, "unauthorized");
    expect((await send(second)).status).toBe(200);

    // Off again: the token works, signatures don't.
    const cleared = await ok(asAdmin.DELETE("/dags/{fileName}/webhook/signature", dagPath(dag)));
    expect(cleared).toMatchObject({ authMode: "token", signature: null });
    expectEnvelope(await send(second), 401, "unauthorized");
    expect((await call("POST", `/webhooks/${dag}`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(
      200,
    );
  });
});
