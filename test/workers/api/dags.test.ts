import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { RUN_STATUS } from "../../../src/domain/status.ts";
import type { paths } from "../../../ui/src/api/schema";
import { type ApiClient, api, call, expectEnvelope, ok, unique, userWithRole } from "../helpers.ts";

let token: string;
let manager: ApiClient;
beforeAll(async () => {
  token = (await userWithRole("manager")).token;
  manager = api(token);
});

const dagPath = (fileName: string) => ({ params: { path: { fileName } } });

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
    expect(await ok(manager.POST("/dags", { body: { name, spec: SPEC } }), 201)).toMatchObject({ name });

    const details = await ok(manager.GET("/dags/{fileName}", dagPath(name)));
    expect(details.dag).toMatchObject({
      name,
      description: "Build on every push",
      tags: ["ci", "build"],
      schedule: [{ expression: "0 3 * * *" }],
      params: ["BRANCH=main"],
      steps: [{ name: "build", depends: [] }, { name: "test" }],
    });
    expect(details).toMatchObject({
      suspended: false,
      errors: [],
      localDags: [],
      latestDAGRun: { status: RUN_STATUS.not_started, statusLabel: "not_started" },
    });

    expect(await ok(manager.GET("/dags/{fileName}/spec", dagPath(name)))).toMatchObject({ spec: SPEC, errors: [] });
  });

  it("a multi-document file: the details list its sub-DAGs (Dagu's localDags); the spec reads back as written", async () => {
    const name = unique("multi");
    const spec = `steps:\n  - echo parent\n---\nname: child-a\nsteps:\n  - name: work\n    command: echo a\n---\nname: child-b\nsteps:\n  - run: echo b\n`;
    await ok(manager.POST("/dags", { body: { name, spec } }), 201);
    const details = await ok(manager.GET("/dags/{fileName}", dagPath(name)));
    expect(details.localDags).toEqual([
      {
        name: "child-a",
        dag: expect.objectContaining({ name: "child-a", steps: [expect.objectContaining({ name: "work" })] }),
        errors: [],
      },
      {
        name: "child-b",
        dag: expect.objectContaining({ name: "child-b", steps: [expect.objectContaining({ command: "echo b" })] }),
        errors: [],
      },
    ]);
    expect(details.dag!.steps).toHaveLength(1);
    expect(await ok(manager.GET("/dags/{fileName}/spec", dagPath(name)))).toMatchObject({ spec });
  });

  it("create without a spec stores a valid starter spec", async () => {
    const name = unique("empty");
    await ok(manager.POST("/dags", { body: { name } }), 201);
    const validated = await ok(manager.POST("/dags/validate", { body: { spec: (await storedSpec(name))! } }));
    expect(validated).toMatchObject({ valid: true, errors: [] });
  });

  it("409 already_exists for a taken name", async () => {
    const name = unique("dup");
    await ok(manager.POST("/dags", { body: { name, spec: SPEC } }), 201);
    const again = await manager.POST("/dags", { body: { name, spec: "steps:\n  - name: other\n    command: x\n" } });
    expectEnvelope(again, 409, "already_exists");
    expect(await storedSpec(name)).toBe(SPEC);
  });

  it("an invalid spec on create is rejected with every error and its line; nothing is stored", async () => {
    const name = unique("broken");
    const result = await manager.POST("/dags", {
      body: { name, spec: "steps:\n  - name: a\n    command: x\n  - name: b\n    command: y\n    depends: [buidl]\n" },
    });
    const envelope = expectEnvelope(result, 400, "bad_request");
    expect(envelope.message).toBe("invalid DAG spec: steps[1].depends: unknown step 'buidl' (line 6, col 15)");
    expect(envelope.details?.specErrors).toEqual([
      { field: "steps[1].depends", message: "unknown step 'buidl'", line: 6, column: 15 },
    ]);
    expect(await storedSpec(name)).toBeUndefined();
  });

  it("PUT spec replaces a valid spec; an invalid one is rejected and the old spec stays", async () => {
    const name = unique("edit");
    await ok(manager.POST("/dags", { body: { name, spec: SPEC } }), 201);
    const next = "description: v2\nsteps:\n  - name: only\n    command: echo v2\n";
    const putSpec = (fileName: string, spec: string) =>
      manager.PUT("/dags/{fileName}/spec", { ...dagPath(fileName), body: { spec } });
    expect(await ok(putSpec(name, next))).toMatchObject({ errors: [] });
    expect(await storedSpec(name)).toBe(next);
    expect((await ok(manager.GET("/dags/{fileName}", dagPath(name)))).dag?.description).toBe("v2");

    const bad = await putSpec(name, "steps:\n  - name: a\n    command: x\n    timeoutSec: soon\n");
    expect(expectEnvelope(bad, 400, "bad_request").details?.errors).toEqual([
      "steps[0].timeoutSec: expected a number of seconds (line 4, col 17)",
    ]);
    expect(await storedSpec(name)).toBe(next);

    expectEnvelope(await putSpec(name, `name: someone-else\n${next}`), 400, "bad_request");
    expectEnvelope(await putSpec("no-such-dag", next), 404, "not_found");
    expectEnvelope(await putSpec("no-such-dag", "::"), 404, "not_found");
  });

  it("validate reports errors as strings and with positions, storing nothing", async () => {
    const result = await ok(manager.POST("/dags/validate", { body: { spec: "steps:\n  - name: a\n    comand: x\n" } }));
    expect(result).toMatchObject({
      valid: false,
      errors: ["steps[0].comand: unknown field 'comand' (did you mean 'command'?) (line 3, col 5)"],
      specErrors: [{ field: "steps[0].comand", line: 3, column: 5 }],
    });
    const valid = await ok(manager.POST("/dags/validate", { body: { spec: SPEC, name: "preview" } }));
    expect(valid).toMatchObject({
      valid: true,
      errors: [],
      dag: { name: "preview", steps: [{ name: "build" }, { name: "test" }] },
    });
  });

  it("rename moves the DAG, rewrites its name field, and refuses taken or invalid names", async () => {
    const from = unique("old");
    const to = unique("new");
    await ok(
      manager.POST("/dags", {
        body: { name: from, spec: `name: ${from}\n# keep\nsteps:\n  - name: a\n    command: x\n` },
      }),
      201,
    );
    const rename = (fileName: string, newFileName: string) =>
      manager.POST("/dags/{fileName}/rename", { ...dagPath(fileName), body: { newFileName } });
    await ok(rename(from, to));
    expectEnvelope(await manager.GET("/dags/{fileName}", dagPath(from)), 404, "not_found");
    expect(await storedSpec(to)).toBe(`name: ${to}\n# keep\nsteps:\n  - name: a\n    command: x\n`);

    const other = unique("other");
    await ok(manager.POST("/dags", { body: { name: other, spec: SPEC } }), 201);
    expectEnvelope(await rename(to, other), 409, "already_exists");
    expectEnvelope(await rename(to, "bad name!"), 400, "bad_request");
    expectEnvelope(await rename("missing-dag", unique("x")), 404, "not_found");
  });

  it("delete removes the DAG; a second delete is 404", async () => {
    const name = unique("gone");
    await ok(manager.POST("/dags", { body: { name, spec: SPEC } }), 201);
    await ok(manager.DELETE("/dags/{fileName}", dagPath(name)), 204);
    expect(await storedSpec(name)).toBeUndefined();
    expectEnvelope(await manager.DELETE("/dags/{fileName}", dagPath(name)), 404, "not_found");
  });

  it("names follow Dagu's pattern: ^[a-zA-Z0-9_-]+$, at most 40 characters", async () => {
    for (const name of ["has space", "dots.not.allowed", "x".repeat(41), ""]) {
      expectEnvelope(await manager.POST("/dags", { body: { name, spec: SPEC } }), 400, "bad_request");
    }
    await ok(manager.POST("/dags", { body: { name: "x".repeat(40), spec: SPEC } }), 201);
    expectEnvelope(await manager.GET("/dags/{fileName}", dagPath("has space")), 400, "bad_request");
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
    for (const [name, spec] of specs) await ok(manager.POST("/dags", { body: { name, spec } }), 201);
  });

  type Query = NonNullable<paths["/dags"]["get"]["parameters"]["query"]>;
  const list = (query: Query) => ok(manager.GET("/dags", { params: { query } }));
  const names = (result: { dags: { fileName: string }[] }) => result.dags.map((dag) => dag.fileName);

  it("filters by name substring (case-insensitive) and by tag, sorted by name", async () => {
    const all = await list({ name: prefix.toUpperCase() });
    expect(names(all)).toEqual([`${prefix}-alpha`, `${prefix}-Bravo`, `${prefix}-charlie`]);
    expect(all.errors).toEqual([]);
    expect(names(await list({ name: prefix, tag: "red" }))).toEqual([`${prefix}-alpha`, `${prefix}-Bravo`]);
    expect(names(await list({ name: prefix, order: "desc" }))).toEqual([
      `${prefix}-charlie`,
      `${prefix}-Bravo`,
      `${prefix}-alpha`,
    ]);
  });

  it("paginates", async () => {
    const page2 = await list({ name: prefix, perPage: 2, page: 2 });
    expect(names(page2)).toEqual([`${prefix}-charlie`]);
    expect(page2.pagination).toEqual({ totalRecords: 3, currentPage: 2, totalPages: 2, nextPage: 0, prevPage: 1 });
    const page1 = await list({ name: prefix, perPage: 2 });
    expect(page1.pagination).toMatchObject({ currentPage: 1, nextPage: 2, prevPage: 0 });
  });

  it("sorts by next scheduled run, unscheduled last, and reports nextRun", async () => {
    const result = await list({ name: prefix, sort: "nextRun" });
    expect(names(result)).toEqual([`${prefix}-charlie`, `${prefix}-alpha`, `${prefix}-Bravo`]);
    const [every5, nightly, none] = result.dags;
    expect(Date.parse(every5!.nextRun!) - Date.now()).toBeLessThanOrEqual(5 * 60_000);
    expect(new Date(nightly!.nextRun!).getUTCHours()).toBe(23);
    expect(none).not.toHaveProperty("nextRun");
  });

  // Values the typed client would refuse to send.
  it("rejects bad query values with 400", async () => {
    for (const query of ["page=0", "perPage=5000", "perPage=abc", "sort=size", "order=up"]) {
      expectEnvelope(await call("GET", `/dags?${query}`, { token }), 400, "bad_request");
    }
  });
});
