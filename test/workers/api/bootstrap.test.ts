import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { api, ok } from "../helpers.ts";

// In a project of its own (workers-fresh, vitest.config.ts): this D1 starts with no users, as a fresh deployment does.
it("a deployment with ADMIN_USERNAME/ADMIN_PASSWORD secrets gets its first admin on the first request", async () => {
  const secrets = { ADMIN_USERNAME: "root", ADMIN_PASSWORD: "first-password-1" };
  expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM users").first<{ n: number }>())?.n).toBe(0);
  const client = api(undefined, secrets);
  await ok(client.GET("/health"));
  const login = await ok(client.POST("/auth/login", { body: { username: "root", password: "first-password-1" } }));
  expect(login.user.role).toBe("admin");
  const stored = await env.DB.prepare("SELECT password_hash FROM users WHERE username = 'root'").first<{
    password_hash: string;
  }>();
  expect(stored?.password_hash).toMatch(/^\$2[aby]\$10\$/);
});
