import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { call, expectEnvelope, unique, userWithRole } from "../helpers.ts";

let admin: { id: string; token: string };
beforeAll(async () => {
  admin = await userWithRole("admin");
});

describe("users", () => {
  it("create, get, list, update, reset password, delete", async () => {
    const username = unique("alice");
    const created = await call("POST", "/users", {
      token: admin.token,
      body: { username, password: "password-1", role: "viewer" },
    });
    expect(created.status).toBe(201);
    const { user } = created.body;
    expect(user).toMatchObject({ username, role: "viewer" });
    expect(Object.keys(user).sort()).toEqual(["createdAt", "id", "role", "updatedAt", "username"]);

    const stored = await env.DB.prepare("SELECT password_hash FROM users WHERE id = ?1")
      .bind(user.id)
      .first<{ password_hash: string }>();
    expect(stored!.password_hash).toMatch(/^\$2[aby]\$10\$/);
    expect(stored!.password_hash).not.toContain("password-1");

    expect((await call("GET", `/users/${user.id}`, { token: admin.token })).body.user).toEqual(user);
    const listed = await call("GET", "/users", { token: admin.token });
    expect(listed.body.users.map((u: { id: string }) => u.id)).toContain(user.id);

    const renamed = unique("alicia");
    const updated = await call("PATCH", `/users/${user.id}`, {
      token: admin.token,
      body: { username: renamed, role: "manager" },
    });
    expect(updated.body.user).toMatchObject({ id: user.id, username: renamed, role: "manager" });

    const login = await call("POST", "/auth/login", { body: { username: renamed, password: "password-1" } });
    expect(login.status).toBe(200);
    const reset = await call("POST", `/users/${user.id}/reset-password`, {
      token: admin.token,
      body: { newPassword: "password-2" },
    });
    expect(reset).toMatchObject({ status: 200, body: { message: "password reset" } });
    expectEnvelope(await call("GET", "/auth/me", { token: login.body.token }), 401, "unauthorized");
    expect((await call("POST", "/auth/login", { body: { username: renamed, password: "password-2" } })).status).toBe(
      200,
    );

    expect((await call("DELETE", `/users/${user.id}`, { token: admin.token })).status).toBe(204);
    expectEnvelope(await call("GET", `/users/${user.id}`, { token: admin.token }), 404, "not_found");
    expectEnvelope(await call("DELETE", `/users/${user.id}`, { token: admin.token }), 404, "not_found");
  });

  it("409 for a taken username, on create and on rename (case-insensitive)", async () => {
    const username = unique("bob");
    await call("POST", "/users", { token: admin.token, body: { username, password: "password-1", role: "viewer" } });
    const duplicate = await call("POST", "/users", {
      token: admin.token,
      body: { username: username.toUpperCase(), password: "password-1", role: "admin" },
    });
    expectEnvelope(duplicate, 409, "already_exists");
    const other = await call("POST", "/users", {
      token: admin.token,
      body: { username: unique("carol"), password: "password-1", role: "viewer" },
    });
    const clash = await call("PATCH", `/users/${other.body.user.id}`, { token: admin.token, body: { username } });
    expectEnvelope(clash, 409, "already_exists");
  });

  it("an admin cannot delete themself or change their own role", async () => {
    expectEnvelope(await call("DELETE", `/users/${admin.id}`, { token: admin.token }), 403, "forbidden");
    expectEnvelope(
      await call("PATCH", `/users/${admin.id}`, { token: admin.token, body: { role: "viewer" } }),
      403,
      "forbidden",
    );
    expect((await call("GET", "/auth/me", { token: admin.token })).body.user.role).toBe("admin");
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
    for (const [body, field] of cases) {
      const result = await call("POST", "/users", { token: admin.token, body });
      expectEnvelope(result, 400, "bad_request");
      expect(result.body.message).toContain(field);
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
      await call("PATCH", "/users/no-such-id", { token: admin.token, body: { username: unique("x") } }),
      404,
      "not_found",
    );
    expectEnvelope(
      await call("POST", "/users/no-such-id/reset-password", {
        token: admin.token,
        body: { newPassword: "password-9" },
      }),
      404,
      "not_found",
    );
  });
});
