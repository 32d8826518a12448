import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hashSecret } from "../../../src/auth/passwords.ts";
import { bearerWebhookToken, checkToken, tokenDigest } from "../../../src/auth/webhook-tokens.ts";
import { displayPrefix, generateSecret, WEBHOOK_TOKEN_PREFIX } from "../../../src/domain/secrets.ts";

describe("webhook token check", () => {
  const countingCompare = () => {
    const calls: string[] = [];
    const compare = async (secret: string) => {
      calls.push(secret);
      return false;
    };
    return { calls, compare };
  };

  it("recognises the token by its keyed digest, with no bcrypt at all", async () => {
    const token = generateSecret(WEBHOOK_TOKEN_PREFIX);
    const stored = {
      token_prefix: displayPrefix(token),
      token_hash: "not-used",
      token_digest: await tokenDigest(env, token),
    };
    const { calls, compare } = countingCompare();
    expect(await checkToken(stored, token, await tokenDigest(env, token), compare)).toEqual({ valid: true });
    const wrong = `${token.slice(0, -2)}zz`;
    expect(await checkToken(stored, wrong, await tokenDigest(env, wrong), compare)).toEqual({ valid: false });
    const otherPrefix = generateSecret(WEBHOOK_TOKEN_PREFIX);
    expect(await checkToken(stored, otherPrefix, await tokenDigest(env, otherPrefix), compare)).toEqual({
      valid: false,
    });
    expect(calls).toEqual([]);
  });

  it("falls back to bcrypt only for a digest made under another key, and then offers a renewed digest", async () => {
    const token = generateSecret(WEBHOOK_TOKEN_PREFIX);
    const oldEnv = { ...env, JWT_SECRET: "an-older-secret" };
    const stored = {
      token_prefix: displayPrefix(token),
      token_hash: await hashSecret(token),
      token_digest: await tokenDigest(oldEnv, token),
    };
    const digest = await tokenDigest(env, token);
    expect(await checkToken(stored, token, digest)).toEqual({ valid: true, renewedDigest: digest });
    const { calls, compare } = countingCompare();
    expect(await checkToken(stored, token, digest, compare)).toEqual({ valid: false });
    expect(calls).toHaveLength(1);
  });

  it("reads only `Bearer dagu_wh_…` headers", () => {
    expect(bearerWebhookToken("Bearer dagu_wh_abc")).toBe("dagu_wh_abc");
    expect(bearerWebhookToken("bearer   dagu_wh_abc ")).toBe("dagu_wh_abc");
    for (const header of [undefined, "", "Bearer", "Bearer dagu_abc", "Basic dagu_wh_abc", "Bearer dagu_wh_a b"]) {
      expect(bearerWebhookToken(header)).toBeUndefined();
    }
  });
});
