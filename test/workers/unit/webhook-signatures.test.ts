import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { generateSigningSecret, verifySignature } from "../../../src/auth/webhook-signatures.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("webhook signatures", () => {
  it("GitHub: the documentation's own test vector", async () => {
    const headers = new Headers({
      "X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    });
    expect(await verifySignature("github", "It's a Secret to Everybody", headers, bytes("Hello, World!"))).toEqual({
      ok: true,
    });
    expect(
      await verifySignature("github", "It's a Secret to Everybody", headers, bytes("Hello, World?")),
    ).toMatchObject({ ok: false });
    expect(
      await verifySignature("github", "It's a Secret to Everybody", new Headers(), bytes("Hello, World!")),
    ).toMatchObject({ ok: false });
  });

  it("Slack: the documentation's own example, and its 5-minute window", async () => {
    const body =
      "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const headers = new Headers({
      "X-Slack-Request-Timestamp": "1531420618",
      "X-Slack-Signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    });
    const secret = "8f742231b10e8888abcd99yyyzzz85a5";
    expect(await verifySignature("slack", secret, headers, bytes(body), 1531420618 + 10)).toEqual({ ok: true });
    expect(await verifySignature("slack", secret, headers, bytes(body), 1531420618 + 301)).toEqual({
      ok: false,
      reason: "timestamp outside the 5-minute window",
    });
    expect(await verifySignature("slack", "another-secret", headers, bytes(body), 1531420618)).toMatchObject({
      ok: false,
    });
  });

  it("Standard Webhooks: signed by the reference library, several signatures for rotation, 5-minute tolerance", async () => {
    const secret = generateSigningSecret("standard");
    const old = generateSigningSecret("standard");
    const now = new Date();
    const body = '{"type": "deploy", "n": 1}';
    const signed = new Webhook(secret).sign("msg_1", now, body);
    const rotated = new Webhook(old).sign("msg_1", now, body);
    const headers = new Headers({
      "webhook-id": "msg_1",
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "webhook-signature": `${rotated} ${signed}`,
    });
    expect(await verifySignature("standard", secret, headers, bytes(body))).toEqual({ ok: true });
    expect(await verifySignature("standard", generateSigningSecret("standard"), headers, bytes(body))).toMatchObject({
      ok: false,
    });
    expect(
      await verifySignature("standard", secret, headers, bytes(body), Math.floor(now.getTime() / 1000) + 400),
    ).toMatchObject({ ok: false });
  });
});
