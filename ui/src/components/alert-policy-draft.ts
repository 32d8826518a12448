/**
 * The alert policy editor's model: the form's state (a draft), how it comes from a saved policy
 * and becomes the API's input, and the words the editor uses for event types.
 */
import type { DestinationChoice, DestinationKind } from "../../../src/alerts/destinations.ts";
import { ApiFailure, type Ok, type Schemas } from "../api/client.ts";
import type { EditorError } from "./code-editor.tsx";

export type Policy = Schemas["AlertPolicy"];
export type PolicyInput = Schemas["AlertPolicyInput"];
export type EventType = PolicyInput["eventTypes"][number];
export type Metric = NonNullable<Schemas["AlertPolicyOptions"]["metric"]>;
type Throttle = NonNullable<Schemas["AlertPolicyOptions"]["throttle"]>;
export type TokenReference = Ok<"/alert-tokens", "get">;
export type Preset = Ok<"/alert-presets", "get">["presets"][number];

/** Every event type, in the order the editor lists them, with what it means here. */
export const EVENT_DESCRIPTIONS: Record<EventType, string> = {
  JOB_SUCCESS: "A run succeeded.",
  JOB_FAILURE: "A run failed.",
  JOB_RECOVERED: "A run succeeded after the DAG's previous run failed.",
  JOB_LONG_RUNNING: "A run is still going after a time you choose.",
  TICK_FAILURE: "A schedule could not start a run.",
  CODE_LOCATION_ERROR: "A DAG's spec failed to load.",
  AGENT_UNAVAILABLE: "The step runner could not be reached.",
  INSIGHTS_METRIC: "A run metric crossed a threshold over a time window.",
};
export const EVENT_TYPES = Object.keys(EVENT_DESCRIPTIONS) as EventType[];

/** The destination kinds, as the editor names them. */
export const DESTINATION_LABELS: Record<DestinationKind, string> = {
  discord: "Discord",
  slack: "Slack (or Slack-compatible)",
  "jira-v2": "Jira Cloud, API v2",
  "jira-v3": "Jira Cloud, API v3 (ADF)",
  linear: "Linear",
  pagerduty: "PagerDuty Events v2",
  teams: "Microsoft Teams",
  generic: "Generic JSON (sent as written)",
};

export const METRICS: Record<Metric, string> = {
  failed_runs: "Failed runs",
  run_count: "Runs",
  mean_duration_seconds: "Mean duration (seconds)",
};

/** A header as edited. A `stored` one still holds the server's redacted value: sent back as is, the server keeps the real one. */
export type HeaderRow = { key: number; name: string; value: string; stored: boolean; placeholder?: string };

/** Numbers stay text while edited, so a half-typed or cleared field is not forced into a number. */
export type OptionFields = {
  thresholdSeconds: string;
  consecutiveFailureThreshold: string;
  remindEveryMinutes: string;
  remindAtMost: string;
  renotifyIntervalMinutes: string;
  throttleMax: string;
  throttleWindowMinutes: string;
  includeDescriptionInNotification: boolean;
  metric: Metric | "";
  threshold: string;
  windowMinutes: string;
};

export type Draft = {
  name: string;
  description: string;
  enabled: boolean;
  eventTypes: EventType[];
  dagNames: string[];
  /** Not edited here; kept so that saving doesn't drop a tag filter set through the API. */
  tags: string[];
  options: OptionFields;
  url: string;
  /** How values are escaped and the body fitted: a kind, or `auto` (by the URL's host). */
  destination: DestinationChoice;
  headers: HeaderRow[];
  body: string;
  /** The server's redacted value when `signingSecretStored`, else what was typed ("" for none). */
  signingSecret: string;
  signingSecretStored: boolean;
};

let nextRowKey = 1;
export function headerRow(name = "", value = "", stored = false, placeholder?: string): HeaderRow {
  return { key: nextRowKey++, name, value, stored, placeholder };
}

export function newDraft(): Draft {
  return fromPolicy(undefined);
}

export function fromPolicy(policy: Policy | undefined): Draft {
  const options = policy?.options ?? {};
  const text = (value: number | undefined) => (value === undefined ? "" : String(value));
  return {
    name: policy?.name ?? "",
    description: policy?.description ?? "",
    enabled: policy?.enabled ?? true,
    eventTypes: policy?.eventTypes ?? ["JOB_FAILURE"],
    dagNames: policy?.dagNames ?? [],
    tags: policy?.tags ?? [],
    options: {
      thresholdSeconds: text(options.thresholdSeconds),
      consecutiveFailureThreshold: text(options.consecutiveFailureThreshold),
      remindEveryMinutes: text(options.remindEveryMinutes),
      remindAtMost: text(options.remindAtMost),
      renotifyIntervalMinutes: text(options.renotifyIntervalMinutes),
      throttleMax: text(options.throttle?.max),
      throttleWindowMinutes: text(options.throttle?.windowMinutes),
      includeDescriptionInNotification: options.includeDescriptionInNotification ?? false,
      metric: options.metric ?? "",
      threshold: text(options.threshold),
      windowMinutes: text(options.windowMinutes),
    },
    url: policy?.webhook?.url ?? "",
    destination: policy?.webhook?.destination ?? "auto",
    headers: Object.entries(policy?.webhook?.headers ?? {}).map(([name, value]) => headerRow(name, value, true)),
    body: policy?.webhook?.body ?? "",
    signingSecret: policy?.webhook?.signingSecret ?? "",
    signingSecretStored: policy?.webhook?.signingSecret !== undefined,
  };
}

/** The API's input. Options that none of the chosen event types use are left out. */
export function toInput(draft: Draft): PolicyInput {
  const wants = (type: EventType) => draft.eventTypes.includes(type);
  const number = (text: string) => (text.trim() === "" ? undefined : Number(text));
  const { options } = draft;
  const headers = draft.headers.filter((row) => row.name.trim() !== "");
  return {
    name: draft.name.trim(),
    description: draft.description,
    enabled: draft.enabled,
    eventTypes: EVENT_TYPES.filter(wants),
    // In one order, so ticking a DAG off and on again isn't an unsaved change.
    dagNames: [...draft.dagNames].sort(),
    tags: draft.tags,
    options: {
      thresholdSeconds: wants("JOB_LONG_RUNNING") ? number(options.thresholdSeconds) : undefined,
      consecutiveFailureThreshold: wants("JOB_FAILURE") ? number(options.consecutiveFailureThreshold) : undefined,
      remindEveryMinutes: wants("JOB_FAILURE") ? number(options.remindEveryMinutes) : undefined,
      remindAtMost: wants("JOB_FAILURE") ? number(options.remindAtMost) : undefined,
      renotifyIntervalMinutes: number(options.renotifyIntervalMinutes),
      throttle: throttleOf(number(options.throttleMax), number(options.throttleWindowMinutes)),
      includeDescriptionInNotification: options.includeDescriptionInNotification || undefined,
      metric: wants("INSIGHTS_METRIC") ? options.metric || undefined : undefined,
      threshold: wants("INSIGHTS_METRIC") ? number(options.threshold) : undefined,
      windowMinutes: wants("INSIGHTS_METRIC") ? number(options.windowMinutes) : undefined,
    },
    webhook: {
      url: draft.url.trim(),
      destination: draft.destination,
      headers: Object.fromEntries(headers.map((row) => [row.name.trim(), row.value])),
      body: draft.body,
      signingSecret: draft.signingSecret || undefined,
    },
  };
}

/**
 * Both throttle fields, or neither: once one is filled the form requires the other before it
 * saves. One alone (a test send) goes as typed, for the server to say what is missing.
 */
function throttleOf(max: number | undefined, windowMinutes: number | undefined): Throttle | undefined {
  if (max === undefined && windowMinutes === undefined) return undefined;
  return { max, windowMinutes } as Throttle;
}

/** Whether the draft would save as something other than `policy` (undefined fields drop out of JSON). */
export function differsFrom(draft: Draft, policy: Policy): boolean {
  return JSON.stringify(toInput(draft)) !== JSON.stringify(toInput(fromPolicy(policy)));
}

/** The place of each template problem in a 400 answer (details.templateErrors), for the editor. */
export function templateErrorsOf(error: unknown): EditorError[] {
  if (!(error instanceof ApiFailure) || !Array.isArray(error.details?.templateErrors)) return [];
  return error.details.templateErrors.flatMap((item: unknown) => {
    if (typeof item !== "object" || item === null) return [];
    const { message, line, column } = item as Record<string, unknown>;
    if (typeof message !== "string") return [];
    return [
      {
        message,
        line: typeof line === "number" ? line : undefined,
        column: typeof column === "number" ? column : undefined,
      },
    ];
  });
}

/** "Discord (embed)" → "Discord": the destination, for the Preset list; the kind shows with the notes. */
export function presetLabel(preset: Preset): string {
  return preset.name.replace(/\s*\(.*\)$/, "");
}

/** A new Standard Webhooks secret: whsec_ and 24 random bytes in base64. */
export function generateSigningSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

/** A URL's host or origin; the text itself while it isn't a URL yet. */
export function urlPart(url: string, part: "host" | "origin"): string {
  try {
    return new URL(url)[part];
  } catch {
    return url;
  }
}
