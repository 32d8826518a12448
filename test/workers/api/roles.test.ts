import { beforeAll, describe, expect, it } from "vitest";
import { ROLES, type Role, roleAtLeast } from "../../../src/domain/roles.ts";
import { api, at, call, expectEnvelope, ok, userWithRole } from "../helpers.ts";

/** Every non-public route and the weakest role allowed to call it: the intended policy, stated once. */
const POLICY: [method: string, path: string, role: Role][] = [
  // Dagu's operations added for issue 17, and the ones that answer 501 (still behind a role: the
  // answer names dagflare's design, which is no one's business before signing in).
  ["GET", "/dags/search", "viewer"],
  ["GET", "/dags/tags", "viewer"],
  ["POST", "/dags/{fileName}/stop-all", "operator"],
  ["POST", "/dag-runs", "manager"],
  ["POST", "/dag-runs/enqueue", "manager"],
  ["GET", "/dag-runs/{name}/{dagRunId}/spec", "viewer"],
  ["POST", "/dag-runs/{name}/{dagRunId}/reschedule", "operator"],
  ["GET", "/dag-runs/{name}/{dagRunId}/dequeue", "operator"],
  ["GET", "/queues", "viewer"],
  ["GET", "/metrics", "viewer"],
  ["GET", "/workers", "viewer"],
  ["GET", "/services/coordinator", "viewer"],
  ["GET", "/services/resources/history", "viewer"],
  ["GET", "/services/scheduler", "viewer"],
  ["PATCH", "/dag-runs/{name}/{dagRunId}/steps/{stepName}/status", "operator"],
  ["PATCH", "/dag-runs/{name}/{dagRunId}/sub-dag-runs/{subDAGRunId}/steps/{stepName}/status", "operator"],
  ["POST", "/dag-runs/{name}/{dagRunId}/steps/{stepName}/approve", "viewer"],
  ["POST", "/dag-runs/{name}/{dagRunId}/steps/{stepName}/reject", "viewer"],
  ["POST", "/dag-runs/{name}/{dagRunId}/sub-dag-runs/{subDAGRunId}/steps/{stepName}/approve", "viewer"],
  ["POST", "/dag-runs/{name}/{dagRunId}/sub-dag-runs/{subDAGRunId}/steps/{stepName}/reject", "viewer"],
  ["GET", "/auth/me", "viewer"],
  ["POST", "/auth/change-password", "viewer"],
  ["GET", "/dags", "viewer"],
  ["POST", "/dags/validate", "viewer"],
  ["GET", "/dags/{fileName}", "viewer"],
  ["GET", "/dags/{fileName}/spec", "viewer"],
  ["GET", "/dags/{fileName}/dag-runs", "viewer"],
  ["GET", "/dags/{fileName}/dag-runs/{dagRunId}", "viewer"],
  ["GET", "/dag-runs", "viewer"],
  ["GET", "/dag-runs/{name}", "viewer"],
  ["GET", "/dag-runs/{name}/{dagRunId}", "viewer"],
  ["GET", "/dag-runs/{name}/{dagRunId}/log", "viewer"],
  ["GET", "/dag-runs/{name}/{dagRunId}/steps/{stepName}/log", "viewer"],
  ["GET", "/dag-runs/{name}/{dagRunId}/outputs", "viewer"],
  ["GET", "/dag-runs/{name}/{dagRunId}/sub-dag-runs", "viewer"],
  ["GET", "/dag-runs/{name}/{dagRunId}/sub-dag-runs/{subDAGRunId}", "viewer"],
  ["GET", "/dag-runs/{name}/{dagRunId}/sub-dag-runs/{subDAGRunId}/log", "viewer"],
  ["GET", "/dag-runs/{name}/{dagRunId}/sub-dag-runs/{subDAGRunId}/steps/{stepName}/log", "viewer"],
  ["POST", "/dags/{fileName}/start", "operator"],
  ["POST", "/dags/{fileName}/enqueue", "operator"],
  ["POST", "/dag-runs/{name}/{dagRunId}/stop", "operator"],
  ["POST", "/dag-runs/{name}/{dagRunId}/retry", "operator"],
  ["POST", "/dags", "manager"],
  ["DELETE", "/dags/{fileName}", "manager"],
  ["PUT", "/dags/{fileName}/spec", "manager"],
  ["POST", "/dags/{fileName}/rename", "manager"],
  ["POST", "/dags/{fileName}/suspend", "operator"],
  ["GET", "/users", "admin"],
  ["POST", "/users", "admin"],
  ["GET", "/users/{userId}", "admin"],
  ["PATCH", "/users/{userId}", "admin"],
  ["DELETE", "/users/{userId}", "admin"],
  ["POST", "/users/{userId}/reset-password", "admin"],
  ["GET", "/api-keys", "admin"],
  ["POST", "/api-keys", "admin"],
  ["GET", "/api-keys/{keyId}", "admin"],
  ["PATCH", "/api-keys/{keyId}", "admin"],
  ["DELETE", "/api-keys/{keyId}", "admin"],
  ["GET", "/webhooks", "admin"],
  ["GET", "/dags/{fileName}/webhook", "admin"],
  ["POST", "/dags/{fileName}/webhook", "admin"],
  ["DELETE", "/dags/{fileName}/webhook", "admin"],
  ["POST", "/dags/{fileName}/webhook/regenerate", "admin"],
  ["POST", "/dags/{fileName}/webhook/toggle", "admin"],
  ["PUT", "/dags/{fileName}/webhook/signature", "admin"],
  ["POST", "/dags/{fileName}/webhook/signature/regenerate", "admin"],
  ["DELETE", "/dags/{fileName}/webhook/signature", "admin"],
  ["GET", "/dags/{fileName}/webhook/requests", "operator"],
  ["GET", "/dags/{fileName}/webhook/requests/{id}", "operator"],
  ["POST", "/dags/{fileName}/webhook/requests/{id}/replay", "operator"],
  ["POST", "/dags/{fileName}/webhook/hmac/enable", "admin"],
  ["POST", "/dags/{fileName}/webhook/hmac/configure", "admin"],
  ["POST", "/dags/{fileName}/webhook/hmac/regenerate", "admin"],
  ["POST", "/dags/{fileName}/webhook/hmac/disable", "admin"],
  ["PUT", "/dags/{fileName}/webhook/allowed-ips", "admin"],
  ["GET", "/alert-policies", "viewer"],
  ["POST", "/alert-policies", "manager"],
  ["GET", "/alert-policies/{id}", "viewer"],
  ["PUT", "/alert-policies/{id}", "manager"],
  ["DELETE", "/alert-policies/{id}", "manager"],
  ["POST", "/alert-policies/{id}/preview", "viewer"],
  ["POST", "/alert-policies/{id}/test", "manager"],
  ["POST", "/alert-policies/test", "manager"],
  ["GET", "/alert-policies/{id}/deliveries", "viewer"],
  ["GET", "/alert-deliveries/{id}", "viewer"],
  ["POST", "/alert-deliveries/{id}/replay", "manager"],
  ["GET", "/alert-tokens", "viewer"],
  ["GET", "/alert-presets", "viewer"],
];
/** Open to anyone; the webhook trigger checks its own token (test/workers/api/webhooks.test.ts). */
const PUBLIC = [
  "GET /health",
  "GET /openapi.json",
  "GET /auth/config",
  "POST /auth/login",
  "POST /webhooks/{fileName}",
];

// Path parameters name nothing that exists, and bodies are empty: an allowed caller gets a 400
// or 404 and nothing changes, while a caller below the role must get 403 before any of that.
const concrete = (path: string) => path.replace(/\{[^}]+\}/g, "does-not-exist");
const bodyFor = (method: string) => (method === "GET" || method === "DELETE" ? undefined : {});

const tokens = {} as Record<Role, string>;
beforeAll(async () => {
  for (const role of ROLES) tokens[role] = (await userWithRole(role)).token;
});

// The matrix walks routes by their documented method and path, with empty bodies: raw calls.
describe("role matrix", () => {
  for (const [method, path, required] of POLICY) {
    it(`${method} ${path} needs ${required}`, async () => {
      for (const role of ROLES) {
        const result = await call(method, concrete(path), { token: tokens[role], body: bodyFor(method) });
        if (roleAtLeast(role, required)) {
          expect([401, 403], `${role} should pass`).not.toContain(result.status);
        } else {
          expectEnvelope(result, 403, "forbidden");
        }
      }
    });
  }
});

describe("authentication", () => {
  it("the policy covers every documented route", async () => {
    const paths = at(await ok(api().GET("/openapi.json")), "paths");
    if (typeof paths !== "object" || paths === null) throw new Error("no paths in the OpenAPI document");
    const documented = Object.entries(paths).flatMap(([path, operations]: [string, object]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual([...POLICY.map(([method, path]) => `${method} ${path}`), ...PUBLIC].sort());
  });

  it("every non-public route answers 401 without credentials", async () => {
    for (const [method, path] of POLICY) {
      expectEnvelope(await call(method, concrete(path), { body: bodyFor(method) }), 401, "unauthorized");
    }
  });

  it("public routes answer without credentials", async () => {
    const health = await ok(api().GET("/health"));
    expect(health).toMatchObject({ status: "healthy", version: expect.any(String), uptime: expect.any(Number) });
    await ok(api().GET("/openapi.json"));
    // The UI's login page asks this before anyone signs in, instead of a /auth/me that would be 401.
    expect(await ok(api().GET("/auth/config"))).toEqual({ authMode: "builtin" });
  });
});
