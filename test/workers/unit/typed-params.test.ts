/** Dagu 2.x typed params: checked when the DAG is saved (defaults) and when a run starts (values). */
import { describe, expect, it } from "vitest";
import { parseDagSpec } from "../../../src/domain/dag-spec.ts";
import { paramProblem } from "../../../src/domain/param-rules.ts";
import { api, expectEnvelope, nodeOf, ok, unique, userWithRole, waitForRun } from "../helpers.ts";
import { errorsOf } from "./spec-helpers.ts";

const SPEC = `params:
  - name: COUNT
    type: integer
    default: 3
    minimum: 1
    maximum: 10
  - name: STAGE
    enum: [dev, prod]
    required: true
  - LEGACY=x
  - {PLAIN: 1}
steps:
  - name: show
    command: echo "\${COUNT} \${STAGE} \${LEGACY} \${PLAIN}"
    output: SHOWN
`;

describe("typed params", () => {
  it("mix with Dagu's other forms: defaults in order, rules for the typed ones", () => {
    const result = parseDagSpec(SPEC);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.spec.params).toEqual([
      { key: "COUNT", value: "3" },
      { key: "LEGACY", value: "x" },
      { key: "PLAIN", value: "1" },
    ]);
    expect(result.spec.paramRules.map((rule) => [rule.name, rule.type, rule.required])).toEqual([
      ["COUNT", "integer", false],
      ["STAGE", undefined, true],
    ]);
  });

  it("each rule, on a value", () => {
    const rule = (fields: Partial<Parameters<typeof paramProblem>[0]>) => ({
      name: "P",
      type: undefined,
      required: false,
      enum: undefined,
      minimum: undefined,
      maximum: undefined,
      minLength: undefined,
      maxLength: undefined,
      pattern: undefined,
      ...fields,
    });
    expect(paramProblem(rule({ type: "integer" }), "1.5")).toBe("P must be an integer, not '1.5'");
    expect(paramProblem(rule({ type: "number" }), "-2.5e3")).toBeUndefined();
    expect(paramProblem(rule({ type: "boolean" }), "yes")).toBe("P must be true or false, not 'yes'");
    expect(paramProblem(rule({ type: "integer", maximum: 5 }), "6")).toBe("P must be at most 5");
    expect(paramProblem(rule({ maxLength: 2 }), "abc")).toBe("P must be at most 2 characters");
    expect(paramProblem(rule({ pattern: "^v\\d+$" }), "x1")).toBe("P must match ^v\\d+$, not 'x1'");
    expect(paramProblem(rule({ required: true }), "")).toBe("P is required");
    expect(paramProblem(rule({ type: "integer" }), undefined)).toBeUndefined();
  });

  it("a default must keep its own rule; eval and unknown fields are refused by name", () => {
    expect(errorsOf("params:\n  - name: N\n    type: integer\n    default: many\nsteps:\n  - echo\n")).toEqual([
      "params[0].default: the default breaks its own rule: N must be an integer, not 'many' (line 4, col 14)",
    ]);
    expect(errorsOf("params:\n  - name: N\n    eval: date\nsteps:\n  - echo\n")[0]).toMatch(
      /^params\[0\]\.eval: 'eval' runs a command/,
    );
    expect(errorsOf("params:\n  - name: N\n    type: integer\n    color: red\nsteps:\n  - echo\n")[0]).toMatch(
      /^params\[0\]\.color: unknown field 'color'/,
    );
  });

  it("a run whose values break the rules is a 400 that starts nothing; good values reach the steps", async () => {
    const client = api((await userWithRole("operator")).token);
    const manager = api((await userWithRole("manager")).token);
    const name = unique("typed-params");
    await ok(manager.POST("/dags", { body: { name, spec: SPEC } }), 201);
    const path = { params: { path: { fileName: name } } };
    expect(
      expectEnvelope(await client.POST("/dags/{fileName}/start", { ...path, body: {} }), 400, "bad_request").message,
    ).toBe("params: STAGE is required");
    expect(
      expectEnvelope(
        await client.POST("/dags/{fileName}/start", { ...path, body: { params: "COUNT=11 STAGE=dev" } }),
        400,
        "bad_request",
      ).message,
    ).toBe("params: COUNT must be at most 10");
    expect(
      expectEnvelope(
        await client.POST("/dags/{fileName}/start", { ...path, body: { params: { STAGE: "staging" } } }),
        400,
        "bad_request",
      ).message,
    ).toBe("params: STAGE must be one of dev, prod, not 'staging'");
    const runs = await ok(client.GET("/dag-runs/{name}", { params: { path: { name } } }));
    expect(runs.dagRuns).toEqual([]);
    const { dagRunId } = await ok(
      client.POST("/dags/{fileName}/start", { ...path, body: { params: { STAGE: "prod" } } }),
    );
    const run = await waitForRun((await userWithRole("viewer")).token, name, dagRunId);
    expect(nodeOf(run, "show").output).toBe("3 prod x 1");
  });
});
