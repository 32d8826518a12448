/** The contract check's validator (scripts/lib/openapi-contract.ts) on a tiny inline OpenAPI 3.0 document. */
import { describe, expect, it } from "vitest";
import { Contract } from "../../scripts/lib/openapi-contract.ts";

const contract = new Contract({
  openapi: "3.0.0",
  paths: {
    "/items/{id}": {
      get: {
        operationId: "getItem",
        responses: {
          200: {
            description: "ok",
            content: { "application/json": { schema: { $ref: "#/components/schemas/Item" } } },
          },
          default: {
            description: "error",
            content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
          },
        },
      },
    },
    "/items/search": { get: { operationId: "searchItems", responses: { 200: { description: "ok" } } } },
    "/metrics": {
      get: {
        operationId: "metrics",
        responses: { 200: { description: "ok", content: { "text/plain": { schema: { type: "string" } } } } },
      },
    },
  },
  components: {
    schemas: {
      Id: { type: "string", pattern: "^[a-z]+$", example: "abc" },
      Item: {
        type: "object",
        required: ["id", "note"],
        properties: {
          id: { $ref: "#/components/schemas/Id" },
          note: { type: "string", nullable: true },
          count: { type: "integer", format: "int32" },
        },
      },
      Error: { type: "object", required: ["code"], properties: { code: { type: "string", enum: ["not_found"] } } },
    },
  },
});

const json = "application/json; charset=utf-8";
const getItem = contract.match("GET", "/items/abc")!;

describe("the contract check's validator", () => {
  it("matches a request to its operation, the most literal template first", () => {
    expect(getItem.id).toBe("getItem");
    expect(contract.match("GET", "/items/search")?.id).toBe("searchItems");
    expect(contract.match("POST", "/items/abc")).toBeUndefined();
    expect(contract.match("GET", "/items/abc/more")).toBeUndefined();
  });

  it("accepts a body that keeps the schema, OpenAPI's nullable included", () => {
    expect(contract.check(getItem, 200, json, JSON.stringify({ id: "abc", note: null, count: 3 }))).toEqual([]);
    expect(contract.check(getItem, 404, json, JSON.stringify({ code: "not_found", requestId: "r" }))).toEqual([]);
    expect(contract.check(contract.match("GET", "/metrics")!, 200, "text/plain; version=0.0.4", "up 1")).toEqual([]);
  });

  it("names each violation: missing fields, patterns, types, enums, undeclared content types", () => {
    expect(contract.check(getItem, 200, json, JSON.stringify({ id: "", count: 1.5 }))).toEqual([
      "(body): must have required property 'note'",
      '/id: must match pattern "^[a-z]+$"',
      "/count: must be integer",
    ]);
    expect(contract.check(getItem, 501, json, JSON.stringify({ code: "not_implemented" }))).toEqual([
      '/code: must be equal to one of the allowed values (["not_found"])',
    ]);
    expect(contract.check(getItem, 200, "text/html", "<p>")).toEqual([
      "content type 'text/html' is not declared (declared: application/json)",
    ]);
    expect(contract.check(getItem, 200, json, "{")).toEqual(["the body is not JSON"]);
  });

  it("refuses a status the operation doesn't declare when it has no default", () => {
    const search = contract.match("GET", "/items/search")!;
    expect(contract.check(search, 200, "", "")).toEqual([]);
    expect(contract.check(search, 500, json, "{}")).toEqual(["status 500 is not declared (declared: 200)"]);
  });
});
