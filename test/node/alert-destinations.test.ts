/**
 * Every alert lands: each preset and each of the seed's payloads, rendered for hostile events
 * (100 KB errors in ASCII and in multi-byte text, every value empty, events with no run, no
 * PUBLIC_URL), is checked against its destination's own rules — Atlassian's ADF JSON schema,
 * the `adaptivecards` library, `graphql` with Linear's schema, and the documented limits of
 * Discord, Slack, Jira and PagerDuty, counted the way each counts. The same requests rendered
 * without fitting break those rules: the checks can fail.
 */
import { createRequire } from "node:module";
import Ajv from "ajv-draft-04";
import { buildSchema, getVariableValues, type OperationDefinitionNode, parse, validate } from "graphql";
import { describe, expect, it } from "vitest";
import { tokenValues } from "../../src/alerts/context.ts";
import { type DestinationKind, renderBody } from "../../src/alerts/destinations.ts";
import type { EventFacts } from "../../src/alerts/events.ts";
import { PRESETS } from "../../src/alerts/presets.ts";
import { checkTemplate } from "../../src/alerts/template.ts";
import type { EventType } from "../../src/alerts/tokens.ts";
import LINEAR_SCHEMA from "./fixtures/linear-issue-create.graphql?raw";
import { SEED_PAYLOADS } from "./fixtures/seed-alert-payloads.ts";

const require = createRequire(import.meta.url);
const AdaptiveCards = require("adaptivecards/dist/adaptivecards.js");
const validateAdf = new Ajv({ strict: false }).compile(require("@atlaskit/adf-schema/json-schema/v1/full.json"));
const linearSchema = buildSchema(LINEAR_SCHEMA);

// --- hostile values ----------------------------------------------------------------------------

const KB100 = 100 * 1024;
/** Everything a naive renderer gets wrong, per line: quotes, escapes, fences, links, mentions, markup. */
const HOSTILE_LINE =
  'npm ERR! "quoted" \\ back\\slash ``` [click here](https://evil.example) **urgent** @everyone <!channel> <@&1> [~accountid:5b10] {code} !https://evil.example/x.png! |a|b| & &amp;\t\n```\n';
const ASCII_100KB = HOSTILE_LINE.repeat(Math.ceil(KB100 / HOSTILE_LINE.length)).slice(0, KB100);
/** 100 KB of UTF-8: emoji (4 bytes, 2 UTF-16 units), CJK (3 bytes), Latin with marks (2 bytes). */
const MULTIBYTE_100KB = (() => {
  const line = "🚀 デプロイ失敗 ünïcødé — 错误 👩‍💻 [x](https://evil.example) ```\n";
  let text = "";
  while (Buffer.byteLength(text) < KB100) text += line;
  return [...text].slice(0, [...text].length - 10).join("");
})();

const started = "2026-12-01T10:00:00.000Z";
const finished = "2026-12-01T10:05:00.000Z";
const run = (error: string): EventFacts => ({
  dagName: "deploy",
  runId: "01938f4e-7a1b-7c2d-9e3f-0a1b2c3d4e5f",
  runStatus: "failed",
  trigger: "webhook",
  triggeredBy: "github",
  startedAt: started,
  finishedAt: finished,
  durationMs: 300_000,
  failedStep: "build",
  error,
  failureOutput: error.slice(-2048),
  failedSteps: ["build", error.slice(0, 300)],
});

type Case = { name: string; type: EventType; facts: EventFacts; isSample?: boolean };
const CASES: Case[] = [
  { name: "failure, 100 KB ASCII", type: "JOB_FAILURE", facts: run(ASCII_100KB) },
  { name: "failure, 100 KB multi-byte", type: "JOB_FAILURE", facts: run(MULTIBYTE_100KB) },
  { name: "failure, every value empty", type: "JOB_FAILURE", facts: {} },
  { name: "test send", type: "JOB_FAILURE", facts: run(ASCII_100KB), isSample: true },
  { name: "success", type: "JOB_SUCCESS", facts: { ...run(""), runStatus: "succeeded", failedStep: undefined } },
  { name: "recovered", type: "JOB_RECOVERED", facts: { ...run(""), runStatus: "succeeded", recoveredFrom: "r0" } },
  { name: "long-running", type: "JOB_LONG_RUNNING", facts: { ...run(""), runStatus: "running", finishedAt: null } },
  // Events with no run: no run link, no start or end time.
  { name: "code location", type: "CODE_LOCATION_ERROR", facts: { dagName: "deploy", errors: [ASCII_100KB] } },
  { name: "tick", type: "TICK_FAILURE", facts: { dagName: "deploy", scheduledFor: started, error: MULTIBYTE_100KB } },
  { name: "agent", type: "AGENT_UNAVAILABLE", facts: { agentUrl: "http://runner:8080", error: ASCII_100KB } },
  { name: "metric", type: "INSIGHTS_METRIC", facts: { metric: "failed_runs", threshold: 3, value: 7 } },
];
const DEPLOYMENTS = [
  { DEPLOYMENT_NAME: "prod", PUBLIC_URL: "https://dagflare.example.com" },
  // No PUBLIC_URL set: every link token is empty or relative.
  { DEPLOYMENT_NAME: "", PUBLIC_URL: "" },
];
const POLICY_NAMES = ["Critical", `${"[x](https://evil.example) ".repeat(8)}`.trim()];
/** A user's template may put a value where Discord is picky (a username naming Discord is refused). */
const USER_DISCORD = '{"username": "{{deployment_name}} via Discord", "content": "<@&42> {{failure_message}}"}';

const TEMPLATES = [
  ...PRESETS.filter((preset) => preset.id !== "generic").map((preset) => ({
    name: `preset ${preset.id}`,
    kind: preset.id as DestinationKind,
    body: preset.body,
  })),
  ...Object.entries(SEED_PAYLOADS).map(([name, seed]) => ({ name: `seed ${name}`, kind: seed.kind, body: seed.body })),
  { name: "user's discord", kind: "discord" as const, body: USER_DISCORD },
];

type Request = { template: string; kind: DestinationKind; case: string; text: string };

function requests(fitted: boolean): Request[] {
  const made: Request[] = [];
  for (const template of TEMPLATES) {
    const check = checkTemplate(template.body);
    if (!check.ok) throw new Error(`${template.name} does not parse`);
    for (const event of CASES)
      for (const [index, env] of DEPLOYMENTS.entries()) {
        const policy = { id: "p1", name: POLICY_NAMES[index]!, description: "", options: { thresholdSeconds: 600 } };
        const values = tokenValues(env, policy, event.type, event.facts, event.isSample);
        const text = fitted
          ? renderBody(check.tree, template.body, template.kind, values)
          : renderBody(check.tree, template.body, "generic", values);
        made.push({ template: template.name, kind: template.kind, case: `${event.name}, deployment ${index}`, text });
      }
  }
  return made;
}

// --- the destinations' rules --------------------------------------------------------------------

// biome-ignore lint/suspicious/noExplicitAny: the checks read a destination's JSON the way its own validators do, untyped.
type Json = Record<string, any>;
const characters = (text: string) => [...text].length;
const isUrl = (text: unknown) => {
  if (typeof text !== "string" || !/^https?:\/\//.test(text)) return false;
  try {
    return new URL(text).host !== "";
  } catch {
    return false;
  }
};
const isIso = (text: unknown) =>
  typeof text === "string" &&
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(text) &&
  !Number.isNaN(Date.parse(text));
/** A link to the hostile host, outside code: only a value could have written one. */
const linkOutsideCode = (markdown: string) => /(?<!\\)\[[^\]]*(?<!\\)\]\(https:\/\/evil/.test(markdown);
/** Discord: a code block ends at any three backticks. */
const injectedLink = (markdown: string) => linkOutsideCode(markdown.replace(/```[\s\S]*?(```|$)/g, ""));
/** CommonMark (Linear): a code block ends only at a fence that starts a line. */
const injectedCommonMarkLink = (markdown: string) => {
  let inCode = false;
  const outside = markdown.split("\n").filter((line) => {
    if (/^ {0,3}(```|~~~)/.test(line)) inCode = !inCode;
    return !inCode;
  });
  return linkOutsideCode(outside.join("\n"));
};

function discordProblems(body: Json): string[] {
  const problems: string[] = [];
  const within = (value: unknown, most: number, what: string, least = 0) => {
    if (value === undefined) return;
    if (typeof value !== "string") problems.push(`${what}: not a string`);
    else if (characters(value) > most || characters(value) < least || (least > 0 && value.trim() === ""))
      problems.push(`${what}: ${characters(value)} characters (${least}..${most})`);
  };
  within(body.content, 2000, "content");
  within(body.username, 80, "username", 1);
  if (/discord|clyde/i.test(body.username ?? "")) problems.push("username: names Discord");
  if (body.avatar_url !== undefined && !isUrl(body.avatar_url)) problems.push("avatar_url: not a URL");
  if (!body.content && !body.embeds?.length) problems.push("an empty message");
  if ((body.embeds?.length ?? 0) > 10) problems.push("more than 10 embeds");
  let total = 0;
  for (const embed of body.embeds ?? []) {
    within(embed.title, 256, "title");
    within(embed.description, 4096, "description");
    within(embed.footer?.text, 2048, "footer.text");
    within(embed.author?.name, 256, "author.name");
    if (embed.url !== undefined && !isUrl(embed.url)) problems.push(`embed url: ${JSON.stringify(embed.url)}`);
    if (embed.timestamp !== undefined && !isIso(embed.timestamp))
      problems.push(`timestamp: ${JSON.stringify(embed.timestamp)}`);
    if ((embed.fields?.length ?? 0) > 25) problems.push("more than 25 fields");
    for (const field of embed.fields ?? []) {
      within(field.name, 256, "field name", 1);
      within(field.value, 1024, "field value", 1);
      total += characters(field.name ?? "") + characters(field.value ?? "");
    }
    total += ["title", "description"].reduce((sum, key) => sum + characters(embed[key] ?? ""), 0);
    total += characters(embed.footer?.text ?? "") + characters(embed.author?.name ?? "");
    if ((embed.description?.match(/```/g)?.length ?? 0) % 2 === 1) problems.push("a code block left open");
    if (injectedLink(embed.description ?? "")) problems.push("a masked link from a value");
  }
  if (total > 6000) problems.push(`embeds: ${total} characters in all (≤ 6000)`);
  if (injectedLink(body.content ?? "")) problems.push("a masked link from a value in content");
  // Only the template's own mentions may ping.
  if (!body.allowed_mentions) problems.push("no allowed_mentions");
  else if (body.allowed_mentions.parse?.length) problems.push("allowed_mentions lets @everyone ping");
  return problems;
}

function slackProblems(body: Json, template: string): string[] {
  const problems: string[] = [];
  const text = (object: Json | undefined, most: number, what: string) => {
    if (!object) return;
    if (typeof object.text !== "string" || object.text.trim() === "") problems.push(`${what}: empty text`);
    else if (characters(object.text) > most)
      problems.push(`${what}: ${characters(object.text)} characters (≤ ${most})`);
    if (object.type === "mrkdwn") mrkdwn(object.text, what);
  };
  const mrkdwn = (value: string, what: string) => {
    // Mentions and links come from the template only; a link needs a URL.
    const ours = new Set([...template.matchAll(/<[!@#][^>]*>/g)].map((match) => match[0]));
    for (const match of value.matchAll(/<([^>]*)>/g)) {
      const [target] = match[1]!.split("|");
      if (/^[!@#]/.test(target!) ? !ours.has(match[0]) : !isUrl(target)) problems.push(`${what}: ${match[0]}`);
    }
  };
  if (typeof body.text === "string") {
    if (characters(body.text) > 40_000) problems.push("text over 40,000 characters");
    mrkdwn(body.text, "text");
  }
  if (!body.blocks?.length && !body.text?.trim()) problems.push("an empty message");
  if ((body.blocks?.length ?? 0) > 50) problems.push("more than 50 blocks");
  for (const block of body.blocks ?? []) {
    if (block.type === "header") {
      if (block.text?.type !== "plain_text") problems.push("header: not plain_text");
      text(block.text, 150, "header");
    } else if (block.type === "section") {
      if (block.text) text(block.text, 3000, "section");
      for (const field of block.fields ?? []) text(field, 2000, "section field");
      if (!block.text && !block.fields?.length) problems.push("section: no text");
    } else if (block.type === "context") {
      if (!block.elements?.length || block.elements.length > 10) problems.push("context: 1..10 elements");
      for (const element of block.elements ?? []) if (element.type !== "image") text(element, 3000, "context");
    } else if (block.type === "image" && !isUrl(block.image_url)) problems.push("image: no URL");
  }
  return problems;
}

function jiraSummaryProblems(fields: Json): string[] {
  const summary = fields?.summary;
  if (typeof summary !== "string" || summary.trim() === "") return ["summary: empty"];
  const problems: string[] = [];
  if (summary.length > 255) problems.push(`summary: ${summary.length} UTF-16 units (≤ 255)`);
  if (/[\r\n]/.test(summary)) problems.push("summary: a line break");
  return problems;
}

function jiraV2Problems(body: Json): string[] {
  const problems = jiraSummaryProblems(body.fields);
  const description = body.fields?.description;
  if (typeof description === "string") {
    if (description.length > 32_767) problems.push(`description: ${description.length} UTF-16 units`);
    // Wiki markup from a value: a mention ([~…]) or a link to the hostile host.
    if (/(?<!\\)\[~/.test(description) || /(?<!\\)\[[^\]]*\|https:\/\/evil/.test(description))
      problems.push("description: wiki markup from a value");
  }
  return problems;
}

function jiraV3Problems(body: Json): string[] {
  const problems = jiraSummaryProblems(body.fields);
  const description = body.fields?.description;
  if (!validateAdf(description))
    problems.push(`description: ${JSON.stringify(validateAdf.errors?.slice(0, 2)).slice(0, 300)}`);
  const texts: string[] = [];
  const walk = (node: Json) => {
    if (node?.type === "text") texts.push(node.text);
    for (const mark of node?.marks ?? [])
      if (mark.type === "link" && !isUrl(mark.attrs?.href)) problems.push(`link: ${JSON.stringify(mark.attrs?.href)}`);
    for (const child of node?.content ?? []) walk(child);
  };
  walk(description);
  const length = texts.join("").length;
  if (length > 32_767) problems.push(`description: ${length} UTF-16 units of text`);
  return problems;
}

function linearProblems(body: Json): string[] {
  const document = parse(body.query);
  const problems = validate(linearSchema, document).map((error) => `query: ${error.message}`);
  const operation = document.definitions[0] as OperationDefinitionNode;
  const coerced = getVariableValues(linearSchema, operation.variableDefinitions ?? [], body.variables ?? {});
  if (coerced.errors) problems.push(...coerced.errors.map((error) => `variables: ${error.message}`));
  const title = body.variables?.title;
  if (typeof title !== "string" || title.trim() === "" || title.length > 255 || /[\r\n]/.test(title))
    problems.push(`title: ${JSON.stringify(title).slice(0, 80)}`);
  const description = body.variables?.desc;
  if (typeof description === "string") {
    if (description.length > 100_000) problems.push(`description: ${description.length} UTF-16 units`);
    if (injectedCommonMarkLink(description)) problems.push("description: a link from a value");
    if (/\]\(\)/.test(description)) problems.push("description: a link with no URL");
  }
  return problems;
}

function pagerDutyProblems(body: Json, text: string): string[] {
  const problems: string[] = [];
  if (Buffer.byteLength(text) > 512 * 1024) problems.push("over 512 KB");
  if (typeof body.routing_key !== "string" || body.routing_key === "") problems.push("routing_key");
  if (!["trigger", "acknowledge", "resolve"].includes(body.event_action)) problems.push("event_action");
  if (body.dedup_key !== undefined && (typeof body.dedup_key !== "string" || body.dedup_key.length > 255))
    problems.push("dedup_key");
  const payload = body.payload;
  if (body.event_action === "trigger" || payload) {
    if (typeof payload?.summary !== "string" || payload.summary === "" || characters(payload.summary) > 1024)
      problems.push("payload.summary");
    if (typeof payload?.source !== "string" || payload.source === "" || characters(payload.source) > 255)
      problems.push("payload.source");
    if (!["critical", "error", "warning", "info"].includes(payload?.severity)) problems.push("payload.severity");
    if (payload?.timestamp !== undefined && !isIso(payload.timestamp)) problems.push("payload.timestamp");
  }
  for (const link of body.links ?? []) if (!isUrl(link.href)) problems.push(`links: ${JSON.stringify(link.href)}`);
  for (const image of body.images ?? []) if (!isUrl(image.src)) problems.push("images: no URL");
  return problems;
}

function teamsProblems(body: Json, text: string): string[] {
  const problems: string[] = [];
  if (Buffer.byteLength(text) > 28 * 1024) problems.push(`${Buffer.byteLength(text)} bytes (≤ 28 KB)`);
  for (const attachment of body.attachments ?? []) {
    const card = new AdaptiveCards.AdaptiveCard();
    const context = new AdaptiveCards.SerializationContext();
    card.parse(attachment.content, context);
    for (let index = 0; index < context.eventCount; index++)
      problems.push(`parse: ${context.getEventAt(index).message}`);
    for (const event of card.validateProperties().validationEvents) problems.push(`card: ${event.message}`);
    const urls: unknown[] = [];
    JSON.stringify(attachment.content, (key, value) => {
      if (key === "url") urls.push(value);
      return value;
    });
    for (const url of urls) if (!isUrl(url)) problems.push(`url: ${JSON.stringify(url)}`);
  }
  return problems;
}

function problemsOf(request: Request): string[] {
  const body = JSON.parse(request.text) as Json;
  const template = TEMPLATES.find((template) => template.name === request.template)!.body;
  switch (request.kind) {
    case "discord":
      return discordProblems(body);
    case "slack":
      return slackProblems(body, template);
    case "jira-v2":
      return jiraV2Problems(body);
    case "jira-v3":
      return jiraV3Problems(body);
    case "linear":
      return linearProblems(body);
    case "pagerduty":
      return pagerDutyProblems(body, request.text);
    case "teams":
      return teamsProblems(body, request.text);
    default:
      return [];
  }
}

describe("alerts every destination accepts", () => {
  it("every preset and seed payload, for every hostile event, passes its destination's validator", () => {
    const refused: string[] = [];
    const counts: Record<string, { requests: number; refused: number }> = {};
    for (const request of requests(true)) {
      const problems = problemsOf(request);
      counts[request.template] ??= { requests: 0, refused: 0 };
      const count = counts[request.template]!;
      count.requests++;
      if (problems.length > 0) {
        count.refused++;
        refused.push(`${request.template} / ${request.case}: ${problems.slice(0, 3).join("; ")}`);
      }
    }
    console.info("requests checked (fitted):", JSON.stringify(counts));
    expect(refused).toEqual([]);
    expect(Object.values(counts).reduce((sum, count) => sum + count.requests, 0)).toBe(
      TEMPLATES.length * CASES.length * DEPLOYMENTS.length,
    );
  });

  it("the same requests rendered without fitting break the rules (the checks can fail)", () => {
    const refusedBy = new Map<string, number>();
    for (const request of requests(false))
      if (problemsOf(request).length > 0) refusedBy.set(request.template, (refusedBy.get(request.template) ?? 0) + 1);
    console.info("requests refused without fitting:", JSON.stringify(Object.fromEntries(refusedBy)));
    // Every destination has rules the hostile cases break.
    expect([...refusedBy.keys()].sort()).toEqual(TEMPLATES.map((template) => template.name).sort());
  });

  it("fitting keeps what the reader needs: the step and reason first, the template's fence and link", () => {
    const failure = CASES[0]!;
    const values = tokenValues(
      DEPLOYMENTS[0]!,
      { id: "p", name: "Critical", description: "", options: {} },
      "JOB_FAILURE",
      failure.facts,
    );
    const discord = PRESETS.find((preset) => preset.id === "discord")!;
    const check = checkTemplate(discord.body);
    if (!check.ok) throw new Error("the preset does not parse");
    const body = JSON.parse(renderBody(check.tree, discord.body, "discord", values));
    const description: string = body.embeds[0].description;
    expect(description.startsWith("```\nError: Step 'build' failed: npm ERR!")).toBe(true);
    expect(description.endsWith("...\n```")).toBe(true);
    expect(body.embeds[0].url).toBe(`https://dagflare.example.com/runs/deploy/${failure.facts.runId}`);

    const linear = checkTemplate(SEED_PAYLOADS.linear.body);
    if (!linear.ok) throw new Error("the seed does not parse");
    const noLink = tokenValues(
      DEPLOYMENTS[1]!,
      { id: "p", name: "Critical", description: "", options: {} },
      "JOB_FAILURE",
      failure.facts,
    );
    const issue = JSON.parse(renderBody(linear.tree, SEED_PAYLOADS.linear.body, "linear", noLink));
    // With no deployment URL the seed's "[Open Deployment]()" is left as its label, and the
    // policy line the template wrote after the 100 KB content is still there.
    expect(issue.variables.desc).toMatch(/\*\*Policy\*\*: Critical\nOpen Deployment$/);
  });
});
