/**
 * A template.render step end to end: started through the API, planned by the coordinator,
 * rendered by the queue consumer in the Worker, its output passed to a command step that runs on
 * the step runner (a local process, test/workers/global-setup.ts).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type ApiClient, api, createAndStart, nodeOf, ok, unique, userWithRole, waitForRun } from "../helpers.ts";

let token: string;
let client: ApiClient;
beforeAll(async () => {
  token = (await userWithRole("manager")).token;
  client = api(token);
});

const stdoutOf = async (name: string, dagRunId: string, stepName: string) =>
  (
    await ok(
      client.GET("/dag-runs/{name}/{dagRunId}/steps/{stepName}/log", {
        params: { path: { name, dagRunId, stepName }, query: { stream: "stdout" } },
      }),
    )
  ).content;

describe("a template.render step in a run", () => {
  it("renders a previous step's output into text that its output passes to the next step", async () => {
    const dag = unique("template");
    const spec = `type: graph
params: TEAM=platform
steps:
  - name: produce
    run: printf 'Alice'
    output: PERSON
  - name: render
    depends: [produce]
    action: template.render
    with:
      template: |
        Hello, {{ .name }} of {{ .team | upper }}!
        {{- range $i, $d := .domains }}
        {{ add $i 1 }}. {{ $d }}
        {{- end }}
        Left as written: \${TEAM} {{ "{{" }}
      data:
        name: \${PERSON}
        team: \${TEAM}
        domains: [api.example, app.example]
    output: GREETING
  - name: use
    depends: [render]
    run: printf '%s\\n' "$GREETING" | tail -n 1
    output: LAST_LINE
`;
    const dagRunId = await createAndStart(token, dag, spec);
    const run = await waitForRun(token, dag, dagRunId, 20_000);
    expect(run.nodes.map((node) => [node.step.name, node.statusLabel])).toEqual([
      ["produce", "succeeded"],
      ["render", "succeeded"],
      ["use", "succeeded"],
    ]);
    const rendered = "Hello, Alice of PLATFORM!\n1. api.example\n2. app.example\nLeft as written: ${TEAM} {{";
    // Exactly what the template rendered: no final newline (Dagu trims the template and adds none).
    expect(await stdoutOf(dag, dagRunId, "render")).toBe(rendered);
    expect(nodeOf(run, "render").output).toBe(rendered);
    expect(nodeOf(run, "use").output).toBe("Left as written: ${TEAM} {{");
  });

  it("fails with Go's message when the template does (a missing key, as Dagu's missingkey=error)", async () => {
    const dag = unique("template-missing");
    const spec = `steps:
  - name: render
    action: template.render
    with:
      template: "Hello, {{ .nme }}!"
      data:
        name: Alice
`;
    const dagRunId = await createAndStart(token, dag, spec);
    const run = await waitForRun(token, dag, dagRunId, 20_000);
    expect(run.statusLabel).toBe("failed");
    expect(nodeOf(run, "render")).toMatchObject({
      statusLabel: "failed",
      error:
        'template: execution error: template: template:1:10: executing "template" at <.nme>: map has no entry for key "nme"',
    });
  });
});
