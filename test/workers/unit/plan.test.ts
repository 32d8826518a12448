import { describe, expect, it } from "vitest";
import { findCycle, resolveDependencies } from "../../../src/domain/plan.ts";
import { handlersFor } from "../../../src/domain/progress.ts";

describe("resolveDependencies", () => {
  const steps = [
    { name: "a", depends: undefined },
    { name: "b", depends: undefined },
    { name: "c", depends: [] },
    { name: "d", depends: ["a"] },
  ];

  it("links undeclared steps to the previous one in a chain", () => {
    expect(Object.fromEntries(resolveDependencies(steps, "chain"))).toEqual({ a: [], b: ["a"], c: [], d: ["a"] });
  });

  it("leaves undeclared steps independent in a graph", () => {
    expect(Object.fromEntries(resolveDependencies(steps, "graph"))).toEqual({ a: [], b: [], c: [], d: ["a"] });
  });
});

describe("findCycle", () => {
  it("returns null for a DAG", () => {
    expect(
      findCycle(
        new Map([
          ["a", []],
          ["b", ["a"]],
          ["c", ["a", "b"]],
        ]),
      ),
    ).toBeNull();
  });

  it("returns the closed path of a cycle", () => {
    expect(
      findCycle(
        new Map([
          ["a", ["c"]],
          ["b", ["a"]],
          ["c", ["b"]],
        ]),
      ),
    ).toEqual(["a", "c", "b", "a"]);
  });
});

describe("handlersFor", () => {
  const all = { success: {}, failure: {}, abort: {}, exit: {} };

  it("runs the outcome's handler, then exit; a partial success runs the success handler", () => {
    expect(handlersFor("succeeded", all)).toEqual(["success", "exit"]);
    expect(handlersFor("failed", all)).toEqual(["failure", "exit"]);
    expect(handlersFor("aborted", all)).toEqual(["abort", "exit"]);
    expect(handlersFor("partially_succeeded", all)).toEqual(["success", "exit"]);
  });

  it("runs only the handlers the DAG defines", () => {
    expect(handlersFor("failed", { exit: {} })).toEqual(["exit"]);
    expect(handlersFor("aborted", { success: {}, failure: {} })).toEqual([]);
    expect(handlersFor("succeeded", {})).toEqual([]);
  });
});
