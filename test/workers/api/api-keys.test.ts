import { env } from "cloudflare:workers";
import bs58 from "bs58";
import { beforeAll, describe, expect, it } from "vitest";
import { verifyApiKey } from "../../../src/auth/credentials.ts";
import { call, expectEnvelope, unique, userWithRole } from "../helpers.ts";

let admin: { id: string; token: string };
beforeAll(async () => {
  admin = await userWithRole("admin");
});

async function createKey(role: string, name = unique("key")) {
  const result = await call("POST", "/api-keys", { token: admin.token, body: { name, description: "ci", role } });
  expect(result.status).toBe(201);
  return result.body as { apiKey: Record<string, unknown> & { id: string }; key: string };
}

describe("API keys", () => {
  it("dagu_ + base58(32 bytes), shown once, stored as a bcrypt hash with a 12-character prefix", async () => {
    const { apiKey, key } = await createKey("operator");
    expect(key).toMatch(/^dagu_[1-9A-HJ-NP-Za-km-z]+$/);
    expect(bs58.decode(key.slice(5))).toHaveLength(32);
    expect(apiKey).toMatchObject({
      role: "operator",
      description: "ci",
      keyPrefix: key.slice(0, 12),
      createdBy: admin.id,
      lastUsedAt: null,
    });
    const row = await env.DB.prepare("SELECT * FROM api_keys WHERE id = ?1")
      .bind(apiKey.id)
      .first<Record<string, string>>();
    expect(row!.key_hash).toMatch(/^\$2[aby]\$10\$/);
    expect(JSON.stringify(row)).not.toContain(key);
    const got = await call("GET", `/api-keys/${apiKey.id}`, { token: admin.token });
    expect(JSON.stringify(got.body)).not.toContain(key);
    const listed = await call("GET", "/api-keys", { token: admin.token });
    expect(listed.body.apiKeys.map((k: { id: string }) => k.id)).toContain(apiKey.id);
    expect(JSON.stringify(listed.body)).not.toContain(key);
  });

  it("authenticates with the key's role, tracks lastUsedAt, and a role change applies at once", async () => {
    const { apiKey, key } = await createKey("viewer");
    expect((await call("GET", "/dags", { token: key })).status).toBe(200);
    expectEnvelope(await call("POST", "/dags", { token: key, body: { name: unique("d") } }), 403, "forbidden");
    const used = await call("GET", `/api-keys/${apiKey.id}`, { token: admin.token });
    expect(Date.parse(used.body.apiKey.lastUsedAt)).toBeGreaterThan(Date.now() - 60_000);

    await call("PATCH", `/api-keys/${apiKey.id}`, { token: admin.token, body: { role: "manager" } });
    expect((await call("POST", "/dags", { token: key, body: { name: unique("d") } })).status).toBe(201);
  });

  it("a deleted key stops working on the very next request", async () => {
    const { apiKey, key } = await createKey("admin");
    expect((await call("GET", "/api-keys", { token: key })).status).toBe(200);
    expect((await call("DELETE", `/api-keys/${apiKey.id}`, { token: admin.token })).status).toBe(204);
    expectEnvelope(await call("GET", "/api-keys", { token: key }), 401, "unauthorized");
    expectEnvelope(await call("GET", `/api-keys/${apiKey.id}`, { token: admin.token }), 404, "not_found");
  });

  it("rejects wrong keys: unknown prefix, right prefix with a wrong rest", async () => {
    const { key } = await createKey("viewer");
    expectEnvelope(await call("GET", "/dags", { token: "dagu_" + "1".repeat(44) }), 401, "unauthorized");
    const tampered = key.slice(0, -1) + (key.endsWith("a") ? "b" : "a");
    expectEnvelope(await call("GET", "/dags", { token: tampered }), 401, "unauthorized");
  });

  it("costs one bcrypt per isolate, not one per request or per stored key", async () => {
    for (let i = 0; i < 5; i++) await createKey("viewer");
    const { key } = await createKey("viewer");
    let compares = 0;
    const counting = async (secret: string, hash: string) => {
      compares += 1;
      const bcrypt = await import("bcryptjs");
      return bcrypt.default.compare(secret, hash);
    };
    for (let i = 0; i < 10; i++) expect(await verifyApiKey(env.DB, key, counting)).not.toBeNull();
    // Six keys are stored: the prefix lookup finds the one candidate, the first call pays one
    // bcrypt and the other nine use the remembered digest.
    expect(compares).toBe(1);
  });

  it("409 for a taken name; 400 for bad input; 404 for unknown ids", async () => {
    const name = unique("dup");
    await createKey("viewer", name);
    expectEnvelope(
      await call("POST", "/api-keys", { token: admin.token, body: { name, role: "viewer" } }),
      409,
      "already_exists",
    );
    expectEnvelope(
      await call("POST", "/api-keys", { token: admin.token, body: { name: "", role: "viewer" } }),
      400,
      "bad_request",
    );
    expectEnvelope(
      await call("POST", "/api-keys", { token: admin.token, body: { name: "x", role: "superuser" } }),
      400,
      "bad_request",
    );
    expectEnvelope(
      await call("POST", "/api-keys", { token: admin.token, body: { name: "x".repeat(101), role: "viewer" } }),
      400,
      "bad_request",
    );
    expectEnvelope(
      await call("PATCH", "/api-keys/nope", { token: admin.token, body: { name: unique("n") } }),
      404,
      "not_found",
    );
    const other = await createKey("viewer");
    expectEnvelope(
      await call("PATCH", `/api-keys/${other.apiKey.id}`, { token: admin.token, body: { name } }),
      409,
      "already_exists",
    );
    expectEnvelope(await call("DELETE", "/api-keys/nope", { token: admin.token }), 404, "not_found");
  });
});
