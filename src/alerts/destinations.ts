/**
 * What each destination accepts, and rendering a body so that it does. A policy names its
 * destination kind (the preset it started from sets it) or leaves it `auto`: then the URL's
 * host says, and an unknown host is `generic` — rendered as written, nothing fitted.
 *
 * For a known kind, rendering
 *   - escapes token values for the markup they land in (Slack's mrkdwn, Discord's markdown,
 *     Jira's wiki markup, Linear's markdown), so that a value stays text: it can't ping, link,
 *     or close a code block the template opened;
 *   - repairs what a destination refuses: a link or timestamp with no valid value is left out,
 *     a required text that came out empty gets a placeholder;
 *   - fits every limited string, and every limited message, to the destination's limits,
 *     counted the way it counts (see fit.ts).
 * The limits are the destinations' documented ones; where none is published (Linear's
 * description) the README names the one we chose.
 */

import type { JsonNode } from "../domain/json-text.ts";
import {
  arrayMember,
  eachString,
  filterArray,
  fitStrings,
  fixedString,
  isIsoTime,
  isWebUrl,
  type Measure,
  member,
  type Path,
  pathIs,
  type Rendered,
  type RenderedString,
  removeMember,
  setMember,
  setText,
  stringify,
  stringMember,
  textOf,
} from "./fit.ts";
import { renderParts } from "./template.ts";

export const DESTINATION_KINDS = [
  "generic",
  "discord",
  "slack",
  "jira-v2",
  "jira-v3",
  "linear",
  "pagerduty",
  "teams",
] as const;
export type DestinationKind = (typeof DESTINATION_KINDS)[number];
/** What a policy stores: a kind, or `auto` (by the URL's host). */
export type DestinationChoice = DestinationKind | "auto";

/** The kind a URL's host (and, for Jira, its API version) says. */
export function kindOfUrl(url: string): DestinationKind {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "generic";
  }
  const host = parsed.hostname.toLowerCase();
  if (/(^|\.)discord(app)?\.com$/.test(host)) return "discord";
  // slack.com, and GovSlack's slack-gov.com.
  if (/(^|\.)slack(-gov)?\.com$/.test(host)) return "slack";
  if (/(^|\.)atlassian\.net$/.test(host) || /\/rest\/api\/[23]\/issue/.test(parsed.pathname))
    return /\/rest\/api\/3\//.test(parsed.pathname) ? "jira-v3" : "jira-v2";
  if (host === "api.linear.app") return "linear";
  if (/(^|\.)pagerduty\.com$/.test(host)) return "pagerduty";
  // Teams: incoming webhooks (webhook.office.com) and Workflows (Power Automate, Logic Apps).
  if (/(^|\.)webhook\.office\.com$/.test(host) || /(^|\.)(logic\.azure\.com|powerplatform\.com)$/.test(host))
    return "teams";
  return "generic";
}

export function destinationKind(choice: DestinationChoice | null | undefined, url: string): DestinationKind {
  return !choice || choice === "auto" ? kindOfUrl(url) : choice;
}

/** Tokens whose end matters most (the end of a step's output is where its error is): cut from the front. */
const TAIL_TOKENS = new Set(["failure_output"]);

/** A required text that would be empty: destinations refuse "". */
const PLACEHOLDER = "—";

/** Escapes, repairs and fits a rendered body in place; `template` is the body template as written. */
type Fit = (body: Rendered, template: string) => void;

/**
 * Renders a checked template for a destination: token values escaped where they land, then the
 * body repaired and fitted to the destination's limits. Always valid JSON.
 */
export function renderBody(
  tree: JsonNode,
  template: string,
  kind: DestinationKind,
  values: Readonly<Record<string, string>>,
): string {
  const body = renderTree(tree, values);
  FITS[kind]?.(body, template);
  return stringify(body);
}

function renderTree(node: JsonNode, values: Readonly<Record<string, string>>): Rendered {
  switch (node.type) {
    case "string": {
      const { literals, values: rendered, names } = renderParts(node.value, values);
      const tails = names.map((name) => TAIL_TOKENS.has(name));
      return { type: "string", literals, values: rendered, ...(tails.includes(true) && { tails }) };
    }
    case "array":
      return { type: "array", items: node.items.map((item) => renderTree(item, values)) };
    case "object":
      return { type: "object", entries: node.entries.map(([key, value]) => [key, renderTree(value, values)]) };
    case "literal":
      return { type: "literal", text: node.text };
  }
}

/**
 * Escapes a string's token values; `escapeValue` sees the template text before each value (is
 * it inside a code block?). Only the template's text counts: an escaped value can't open or
 * close markup.
 */
function escapeValues(node: RenderedString, escapeValue: (value: string, before: string) => string): void {
  let before = node.literals[0]!;
  node.values = node.values.map((value, index) => {
    const escaped = escapeValue(value, before);
    before += node.literals[index + 1]!;
    return escaped;
  });
}

/** A set of ASCII characters to escape, as a lookup table: one pass over a 100 KB value, no regex. */
function asciiSet(chars: string): Uint8Array {
  const table = new Uint8Array(128);
  for (const char of chars) table[char.charCodeAt(0)] = 1;
  return table;
}

/** A backslash before each character of `special` (a backslash among them is escaped too). */
function escapeChars(value: string, special: Uint8Array): string {
  const parts: string[] = [];
  let from = 0;
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    if (code < 128 && special[code] === 1) {
      parts.push(value.slice(from, index));
      from = index;
    }
  }
  if (parts.length === 0) return value;
  parts.push(value.slice(from));
  return parts.join("\\");
}

/** Cuts each string whose path has a limit in `limits` (patterns as in pathIs) to that limit. */
function applyLimits(body: Rendered, measure: Measure, limits: Record<string, number>): void {
  const patterns = Object.entries(limits);
  eachString(body, (node, path) => {
    const limit = patterns.find(([pattern]) => pathIs(path, pattern))?.[1];
    if (limit !== undefined) fitStrings([node], limit, measure);
  });
}

/** Every string under `node` (for budgets over a whole message or part of one). */
function stringsIn(node: Rendered | undefined): RenderedString[] {
  const found: RenderedString[] = [];
  if (node) eachString(node, (string) => found.push(string));
  return found;
}

/** A member that must hold a valid URL (or time) is removed when it doesn't. */
function dropUnless(node: Rendered | undefined, key: string, valid: (text: string) => boolean): void {
  const value = stringMember(node, key);
  if (value && !valid(textOf(value))) removeMember(node, key);
}

function placeholderIfEmpty(node: Rendered | undefined, key: string, placeholder = PLACEHOLDER): void {
  const value = stringMember(node, key);
  if (value && textOf(value).trim() === "") setText(value, placeholder);
}

/** Applies `change` to each piece of a string, its template text and its values alike. */
function eachPiece(node: RenderedString, change: (text: string) => string): void {
  node.literals = node.literals.map(change);
  node.values = node.values.map(change);
}

/**
 * A link the template wrote around one token — `[label]({{run_link}})` in markdown,
 * `<{{run_link}}|label>` in Slack's mrkdwn — whose value is no web URL (an event with no run, no
 * PUBLIC_URL) is left as its label.
 */
function unlinkEmptyTargets(node: RenderedString, markup: "markdown" | "slack"): void {
  for (let index = 0; index < node.values.length; index++) {
    if (isWebUrl(node.values[index]!)) continue;
    const before = node.literals[index]!;
    const after = node.literals[index + 1]!;
    if (markup === "markdown") {
      const open = /\[([^\]]*)\]\($/.exec(before);
      if (!open || !after.startsWith(")")) continue;
      node.literals[index] = before.slice(0, open.index) + open[1];
      node.literals[index + 1] = after.slice(1);
    } else {
      const close = /^(?:\|([^<>]*))?>/.exec(after);
      if (!before.endsWith("<") || !close) continue;
      node.literals[index] = before.slice(0, -1);
      node.literals[index + 1] = (close[1] ?? "") + after.slice(close[0].length);
    }
    node.values[index] = "";
  }
}

/** Whether the template text before a value leaves it inside a ``` code block. */
const inCodeBlock = (before: string) => before.split("```").length % 2 === 0;
/** …or inside `inline code`: an odd number of (unescaped) single backticks since the last fence. */
function inInlineCode(before: string): boolean {
  const fence = before.lastIndexOf("```");
  const sinceFence = fence < 0 ? before : before.slice(fence + 3);
  return (sinceFence.match(/(?<!\\)`/g)?.length ?? 0) % 2 === 1;
}

/**
 * Discord and Slack end a code block at any three backticks: in a value they stay visible but
 * are split by zero-width spaces.
 */
function splitFences(value: string): string {
  return value.replaceAll("```", "`\u200b`\u200b`");
}

/**
 * CommonMark (Linear) ends a code block only at a fence that starts a line (``` or ~~~, up to
 * three spaces in): such a line of a value gets a zero-width space first. The rest of the value
 * is left as it is (and stays a one-byte string, fast to write as JSON).
 */
function breakCommonMarkFences(value: string): string {
  return value.replace(/^( {0,3})(```|~~~)/gm, "$1\u200b$2");
}

const MARKDOWN_SPECIALS = asciiSet("\\*_~`|[]<>");

/** Markdown a value must not start: links and images, emphasis, spoilers, headings, quotes, lists, HTML. */
function escapeMarkdown(value: string): string {
  return escapeChars(value, MARKDOWN_SPECIALS).replace(/^([ \t]*)([#-]|\d+\.)/gm, "$1\\$2");
}

/** Escapes a value for markdown where it stands: inside a code block only a fence is special. */
const markdownEscaper =
  (breakFences: (value: string) => string) =>
  (value: string, before: string): string => {
    if (inCodeBlock(before)) return breakFences(value);
    if (inInlineCode(before)) return value.replaceAll("`", "ˋ");
    return escapeMarkdown(value);
  };
const escapeDiscordMarkdown = markdownEscaper(splitFences);
const escapeCommonMark = markdownEscaper(breakCommonMarkFences);

/** Slack's own escaping for message text (&, < and > as entities), and no code fence. */
function escapeSlack(value: string): string {
  return splitFences(value.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;"));
}

/** One line: Jira's and Linear's titles refuse line breaks. */
const oneLine = (text: string) => text.replace(/\s*[\r\n]+\s*/g, " ");

const DISCORD_LIMITS = {
  content: 2000,
  username: 80,
  "embeds.*.title": 256,
  "embeds.*.description": 4096,
  "embeds.*.fields.*.name": 256,
  "embeds.*.fields.*.value": 1024,
  "embeds.*.footer.text": 2048,
  "embeds.*.author.name": 256,
};
const DISCORD_MARKDOWN = [
  "content",
  "embeds.*.title",
  "embeds.*.description",
  "embeds.*.fields.*.name",
  "embeds.*.fields.*.value",
];
/** The texts Discord counts towards 6,000 characters for all of a message's embeds. */
const DISCORD_EMBED_TEXTS = [
  "embeds.*.title",
  "embeds.*.description",
  "embeds.*.fields.*.name",
  "embeds.*.fields.*.value",
  "embeds.*.footer.text",
  "embeds.*.author.name",
];

const FITS: Partial<Record<DestinationKind, Fit>> = {
  // Discord counts characters; see its "Embed Limits".
  discord(body, template) {
    // Values are cut to their string's limit before they are escaped (escaping only adds): a
    // 100 KB value costs what 4 KB do.
    applyLimits(body, "codePoints", DISCORD_LIMITS);
    for (const node of stringsAt(body, DISCORD_MARKDOWN)) {
      escapeValues(node, escapeDiscordMarkdown);
      unlinkEmptyTargets(node, "markdown");
    }
    dropUnless(body, "avatar_url", isWebUrl);
    // Discord refuses a webhook username naming it (or its bot, Clyde): the webhook's own name is used.
    dropUnless(body, "username", (name) => name.trim() !== "" && !/discord|clyde/i.test(name));
    filterArray(body, "embeds", () => true, 10);
    const embeds = arrayMember(body, "embeds");
    for (const embed of embeds) {
      dropUnless(embed, "url", isWebUrl);
      dropUnless(embed, "timestamp", isIsoTime);
      for (const part of ["author", "footer", "image", "thumbnail"])
        for (const key of ["url", "icon_url"]) dropUnless(member(embed, part), key, isWebUrl);
      filterArray(embed, "fields", () => true, 25);
      for (const field of arrayMember(embed, "fields")) {
        placeholderIfEmpty(field, "name");
        placeholderIfEmpty(field, "value");
      }
    }
    const content = stringMember(body, "content");
    if (content && textOf(content).trim() === "") {
      if (embeds.length > 0) removeMember(body, "content");
      else setText(content, PLACEHOLDER);
    }
    applyLimits(body, "codePoints", DISCORD_LIMITS);
    fitStrings(stringsAt(body, DISCORD_EMBED_TEXTS), 6000, "codePoints");
    withDiscordMentions(body, template);
  },

  slack(body) {
    const fitToLimits = () => {
      const blocks = arrayMember(body, "blocks");
      eachString(body, (node, path) => {
        const limit = slackLimit(path, blocks);
        if (limit !== undefined) fitStrings([node], limit, "codePoints");
      });
    };
    fitToLimits(); // first, so that no more is escaped than is sent
    // mrkdwn reads <…> as links and mentions (<!channel> pings everyone): in values it is text.
    // A plain_text object shows what it is given.
    eachObject(body, (object) => {
      const plain = typeOf(object) === "plain_text";
      for (const [key, value] of object.entries)
        if (value.type === "string" && !(plain && key === "text")) escapeValues(value, escapeSlack);
    });
    eachString(body, (node) => unlinkEmptyTargets(node, "slack"));
    filterArray(
      body,
      "blocks",
      // An image block without a valid image is refused as a whole.
      (block) => typeOf(block) !== "image" || isWebUrl(textOf(stringMember(block, "image_url") ?? EMPTY)),
      50,
    );
    for (const block of arrayMember(body, "blocks")) {
      eachObject(block, (object) => {
        const type = typeOf(object);
        if (type === "plain_text" || type === "mrkdwn") placeholderIfEmpty(object, "text");
        dropUnless(object, "url", isWebUrl);
      });
    }
    const text = stringMember(body, "text");
    if (text && textOf(text).trim() === "" && arrayMember(body, "blocks").length === 0) setText(text, PLACEHOLDER);
    fitToLimits();
  },

  // Jira counts Java string lengths (UTF-16 units); a text field holds at most 32,767.
  "jira-v2"(body) {
    const fields = member(body, "fields");
    if (fields)
      eachString(fields, (node, path) => {
        if (pathIs(path, "summary")) return;
        fitStrings([node], 32_767, "utf16"); // first, so that no more is escaped than is sent
        escapeValues(node, escapeJiraWiki);
        fitStrings([node], 32_767, "utf16");
      });
    fitJiraSummary(fields);
  },

  "jira-v3"(body) {
    const fields = member(body, "fields");
    fitJiraSummary(fields);
    for (const [name, field] of fields?.type === "object" ? fields.entries : []) {
      if (name === "summary") continue;
      if (member(field, "type") && member(field, "content")) {
        repairAdf(field);
        // The limit is on the stored document: its text shares 30,000, leaving room for the markup.
        fitStrings(adfTexts(field), 30_000, "utf16");
      } else for (const node of stringsIn(field)) fitStrings([node], 32_767, "utf16");
    }
  },

  // JavaScript string lengths. Linear publishes no description limit: we keep it under 100,000.
  linear(body) {
    const query = textOf(stringMember(body, "query") ?? EMPTY);
    const variables = member(body, "variables");
    const variable = (field: string) => {
      const name = new RegExp(`\\b${field}\\s*:\\s*\\$(\\w+)`).exec(query)?.[1];
      return name === undefined ? undefined : stringMember(variables, name);
    };
    const title = variable("title");
    if (title) {
      eachPiece(title, oneLine);
      if (textOf(title).trim() === "") setText(title, "dagflare alert");
      fitStrings([title], 255, "utf16");
    }
    const description = variable("description");
    if (description) {
      fitStrings([description], 100_000, "utf16"); // first, so that no more is escaped than is sent
      escapeValues(description, escapeCommonMark);
      unlinkEmptyTargets(description, "markdown");
      fitStrings([description], 100_000, "utf16");
    }
  },

  // Events API v2: summary ≤ 1024 characters, dedup_key ≤ 255, the whole event ≤ 512 KB.
  pagerduty(body) {
    const action = stringMember(body, "event_action");
    if (action && !["trigger", "acknowledge", "resolve"].includes(textOf(action))) setText(action, "trigger");
    const dedup = stringMember(body, "dedup_key");
    if (dedup && textOf(dedup) === "") removeMember(body, "dedup_key");
    const payload = member(body, "payload");
    placeholderIfEmpty(payload, "summary", "dagflare alert");
    placeholderIfEmpty(payload, "source", "dagflare");
    const severity = stringMember(payload, "severity");
    if (severity && !["critical", "error", "warning", "info"].includes(textOf(severity))) setText(severity, "error");
    dropUnless(payload, "timestamp", isIsoTime);
    dropUnless(body, "client_url", isWebUrl);
    filterArray(body, "links", (link) => isWebUrl(textOf(stringMember(link, "href") ?? EMPTY)));
    filterArray(body, "images", (image) => isWebUrl(textOf(stringMember(image, "src") ?? EMPTY)));
    applyLimits(body, "codePoints", {
      "payload.summary": 1024,
      "payload.source": 255,
      "payload.component": 255,
      "payload.group": 255,
      "payload.class": 255,
      dedup_key: 255,
    });
    fitMessage(body, 500_000);
  },

  // Teams refuses a message over 28 KB, counted in bytes of the request.
  teams(body) {
    // An action or image with no valid URL is left out; so is a select action.
    const broken = (node: Rendered) => {
      const type = typeOf(node);
      const url = stringMember(node, "url");
      return (type === "Action.OpenUrl" || type === "Image") && url !== undefined && !isWebUrl(textOf(url));
    };
    eachObject(body, (object) => {
      for (const [, value] of object.entries)
        if (value.type === "array") value.items = value.items.filter((item) => !broken(item));
      const select = member(object, "selectAction");
      if (select && broken(select)) removeMember(object, "selectAction");
    });
    fitMessage(body, 28_000);
  },
};

const EMPTY = fixedString("");

/** An object's `type` member, as text ("" when it has none). */
function typeOf(node: Rendered | undefined): string {
  return textOf(stringMember(node, "type") ?? EMPTY);
}

/** Slack's limits: a message's text 40,000, a header 150, a section 3,000, a field 2,000, a button label 75. */
function slackLimit(path: Path, blocks: Rendered[]): number | undefined {
  if (pathIs(path, "text")) return 40_000;
  if (path[0] !== "blocks") return undefined;
  if (pathIs(path, "blocks.*.text.text")) return typeOf(blocks[path[1] as number]) === "header" ? 150 : 3000;
  if (pathIs(path, "blocks.*.fields.*.text")) return 2000;
  if (pathIs(path, "blocks.*.elements.*.text")) return 3000;
  if (pathIs(path, "blocks.*.elements.*.text.text")) return 75;
  return undefined;
}

/** The strings at paths matching any of `patterns`. */
function stringsAt(body: Rendered, patterns: string[]): RenderedString[] {
  const found: RenderedString[] = [];
  eachString(body, (node, path) => {
    if (patterns.some((pattern) => pathIs(path, pattern))) found.push(node);
  });
  return found;
}

function eachObject(node: Rendered, visit: (node: Extract<Rendered, { type: "object" }>) => void): void {
  if (node.type === "object") {
    visit(node);
    for (const [, value] of node.entries) eachObject(value, visit);
  } else if (node.type === "array") for (const item of node.items) eachObject(item, visit);
}

/** A whole message under a byte budget: the JSON around the strings is kept, the values share the rest. */
function fitMessage(body: Rendered, bytes: number): void {
  const strings = stringsIn(body);
  const skeleton = stringify(emptied(body));
  fitStrings(strings, bytes - new TextEncoder().encode(skeleton).length, "jsonBytes");
}

/** The body with every string empty: what the JSON around the strings costs. */
function emptied(node: Rendered): Rendered {
  if (node.type === "string") return fixedString("");
  if (node.type === "array") return { type: "array", items: node.items.map(emptied) };
  if (node.type === "object")
    return { type: "object", entries: node.entries.map(([key, value]) => [key, emptied(value)]) };
  return node;
}

/** Jira's summary: one line, not empty, at most 255 characters. */
function fitJiraSummary(fields: Rendered | undefined): void {
  const summary = stringMember(fields, "summary");
  if (!summary) return;
  eachPiece(summary, oneLine);
  if (textOf(summary).trim() === "") setText(summary, "dagflare alert");
  fitStrings([summary], 255, "utf16");
}

const JIRA_WIKI_SPECIALS = asciiSet("\\[]{}!|");

/** Wiki markup a value must not start: links and mentions ([…]), macros ({…}), images (!…!), tables (|). */
function escapeJiraWiki(value: string): string {
  return escapeChars(value, JIRA_WIKI_SPECIALS);
}

/** ADF as Atlassian's schema wants it: no empty text node, no link without a valid URL. */
function repairAdf(node: Rendered): void {
  eachObject(node, (object) => {
    const content = member(object, "content");
    if (content?.type === "array") {
      content.items = content.items.filter(
        (child) => !(typeOf(child) === "text" && textOf(stringMember(child, "text") ?? EMPTY) === ""),
      );
    }
    const marks = member(object, "marks");
    if (marks?.type === "array") {
      marks.items = marks.items.filter((mark) => {
        if (typeOf(mark) !== "link") return true;
        return isWebUrl(textOf(stringMember(member(mark, "attrs"), "href") ?? EMPTY));
      });
    }
  });
}

/** The text of an ADF document's text nodes. */
function adfTexts(node: Rendered): RenderedString[] {
  const texts: RenderedString[] = [];
  eachObject(node, (object) => {
    if (typeOf(object) === "text") {
      const text = stringMember(object, "text");
      if (text) texts.push(text);
    }
  });
  return texts;
}

/**
 * Discord pings whatever mentions a message contains. Only the mentions written in the template
 * itself (like the seed's `<@&ROLE_ID>` tip) may ping; an `@everyone` inside an error message
 * must not. Unless the template sets `allowed_mentions` itself, it is set to exactly those.
 */
function withDiscordMentions(body: Rendered, template: string): void {
  if (body.type !== "object" || member(body, "allowed_mentions")) return;
  const literal = template.replace(/\{\{[^}]*\}\}/g, "");
  const roles = [...new Set([...literal.matchAll(/<@&(\d+)>/g)].map((match) => match[1]!))];
  const users = [...new Set([...literal.matchAll(/<@!?(\d+)>/g)].map((match) => match[1]!))];
  const list = (items: string[]): Rendered => ({ type: "array", items: items.map(fixedString) });
  setMember(body, "allowed_mentions", {
    type: "object",
    entries: [
      ["parse", list(/@(everyone|here)/.test(literal) ? ["everyone"] : [])],
      ["roles", list(roles)],
      ["users", list(users)],
    ],
  });
}
