import { env } from "cloudflare:workers";
import bs58 from "bs58";
import { beforeAll, describe, expect, it } from "vitest";
import { verifyApiKey } from "../../../src/auth/credentials.ts";
import { type ApiClient, api, call, expectEnvelope, ok, type Schemas, unique, userWithRole } from "../helpers.ts";

let admin: { id: string; token: string };
let asAdmin: ApiClient;
beforeAll(async () => {
  admin = await userWithRole("admin");
  asAdmin = api(admin.token);
});

const keyPath = (keyId: string) => ({ params: { path: { keyId } } });

async function createKey(role: Schemas["UserRole"], name = unique("key")) {
  return ok(asAdmin.POST("/api-keys", { body: { name, description: "ci", role } }), 201);
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
    const got = await ok(asAdmin.GET("/api-keys/{keyId}", keyPath(apiKey.id)));
    expect(JSON.stringify(got)).not.toContain(key);
    const listed = await ok(asAdmin.GET("/api-keys"));
    expect(listed.apiKeys.map((k) => k.id)).toContain(apiKey.id);
    expect(JSON.stringify(listed)).not.toContain(key);
  });

  it("authenticates with the key's role, tracks lastUsedAt, and a role change applies at once", async () => {
    const { apiKey, key } = await createKey("viewer");
    const withKey = api(key);
    await ok(withKey.GET("/dags"));
    expectEnvelope(await withKey.POST("/dags", { body: { name: unique("d") } }), 403, "forbidden");
    const used = await ok(asAdmin.GET("/api-keys/{keyId}", keyPath(apiKey.id)));
    expect(Date.parse(used.apiKey.lastUsedAt ?? "")).toBeGreaterThan(Date.now() - 60_000);

    await ok(asAdmin.PATCH("/api-keys/{keyId}", { ...keyPath(apiKey.id), body: { role: "manager" } }));
    await ok(withKey.POST("/dags", { body: { name: unique("d") } }), 201);
  });

  it("a deleted key stops working on the very next request", async () => {
    const { apiKey, key } = await createKey("admin");
    await ok(api(key).GET("/api-keys"));
    await ok(asAdmin.DELETE("/api-keys/{keyId}", keyPath(apiKey.id)), 204);
    expectEnvelope(await api(key).GET("/api-keys"), 401, "unauthorized");
    expectEnvelope(await asAdmin.GET("/api-keys/{keyId}", keyPath(apiKey.id)), 404, "not_found");
  });

  it("rejects wrong keys: unknown prefix, right prefix with a wrong rest", async () => {
    const { key } = await createKey("viewer");
    expectEnvelope(await api(`dagu_${"1".repeat(44)}`).GET("/dags"), 401, "unauthorized");
    const tampered = key.slice(0, -1) + (key.endsWith("a") ? "b" : "a");
    expectEnvelope(await api(tampered).GET("/dags"), 401, "unauthorized");
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
    expectEnvelope(await asAdmin.POST("/api-keys", { body: { name, role: "viewer" } }), 409, "already_exists");
    expectEnvelope(await asAdmin.POST("/api-keys", { body: { name: "", role: "viewer" } }), 400, "bad_request");
    // A role that doesn't exist: a body the typed client would refuse to send.
    expectEnvelope(
      await call("POST", "/api-keys", { token: admin.token, body: { name: "x", role: "superuser" } }),
      400,
      "bad_request",
    );
    expectEnvelope(
      await asAdmin.POST("/api-keys", { body: { name: "x".repeat(101), role: "viewer" } }),
      400,
      "bad_request",
    );
    expectEnvelope(
      await asAdmin.PATCH("/api-keys/{keyId}", { ...keyPath("nope"), body: { name: unique("n") } }),
      404,
      "not_found",
    );
    const other = await createKey("viewer");
    expectEnvelope(
      await asAdmin.PATCH("/api-keys/{keyId}", { ...keyPath(other.apiKey.id), body: { name } }),
      409,
      "already_exists",
    );
    expectEnvelope(await asAdmin.DELETE("/api-keys/{keyId}", keyPath("nope")), 404, "not_found");
  });
});
