/**
 * Hostile input at the front door (issue 17): YAML that expands or nests without end, huge step
 * graphs, bodies streamed past the limit with no Content-Length, and password guessing.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_STEPS } from "../../../src/domain/dag-spec.ts";
import { MAX_YAML_ALIASES, MAX_YAML_DEPTH } from "../../../src/domain/yaml-bounds.ts";
import { at, call, expectEnvelope, TEST_PASSWORD, unique, userWithRole, windowWithRoom } from "../helpers.ts";

let token: string;
beforeAll(async () => {
  token = (await userWithRole("manager")).token;
});

const BILLION_LAUGHS = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
steps:
  - name: x
    command: echo
    env: *g
`;

const createDag = (spec: string) => call("POST", "/dags", { token, body: { name: unique("hostile"), spec } });

/** The first spec error of a refused create: `field`, `message`, `line`, `column`. */
function firstSpecError(result: Awaited<ReturnType<typeof call>>): Record<string, unknown> {
  expectEnvelope(result, 400, "bad_request");
  const errors = at(result.body, "details", "specErrors") as Record<string, unknown>[];
  return errors[0]!;
}

describe("YAML that would expand or nest without end → 400", () => {
  it("billion laughs: refused, the message naming the alias limits", async () => {
    const error = firstSpecError(await createDag(BILLION_LAUGHS));
    expect(error.message).toContain(`at most ${MAX_YAML_ALIASES} aliases per file`);
    expect(error.message).toMatch(/expand/);
    expect(error).toMatchObject({ field: "yaml", line: expect.any(Number), column: expect.any(Number) });
  });

  it("more aliases than the limit: refused at the first one too many", async () => {
    const aliases = Array.from({ length: MAX_YAML_ALIASES + 1 }, () => "      - *e").join("\n");
    const spec = `env: &e\n  - A=1\nsteps:\n  - name: x\n    command: echo\n    preconditions:\n${aliases}\n`;
    const error = firstSpecError(await createDag(spec));
    expect(error).toMatchObject({ field: "yaml", line: 7 + MAX_YAML_ALIASES, column: 9 });
    expect(error.message).toContain(`more than ${MAX_YAML_ALIASES} aliases`);
  });

  it("an alias to an undefined anchor: refused with its line and column", async () => {
    const result = await createDag("steps:\n  - name: a\n    command: echo\n    env: *nowhere\n");
    expect(firstSpecError(result)).toMatchObject({ field: "yaml", line: 4, column: 10 });
    expect(JSON.stringify(result.body)).toContain("*nowhere refers to no anchor");
    expect(String(at(result.body, "message"))).toContain("(line 4, col 10)");
  });

  it("an alias inside its own anchor (an endless structure): refused", async () => {
    const error = firstSpecError(await createDag("steps: &s\n  - name: a\n    command: echo\n  - *s\n"));
    expect(error).toMatchObject({ field: "yaml", line: 4, column: 5 });
  });

  it("deep nesting, flow and block: refused before the parser recurses", async () => {
    const flow = `steps:\n  - name: a\n    command: echo\n    env: ${"[".repeat(50_000)}${"]".repeat(50_000)}\n`;
    expect(firstSpecError(await createDag(flow)).message).toBe(`nested deeper than ${MAX_YAML_DEPTH} levels`);
    const block = `env:\n${Array.from({ length: 500 }, (_, depth) => `${" ".repeat(depth + 1)}-`).join("\n")} x\n`;
    expect(firstSpecError(await createDag(block))).toMatchObject({
      field: "yaml",
      message: expect.stringContaining("nested deeper"),
    });
    const compact = `env:\n  ${"- ".repeat(20_000)}x\n`;
    expect(firstSpecError(await createDag(compact)).message).toContain("nested deeper");
  });

  it("anchors and a few aliases are fine", async () => {
    const spec = `env: &common\n  - A=1\nsteps:\n  - name: a\n    command: echo\n    env: *common\n  - name: b\n    command: echo\n    env: *common\n`;
    expect((await createDag(spec)).status).toBe(201);
  });
});

describe("huge step graphs", () => {
  it(`10,000 steps are refused (at most ${MAX_STEPS}) without parsing the whole document`, async () => {
    const spec = `type: graph\nsteps:\n${Array.from({ length: 10_000 }, (_, i) => `  - name: s${i}\n    command: e\n${i ? `    depends: s${i - 1}\n` : ""}`).join("")}`;
    const small = spec.slice(0, 500_000);
    const started = performance.now();
    const error = firstSpecError(await createDag(small));
    // Generous: the real figure is in `npm run bench:specs` and the fuzz output.
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(error).toMatchObject({
      field: "steps",
      message: `more than ${MAX_STEPS} steps: a DAG has at most ${MAX_STEPS}`,
    });
  });

  it(`${MAX_STEPS} steps in one long chain of depends validate (the graph checks don't recurse)`, async () => {
    const steps = Array.from(
      { length: MAX_STEPS },
      (_, i) => `  - name: s${i}\n    command: e\n${i ? `    depends: s${i - 1}\n` : ""}`,
    );
    const started = performance.now();
    const result = await call("POST", "/dags/validate", {
      token,
      body: { spec: `type: graph\nsteps:\n${steps.join("")}` },
    });
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(result.body).toMatchObject({ valid: true });
    const cyclic = `type: graph\nsteps:\n  - name: s0\n    command: e\n    depends: s${MAX_STEPS - 1}\n${steps.slice(1).join("")}`;
    const refused = await call("POST", "/dags/validate", { token, body: { spec: cyclic } });
    expect(JSON.stringify(refused.body)).toContain("dependency cycle s0 -> s");
  });

  it("step groups count their steps: refused past the limit even in fewer items", async () => {
    const group = `  - [${Array.from({ length: 10 }, () => "echo").join(", ")}]\n`;
    const spec = `steps:\n${group.repeat(MAX_STEPS / 10 + 1)}`;
    expect(firstSpecError(await createDag(spec)).message).toBe(
      `${MAX_STEPS + 10} steps: a DAG has at most ${MAX_STEPS}`,
    );
  });
});

/** A body with no Content-Length, streamed in 64 KiB chunks up to `bytes`. */
function chunkedBody(bytes: number): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(64 * 1024).fill(0x20);
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      controller.enqueue(chunk);
      sent += chunk.byteLength;
    },
  });
}

describe("bodies streamed past the limit (chunked, no Content-Length)", () => {
  it("20 MiB → 413 envelope, on management, login and webhook routes", async () => {
    const MiB = 1024 * 1024;
    for (const [path, auth] of [
      ["/dags", token],
      ["/auth/login", undefined],
      ["/webhooks/any-dag", undefined],
    ] as const) {
      const result = await call("POST", path, {
        ...(auth ? { token: auth } : {}),
        rawBody: chunkedBody(20 * MiB),
        headers: { "Content-Type": "application/json", "CF-Connecting-IP": unique("ip") },
      });
      expectEnvelope(result, 413, "payload_too_large");
      expect(at(result.body, "requestId")).toEqual(expect.any(String));
    }
  });

  it("a chunked body under the limit is read as usual", async () => {
    const body = new TextEncoder().encode(JSON.stringify({ name: unique("chunked"), spec: "steps:\n  - echo hi\n" }));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(body.slice(0, 10));
        controller.enqueue(body.slice(10));
        controller.close();
      },
    });
    const result = await call("POST", "/dags", {
      token,
      rawBody: stream,
      headers: { "Content-Type": "application/json" },
    });
    expect(result.status).toBe(201);
  });
});

// Each burst waits for a minute with room (windowWithRoom): the limiter's windows are clock minutes.
// Each failed login costs a bcrypt (~55 ms, several times that on a busy machine): more than the default 5 s.
describe("POST /auth/login: failed logins are rate-limited per client IP and per username", { timeout: 30_000 }, () => {
  const login = (username: string, password: string, ip: string) =>
    call("POST", "/auth/login", { body: { username, password }, headers: { "CF-Connecting-IP": ip } });

  it("10 failures from one IP → 429 with Retry-After, even for the right password; another IP is unaffected", async () => {
    await windowWithRoom(60_000, 10_000);
    const user = await userWithRole("viewer");
    const ip = unique("ip");
    for (let attempt = 0; attempt < 10; attempt++) {
      // Different usernames: only the IP's budget runs out.
      expectEnvelope(await login(unique("nobody"), "wrong-password", ip), 401, "unauthorized");
    }
    const limited = await login(unique("nobody"), "wrong-password", ip);
    expectEnvelope(limited, 429, "too_many_requests");
    expect(limited.headers.get("Retry-After")).toBe("60");
    // Refused before bcrypt: a blocked client can't learn whether a password is right.
    expectEnvelope(await login(user.username, TEST_PASSWORD, ip), 429, "too_many_requests");
    expect((await login(user.username, TEST_PASSWORD, unique("ip"))).status).toBe(200);
  });

  it("10 failures for one username across IPs → 429 for that username from any IP; other users are unaffected", async () => {
    await windowWithRoom(60_000, 10_000);
    const user = await userWithRole("viewer");
    const other = await userWithRole("viewer");
    for (let attempt = 0; attempt < 10; attempt++) {
      expectEnvelope(await login(user.username, `guess-${attempt}`, unique("ip")), 401, "unauthorized");
    }
    const limited = await login(user.username.toUpperCase(), "guess-10", unique("ip"));
    expectEnvelope(limited, 429, "too_many_requests");
    expect(limited.headers.get("Retry-After")).toBe("60");
    expectEnvelope(await login(user.username, TEST_PASSWORD, unique("ip")), 429, "too_many_requests");
    expect((await login(other.username, TEST_PASSWORD, unique("ip"))).status).toBe(200);
  });

  it("successful logins don't count", async () => {
    const user = await userWithRole("viewer");
    const ip = unique("ip");
    for (let attempt = 0; attempt < 12; attempt++) {
      expect((await login(user.username, TEST_PASSWORD, ip)).status).toBe(200);
    }
  });
});
