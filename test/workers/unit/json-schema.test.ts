import { describe, expect, it } from "vitest";
import { schemaProblems, validatePayload } from "../../../src/domain/json-schema.ts";

const paths = (schema: unknown, payload: unknown) => validatePayload(schema, payload).map((failure) => failure.path);

describe("payload schemas: the subset dagflare validates without generating code", () => {
  const push = {
    type: "object",
    required: ["ref", "repository"],
    properties: {
      ref: { type: "string", pattern: "^refs/heads/" },
      repository: {
        type: "object",
        required: ["name"],
        properties: { name: { type: "string", minLength: 1, maxLength: 5 } },
      },
      commits: { type: "array", items: { type: "object", required: ["id"] }, maxItems: 2 },
      forced: { type: "boolean" },
    },
  };

  it("a payload that validates has no failures", () => {
    expect(
      validatePayload(push, { ref: "refs/heads/main", repository: { name: "app" }, commits: [{ id: "a" }] }),
    ).toEqual([]);
  });

  it("each failure names its JSON Pointer path", () => {
    expect(
      validatePayload(push, {
        ref: "v1",
        repository: { name: "" },
        commits: [{ id: "a" }, {}, { id: "c" }],
        forced: "yes",
      }),
    ).toEqual([
      { path: "/ref", message: "must match the pattern ^refs/heads/" },
      { path: "/repository/name", message: "must be at least 1 characters long" },
      { path: "/commits", message: "must have at most 2 items" },
      { path: "/commits/1/id", message: "is required" },
      { path: "/forced", message: "must be boolean, not string" },
    ]);
    expect(paths(push, {})).toEqual(["/ref", "/repository"]);
    expect(paths(push, [])).toEqual([""]);
  });

  it("type (and integer), enum, const, numbers' bounds, lengths in code points", () => {
    expect(paths({ type: "integer" }, 1.5)).toEqual([""]);
    expect(paths({ type: "integer" }, 2)).toEqual([]);
    expect(paths({ type: ["string", "null"] }, null)).toEqual([]);
    expect(paths({ enum: ["a", { b: [1] }] }, { b: [1] })).toEqual([]);
    expect(paths({ enum: ["a", { b: [1] }] }, { b: [2] })).toEqual([""]);
    expect(paths({ const: "x" }, "y")).toEqual([""]);
    expect(paths({ minimum: 1, maximum: 3 }, 0)).toEqual([""]);
    expect(paths({ exclusiveMaximum: 3 }, 3)).toEqual([""]);
    expect(paths({ exclusiveMinimum: 3 }, 3.1)).toEqual([]);
    expect(paths({ maxLength: 2 }, "🙂🙂")).toEqual([]);
    expect(paths({ maxLength: 1 }, "🙂🙂")).toEqual([""]);
    expect(paths({ uniqueItems: true }, [1, { a: 1 }, { a: 1 }])).toEqual([""]);
  });

  it("additionalProperties, anyOf, oneOf, allOf, not; a key with / in the path is escaped", () => {
    expect(paths({ properties: { a: {} }, additionalProperties: false }, { a: 1, "b/c": 2, "d~": 3 })).toEqual([
      "/b~1c",
      "/d~0",
    ]);
    expect(paths({ additionalProperties: { type: "number" } }, { a: 1, b: "x" })).toEqual(["/b"]);
    expect(paths({ anyOf: [{ type: "string" }, { type: "number" }] }, true)).toEqual([""]);
    expect(paths({ oneOf: [{ type: "number" }, { type: "integer" }] }, 1)).toEqual([""]);
    expect(paths({ oneOf: [{ type: "number" }, { type: "integer" }] }, 1.5)).toEqual([]);
    expect(paths({ allOf: [{ required: ["a"] }, { required: ["b"] }] }, {})).toEqual(["/a", "/b"]);
    expect(paths({ not: { type: "null" } }, null)).toEqual([""]);
    expect(paths(false, 1)).toEqual([""]);
    expect(paths(true, 1)).toEqual([]);
  });

  it("a hostile payload gets at most 20 failures", () => {
    const payload = Object.fromEntries(Array.from({ length: 1000 }, (_, index) => [`k${index}`, index]));
    expect(validatePayload({ additionalProperties: { type: "string" } }, payload)).toHaveLength(20);
  });

  it("a schema outside the subset is refused with its path and the supported list", () => {
    expect(schemaProblems(push)).toEqual([]);
    expect(schemaProblems({ title: "t", description: "d", $schema: "x", format: "uri", examples: [] })).toEqual([]);
    const problems = schemaProblems({
      type: "object",
      properties: { a: { $ref: "#/x" }, b: { type: "date" } },
      patternProperties: {},
      items: [{}],
      pattern: "(",
      minLength: -1,
      anyOf: [],
    });
    expect(problems.map((problem) => problem.path.join("."))).toEqual([
      "properties.a.$ref",
      "properties.b.type",
      "patternProperties",
      "items",
      "pattern",
      "minLength",
      "anyOf",
    ]);
    expect(problems[0]!.message).toMatch(/keyword '\$ref' is not supported .*supported: type, enum/);
    expect(schemaProblems("string")).toEqual([{ path: [], message: "a schema is an object (or true / false)" }]);
  });
});
