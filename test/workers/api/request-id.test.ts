import { beforeAll, describe, expect, it } from "vitest";
import { at, call, expectEnvelope, userWithRole } from "../helpers.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let token: string;
beforeAll(async () => {
  token = (await userWithRole("admin")).token;
});

describe("X-Request-Id", () => {
  it("is generated for a request without one, on a 200", async () => {
    const result = await call("GET", "/health");
    expect(result.status).toBe(200);
    expect(result.headers.get("X-Request-Id")).toMatch(UUID);
    const again = await call("GET", "/health");
    expect(again.headers.get("X-Request-Id")).not.toBe(result.headers.get("X-Request-Id"));
  });

  it("is on a 404, in the header and the error body", async () => {
    const result = await call("GET", "/no-such-thing", { token });
    const envelope = expectEnvelope(result, 404, "not_found");
    expect(result.headers.get("X-Request-Id")).toMatch(UUID);
    expect(envelope.requestId).toBe(result.headers.get("X-Request-Id"));
  });

  it("echoes a sane incoming id, on success and on errors", async () => {
    const id = "edge-1.abc_DEF:42";
    const ok = await call("GET", "/dags", { token, headers: { "X-Request-Id": id } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("X-Request-Id")).toBe(id);
    const unauthorized = await call("GET", "/dags", { headers: { "X-Request-Id": id } });
    expect(expectEnvelope(unauthorized, 401, "unauthorized").requestId).toBe(id);
    expect(unauthorized.headers.get("X-Request-Id")).toBe(id);
    const longest = "a".repeat(200);
    expect((await call("GET", "/health", { headers: { "X-Request-Id": longest } })).headers.get("X-Request-Id")).toBe(
      longest,
    );
  });

  it("replaces an id that is too long or has other characters", async () => {
    // A non-ASCII one: test/node/dev.test.ts sends it over HTTP (built here, workerd warns about it).
    for (const bad of ["a".repeat(201), "two words", "<script>", "a/b"]) {
      const result = await call("GET", "/no-such-thing", { token, headers: { "X-Request-Id": bad } });
      expect(result.headers.get("X-Request-Id")).toMatch(UUID);
      expect(expectEnvelope(result, 404, "not_found").requestId).toBe(result.headers.get("X-Request-Id"));
    }
  });

  it("is on a 413 from the body limit and on Hono's own 4xx", async () => {
    const tooLarge = await call("PUT", "/dags/anything/spec", { token, body: { spec: "x".repeat(1024 * 1024 + 1) } });
    expect(tooLarge.headers.get("X-Request-Id")).toMatch(UUID);
    expect(expectEnvelope(tooLarge, 413, "payload_too_large").requestId).toBe(tooLarge.headers.get("X-Request-Id"));
    const malformed = await call("POST", "/dags", {
      token,
      rawBody: '{"name": "x",',
      headers: { "Content-Type": "application/json", "X-Request-Id": "malformed-1" },
    });
    expect(expectEnvelope(malformed, 400, "bad_request").requestId).toBe("malformed-1");
    expect(malformed.headers.get("X-Request-Id")).toBe("malformed-1");
    const notJson = await call("POST", "/dags", {
      token,
      rawBody: "name=x",
      headers: { "Content-Type": "text/plain" },
    });
    expect(expectEnvelope(notJson, 415, "bad_request").requestId).toBe(notJson.headers.get("X-Request-Id"));
  });

  it("is documented in the error schema, with the closed list of codes", async () => {
    const { body } = await call("GET", "/openapi.json");
    expect(at(body, "components", "schemas", "Error", "properties", "requestId")).toMatchObject({ type: "string" });
    expect(at(body, "components", "schemas", "ErrorCode", "enum")).toContain("service_unavailable");
  });
});
