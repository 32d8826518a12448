/**
 * Alert policies end to end: the API, templates rendered with hostile values, the seed's
 * payloads, delivery through the ALERTS queue to a real receiver on 127.0.0.1 with the full retry
 * matrix, Standard Webhooks signatures, and secrets that never show.
 */
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { beforeAll, describe, expect, inject, it } from "vitest";
import type { AlertMessage } from "../../../src/alerts/events.ts";
import { insertEvent, type PolicyRow } from "../../../src/db/alerts.ts";
import { RUN_STATUS } from "../../../src/domain/status.ts";
import worker from "../../../src/index.ts";
import {
  type ApiClient,
  api,
  call,
  createAndStart,
  expectEnvelope,
  expectLogged,
  ok,
  runWithoutRunner,
  type Schemas,
  unique,
  until,
  userWithRole,
  waitForRun,
  windowWithRoom,
} from "../helpers.ts";

const echo = inject("echoUrl");
let token: string;
let manager: ApiClient;
let viewer: ApiClient;
beforeAll(async () => {
  token = (await userWithRole("manager")).token;
  manager = api(token);
  viewer = api((await userWithRole("viewer")).token);
});

type PolicyInput = Schemas["AlertPolicyInput"];
const policyPath = (id: string) => ({ params: { path: { id } } });
const deliveriesOf = async (id: string) =>
  (await ok(manager.GET("/alert-policies/{id}/deliveries", policyPath(id)))).deliveries;
const startAgain = async (fileName: string) =>
  (await ok(manager.POST("/dags/{fileName}/start", { params: { path: { fileName } }, body: {} }))).dagRunId;

type Received = { headers: Record<string, string>; body: string };
const received = async (id: string): Promise<Received[]> =>
  (await (await fetch(`${echo}/received/${id}`)).json()) as Received[];

const policyBody = (
  overrides: Partial<PolicyInput> = {},
  webhook: Partial<PolicyInput["webhook"]> = {},
): PolicyInput => ({
  name: unique("policy"),
  eventTypes: ["JOB_FAILURE"],
  webhook: {
    url: `${echo}/receiver/${unique("r")}/200`,
    body: '{"text": "{{alert_summary}}", "details": "{{alert_content}}"}',
    ...webhook,
  },
  ...overrides,
});

async function createPolicy(overrides: Partial<PolicyInput> = {}, webhook: Partial<PolicyInput["webhook"]> = {}) {
  return (await ok(manager.POST("/alert-policies", { body: policyBody(overrides, webhook) }), 201)).alertPolicy;
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

/**
 * Makes "nothing more arrived" a condition rather than a pause: a failing run of a DAG of its
 * own, whose alert is queued after everything the test did, has been delivered, so the ALERTS
 * consumer has worked through the messages queued before it.
 */
async function laterAlertDelivered(): Promise<void> {
  const dag = unique("sentinel");
  const receiver = unique("sentinel");
  await createPolicy({ dagNames: [dag] }, { url: `${echo}/receiver/${receiver}/200` });
  await failingRun(dag);
  await until(async () => ((await received(receiver)).length === 1 ? true : undefined));
}

/** Waits until the run's JOB_FAILURE event is recorded (it is queued when it is recorded). */
const eventRecorded = (runId: string) =>
  until(
    async () =>
      (await env.DB.prepare("SELECT id FROM alert_events WHERE run_id = ?1 AND type = 'JOB_FAILURE'")
        .bind(runId)
        .first<{ id: string }>()) ?? undefined,
  );

describe("alert policies API", () => {
  it("a destination URL that carries its credential is a secret: stored encrypted, shown masked, kept when sent back masked", async () => {
    const { maskedUrl } = await import("../../../src/alerts/secret-urls.ts");
    expect(maskedUrl("https://hooks.slack.com/services/T000/B000/XXXXsecret")).toBe(
      "https://hooks.slack.com/services/••••••••",
    );
    expect(maskedUrl("https://discord.com/api/webhooks/123456/tokEN-value")).toBe(
      "https://discord.com/api/webhooks/123456/••••••••",
    );
    expect(maskedUrl("https://x.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d")).toBe(
      "https://x.webhook.office.com/webhookb2/••••••••",
    );
    expect(
      maskedUrl("https://prod.logic.azure.com/workflows/1/triggers/manual/paths/invoke?api-version=1&sig=abc"),
    ).toBe("https://prod.logic.azure.com/workflows/1/triggers/manual/paths/invoke?api-version=1&sig=••••••••");
    expect(maskedUrl("https://events.pagerduty.com/v2/enqueue")).toBeUndefined();

    const dag = unique("url-secret");
    const receiver = unique("url-secret");
    const secretUrl = `${echo}/receiver/${receiver}/200?token=url-token-0123456789`;
    const policy = await createPolicy({ dagNames: [dag] }, { url: secretUrl });
    const shown = `${echo}/receiver/${receiver}/200?token=••••••••`;
    expect(policy.webhook.url).toBe(shown);
    const stored = await env.DB.prepare("SELECT * FROM alert_policies WHERE id = ?1").bind(policy.id).first();
    expect(JSON.stringify(stored)).not.toContain("url-token-0123456789");

    // Saved again as shown, it keeps the whole URL; a masked URL pointing elsewhere is refused.
    await ok(
      manager.PUT("/alert-policies/{id}", {
        ...policyPath(policy.id),
        body: policyBody({ name: policy.name, dagNames: [dag] }, { url: shown }),
      }),
    );
    expectEnvelope(
      await manager.PUT("/alert-policies/{id}", {
        ...policyPath(policy.id),
        body: policyBody({ name: policy.name, dagNames: [dag] }, { url: `${echo}/receiver/other/200?token=••••••••` }),
      }),
      400,
      "bad_request",
    );
    await failingRun(dag);
    const [delivery] = await until(async () => {
      const list = await deliveriesOf(policy.id);
      return list[0]?.status === "delivered" ? list : undefined;
    });
    expect(JSON.stringify(delivery)).not.toContain("url-token-0123456789");
    expect(await received(receiver)).toHaveLength(1);
  });

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
    expect((await ok(viewer.GET("/alert-policies"))).alertPolicies).toContainEqual(policy);

    // A PUT that sends the redacted values back keeps them; the test send proves it.
    const receiver = unique("put");
    const redacted = policy.webhook!;
    const put = (url: string) =>
      manager.PUT("/alert-policies/{id}", {
        ...policyPath(policy.id),
        body: { ...policyBody({ name: policy.name }), webhook: { ...redacted, url } },
      });
    await ok(put(`${echo}/receiver/${receiver}/200`));
    // Sending them back with a URL on another host would hand the stored secrets to that host: refused.
    expectEnvelope(await put("https://elsewhere.example.com/hook"), 400, "bad_request");
    const tested = await ok(manager.POST("/alert-policies/{id}/test", { ...policyPath(policy.id), body: {} }));
    expect(tested).toMatchObject({ statusCode: 200, body: "answer 1" });
    const [request] = await received(receiver);
    expect(request!.headers).toMatchObject({
      authorization: "Bearer very-secret-header",
      "x-static": "alert-secret-value",
    });
    expect(new Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").verify(request!.body, request!.headers)).toMatchObject(
      { text: "[TEST] Job example-deploy failed" },
    );

    // Unsaved edits of the saved policy (the editor's Send test): its stored secrets fill the
    // redacted values, on the same host only; without policyId they are just missing.
    const draftReceiver = unique("draft");
    const draft = {
      ...policyBody({ name: policy.name }, { body: '{"edited": "{{alert_summary}}"}' }),
      webhook: {
        ...redacted,
        url: `${echo}/receiver/${draftReceiver}/200`,
        body: '{"edited": "{{alert_summary}}"}',
      },
    };
    const draftTested = await ok(manager.POST("/alert-policies/test", { body: { ...draft, policyId: policy.id } }));
    expect(draftTested, JSON.stringify(draftTested)).toMatchObject({ statusCode: 200 });
    const [draftRequest] = await received(draftReceiver);
    expect(draftRequest!.headers).toMatchObject({ authorization: "Bearer very-secret-header" });
    expect(
      new Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").verify(draftRequest!.body, draftRequest!.headers),
    ).toEqual({ edited: "[TEST] Job example-deploy failed" });
    const draftElsewhere = { ...draft, webhook: { ...draft.webhook, url: "https://elsewhere.example.com/hook" } };
    expectEnvelope(
      await manager.POST("/alert-policies/test", { body: { ...draftElsewhere, policyId: policy.id } }),
      400,
      "bad_request",
    );
    expectEnvelope(
      await manager.POST("/alert-policies/test", { body: { ...draft, policyId: "no-such-policy" } }),
      404,
      "not_found",
    );

    await ok(manager.DELETE("/alert-policies/{id}", policyPath(policy.id)), 204);
    expectEnvelope(await manager.GET("/alert-policies/{id}", policyPath(policy.id)), 404, "not_found");
  });

  it("refuses bad templates with the position, unknown tokens, http destinations in production and missing options", async () => {
    const create = (body: PolicyInput, client = manager) => client.POST("/alert-policies", { body });
    const notJson = await create(policyBody({}, { body: '{\n  "text": "{{alert_summary}}",\n  oops\n}' }));
    expect(expectEnvelope(notJson, 400, "bad_request").message).toContain("(line 3, col 3)");
    const unknown = await create(policyBody({}, { body: '{"a": "x",\n "b": "{{job_nmae}}"}' }));
    expect(expectEnvelope(unknown, 400, "bad_request").details?.templateErrors).toEqual([
      { message: "unknown token {{job_nmae}} (did you mean {{job_name}}?)", line: 2, column: 8 },
    ]);
    // A misspelled token is named with the one it probably means, as a misspelled DAG field is.
    const misspelled = policyBody({}, { body: '{"text": "{{alert_sumary}}"}' });
    expect(expectEnvelope(await create(misspelled), 400, "bad_request").message).toBe(
      "webhook.body: unknown token {{alert_sumary}} (did you mean {{alert_summary}}?) (line 1, col 11)",
    );
    // So does the test send of an unsaved policy (the editor's preview checks the same template in the browser).
    expect(
      expectEnvelope(await manager.POST("/alert-policies/test", { body: misspelled }), 400, "bad_request").details
        ?.templateErrors,
    ).toEqual([{ message: "unknown token {{alert_sumary}} (did you mean {{alert_summary}}?)", line: 1, column: 11 }]);
    const secretInBody = await create(policyBody({}, { body: '{"a": "{{env.ALERT_SECRET_TEST_TOKEN}}"}' }));
    expectEnvelope(secretInBody, 400, "bad_request");
    const jwtInHeader = await create(policyBody({}, { headers: { X: "{{env.JWT_SECRET}}" } }));
    expectEnvelope(jwtInHeader, 400, "bad_request");
    const production = {
      ENVIRONMENT: "production",
      ALERTS_ALLOW_LOCAL_HTTP: "false",
      ENCRYPTION_KEY: "a-production-encryption-key-0123456789",
    };
    expectEnvelope(await create(policyBody(), api(token, production)), 400, "bad_request");
    expectEnvelope(await create(policyBody({ eventTypes: ["JOB_LONG_RUNNING"] })), 400, "bad_request");
    // An event type that doesn't exist: a body the typed client would refuse to send.
    expectEnvelope(
      await call("POST", "/alert-policies", { token, body: { ...policyBody(), eventTypes: ["NOPE"] } }),
      400,
      "bad_request",
    );
    const asset = await ok(create(policyBody({}, { body: '{"a": "{{asset_key}} {{job_name}}"}' })), 201);
    expect(asset.warnings).toEqual([expect.stringContaining("{{asset_key}}")]);
  });

  it("tokens and presets: every preset is a valid template", async () => {
    const tokens = await ok(viewer.GET("/alert-tokens"));
    expect(tokens.eventTypes.find((entry) => entry.eventType === "TICK_FAILURE")?.tokens).toEqual(
      expect.arrayContaining(["alert_summary", "instigator_name"]),
    );
    // The editor previews drafts with these examples: this deployment's name and links, not invented ones.
    const example = (name: string) => tokens.tokens.find((token) => token.name === name)?.example;
    expect([example("deployment_name"), example("deployment_url"), example("run_link")]).toEqual([
      env.DEPLOYMENT_NAME,
      env.PUBLIC_URL,
      `${env.PUBLIC_URL}/runs/deploy/01938f4e-…`,
    ]);
    expect(JSON.stringify(tokens)).not.toContain("dagflare.example.com");
    const { presets } = await ok(viewer.GET("/alert-presets"));
    expect(presets.map((preset) => preset.id)).toEqual([
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
      const created = await manager.POST("/alert-policies", { body: policyBody({}, { body: preset.body }) });
      expect(created.response.status, `${preset.id}: ${JSON.stringify(created.error)}`).toBe(201);
      expect(created.data?.warnings).toEqual([]);
    }
  });
});

/** A stored policy as D1 holds it, for rendering without the API. */
const policyRow = (url: string, body: string): PolicyRow => ({
  id: "p",
  name: "n",
  description: "",
  enabled: 1,
  event_types: ["JOB_FAILURE"],
  dag_names: [],
  tags: [],
  options: {},
  url,
  url_secret: null,
  header_names: [],
  headers: null,
  body,
  signing_secret: null,
  destination: "auto",
  created_by: "test",
  created_at: "2030-01-01T00:00:00.000Z",
  updated_at: "2030-01-01T00:00:00.000Z",
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
      const rendered = await ok(manager.POST("/alert-policies/{id}/preview", { ...policyPath(policy.id), body: {} }));
      const parsed = JSON.parse(rendered.body);
      const text = JSON.stringify(parsed);
      // A preview has a real failure's shape and says it is a sample.
      expect(text).toContain("[TEST] Job example-deploy failed");
      expect(text).toContain("Step 'build' failed: exit code 2");
      expect(text).toContain('npm ERR! missing script: \\"build\\"');
      if (name === "discord") {
        expect(parsed.embeds[0].timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        expect(parsed.embeds[0].color).toBe(15158332);
      }
    }
  });

  it("PagerDuty: a failure triggers one incident per DAG, the next success resolves it; severity and time are always valid", async () => {
    const { renderDelivery } = await import("../../../src/alerts/deliver.ts");
    const { PRESETS } = await import("../../../src/alerts/presets.ts");
    const preset = PRESETS.find((candidate) => candidate.id === "pagerduty")!;
    const policy = policyRow(preset.url, preset.body);
    const render = async (
      type: "JOB_FAILURE" | "JOB_SUCCESS" | "JOB_LONG_RUNNING" | "AGENT_UNAVAILABLE",
      runId: string,
    ) => {
      const facts = {
        dagName: "deploy",
        runId,
        runStatus: type === "JOB_SUCCESS" ? "succeeded" : "failed",
        startedAt: "2026-01-08T10:00:00.000Z",
        finishedAt: type === "JOB_LONG_RUNNING" ? null : "2026-01-08T10:05:00.000Z",
        error: "x".repeat(5000),
      };
      return JSON.parse((await renderDelivery(env, policy, type, facts, runId)).body);
    };
    const [failed, again, recovered, slow, runner] = await Promise.all([
      render("JOB_FAILURE", "run-1"),
      render("JOB_FAILURE", "run-2"),
      render("JOB_SUCCESS", "run-3"),
      render("JOB_LONG_RUNNING", "run-4"),
      render("AGENT_UNAVAILABLE", "run-5"),
    ]);
    // Events API v2's rules: an action, a dedup_key ≤ 255, a summary ≤ 1024, a known severity, an ISO time.
    for (const event of [failed, again, recovered, slow, runner]) {
      expect(["trigger", "resolve"]).toContain(event.event_action);
      expect(event.dedup_key.length).toBeLessThanOrEqual(255);
      expect(event.payload.summary.length).toBeLessThanOrEqual(1024);
      expect(["critical", "error", "warning", "info"]).toContain(event.payload.severity);
      expect(new Date(event.payload.timestamp).toISOString()).toBe(event.payload.timestamp);
    }
    expect(failed).toMatchObject({ event_action: "trigger", payload: { severity: "error" } });
    expect(again.dedup_key).toBe(failed.dedup_key);
    expect(recovered).toMatchObject({ event_action: "resolve", dedup_key: failed.dedup_key });
    expect(slow).toMatchObject({ event_action: "trigger", payload: { severity: "warning" } });
    // A run that runs too long is trouble with the same DAG: the same incident, resolved by its success.
    expect(slow.dedup_key).toBe(failed.dedup_key);
    expect(runner.payload.severity).toBe("critical");
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
    const policy = policyRow("https://hooks.slack.com/services/T/B/X", '{"text": "<!here> {{failure_message}}"}');
    const rendered = JSON.parse((await renderDelivery(env, policy, "JOB_FAILURE", facts, "id")).body);
    expect(rendered.text).toBe("<!here> &lt;!channel&gt; see &lt;https://evil.example|docs&gt; &amp; more");
  });

  it("a value can't change the structure, and Discord pings only the template's own mentions", async () => {
    const { renderDelivery } = await import("../../../src/alerts/deliver.ts");
    const facts = { dagName: "d", runId: "r", runStatus: "failed", error: hostile, failedSteps: ["s"] };
    const policy = policyRow(
      "https://discord.com/api/webhooks/1/x",
      '{"content": "<@&77> {{failure_message}}", "n": 1e3}',
    );
    const rendered = await renderDelivery(env, policy, "JOB_FAILURE", facts, "id");
    const parsed = JSON.parse(rendered.body);
    // Outside a code block a value's markdown is escaped: a backslash before each special character.
    expect(parsed.content).not.toBe(`<@&77> ${hostile}`);
    expect(parsed.content.replace(/\\([\s\S])/g, "$1")).toBe(`<@&77> ${hostile}`);
    expect(parsed.allowed_mentions).toEqual({ parse: [], roles: ["77"], users: [] });
    expect(Object.keys(parsed)).toEqual(["content", "n", "allowed_mentions"]);

    // A step's output can't close the preset's code block and go on as markdown (a masked link).
    const fenced = policyRow("https://discord.com/api/webhooks/1/x", '{"content": "```\\n{{failure_output}}\\n```"}');
    const output = "done\n```\n[click here](https://evil.example) **urgent**\n```";
    const safe = JSON.parse(
      (await renderDelivery(env, fenced, "JOB_FAILURE", { ...facts, failureOutput: output }, "id")).body,
    );
    expect(safe.content.match(/```/g)).toHaveLength(2);
    expect(safe.content).toContain("[click here](https://evil.example)");
  });

  it("the destination kind chosen for the policy decides escaping and fitting, not only the host", async () => {
    // A Slack-compatible proxy (or GovSlack behind one) at an address that says nothing.
    const body =
      '{"text": "{{failure_output}}", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "<{{location_link}}|open>"}}]}';
    const proxy = await createPolicy(
      {},
      { url: `${echo}/receiver/${unique("proxy")}/200`, body, destination: "slack" },
    );
    expect(proxy.webhook.destination).toBe("slack");
    const asSlack = JSON.parse(
      (await ok(manager.POST("/alert-policies/{id}/preview", { ...policyPath(proxy.id), body: {} }))).body,
    );
    expect(asSlack.text).toContain('npm ERR! missing script: "build" (@everyone this is sample text)');
    // A link the template wrote around a value that has none (no location on a failure) is its label.
    expect(asSlack.blocks[0].text.text).toBe("open");

    const auto = await createPolicy({}, { url: `${echo}/receiver/${unique("auto")}/200`, body });
    expect(auto.webhook.destination).toBe("auto");
    const asWritten = JSON.parse(
      (await ok(manager.POST("/alert-policies/{id}/preview", { ...policyPath(auto.id), body: {} }))).body,
    );
    expect(asWritten.blocks[0].text.text).toBe("<|open>");

    // Values are escaped as Slack's mrkdwn wants, only for a Slack destination.
    const mention = '{"text": "{{alert_policy_description}}"}';
    const escaped = await createPolicy(
      { description: "<!channel> & <https://evil.example|x>", options: { includeDescriptionInNotification: true } },
      { url: `${echo}/receiver/${unique("esc")}/200`, body: mention, destination: "slack" },
    );
    const escapedBody = JSON.parse(
      (await ok(manager.POST("/alert-policies/{id}/preview", { ...policyPath(escaped.id), body: {} }))).body,
    );
    expect(escapedBody.text).toBe("&lt;!channel&gt; &amp; &lt;https://evil.example|x&gt;");

    const wrong = await manager.POST("/alert-policies", {
      body: policyBody({}, { destination: "myspace" as "slack" }),
    });
    expectEnvelope(wrong, 400, "bad_request");
  });

  it("a real alert is fitted to its destination: a failed step's long output in a Discord message", async () => {
    const dag = unique("loud");
    const receiver = unique("discord");
    await createPolicy(
      { dagNames: [dag] },
      {
        url: `${echo}/receiver/${receiver}/200`,
        destination: "discord",
        body: '{"content": "{{failure_output}} {{failure_output}}", "embeds": [{"title": "{{alert_summary}}", "url": "{{run_link}}", "timestamp": "{{end_time}}", "fields": [{"name": "Params", "value": "{{dag_run_params}}"}]}]}',
      },
    );
    // 2 KB of output's end, twice, is over Discord's 2,000 characters for `content`.
    const runId = await createAndStart(
      token,
      dag,
      "steps:\n  - name: shout\n    command: sh -c 'for i in $(seq 400); do echo \"line $i @everyone [x](https://evil.example)\" >&2; done; exit 3'\n",
    );
    await waitForRun(token, dag, runId);
    const [alert] = await until(async () => ((await received(receiver)).length ? received(receiver) : undefined));
    const sent = JSON.parse(alert!.body);
    expect([...sent.content].length).toBeLessThanOrEqual(2000);
    expect(sent.content).toMatch(/\.\.\./);
    expect(sent.content).toContain("line 400 @everyone \\[x\\](https://evil.example)");
    expect(sent.allowed_mentions).toEqual({ parse: [], roles: [], users: [] });
    expect(sent.embeds[0].url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/runs\//);
    expect(Date.parse(sent.embeds[0].timestamp)).not.toBeNaN();
    // An empty value where Discord needs text gets a placeholder rather than a refusal.
    expect(sent.embeds[0].fields[0].value).toBe("—");
  });
});

describe("delivery", () => {
  it("a failing run produces exactly one alert, delivered once; successes and other DAGs don't match", async () => {
    const dag = unique("alerted");
    const receiver = unique("one");
    const policy = await createPolicy({ dagNames: [dag] }, { url: `${echo}/receiver/${receiver}/200` });
    await createPolicy({ dagNames: ["someone-else"] }, { url: `${echo}/receiver/${unique("other")}/200` });
    const run = await failingRun(dag);
    const deliveries = await until(async () => {
      const list = await deliveriesOf(policy.id);
      return list[0]?.status === "delivered" ? list : undefined;
    });
    expect(deliveries[0]).toMatchObject({
      eventType: "JOB_FAILURE",
      dagName: dag,
      dagRunId: run.dagRunId,
      attempts: [{ statusCode: 200 }],
    });
    await laterAlertDelivered();
    expect(await deliveriesOf(policy.id)).toHaveLength(1);
    const got = await received(receiver);
    expect(got).toHaveLength(1);
    expect(JSON.parse(got[0]!.body)).toMatchObject({ text: `Job ${dag} failed` });
    expect(JSON.parse(got[0]!.body).details).toContain("HTTP 500");
  });

  it("says what broke: the failed step and its reason, the end of its output, the run's secrets redacted", async () => {
    const dag = unique("broke");
    const receiver = unique("broke");
    await createPolicy(
      { dagNames: [dag] },
      {
        url: `${echo}/receiver/${receiver}/200`,
        body: '{"message": "{{failure_message}}", "output": "{{failure_output}}", "content": "{{alert_content}}"}',
      },
    );
    // 3,000 lines of noise, then the lines that explain it: only the end (≤ 2 KB) reaches the alert.
    const runId = await createAndStart(
      token,
      dag,
      `env:
  - DEPLOY_TOKEN: tok-0123456789
params:
  - DB_PASSWORD: hunter2-is-long
steps:
  - name: ok
    command: echo fine
  - name: migrate
    command: seq 1 3000; echo "connecting with $DEPLOY_TOKEN and \${DB_PASSWORD}" >&2; echo "relation users does not exist" >&2; exit 3
`,
    );
    await waitForRun(token, dag, runId);
    const [alert] = await until(async () => ((await received(receiver)).length ? received(receiver) : undefined));
    const body = JSON.parse(alert!.body) as { message: string; output: string; content: string };
    expect(body.message).toBe("Step 'migrate' failed: exit code 3");
    expect(body.output).toMatch(
      /^stderr:\nconnecting with \[redacted\] and \[redacted\]\nrelation users does not exist\nstdout:\n/,
    );
    expect(body.output).toMatch(/\n3000$/);
    expect(new TextEncoder().encode(body.output).byteLength).toBeLessThanOrEqual(2048 + 16);
    expect(body.output).not.toContain("tok-0123456789");
    expect(body.content).toContain(
      `Error: Step 'migrate' failed: exit code 3\nOutput (its end):\nstderr:\nconnecting with [redacted]`,
    );
  });

  it("keeps no echo of the policy's secret header values from a destination's answer", async () => {
    const receiver = unique("echoing");
    const headers = { Authorization: "Bearer echo-me-secret-123" };
    // The first send is recorded; the second goes to a destination that answers with what it recorded.
    await ok(
      manager.POST("/alert-policies/test", {
        body: policyBody({}, { url: `${echo}/receiver/${receiver}/200`, headers }),
      }),
    );
    const echoed = await ok(
      manager.POST("/alert-policies/test", { body: policyBody({}, { url: `${echo}/received/${receiver}`, headers }) }),
    );
    expect(echoed.statusCode).toBe(200);
    expect(echoed.body).not.toContain("echo-me-secret-123");
    expect(echoed.body).toContain('"authorization":"••••••••"');
  });

  it("JOB_RECOVERED: the first success after a failure says so, once; later successes don't", async () => {
    const dag = unique("recovering");
    const receiver = unique("recovered");
    await createPolicy(
      { dagNames: [dag], eventTypes: ["JOB_RECOVERED"] },
      {
        url: `${echo}/receiver/${receiver}/200`,
        body: '{"text": "{{alert_summary}}", "details": "{{alert_content}}"}',
      },
    );
    const failed = await createAndStart(
      token,
      dag,
      'params:\n  - FAIL: "1"\nsteps:\n  - name: check\n    command: test "$FAIL" = 0\n',
    );
    await waitForRun(token, dag, failed);
    for (const _ of [1, 2]) {
      const started = await ok(
        api(token).POST("/dags/{fileName}/start", { params: { path: { fileName: dag } }, body: { params: "FAIL=0" } }),
      );
      expect((await waitForRun(token, dag, started.dagRunId)).statusLabel).toBe("succeeded");
    }
    await laterAlertDelivered();
    const got = await received(receiver);
    expect(got).toHaveLength(1);
    expect(JSON.parse(got[0]!.body)).toEqual({
      text: `Job ${dag} recovered`,
      details: expect.stringContaining(`It succeeded after run ${failed} failed.`),
    });
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
        return policy.id;
      }),
    );
    for (const [index, [plan, status, codes]] of scenarios.entries()) {
      const delivery = await until(async () => {
        const [first] = await deliveriesOf(started[index]!);
        return first && first.status !== "pending" ? first : undefined;
      }, 30_000);
      expect(delivery.status, plan).toBe(status);
      expect(
        delivery.attempts.map((attempt) => attempt.statusCode),
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
      const [first] = await deliveriesOf(policy.id);
      return first?.status === "failed" ? first : undefined;
    });
    await ok(manager.POST("/alert-deliveries/{id}/replay", policyPath(failed.id)));
    const delivered = await until(async () => {
      const { delivery } = await ok(manager.GET("/alert-deliveries/{id}", policyPath(failed.id)));
      return delivery.status === "delivered" ? delivery : undefined;
    });
    expect(delivered.attempts.map((attempt) => attempt.statusCode)).toEqual([400, 200]);
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
    const again = await startAgain(dag);
    expect((await waitForRun(token, dag, again)).status).toBe(RUN_STATUS.failed);
    await eventRecorded(again);
    await laterAlertDelivered();
    expect(await received(receiver)).toHaveLength(1);
  });

  it("consecutiveFailureThreshold waits for that many failed runs in a row", async () => {
    const dag = unique("streak");
    const receiver = unique("streak");
    await createPolicy(
      { dagNames: [dag], options: { consecutiveFailureThreshold: 2 } },
      { url: `${echo}/receiver/${receiver}/200` },
    );
    await eventRecorded((await failingRun(dag)).dagRunId);
    await laterAlertDelivered();
    expect(await received(receiver)).toHaveLength(0);
    const second = await startAgain(dag);
    await waitForRun(token, dag, second);
    await until(async () => ((await received(receiver)).length === 1 ? true : undefined));
  });
});

/** The every-minute cron tick at a time of the test's choosing: monitors, reminders and digests run on it. */
async function tick(scheduledTime: number): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime, cron: "* * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

describe("event types", () => {
  const bodies = async (receiver: string) =>
    (await received(receiver)).map((request) => JSON.parse(request.body) as { text: string; details: string });

  it("reminds while the DAG stays failed: every remindEveryMinutes, at most remindAtMost times", async () => {
    const dag = unique("reminded");
    const receiver = unique("reminded");
    await createPolicy(
      { dagNames: [dag], options: { remindEveryMinutes: 5, remindAtMost: 2 } },
      {
        url: `${echo}/receiver/${receiver}/200`,
        body: '{"text": "{{alert_summary}}", "details": "{{failure_message}}"}',
      },
    );
    await failingRun(dag);
    await until(async () => ((await bodies(receiver)).length === 1 ? true : undefined));
    const minutes = (n: number) => Date.now() + n * 60_000;
    await tick(minutes(2)); // too soon
    await tick(minutes(6));
    await until(async () => ((await bodies(receiver)).length === 2 ? true : undefined));
    await tick(minutes(7)); // 5 minutes after the first reminder? not yet: it was sent just now
    await tick(minutes(12));
    await until(async () => ((await bodies(receiver)).length === 3 ? true : undefined));
    await tick(minutes(30)); // two reminders sent: no more
    await laterAlertDelivered();
    const texts = (await bodies(receiver)).map((body) => body.text);
    expect(texts).toEqual([
      `Job ${dag} failed`,
      `Job ${dag} is still failing (reminder 1 of 2)`,
      `Job ${dag} is still failing (reminder 2 of 2)`,
    ]);
    expect((await bodies(receiver))[1]!.details).toMatch(/^Step 'boom' failed: HTTP 500/);
  });

  it("TICK_FAILURE: a schedule tick that could not start a run", async () => {
    const dag = unique("tick");
    const receiver = unique("tick");
    await createPolicy({ eventTypes: ["TICK_FAILURE"], dagNames: [dag] }, { url: `${echo}/receiver/${receiver}/200` });
    await ok(
      manager.POST("/dags", {
        body: { name: dag, spec: 'schedule: "* * * * *"\nsteps:\n  - name: a\n    command: "true"\n' },
      }),
      201,
    );
    await env.DB.prepare("UPDATE dags SET spec = 'steps: [' WHERE name = ?1").bind(dag).run();
    await expectLogged([{ level: "error", msg: "a scheduled run did not start", dag }], () =>
      tick(Date.UTC(2030, 0, 15, 12, 0)),
    );
    const [alert] = await until(async () => ((await bodies(receiver)).length ? bodies(receiver) : undefined));
    expect(alert!.text).toBe(`Schedule of ${dag} failed to start a run`);
    expect(alert!.details).toContain("Scheduled for: 2030-01-15T12:00:00.000Z");
    // Every later tick of this runtime, in any file, would fail to start it again.
    await ok(manager.DELETE("/dags/{fileName}", { params: { path: { fileName: dag } } }), 204);
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
      await manager.POST("/dags", {
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
    // Rather than sleep past the threshold, tick at a time past it, once the run is running.
    const started = await until(async () => {
      const { dagRunDetails } = await ok(
        manager.GET("/dag-runs/{name}/{dagRunId}", { params: { path: { name: dag, dagRunId: runId } } }),
      );
      return dagRunDetails.status === RUN_STATUS.running && dagRunDetails.startedAt
        ? dagRunDetails.startedAt
        : undefined;
    });
    await tick(Date.parse(started) + 1500);
    await tick(Date.parse(started) + 1500);
    const alerts = await until(async () => ((await bodies(receiver)).length ? bodies(receiver) : undefined));
    await laterAlertDelivered();
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
    await laterAlertDelivered();
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
    await runWithoutRunner();
    const [alert] = await until(async () => ((await bodies(receiver)).length ? bodies(receiver) : undefined));
    expect(alert).toEqual({
      text: "The step runner is unreachable",
      details: expect.stringContaining("no step runner configured"),
    });
  });
});

describe("throttle", () => {
  type Alert = { text: string; held: string; details: string };
  const THROTTLED_BODY = '{"text": "{{alert_summary}}", "held": "{{held_count}}", "details": "{{alert_content}}"}';
  const HOUR_MS = 3_600_000;
  const alerts = async (receiver: string) =>
    (await received(receiver)).map((request) => JSON.parse(request.body) as Alert);
  const digestsSent = async (receiver: string, count: number) =>
    until(async () => {
      const digests = (await alerts(receiver)).filter((alert) => alert.held !== "");
      return digests.length === count ? digests : undefined;
    });
  type Held = { event_id: string; dag_name: string | null; window_start: string; window_end: string };
  const heldOf = async (policyId: string) =>
    (
      await env.DB.prepare(
        "SELECT event_id, dag_name, window_start, window_end FROM alert_held WHERE policy_id = ?1 ORDER BY event_id",
      )
        .bind(policyId)
        .all<Held>()
    ).results;

  const throttledPolicyBody = (
    dagNames: string[],
    throttle: { max: number; windowMinutes: number },
    receiver: string,
  ) =>
    policyBody({ dagNames, options: { throttle } }, { url: `${echo}/receiver/${receiver}/200`, body: THROTTLED_BODY });
  const throttledPolicy = async (dagNames: string[], max: number, receiver: string) =>
    (
      await ok(
        manager.POST("/alert-policies", { body: throttledPolicyBody(dagNames, { max, windowMinutes: 60 }, receiver) }),
        201,
      )
    ).alertPolicy;

  /**
   * JOB_FAILURE events recorded as emitEvent records a run's, dated in the previous clock hour: a
   * window that has closed, which the next tick digests. They are fanned out when the test says.
   */
  async function pastFailures(dag: string | null, count: number, forPolicy?: string): Promise<string[]> {
    const previousHour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - HOUR_MS;
    const ids: string[] = [];
    for (let index = 0; index < count; index++) {
      const id = unique("past-failure");
      await insertEvent(env.DB, {
        id,
        type: "JOB_FAILURE",
        dag_name: dag,
        run_id: id,
        context: { dagName: dag ?? undefined, runId: id, runStatus: "failed", error: `failure ${index}`, forPolicy },
        created_at: new Date(previousHour + (index + 1) * 1000).toISOString(),
      });
      ids.push(id);
    }
    return ids;
  }

  /** The ALERTS consumer given these events' messages in one batch: their fan-outs run at the same time. */
  async function fanOut(eventIds: string[], attempts = 1): Promise<void> {
    const batch = createMessageBatch<AlertMessage>(
      "dagflare-alerts",
      eventIds.map((eventId) => ({
        id: `${eventId}.${attempts}`,
        timestamp: new Date(),
        attempts,
        body: { kind: "event", eventId },
      })),
    );
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toHaveLength(eventIds.length);
  }

  it("is validated: max 1..1000 and windowMinutes 1..1440, both required; the policy shows it as saved", async () => {
    const refused: [throttle: Record<string, number>, field: string][] = [
      [{ max: 0, windowMinutes: 60 }, "options.throttle.max"],
      [{ max: 1001, windowMinutes: 60 }, "options.throttle.max"],
      [{ max: 2 }, "options.throttle.windowMinutes"],
      [{ max: 2, windowMinutes: 0 }, "options.throttle.windowMinutes"],
      [{ max: 2, windowMinutes: 1441 }, "options.throttle.windowMinutes"],
      [{ max: 2, windowMinutes: 60, burst: 5 }, "options.throttle: unknown field(s) burst"],
    ];
    for (const [throttle, field] of refused) {
      const answer = await call("POST", "/alert-policies", {
        token,
        body: { ...policyBody(), options: { throttle } },
      });
      expect(expectEnvelope(answer, 400, "bad_request").message, JSON.stringify(throttle)).toContain(field);
    }
    const policy = (
      await ok(
        manager.POST("/alert-policies", {
          body: throttledPolicyBody([unique("quiet-dag")], { max: 1000, windowMinutes: 1440 }, unique("r")),
        }),
        201,
      )
    ).alertPolicy;
    expect((await ok(viewer.GET("/alert-policies/{id}", policyPath(policy.id)))).alertPolicy.options).toEqual({
      throttle: { max: 1000, windowMinutes: 1440 },
    });
  });

  it("five failing runs of a DAG: two alerts, three held back, another DAG's are its own; when the window closes one digest says so, once", async () => {
    const dag = unique("throttled");
    const other = unique("throttled-other");
    const receiver = unique("throttled");
    const policy = await throttledPolicy([dag, other], 2, receiver);
    // What the test sends must fall in one throttle window (a few seconds' wait an hour).
    await windowWithRoom(60 * 60_000, 15_000);
    const runs = [(await failingRun(dag)).dagRunId];
    while (runs.length < 5) {
      const runId = await startAgain(dag);
      await waitForRun(token, dag, runId);
      runs.push(runId);
    }
    await failingRun(other);
    const held = await until(async () => {
      const rows = await heldOf(policy.id);
      return rows.length === 3 ? rows : undefined;
    });
    const sent = await until(async () => {
      const got = await alerts(receiver);
      return got.length === 3 ? got : undefined;
    });
    expect(sent.map((alert) => [alert.text, alert.held]).sort()).toEqual([
      [`Job ${dag} failed`, ""],
      [`Job ${dag} failed`, ""],
      [`Job ${other} failed`, ""],
    ]);
    expect(held.map((row) => [row.dag_name, row.window_start])).toEqual(held.map(() => [dag, held[0]!.window_start]));
    const { window_start: start, window_end: end } = held[0]!;
    expect(Date.parse(end) - Date.parse(start)).toBe(HOUR_MS);
    expect(Date.parse(start) % HOUR_MS).toBe(0); // a clock hour

    // The tick before the window has closed sends nothing.
    await tick(Date.parse(end) - 60_000);
    await laterAlertDelivered();
    expect(await alerts(receiver)).toHaveLength(3);
    expect(await heldOf(policy.id)).toHaveLength(3);

    await tick(Date.parse(end));
    const [digest] = await digestsSent(receiver, 1);
    const window = `between ${start.slice(11, 16)} and ${end.slice(11, 16)} UTC (throttle: 2 per 60 minutes)`;
    expect(digest!.held).toBe("3");
    expect(digest!.text).toBe(`Job ${dag} failed — the latest of 3 alerts about ${dag} held back ${window}`);
    expect(digest!.details.split("\n").slice(0, 2)).toEqual([
      `3 alerts about ${dag} were held back ${window}; the details are the latest one's.`,
      expect.stringMatching(/^Error: Step 'boom' failed: HTTP 500/),
    ]);
    // It is the policy's own delivery, about the latest run, though the window had no room left.
    const [newest] = await deliveriesOf(policy.id);
    expect(newest).toMatchObject({ eventType: "JOB_FAILURE", dagName: dag, dagRunId: runs[4], status: "delivered" });
    expect(await heldOf(policy.id)).toEqual([]);

    await tick(Date.parse(end) + 60_000);
    await laterAlertDelivered();
    expect(await alerts(receiver)).toHaveLength(4);
  }, 60_000);

  it("fan-outs at the same moment never pass max; events about no DAG count together", async () => {
    const dag = unique("crowded");
    const receiver = unique("crowded");
    const policy = await throttledPolicy([dag], 3, receiver);
    const events = [...(await pastFailures(dag, 8)), ...(await pastFailures(null, 4, policy.id))];
    await fanOut(events);
    const count = <T>(rows: T[], dagOf: (row: T) => string | null) => ({
      dag: rows.filter((row) => dagOf(row) === dag).length,
      none: rows.filter((row) => dagOf(row) === null).length,
    });
    expect(count(await deliveriesOf(policy.id), (delivery) => delivery.dagName)).toEqual({ dag: 3, none: 3 });
    expect(count(await heldOf(policy.id), (row) => row.dag_name)).toEqual({ dag: 5, none: 1 });

    // All of them again (the queue delivers a message again when its consumer failed): nothing changes.
    await fanOut(events, 2);
    expect(count(await deliveriesOf(policy.id), (delivery) => delivery.dagName)).toEqual({ dag: 3, none: 3 });
    expect(count(await heldOf(policy.id), (row) => row.dag_name)).toEqual({ dag: 5, none: 1 });

    await tick(Date.now()); // their window closed with the last hour
    const digests = await digestsSent(receiver, 2);
    expect(digests.map((digest) => digest.held).sort()).toEqual(["1", "5"]);
    expect(digests.find((digest) => digest.held === "5")!.text).toContain(
      `the latest of 5 alerts about ${dag} held back`,
    );
    expect(digests.find((digest) => digest.held === "1")!.text).toContain("the latest of 1 alert held back");
  }, 20_000);

  it("a redelivered event counts once; an event held stays held, even once the throttle has room again", async () => {
    const dag = unique("redelivered");
    const receiver = unique("redelivered");
    const policy = await throttledPolicy([dag], 2, receiver);
    const [first, second, third, fourth] = (await pastFailures(dag, 4)) as [string, string, string, string];
    await fanOut([first]);
    await fanOut([first], 2);
    expect(await heldOf(policy.id)).toEqual([]);
    await fanOut([second]);
    await fanOut([third]);
    await fanOut([third], 2);
    expect((await heldOf(policy.id)).map((row) => row.event_id)).toEqual([third]);

    await ok(
      manager.PUT("/alert-policies/{id}", {
        ...policyPath(policy.id),
        body: { ...throttledPolicyBody([dag], { max: 3, windowMinutes: 60 }, receiver), name: policy.name },
      }),
    );
    await fanOut([third], 3);
    await fanOut([fourth]);
    expect((await heldOf(policy.id)).map((row) => row.event_id)).toEqual([third]);
    expect((await deliveriesOf(policy.id)).map((delivery) => delivery.dagRunId).sort()).toEqual(
      [first, second, fourth].sort(),
    );
    await tick(Date.now());
    expect((await digestsSent(receiver, 1))[0]!.held).toBe("1");
  }, 20_000);

  it("held alerts of a policy disabled since are dropped; a policy whose throttle was removed still sends its digest", async () => {
    const dag = unique("changed");
    const [disabledReceiver, unthrottledReceiver] = [unique("disabled"), unique("unthrottled")];
    const disabled = await throttledPolicy([dag], 1, disabledReceiver);
    const unthrottled = await throttledPolicy([dag], 1, unthrottledReceiver);
    await fanOut(await pastFailures(dag, 2));
    expect(await heldOf(disabled.id)).toHaveLength(1);
    expect(await heldOf(unthrottled.id)).toHaveLength(1);
    const replace = (id: string, body: PolicyInput) =>
      ok(manager.PUT("/alert-policies/{id}", { ...policyPath(id), body }));
    await replace(disabled.id, {
      ...throttledPolicyBody([dag], { max: 1, windowMinutes: 60 }, disabledReceiver),
      name: disabled.name,
      enabled: false,
    });
    await replace(unthrottled.id, {
      ...policyBody(
        { name: unthrottled.name, dagNames: [dag] },
        { url: `${echo}/receiver/${unthrottledReceiver}/200`, body: THROTTLED_BODY },
      ),
    });
    await tick(Date.now());
    const [digest] = await digestsSent(unthrottledReceiver, 1);
    // Its window, without a throttle to name.
    expect(digest!.text).toMatch(
      new RegExp(`— the latest of 1 alert about ${dag} held back between \\d\\d:00 and \\d\\d:00 UTC$`),
    );
    expect(await heldOf(disabled.id)).toEqual([]);
    expect(await heldOf(unthrottled.id)).toEqual([]);
    await laterAlertDelivered();
    expect(await alerts(disabledReceiver)).toHaveLength(1);
  }, 20_000);
});
