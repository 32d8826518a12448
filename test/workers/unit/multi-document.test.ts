/** A file of several YAML documents: the first is the DAG, the ones after `---` its sub-DAGs (Dagu). */
import { describe, expect, it } from "vitest";
import { parseDagSpec, renameInSpec } from "../../../src/domain/dag-spec.ts";
import { api, ok, unique, userWithRole, waitForRun } from "../helpers.ts";
import { errorsOf } from "./spec-helpers.ts";

const FILE =
  "steps:\n  - echo main\n---\nname: child\nsteps:\n  - echo child\n---\nname: other\nsteps:\n  - echo other\n";

describe("multi-document files", () => {
  it("read the first document as the DAG and the others as its named sub-DAGs", () => {
    const result = parseDagSpec(FILE);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.spec.steps.map((step) => step.command)).toEqual(["echo main"]);
    expect(result.spec.localDags.map((dag) => [dag.name, dag.steps[0]!.command])).toEqual([
      ["child", "echo child"],
      ["other", "echo other"],
    ]);
  });

  it("check every sub-DAG, naming its document and line; a sub-DAG needs a unique name", () => {
    expect(
      errorsOf("steps:\n  - echo main\n---\nname: child\nsteps:\n  - name: a\n    timeout_sec: -1\n    command: x\n"),
    ).toEqual(["documents[1].steps[0].timeout_sec: must not be negative (line 7, col 18)"]);
    expect(errorsOf("steps:\n  - echo main\n---\nsteps:\n  - echo child\n")).toEqual([
      "documents[1].name: a sub-DAG after '---' needs a name (line 4, col 1)",
    ]);
    expect(
      errorsOf("steps:\n  - echo a\n---\nname: c\nsteps:\n  - echo b\n---\nname: c\nsteps:\n  - echo c\n"),
    ).toEqual(["documents[2].name: duplicate sub-DAG name 'c' (line 8, col 1)"]);
  });

  it("a rename changes the DAG's name only", () => {
    expect(renameInSpec(`name: old\n${FILE}`, "new")).toBe(`name: new\n${FILE}`);
  });

  it("a run runs the first document's steps", async () => {
    const client = api((await userWithRole("manager")).token);
    const name = unique("multi-doc");
    await ok(client.POST("/dags", { body: { name, spec: FILE } }), 201);
    const { dagRunId } = await ok(
      client.POST("/dags/{fileName}/start", { params: { path: { fileName: name } }, body: {} }),
    );
    const run = await waitForRun((await userWithRole("viewer")).token, name, dagRunId);
    expect(run.nodes.map((node) => [node.step.name, node.statusLabel])).toEqual([["cmd_1", "succeeded"]]);
  });
});
