import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type ApiClient, api, call, expectEnvelope, ok, unique, userWithRole } from "../helpers.ts";

let admin: { id: string; token: string };
let asAdmin: ApiClient;
beforeAll(async () => {
  admin = await userWithRole("admin");
  asAdmin = api(admin.token);
});

const userPath = (userId: string) => ({ params: { path: { userId } } });
const login = (username: string, password: string) => api().POST("/auth/login", { body: { username, password } });

describe("users", () => {
  it("create, get, list, update, reset password, delete", async () => {
    const username = unique("alice");
    const { user } = await ok(
      asAdmin.POST("/users", { body: { username, password: "password-1", role: "viewer" } }),
      201,
    );
    expect(user).toMatchObject({ username, role: "viewer" });
    expect(Object.keys(user).sort()).toEqual(["createdAt", "id", "role", "updatedAt", "username"]);

    const stored = await env.DB.prepare("SELECT password_hash FROM users WHERE id = ?1")
      .bind(user.id)
      .first<{ password_hash: string }>();
    expect(stored!.password_hash).toMatch(/^\$2[aby]\$10\$/);
    expect(stored!.password_hash).not.toContain("password-1");

    expect((await ok(asAdmin.GET("/users/{userId}", userPath(user.id)))).user).toEqual(user);
    const listed = await ok(asAdmin.GET("/users"));
    expect(listed.users.map((u) => u.id)).toContain(user.id);

    const renamed = unique("alicia");
    const updated = await ok(
      asAdmin.PATCH("/users/{userId}", { ...userPath(user.id), body: { username: renamed, role: "manager" } }),
    );
    expect(updated.user).toMatchObject({ id: user.id, username: renamed, role: "manager" });

    const session = await ok(login(renamed, "password-1"));
    const reset = await ok(
      asAdmin.POST("/users/{userId}/reset-password", { ...userPath(user.id), body: { newPassword: "password-2" } }),
    );
    expect(reset).toMatchObject({ message: "password reset" });
    expectEnvelope(await api(session.token).GET("/auth/me"), 401, "unauthorized");
    await ok(login(renamed, "password-2"));

    await ok(asAdmin.DELETE("/users/{userId}", userPath(user.id)), 204);
    expectEnvelope(await asAdmin.GET("/users/{userId}", userPath(user.id)), 404, "not_found");
    expectEnvelope(await asAdmin.DELETE("/users/{userId}", userPath(user.id)), 404, "not_found");
  });

  it("409 for a taken username, on create and on rename (case-insensitive)", async () => {
    const username = unique("bob");
    await ok(asAdmin.POST("/users", { body: { username, password: "password-1", role: "viewer" } }), 201);
    const duplicate = await asAdmin.POST("/users", {
      body: { username: username.toUpperCase(), password: "password-1", role: "admin" },
    });
    expectEnvelope(duplicate, 409, "already_exists");
    const other = await ok(
      asAdmin.POST("/users", { body: { username: unique("carol"), password: "password-1", role: "viewer" } }),
      201,
    );
    const clash = await asAdmin.PATCH("/users/{userId}", { ...userPath(other.user.id), body: { username } });
    expectEnvelope(clash, 409, "already_exists");
  });

  it("an admin cannot delete themself or change their own role", async () => {
    expectEnvelope(await asAdmin.DELETE("/users/{userId}", userPath(admin.id)), 403, "forbidden");
    expectEnvelope(
      await asAdmin.PATCH("/users/{userId}", { ...userPath(admin.id), body: { role: "viewer" } }),
      403,
      "forbidden",
    );
    expect((await ok(asAdmin.GET("/auth/me"))).user.role).toBe("admin");
  });

  it("validates passwords, roles, usernames and unknown fields; stores nothing on failure", async () => {
    const username = unique("dave");
    const cases: [unknown, string][] = [
      [{ username, password: "short", role: "viewer" }, "password"],
      [{ username, password: "x".repeat(73), role: "viewer" }, "password"],
      [{ username, password: "password-1", role: "root" }, "role"],
      [{ username: "has space", password: "password-1", role: "viewer" }, "username"],
      [{ username, password: "password-1", role: "viewer", isAdmin: true }, "isAdmin"],
      [{ username, password: 12345678, role: "viewer" }, "password"],
    ];
    // Some of these bodies the typed client would refuse to send.
    for (const [body, field] of cases) {
      const result = await call("POST", "/users", { token: admin.token, body });
      expect(expectEnvelope(result, 400, "bad_request").message).toContain(field);
    }
    const count = await env.DB.prepare("SELECT COUNT(*) AS n FROM users WHERE username = ?1")
      .bind(username)
      .first<{ n: number }>();
    expect(count!.n).toBe(0);
    expectEnvelope(
      await call("PATCH", `/users/${admin.id}`, { token: admin.token, body: { role: 7 } }),
      400,
      "bad_request",
    );
    expectEnvelope(
      await asAdmin.PATCH("/users/{userId}", { ...userPath("no-such-id"), body: { username: unique("x") } }),
      404,
      "not_found",
    );
    expectEnvelope(
      await asAdmin.POST("/users/{userId}/reset-password", {
        ...userPath("no-such-id"),
        body: { newPassword: "password-9" },
      }),
      404,
      "not_found",
    );
  });
});
