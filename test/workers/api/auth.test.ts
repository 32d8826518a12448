import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { bootstrapFirstAdmin } from "../../../src/auth/bootstrap.ts";
import { verifyLogin } from "../../../src/auth/credentials.ts";
import { DUMMY_PASSWORD_HASH } from "../../../src/auth/passwords.ts";
import { call, expectEnvelope, TEST_PASSWORD, userWithRole } from "../helpers.ts";

describe("POST /auth/login", () => {
  it("returns a 24 h JWT and the user", async () => {
    const user = await userWithRole("operator");
    const result = await call("POST", "/auth/login", { body: { username: user.username, password: TEST_PASSWORD } });
    expect(result.status).toBe(200);
    expect(result.body.user).toMatchObject({ id: user.id, username: user.username, role: "operator" });
    expect(result.body.user.password_hash).toBeUndefined();
    const hours = (Date.parse(result.body.expiresAt) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(23.9);
    expect(hours).toBeLessThanOrEqual(24);
    const me = await call("GET", "/auth/me", { token: result.body.token });
    expect(me.body.user).toMatchObject({ id: user.id, role: "operator" });
  });

  it("gives the same 401 for a wrong password and an unknown user", async () => {
    const user = await userWithRole("viewer");
    // One request id for both: it is echoed in the error body, and is not what this test compares.
    const headers = { "X-Request-Id": "login-probe" };
    const wrong = await call("POST", "/auth/login", {
      body: { username: user.username, password: "not-the-password" },
      headers,
    });
    const unknown = await call("POST", "/auth/login", {
      body: { username: "nobody-here", password: "whatever1" },
      headers,
    });
    expectEnvelope(wrong, 401, "unauthorized");
    expect(unknown).toEqual(wrong);
    expect(JSON.stringify(wrong.body)).not.toContain("not-the-password");
  });

  it("pays one bcrypt compare for an unknown user too (against a dummy hash)", async () => {
    const hashes: string[] = [];
    const counting = async (_secret: string, hash: string) => {
      hashes.push(hash);
      return false;
    };
    const user = await userWithRole("viewer");
    expect(await verifyLogin(env.DB, "no-such-user", "x", counting)).toBeNull();
    expect(await verifyLogin(env.DB, user.username, "x", counting)).toBeNull();
    expect(hashes).toHaveLength(2);
    expect(hashes[0]).toBe(DUMMY_PASSWORD_HASH);
    expect(hashes[1]).not.toBe(DUMMY_PASSWORD_HASH);
  });

  it("rejects malformed bodies with 400", async () => {
    expectEnvelope(await call("POST", "/auth/login", { body: { username: "a" } }), 400, "bad_request");
    expectEnvelope(await call("POST", "/auth/login", { body: { username: 1, password: 2 } }), 400, "bad_request");
    expectEnvelope(
      await call("POST", "/auth/login", { rawBody: "{not json", headers: { "Content-Type": "application/json" } }),
      400,
      "bad_request",
    );
  });

  it("refuses to serve auth in production without a strong JWT_SECRET, saying how to fix it", async () => {
    const user = await userWithRole("viewer");
    const body = { username: user.username, password: TEST_PASSWORD };
    for (const secret of ["", "Zq9-tooShort"]) {
      const result = await call("POST", "/auth/login", {
        body,
        env: { ENVIRONMENT: "production", JWT_SECRET: secret },
      });
      expectEnvelope(result, 503, "service_unavailable");
      expect(result.body.message).toContain("wrangler secret put JWT_SECRET");
      expect(result.body.message).not.toContain(secret || "\u0000");
    }
    const strong = "s".repeat(32);
    const ok = await call("POST", "/auth/login", { body, env: { ENVIRONMENT: "production", JWT_SECRET: strong } });
    expect(ok.status).toBe(200);
  });
});

describe("sessions", () => {
  it("401 without credentials, with a bad scheme, a forged or an expired token", async () => {
    expectEnvelope(await call("GET", "/auth/me"), 401, "unauthorized");
    expectEnvelope(await call("GET", "/auth/me", { headers: { Authorization: "Basic YTpi" } }), 401, "unauthorized");
    expectEnvelope(await call("GET", "/auth/me", { token: "not.a.jwt" }), 401, "unauthorized");
    const { token } = await userWithRole("viewer");
    const forged = await call("GET", "/auth/me", { token, env: { JWT_SECRET: "another-secret-another-secret-xx" } });
    expectEnvelope(forged, 401, "unauthorized");
  });

  it("a deleted user loses access at once", async () => {
    const admin = await userWithRole("admin");
    const victim = await userWithRole("viewer");
    expect((await call("GET", "/auth/me", { token: victim.token })).status).toBe(200);
    expect((await call("DELETE", `/users/${victim.id}`, { token: admin.token })).status).toBe(204);
    expectEnvelope(await call("GET", "/auth/me", { token: victim.token }), 401, "unauthorized");
  });

  it("a demoted user loses the role at once", async () => {
    const admin = await userWithRole("admin");
    const manager = await userWithRole("manager");
    expect((await call("POST", "/dags/validate", { token: manager.token, body: { spec: "steps: []" } })).status).toBe(
      200,
    );
    expect((await call("GET", "/users", { token: admin.token })).status).toBe(200);
    const demote = await call("PATCH", `/users/${admin.id}`, { token: manager.token, body: { role: "viewer" } });
    expectEnvelope(demote, 403, "forbidden");
    await call("PATCH", `/users/${manager.id}`, { token: admin.token, body: { role: "viewer" } });
    expectEnvelope(await call("POST", "/dags", { token: manager.token, body: { name: "x" } }), 403, "forbidden");
  });

  it("change-password checks the current password and ends existing sessions", async () => {
    const user = await userWithRole("viewer");
    const wrong = await call("POST", "/auth/change-password", {
      token: user.token,
      body: { currentPassword: "wrong-one", newPassword: "new-password-1" },
    });
    expectEnvelope(wrong, 401, "unauthorized");
    const weak = await call("POST", "/auth/change-password", {
      token: user.token,
      body: { currentPassword: TEST_PASSWORD, newPassword: "short" },
    });
    expectEnvelope(weak, 400, "bad_request");
    expect(weak.body.message).toContain("newPassword");
    const ok = await call("POST", "/auth/change-password", {
      token: user.token,
      body: { currentPassword: TEST_PASSWORD, newPassword: "new-password-1" },
    });
    expect(ok).toMatchObject({ status: 200, body: { message: "password changed" } });
    expectEnvelope(await call("GET", "/auth/me", { token: user.token }), 401, "unauthorized");
    const login = await call("POST", "/auth/login", { body: { username: user.username, password: "new-password-1" } });
    expect(login.status).toBe(200);
  });
});

describe("AUTH_MODE=none", () => {
  const none = { AUTH_MODE: "none" };

  it("opens every API route without credentials", async () => {
    expect((await call("GET", "/users", { env: none })).status).toBe(200);
    expect((await call("GET", "/dags", { env: none })).status).toBe(200);
    expect((await call("GET", "/auth/me", { env: none })).body.user).toMatchObject({
      username: "anonymous",
      role: "admin",
    });
  });

  it("has no login", async () => {
    expectEnvelope(
      await call("POST", "/auth/login", { env: none, body: { username: "a", password: "b" } }),
      400,
      "bad_request",
    );
  });

  it("refuses an unknown AUTH_MODE rather than guessing", async () => {
    expectEnvelope(await call("GET", "/dags", { env: { AUTH_MODE: "off" } }), 503, "service_unavailable");
  });
});

describe("first admin", () => {
  it("is created from ADMIN_USERNAME/ADMIN_PASSWORD only while no user exists", async () => {
    // This file's D1 already holds users, so the secrets must not create or reset anyone.
    await userWithRole("viewer");
    expect(await bootstrapFirstAdmin(env.DB, "late-admin", "password-123")).toBe(false);
    const login = await call("POST", "/auth/login", { body: { username: "late-admin", password: "password-123" } });
    expectEnvelope(login, 401, "unauthorized");
  });
});
