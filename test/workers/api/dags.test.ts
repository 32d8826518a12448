import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { call, expectEnvelope, unique, userWithRole } from "../helpers.ts";

let token: string;
beforeAll(async () => {
  token = (await userWithRole("manager")).token;
});

const SPEC = `description: Build on every push
tags: [ci, build]
schedule: "0 3 * * *"
params: BRANCH=main
steps:
  - name: build
    command: echo "Building branch \${WEBHOOK_PAYLOAD.branch}"
  - name: test
    command: make test
`;

async function storedSpec(name: string): Promise<string | undefined> {
  const row = await env.DB.prepare("SELECT spec FROM dags WHERE name = ?1").bind(name).first<{ spec: string }>();
  return row?.spec;
}

describe("DAG registry", () => {
  it("create with a spec, read details and spec back", async () => {
    const name = unique("build");
    expect(await call("POST", "/dags", { token, body: { name, spec: SPEC } })).toMatchObject({
      status: 201,
      body: { name },
    });

    const details = await call("GET", `/dags/${name}`, { token });
    expect(details.status).toBe(200);
    expect(details.body.dag).toMatchObject({
      name,
      description: "Build on every push",
      tags: ["ci", "build"],
      schedule: [{ expression: "0 3 * * *" }],
      params: ["BRANCH=main"],
      steps: [{ name: "build", depends: [] }, { name: "test" }],
    });
    expect(details.body).toMatchObject({
      suspended: false,
      errors: [],
      localDags: [],
      latestDAGRun: { status: 0, statusLabel: "not_started" },
    });

    const spec = await call("GET", `/dags/${name}/spec`, { token });
    expect(spec.body).toMatchObject({ spec: SPEC, errors: [] });
  });

  it("create without a spec stores a valid starter spec", async () => {
    const name = unique("empty");
    expect((await call("POST", "/dags", { token, body: { name } })).status).toBe(201);
    const validated = await call("POST", "/dags/validate", { token, body: { spec: await storedSpec(name) } });
    expect(validated.body).toMatchObject({ valid: true, errors: [] });
  });

  it("409 already_exists for a taken name", async () => {
    const name = unique("dup");
    await call("POST", "/dags", { token, body: { name, spec: SPEC } });
    const again = await call("POST", "/dags", {
      token,
      body: { name, spec: "steps:\n  - name: other\n    command: x\n" },
    });
    expectEnvelope(again, 409, "already_exists");
    expect(await storedSpec(name)).toBe(SPEC);
  });

  it("an invalid spec on create is rejected with every error and its line; nothing is stored", async () => {
    const name = unique("broken");
    const result = await call("POST", "/dags", {
      token,
      body: { name, spec: "steps:\n  - name: a\n    command: x\n  - name: b\n    command: y\n    depends: [buidl]\n" },
    });
    expectEnvelope(result, 400, "bad_request");
    expect(result.body.message).toBe("invalid DAG spec: steps[1].depends: unknown step 'buidl' (line 6, col 15)");
    expect(result.body.details.specErrors).toEqual([
      { field: "steps[1].depends", message: "unknown step 'buidl'", line: 6, column: 15 },
    ]);
    expect(await storedSpec(name)).toBeUndefined();
  });

  it("PUT spec replaces a valid spec; an invalid one is rejected and the old spec stays", async () => {
    const name = unique("edit");
    await call("POST", "/dags", { token, body: { name, spec: SPEC } });
    const next = "description: v2\nsteps:\n  - name: only\n    command: echo v2\n";
    expect(await call("PUT", `/dags/${name}/spec`, { token, body: { spec: next } })).toMatchObject({
      status: 200,
      body: { errors: [] },
    });
    expect(await storedSpec(name)).toBe(next);
    expect((await call("GET", `/dags/${name}`, { token })).body.dag.description).toBe("v2");

    const bad = await call("PUT", `/dags/${name}/spec`, {
      token,
      body: { spec: "steps:\n  - name: a\n    command: x\n    timeoutSec: soon\n" },
    });
    expectEnvelope(bad, 400, "bad_request");
    expect(bad.body.details.errors).toEqual(["steps[0].timeoutSec: expected a number of seconds (line 4, col 17)"]);
    expect(await storedSpec(name)).toBe(next);

    const renamed = await call("PUT", `/dags/${name}/spec`, { token, body: { spec: `name: someone-else\n${next}` } });
    expectEnvelope(renamed, 400, "bad_request");
    expectEnvelope(await call("PUT", "/dags/no-such-dag/spec", { token, body: { spec: next } }), 404, "not_found");
    expectEnvelope(await call("PUT", "/dags/no-such-dag/spec", { token, body: { spec: "::" } }), 404, "not_found");
  });

  it("validate reports errors as strings and with positions, storing nothing", async () => {
    const result = await call("POST", "/dags/validate", {
      token,
      body: { spec: "steps:\n  - name: a\n    comand: x\n" },
    });
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({
      valid: false,
      errors: ["steps[0].comand: unknown field 'comand' (did you mean 'command'?) (line 3, col 5)"],
      specErrors: [{ field: "steps[0].comand", line: 3, column: 5 }],
    });
    const ok = await call("POST", "/dags/validate", { token, body: { spec: SPEC, name: "preview" } });
    expect(ok.body).toMatchObject({
      valid: true,
      errors: [],
      dag: { name: "preview", steps: [{ name: "build" }, { name: "test" }] },
    });
  });

  it("rename moves the DAG, rewrites its name field, and refuses taken or invalid names", async () => {
    const from = unique("old");
    const to = unique("new");
    await call("POST", "/dags", {
      token,
      body: { name: from, spec: `name: ${from}\n# keep\nsteps:\n  - name: a\n    command: x\n` },
    });
    expect((await call("POST", `/dags/${from}/rename`, { token, body: { newFileName: to } })).status).toBe(200);
    expectEnvelope(await call("GET", `/dags/${from}`, { token }), 404, "not_found");
    expect(await storedSpec(to)).toBe(`name: ${to}\n# keep\nsteps:\n  - name: a\n    command: x\n`);

    const other = unique("other");
    await call("POST", "/dags", { token, body: { name: other, spec: SPEC } });
    expectEnvelope(
      await call("POST", `/dags/${to}/rename`, { token, body: { newFileName: other } }),
      409,
      "already_exists",
    );
    expectEnvelope(
      await call("POST", `/dags/${to}/rename`, { token, body: { newFileName: "bad name!" } }),
      400,
      "bad_request",
    );
    expectEnvelope(
      await call("POST", "/dags/missing-dag/rename", { token, body: { newFileName: unique("x") } }),
      404,
      "not_found",
    );
  });

  it("delete removes the DAG; a second delete is 404", async () => {
    const name = unique("gone");
    await call("POST", "/dags", { token, body: { name, spec: SPEC } });
    expect((await call("DELETE", `/dags/${name}`, { token })).status).toBe(204);
    expect(await storedSpec(name)).toBeUndefined();
    expectEnvelope(await call("DELETE", `/dags/${name}`, { token }), 404, "not_found");
  });

  it("names follow Dagu's pattern: ^[a-zA-Z0-9_-]+$, at most 40 characters", async () => {
    for (const name of ["has space", "dots.not.allowed", "x".repeat(41), ""]) {
      expectEnvelope(await call("POST", "/dags", { token, body: { name, spec: SPEC } }), 400, "bad_request");
    }
    expect((await call("POST", "/dags", { token, body: { name: "x".repeat(40), spec: SPEC } })).status).toBe(201);
    expectEnvelope(await call("GET", "/dags/has%20space", { token }), 400, "bad_request");
  });
});

describe("GET /dags", () => {
  const prefix = unique("list");
  beforeAll(async () => {
    const specs: [string, string][] = [
      [`${prefix}-alpha`, "tags: [red]\nschedule: '0 23 * * *'\nsteps:\n  - name: a\n    command: x\n"],
      [`${prefix}-Bravo`, "tags: [blue, red]\nsteps:\n  - name: a\n    command: x\n"],
      [`${prefix}-charlie`, "tags: [blue]\nschedule: '*/5 * * * *'\nsteps:\n  - name: a\n    command: x\n"],
    ];
    for (const [name, spec] of specs) await call("POST", "/dags", { token, body: { name, spec } });
  });

  const names = (result: { body: { dags: { fileName: string }[] } }) => result.body.dags.map((dag) => dag.fileName);

  it("filters by name substring (case-insensitive) and by tag, sorted by name", async () => {
    const all = await call("GET", `/dags?name=${prefix.toUpperCase()}`, { token });
    expect(names(all)).toEqual([`${prefix}-alpha`, `${prefix}-Bravo`, `${prefix}-charlie`]);
    expect(all.body.errors).toEqual([]);
    expect(names(await call("GET", `/dags?name=${prefix}&tag=red`, { token }))).toEqual([
      `${prefix}-alpha`,
      `${prefix}-Bravo`,
    ]);
    expect(names(await call("GET", `/dags?name=${prefix}&order=desc`, { token }))).toEqual([
      `${prefix}-charlie`,
      `${prefix}-Bravo`,
      `${prefix}-alpha`,
    ]);
  });

  it("paginates", async () => {
    const page2 = await call("GET", `/dags?name=${prefix}&perPage=2&page=2`, { token });
    expect(names(page2)).toEqual([`${prefix}-charlie`]);
    expect(page2.body.pagination).toEqual({ totalRecords: 3, currentPage: 2, totalPages: 2, nextPage: 0, prevPage: 1 });
    const page1 = await call("GET", `/dags?name=${prefix}&perPage=2`, { token });
    expect(page1.body.pagination).toMatchObject({ currentPage: 1, nextPage: 2, prevPage: 0 });
  });

  it("sorts by next scheduled run, unscheduled last, and reports nextRun", async () => {
    const result = await call("GET", `/dags?name=${prefix}&sort=nextRun`, { token });
    expect(names(result)).toEqual([`${prefix}-charlie`, `${prefix}-alpha`, `${prefix}-Bravo`]);
    const [every5, nightly, none] = result.body.dags;
    expect(Date.parse(every5.nextRun) - Date.now()).toBeLessThanOrEqual(5 * 60_000);
    expect(new Date(nightly.nextRun).getUTCHours()).toBe(23);
    expect(none.nextRun).toBeNull();
  });

  it("rejects bad query values with 400", async () => {
    for (const query of ["page=0", "perPage=5000", "perPage=abc", "sort=size", "order=up"]) {
      expectEnvelope(await call("GET", `/dags?${query}`, { token }), 400, "bad_request");
    }
  });
});
