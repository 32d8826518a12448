/**
 * Alert policies end to end: the API, templates rendered with hostile values, the seed's
 * payloads, delivery through the ALERTS queue to a real receiver on 127.0.0.1 with the full retry
 * matrix, Standard Webhooks signatures, and secrets that never show.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { beforeAll, describe, expect, inject, it } from "vitest";
import worker from "../../../src/index.ts";
import {
  call,
  createAndStart,
  expectEnvelope,
  runCommandWithoutRunner,
  unique,
  until,
  userWithRole,
  waitForRun,
} from "../helpers.ts";

const echo = inject("echoUrl");
let token: string;
let viewer: string;
beforeAll(async () => {
  token = (await userWithRole("manager")).token;
  viewer = (await userWithRole("viewer")).token;
});

type Received = { headers: Record<string, string>; body: string };
const received = async (id: string): Promise<Received[]> =>
  (await (await fetch(`${echo}/received/${id}`)).json()) as Received[];

const policyBody = (overrides: Record<string, unknown> = {}, webhook: Record<string, unknown> = {}) => ({
  name: unique("policy"),
  eventTypes: ["JOB_FAILURE"],
  webhook: {
    url: `${echo}/receiver/${unique("r")}/200`,
    body: '{"text": "{{alert_summary}}", "details": "{{alert_content}}"}',
    ...webhook,
  },
  ...overrides,
});

async function createPolicy(overrides: Record<string, unknown> = {}, webhook: Record<string, unknown> = {}) {
  const created = await call("POST", "/alert-policies", { token, body: policyBody(overrides, webhook) });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.alertPolicy;
}

/** A DAG whose run fails with the given error text (the echo server answers it as a 500 body). */
async function failingRun(dag: string) {
  const runId = await createAndStart(
    token,
    dag,
    `steps:\n  - name: boom\n    executor: http\n    command: GET ${echo}/status/500\n`,
  );
  return waitForRun(token, dag, runId);
}

describe("alert policies API", () => {
  it("creates, reads, replaces and deletes; header values and the signing secret are never shown or stored in plain text", async () => {
    const policy = await createPolicy(
      {
        description: "pages on-call",
        dagNames: ["not-created-yet"],
        tags: ["prod"],
        options: { consecutiveFailureThreshold: 2 },
      },
      {
        headers: { Authorization: "Bearer very-secret-header", "X-Static": "{{env.ALERT_SECRET_TEST_TOKEN}}" },
        signingSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      },
    );
    expect(policy).toMatchObject({
      enabled: true,
      eventTypes: ["JOB_FAILURE"],
      dagNames: ["not-created-yet"],
      webhook: { headers: { Authorization: "••••••••", "X-Static": "••••••••" }, signingSecret: "••••••••" },
    });
    const stored = await env.DB.prepare("SELECT * FROM alert_policies WHERE id = ?1").bind(policy.id).first();
    expect(JSON.stringify(stored)).not.toContain("very-secret-header");
    expect(JSON.stringify(stored)).not.toContain("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    expect((await call("GET", "/alert-policies", { token: viewer })).body.alertPolicies).toContainEqual(policy);

    // A PUT that sends the redacted values back keeps them; the test send proves it.
    const receiver = unique("put");
    const replaced = await call("PUT", `/alert-policies/${policy.id}`, {
      token,
      body: {
        ...policyBody({ name: policy.name }),
        webhook: { ...policy.webhook, url: `${echo}/receiver/${receiver}/200` },
      },
    });
    expect(replaced.status, JSON.stringify(replaced.body)).toBe(200);
    // Sending them back with a URL on another host would hand the stored secrets to that host: refused.
    const elsewhere = await call("PUT", `/alert-policies/${policy.id}`, {
      token,
      body: {
        ...policyBody({ name: policy.name }),
        webhook: { ...policy.webhook, url: "https://elsewhere.example.com/hook" },
      },
    });
    expectEnvelope(elsewhere, 400, "bad_request");
    const tested = await call("POST", `/alert-policies/${policy.id}/test`, { token, body: {} });
    expect(tested.body).toMatchObject({ statusCode: 200, body: "answer 1" });
    const [request] = await received(receiver);
    expect(request!.headers).toMatchObject({
      authorization: "Bearer very-secret-header",
      "x-static": "alert-secret-value",
    });
    expect(new Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").verify(request!.body, request!.headers)).toMatchObject(
      { text: "Job example-deploy failed" },
    );

    // Unsaved edits of the saved policy (the editor's Send test): its stored secrets fill the
    // redacted values, on the same host only; without policyId they are just missing.
    const draftReceiver = unique("draft");
    const draft = {
      ...policyBody({ name: policy.name }, { body: '{"edited": "{{alert_summary}}"}' }),
      webhook: {
        ...policy.webhook,
        url: `${echo}/receiver/${draftReceiver}/200`,
        body: '{"edited": "{{alert_summary}}"}',
      },
    };
    const draftTested = await call("POST", "/alert-policies/test", { token, body: { ...draft, policyId: policy.id } });
    expect(draftTested.body, JSON.stringify(draftTested.body)).toMatchObject({ statusCode: 200 });
    const [draftRequest] = await received(draftReceiver);
    expect(draftRequest!.headers).toMatchObject({ authorization: "Bearer very-secret-header" });
    expect(
      new Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").verify(draftRequest!.body, draftRequest!.headers),
    ).toEqual({ edited: "Job example-deploy failed" });
    const draftElsewhere = { ...draft, webhook: { ...draft.webhook, url: "https://elsewhere.example.com/hook" } };
    expectEnvelope(
      await call("POST", "/alert-policies/test", { token, body: { ...draftElsewhere, policyId: policy.id } }),
      400,
      "bad_request",
    );
    expectEnvelope(
      await call("POST", "/alert-policies/test", { token, body: { ...draft, policyId: "no-such-policy" } }),
      404,
      "not_found",
    );

    expect((await call("DELETE", `/alert-policies/${policy.id}`, { token })).status).toBe(204);
    expectEnvelope(await call("GET", `/alert-policies/${policy.id}`, { token }), 404, "not_found");
  });

  it("refuses bad templates with the position, unknown tokens, http destinations in production and missing options", async () => {
    const notJson = await call("POST", "/alert-policies", {
      token,
      body: policyBody({}, { body: '{\n  "text": "{{alert_summary}}",\n  oops\n}' }),
    });
    expectEnvelope(notJson, 400, "bad_request");
    expect(notJson.body.message).toContain("(line 3, col 3)");
    const unknown = await call("POST", "/alert-policies", {
      token,
      body: policyBody({}, { body: '{"a": "x",\n "b": "{{job_nmae}}"}' }),
    });
    expectEnvelope(unknown, 400, "bad_request");
    expect(unknown.body.details.templateErrors).toEqual([
      { message: "unknown token {{job_nmae}}", line: 2, column: 8 },
    ]);
    const secretInBody = await call("POST", "/alert-policies", {
      token,
      body: policyBody({}, { body: '{"a": "{{env.ALERT_SECRET_TEST_TOKEN}}"}' }),
    });
    expectEnvelope(secretInBody, 400, "bad_request");
    const jwtInHeader = await call("POST", "/alert-policies", {
      token,
      body: policyBody({}, { headers: { X: "{{env.JWT_SECRET}}" } }),
    });
    expectEnvelope(jwtInHeader, 400, "bad_request");
    const production = {
      ENVIRONMENT: "production",
      ALERTS_ALLOW_LOCAL_HTTP: "false",
      ENCRYPTION_KEY: "a-production-encryption-key-0123456789",
    };
    expectEnvelope(
      await call("POST", "/alert-policies", { token, body: policyBody(), env: production }),
      400,
      "bad_request",
    );
    expectEnvelope(
      await call("POST", "/alert-policies", { token, body: policyBody({ eventTypes: ["JOB_LONG_RUNNING"] }) }),
      400,
      "bad_request",
    );
    expectEnvelope(
      await call("POST", "/alert-policies", { token, body: policyBody({ eventTypes: ["NOPE"] }) }),
      400,
      "bad_request",
    );
    const asset = await call("POST", "/alert-policies", {
      token,
      body: policyBody({}, { body: '{"a": "{{asset_key}} {{job_name}}"}' }),
    });
    expect(asset.status).toBe(201);
    expect(asset.body.warnings).toEqual([expect.stringContaining("{{asset_key}}")]);
  });

  it("tokens and presets: every preset is a valid template", async () => {
    const tokens = (await call("GET", "/alert-tokens", { token: viewer })).body;
    expect(tokens.eventTypes.find((entry: any) => entry.eventType === "TICK_FAILURE").tokens).toEqual(
      expect.arrayContaining(["alert_summary", "instigator_name"]),
    );
    const { presets } = (await call("GET", "/alert-presets", { token: viewer })).body;
    expect(presets.map((preset: any) => preset.id)).toEqual([
      "discord",
      "slack",
      "jira-v2",
      "jira-v3",
      "linear",
      "pagerduty",
      "teams",
      "generic",
    ]);
    for (const preset of presets) {
      const created = await call("POST", "/alert-policies", { token, body: policyBody({}, { body: preset.body }) });
      expect(created.status, `${preset.id}: ${JSON.stringify(created.body)}`).toBe(201);
      expect(created.body.warnings).toEqual([]);
    }
  });
});

describe("rendering", () => {
  const hostile = 'quote " backslash \\ newline\n tab\t emoji 🚀 {{alert_summary}} @everyone <@&123> </script>';

  it("the seed's Discord, Jira v2, Jira v3 and Linear payloads stay valid JSON whatever the values hold", async () => {
    const seeds = {
      discord: JSON.stringify({
        username: "Dagster Monitor",
        content: "**Alert Triggered**: {{alert_summary}} <@&42>",
        embeds: [
          {
            title: "{{alert_summary}}",
            url: "{{run_link}}",
            description: "```\n{{alert_content}}\n```",
            color: 15158332,
            fields: [{ name: "Deployment", value: "{{deployment_name}}", inline: true }],
            footer: { text: "Dagster+ • {{deployment_url}}" },
            timestamp: "{{start_time}}",
          },
        ],
      }),
      jiraV2: JSON.stringify({
        fields: {
          project: { key: "ENG" },
          summary: "Dagster: {{alert_summary}}",
          description: "Error Details:\n{{alert_content}}\n\nLink: {{deployment_url}}",
        },
      }),
      jiraV3: JSON.stringify({
        fields: {
          summary: "Dagster: {{alert_summary}}",
          description: {
            type: "doc",
            version: 1,
            content: [
              { type: "paragraph", content: [{ type: "text", text: "{{alert_content}}", marks: [{ type: "code" }] }] },
            ],
          },
        },
      }),
      linear: JSON.stringify({
        query: "mutation X { issueCreate }",
        variables: {
          team: "T",
          title: "{{alert_summary}}",
          desc: "{{alert_content}}\n\n**Policy**: {{alert_policy_name}}",
        },
      }),
    };
    for (const [name, body] of Object.entries(seeds)) {
      const receiver = unique(name);
      const url = name === "discord" ? `${echo}/receiver/${receiver}/200` : `${echo}/receiver/${receiver}/200`;
      const policy = await createPolicy({ name: `${unique(name)} ${hostile.slice(0, 20)}` }, { url, body });
      const rendered = await call("POST", `/alert-policies/${policy.id}/preview`, { token, body: {} });
      const parsed = JSON.parse(rendered.body.body);
      const text = JSON.stringify(parsed);
      expect(text).toContain("Job example-deploy failed");
      expect(text).toContain('step \\"build\\" failed');
      if (name === "discord") {
        expect(parsed.embeds[0].timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        expect(parsed.embeds[0].color).toBe(15158332);
      }
    }
  });

  it("Slack: values can't mention or link (<!channel> stays text); the template's own markup stays", async () => {
    const { renderDelivery } = await import("../../../src/alerts/deliver.ts");
    const facts = {
      dagName: "d",
      runId: "r",
      runStatus: "failed",
      error: "<!channel> see <https://evil.example|docs> & more",
      failedSteps: ["s"],
    };
    const policy = {
      id: "p",
      name: "n",
      description: "",
      options: "{}",
      url: "https://hooks.slack.com/services/T/B/X",
      headers: null,
      signing_secret: null,
      body: '{"text": "<!here> {{failure_message}}"}',
    };
    const rendered = JSON.parse((await renderDelivery(env, policy as any, "JOB_FAILURE", facts, "id")).body);
    expect(rendered.text).toBe("<!here> &lt;!channel&gt; see &lt;https://evil.example|docs&gt; &amp; more");
  });

  it("a value can't change the structure, and Discord pings only the template's own mentions", async () => {
    const { renderDelivery } = await import("../../../src/alerts/deliver.ts");
    const facts = { dagName: "d", runId: "r", runStatus: "failed", error: hostile, failedSteps: ["s"] };
    const policy = {
      id: "p",
      name: "n",
      description: "",
      options: "{}",
      url: "https://discord.com/api/webhooks/1/x",
      headers: null,
      signing_secret: null,
      body: '{"content": "<@&77> {{failure_message}}", "n": 1e3}',
    };
    const rendered = await renderDelivery(env, policy as any, "JOB_FAILURE", facts, "id");
    const parsed = JSON.parse(rendered.body);
    expect(parsed.content).toBe(`<@&77> ${hostile}`);
    expect(parsed.allowed_mentions).toEqual({ parse: [], roles: ["77"], users: [] });
    expect(Object.keys(parsed)).toEqual(["content", "n", "allowed_mentions"]);
  });
});

describe("delivery", () => {
  it("a failing run produces exactly one alert, delivered once; successes and other DAGs don't match", async () => {
    const dag = unique("alerted");
    const receiver = unique("one");
    const policy = await createPolicy({ dagNames: [dag] }, { url: `${echo}/receiver/${receiver}/200` });
    await createPolicy({ dagNames: ["someone-else"] }, { url: `${echo}/receiver/${unique("other")}/200` });
    const run = await failingRun(dag);
    const [delivery] = await until(async () => {
      const list = (await call("GET", `/alert-policies/${policy.id}/deliveries`, { token })).body.deliveries;
      return list.length && list[0].status === "delivered" ? list : undefined;
    });
    expect(delivery).toMatchObject({
      eventType: "JOB_FAILURE",
      dagName: dag,
      dagRunId: run.dagRunId,
      attempts: [{ statusCode: 200 }],
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const got = await received(receiver);
    expect(got).toHaveLength(1);
    expect(JSON.parse(got[0]!.body)).toMatchObject({ text: `Job ${dag} failed` });
    expect(JSON.parse(got[0]!.body).details).toContain("HTTP 500");
  });

  it("retries 500, 500 then delivers (3 attempts); honours 429 Retry-After; 400 is permanent; a timeout retries then fails", async () => {
    const scenarios: [plan: string, status: string, codes: (number | null)[]][] = [
      ["500,500,200", "delivered", [500, 500, 200]],
      ["429:1,200", "delivered", [429, 200]],
      ["400", "failed", [400]],
      ["hang", "failed", [null, null, null]],
      ["302", "failed", [302]],
    ];
    const started = await Promise.all(
      scenarios.map(async ([plan]) => {
        const dag = unique("retry");
        const policy = await createPolicy({ dagNames: [dag] }, { url: `${echo}/receiver/${unique("m")}/${plan}` });
        await failingRun(dag);
        return policy.id as string;
      }),
    );
    for (const [index, [plan, status, codes]] of scenarios.entries()) {
      const delivery = await until(async () => {
        const [first] = (await call("GET", `/alert-policies/${started[index]}/deliveries`, { token })).body.deliveries;
        return first && first.status !== "pending" ? first : undefined;
      }, 30_000);
      expect(delivery.status, plan).toBe(status);
      expect(
        delivery.attempts.map((attempt: any) => attempt.statusCode),
        plan,
      ).toEqual(codes);
    }
  }, 60_000);

  it("replay sends a delivery again and logs the new attempt", async () => {
    const dag = unique("replayed");
    const receiver = unique("again");
    const policy = await createPolicy({ dagNames: [dag] }, { url: `${echo}/receiver/${receiver}/400,200` });
    await failingRun(dag);
    const failed = await until(async () => {
      const [first] = (await call("GET", `/alert-policies/${policy.id}/deliveries`, { token })).body.deliveries;
      return first?.status === "failed" ? first : undefined;
    });
    expect((await call("POST", `/alert-deliveries/${failed.id}/replay`, { token })).status).toBe(200);
    const delivered = await until(async () => {
      const { delivery } = (await call("GET", `/alert-deliveries/${failed.id}`, { token })).body;
      return delivery.status === "delivered" ? delivery : undefined;
    });
    expect(delivered.attempts.map((attempt: any) => attempt.statusCode)).toEqual([400, 200]);
    expect(await received(receiver)).toHaveLength(2);
  });

  it("renotifyIntervalMinutes: the same alert about the same DAG is not repeated within the interval", async () => {
    const dag = unique("quiet");
    const receiver = unique("quiet");
    await createPolicy(
      { dagNames: [dag], options: { renotifyIntervalMinutes: 60 } },
      { url: `${echo}/receiver/${receiver}/200` },
    );
    await failingRun(dag);
    await until(async () => ((await received(receiver)).length === 1 ? true : undefined));
    const again = await call("POST", `/dags/${dag}/start`, { token, body: {} });
    await waitForRun(token, dag, again.body.dagRunId);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await received(receiver)).toHaveLength(1);
  });

  it("consecutiveFailureThreshold waits for that many failed runs in a row", async () => {
    const dag = unique("streak");
    const receiver = unique("streak");
    await createPolicy(
      { dagNames: [dag], options: { consecutiveFailureThreshold: 2 } },
      { url: `${echo}/receiver/${receiver}/200` },
    );
    await failingRun(dag);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await received(receiver)).toHaveLength(0);
    const second = await call("POST", `/dags/${dag}/start`, { token, body: {} });
    await waitForRun(token, dag, second.body.dagRunId);
    await until(async () => ((await received(receiver)).length === 1 ? true : undefined));
  });
});

describe("event types", () => {
  async function tick(scheduledTime: number): Promise<void> {
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime, cron: "* * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
  }
  const bodies = async (receiver: string) =>
    (await received(receiver)).map((request) => JSON.parse(request.body) as { text: string; details: string });

  it("TICK_FAILURE: a schedule tick that could not start a run", async () => {
    const dag = unique("tick");
    const receiver = unique("tick");
    await createPolicy({ eventTypes: ["TICK_FAILURE"], dagNames: [dag] }, { url: `${echo}/receiver/${receiver}/200` });
    await call("POST", "/dags", {
      token,
      body: { name: dag, spec: 'schedule: "* * * * *"\nsteps:\n  - name: a\n    command: "true"\n' },
    });
    await env.DB.prepare("UPDATE dags SET spec = 'steps: [' WHERE name = ?1").bind(dag).run();
    await tick(Date.UTC(2030, 0, 15, 12, 0));
    const [alert] = await until(async () => ((await bodies(receiver)).length ? bodies(receiver) : undefined));
    expect(alert!.text).toBe(`Schedule of ${dag} failed to start a run`);
    expect(alert!.details).toContain("Scheduled for: 2030-01-15T12:00:00.000Z");
  });

  it("CODE_LOCATION_ERROR: a DAG definition that fails to validate (as dags:push would send it)", async () => {
    const dag = unique("broken");
    const receiver = unique("code");
    await createPolicy(
      { eventTypes: ["CODE_LOCATION_ERROR"], dagNames: [dag] },
      {
        url: `${echo}/receiver/${receiver}/200`,
        body: '{"text": "{{alert_summary}}", "details": "{{failure_message}}"}',
      },
    );
    expectEnvelope(
      await call("POST", "/dags", {
        token,
        body: { name: dag, spec: "steps:\n  - name: a\n    command: x\n    depends: [ghost]\n" },
      }),
      400,
      "bad_request",
    );
    const [alert] = await until(async () => ((await bodies(receiver)).length ? bodies(receiver) : undefined));
    expect(alert).toEqual({
      text: `DAG ${dag} failed to load`,
      details: expect.stringContaining("unknown step 'ghost'"),
    });
  });

  it("JOB_LONG_RUNNING: once per run, past thresholdSeconds", async () => {
    const dag = unique("long");
    const receiver = unique("long");
    await createPolicy(
      { eventTypes: ["JOB_LONG_RUNNING"], dagNames: [dag], options: { thresholdSeconds: 1 } },
      { url: `${echo}/receiver/${receiver}/200` },
    );
    const runId = await createAndStart(
      token,
      dag,
      `steps:\n  - name: slow\n    executor: http\n    command: GET ${echo}/slow/3000\n`,
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await tick(Date.now());
    await tick(Date.now());
    const alerts = await until(async () => ((await bodies(receiver)).length ? bodies(receiver) : undefined));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await bodies(receiver)).toHaveLength(1);
    expect(alerts[0]!.text).toBe(`Job ${dag} is running longer than 1 second`);
    await waitForRun(token, dag, runId);
  });

  it("INSIGHTS_METRIC: fires when failed runs cross the threshold, once per crossing", async () => {
    const dag = unique("metric");
    const receiver = unique("metric");
    await createPolicy(
      {
        eventTypes: ["INSIGHTS_METRIC"],
        dagNames: [dag],
        options: { metric: "failed_runs", threshold: 0, windowMinutes: 60 },
      },
      {
        url: `${echo}/receiver/${receiver}/200`,
        body: '{"text": "{{alert_summary}}", "details": "{{metric_name}}={{computed_value}}>{{threshold}}"}',
      },
    );
    await failingRun(dag);
    await tick(Date.now());
    await tick(Date.now() + 60_000);
    const [alert] = await until(async () => ((await bodies(receiver)).length ? bodies(receiver) : undefined));
    expect(alert).toEqual({ text: "failed_runs is 1 (threshold 0)", details: "failed_runs=1>0" });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await bodies(receiver)).toHaveLength(1);
  }, 20_000);

  it("AGENT_UNAVAILABLE: the step runner can't be reached", async () => {
    const receiver = unique("agent");
    await createPolicy(
      { eventTypes: ["AGENT_UNAVAILABLE"] },
      {
        url: `${echo}/receiver/${receiver}/200`,
        body: '{"text": "{{alert_summary}}", "details": "{{failure_message}}"}',
      },
    );
    await runCommandWithoutRunner();
    const [alert] = await until(async () => ((await bodies(receiver)).length ? bodies(receiver) : undefined));
    expect(alert).toEqual({
      text: "The step runner is unreachable",
      details: expect.stringContaining("no step runner configured"),
    });
  });
});
