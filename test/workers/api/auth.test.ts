import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { bootstrapFirstAdmin } from "../../../src/auth/bootstrap.ts";
import { verifyLogin } from "../../../src/auth/credentials.ts";
import { DUMMY_PASSWORD_HASH } from "../../../src/auth/passwords.ts";
import { api, call, expectEnvelope, ok, TEST_PASSWORD, userWithRole } from "../helpers.ts";

const login = (username: string, password: string, overrides?: Partial<Cloudflare.Env>) =>
  api(undefined, overrides).POST("/auth/login", { body: { username, password } });

describe("POST /auth/login", () => {
  it("returns a 24 h JWT and the user", async () => {
    const user = await userWithRole("operator");
    const result = await ok(login(user.username, TEST_PASSWORD));
    expect(result.user).toMatchObject({ id: user.id, username: user.username, role: "operator" });
    expect(result.user).not.toHaveProperty("password_hash");
    const hours = (Date.parse(result.expiresAt) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(23.9);
    expect(hours).toBeLessThanOrEqual(24);
    const me = await ok(api(result.token).GET("/auth/me"));
    expect(me.user).toMatchObject({ id: user.id, role: "operator" });
  });

  it("gives the same 401 for a wrong password and an unknown user", async () => {
    const user = await userWithRole("viewer");
    // One request id for both: it is echoed in the error body and header, and is not what this test compares.
    const headers = { "X-Request-Id": "login-probe" };
    const wrong = await api().POST("/auth/login", {
      body: { username: user.username, password: "not-the-password" },
      headers,
    });
    const unknown = await api().POST("/auth/login", {
      body: { username: "nobody-here", password: "whatever1" },
      headers,
    });
    expectEnvelope(wrong, 401, "unauthorized");
    expect([unknown.response.status, unknown.error]).toEqual([wrong.response.status, wrong.error]);
    expect([...unknown.response.headers]).toEqual([...wrong.response.headers]);
    expect(JSON.stringify(wrong.error)).not.toContain("not-the-password");
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
    // Bodies the typed client would refuse to send.
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
    for (const secret of ["", "Zq9-tooShort"]) {
      const result = await login(user.username, TEST_PASSWORD, { ENVIRONMENT: "production", JWT_SECRET: secret });
      const { message } = expectEnvelope(result, 503, "service_unavailable");
      expect(message).toContain("wrangler secret put JWT_SECRET");
      expect(message).not.toContain(secret || "\u0000");
    }
    const strong = "s".repeat(32);
    await ok(login(user.username, TEST_PASSWORD, { ENVIRONMENT: "production", JWT_SECRET: strong }));
  });
});

describe("sessions", () => {
  it("401 without credentials, with a bad scheme, a forged or an expired token", async () => {
    expectEnvelope(await api().GET("/auth/me"), 401, "unauthorized");
    expectEnvelope(await call("GET", "/auth/me", { headers: { Authorization: "Basic YTpi" } }), 401, "unauthorized");
    expectEnvelope(await api("not.a.jwt").GET("/auth/me"), 401, "unauthorized");
    const { token } = await userWithRole("viewer");
    const forged = await api(token, { JWT_SECRET: "another-secret-another-secret-xx" }).GET("/auth/me");
    expectEnvelope(forged, 401, "unauthorized");
  });

  it("a deleted user loses access at once", async () => {
    const admin = await userWithRole("admin");
    const victim = await userWithRole("viewer");
    await ok(api(victim.token).GET("/auth/me"));
    await ok(api(admin.token).DELETE("/users/{userId}", { params: { path: { userId: victim.id } } }), 204);
    expectEnvelope(await api(victim.token).GET("/auth/me"), 401, "unauthorized");
  });

  it("a demoted user loses the role at once", async () => {
    const admin = await userWithRole("admin");
    const manager = await userWithRole("manager");
    await ok(api(manager.token).POST("/dags/validate", { body: { spec: "steps: []" } }));
    await ok(api(admin.token).GET("/users"));
    const setRole = (token: string, userId: string) =>
      api(token).PATCH("/users/{userId}", { params: { path: { userId } }, body: { role: "viewer" } });
    expectEnvelope(await setRole(manager.token, admin.id), 403, "forbidden");
    await ok(setRole(admin.token, manager.id));
    expectEnvelope(await api(manager.token).POST("/dags", { body: { name: "x" } }), 403, "forbidden");
  });

  it("change-password checks the current password and ends existing sessions", async () => {
    const user = await userWithRole("viewer");
    const change = (currentPassword: string, newPassword: string) =>
      api(user.token).POST("/auth/change-password", { body: { currentPassword, newPassword } });
    expectEnvelope(await change("wrong-one", "new-password-1"), 401, "unauthorized");
    const weak = await change(TEST_PASSWORD, "short");
    expect(expectEnvelope(weak, 400, "bad_request").message).toContain("newPassword");
    expect(await ok(change(TEST_PASSWORD, "new-password-1"))).toMatchObject({ message: "password changed" });
    expectEnvelope(await api(user.token).GET("/auth/me"), 401, "unauthorized");
    await ok(login(user.username, "new-password-1"));
  });
});

describe("AUTH_MODE=none", () => {
  const none = { AUTH_MODE: "none" };

  it("opens every API route without credentials", async () => {
    const anonymous = api(undefined, none);
    await ok(anonymous.GET("/users"));
    await ok(anonymous.GET("/dags"));
    expect((await ok(anonymous.GET("/auth/me"))).user).toMatchObject({
      username: "anonymous",
      role: "admin",
    });
  });

  it("has no login, and says so before anyone asks who they are", async () => {
    expectEnvelope(await login("a", "b", none), 400, "bad_request");
    expect(await ok(api(undefined, none).GET("/auth/config"))).toEqual({ authMode: "none" });
  });

  it("refuses an unknown AUTH_MODE rather than guessing", async () => {
    expectEnvelope(await api(undefined, { AUTH_MODE: "off" }).GET("/dags"), 503, "service_unavailable");
    expectEnvelope(await api(undefined, { AUTH_MODE: "off" }).GET("/auth/config"), 503, "service_unavailable");
  });
});

describe("first admin", () => {
  it("is created from ADMIN_USERNAME/ADMIN_PASSWORD only while no user exists", async () => {
    // This file's D1 already holds users, so the secrets must not create or reset anyone.
    await userWithRole("viewer");
    expect(await bootstrapFirstAdmin(env.DB, "late-admin", "password-123")).toBe(false);
    expectEnvelope(await login("late-admin", "password-123"), 401, "unauthorized");
  });
});
