import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { api, at, call, expectEnvelope, unique, userWithRole } from "../helpers.ts";

let token: string;
beforeAll(async () => {
  token = (await userWithRole("admin")).token;
});

describe("bad input gets a 4xx in the error envelope and changes nothing", () => {
  it("malformed JSON", async () => {
    const result = await call("POST", "/dags", {
      token,
      rawBody: '{"name": "x",',
      headers: { "Content-Type": "application/json" },
    });
    expect(expectEnvelope(result, 400, "bad_request").message).toMatch(/malformed json/i);
  });

  it("a body that is not JSON at all, or JSON of the wrong shape", async () => {
    const form = await call("POST", "/dags", { token, rawBody: "name=x", headers: { "Content-Type": "text/plain" } });
    expect(expectEnvelope(form, 415, "bad_request").message).toContain("application/json");
    expectEnvelope(await call("POST", "/dags", { token, body: ["x"] }), 400, "bad_request");
    expectEnvelope(await call("POST", "/dags", { token, body: "x" }), 400, "bad_request");
    expectEnvelope(await call("POST", "/dags", { token, body: null }), 400, "bad_request");
  });

  it("wrong types and unknown fields name the field", async () => {
    const wrongType = await call("POST", "/dags", { token, body: { name: 42 } });
    expect(expectEnvelope(wrongType, 400, "bad_request").message).toMatch(/^json\.name: /);
    const name = unique("x");
    const unknown = await call("POST", "/dags", { token, body: { name, spec: "steps: []", colour: "red" } });
    expect(expectEnvelope(unknown, 400, "bad_request").message).toContain("colour");
    expect(await env.DB.prepare("SELECT 1 FROM dags WHERE name = ?1").bind(name).first()).toBeNull();
  });

  it("oversized bodies get 413 before they are read", async () => {
    const result = await call("PUT", "/dags/anything/spec", { token, body: { spec: "x".repeat(1024 * 1024 + 1) } });
    expectEnvelope(result, 413, "payload_too_large");
  });

  it("unknown routes and methods get 404 not_found", async () => {
    expectEnvelope(await call("GET", "/no-such-thing", { token }), 404, "not_found");
    expectEnvelope(await call("PATCH", "/dags", { token }), 404, "not_found");
  });

  it("concurrent creates of one name: exactly one wins, the rest get 409", async () => {
    const name = unique("race");
    const client = api(token);
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        client.POST("/dags", { body: { name, spec: "steps:\n  - name: a\n    command: x\n" } }),
      ),
    );
    expect(results.map((r) => r.response.status).sort()).toEqual([201, 409, 409, 409, 409]);
    for (const result of results) if (result.response.status === 409) expectEnvelope(result, 409, "already_exists");
  });
});

describe("GET /openapi.json", () => {
  it("describes every route with the schemas that validate it", async () => {
    const { data: document, response } = await api().GET("/openapi.json");
    expect(response.status).toBe(200);
    expect(at(document, "openapi")).toMatch(/^3\./);
    // One set of handlers at Dagu 1.x's prefix and Dagu 2.x's.
    expect(at(document, "servers")).toMatchObject([{ url: "/api/v2" }, { url: "/api/v1" }]);
    const create = at(document, "paths", "/dags", "post");
    expect(at(create, "requestBody", "content", "application/json", "schema", "properties", "name")).toBeDefined();
    expect(at(create, "description")).toContain("manager");
    expect(at(document, "components", "schemas", "Error", "required")).toEqual(["code", "message"]);
    expect(at(document, "components", "schemas", "DAGName", "pattern")).toBe("^[a-zA-Z0-9_-]+$");
    expect(at(document, "paths", "/health", "get", "security")).toEqual([]);
  });
});
