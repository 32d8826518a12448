/**
 * Parses and validates a Dagu-style DAG spec (YAML) into a normalised `DagSpec`.
 *
 * Three passes, so every error can name its field and its place in the text:
 *   1. YAML syntax (the `yaml` parser, with a line counter);
 *   2. structure (zod schemas of the subset of Dagu's DAG schema we support);
 *   3. meaning (duplicate steps, unknown dependencies, cycles, cron expressions, regexes).
 * An error's path into the document is resolved to a line and column at the end.
 */
import { Cron } from "croner";
import { type Document, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments } from "yaml";
import { z } from "zod";
import { isShellCondition } from "./conditions.ts";
import { canonicalize, type Level } from "./dialect.ts";
import { executorRefusal, jqStepProblems } from "./executor-support.ts";
import { schemaProblems } from "./json-schema.ts";
import { type ParamRule, paramProblem } from "./param-rules.ts";
import { type DagType, findCycle, resolveDependencies } from "./plan.ts";
import { readStepForms } from "./step-forms.ts";
import { flattenStepGroups, generatedStepName } from "./step-groups.ts";
import { nearestName } from "./suggest.ts";
import { templateDataProblems, templateStepProblems } from "./template-render.ts";
import { unsupportedField } from "./unsupported-fields.ts";
import { WEBHOOK_MAX_PAYLOAD_BYTES } from "./webhook-body.ts";
import { aliasProblem, positionOf, scanYaml, type YamlProblem } from "./yaml-bounds.ts";

export const DAG_NAME_PATTERN = /^[a-zA-Z0-9_-]+$/;
export const DAG_NAME_MAX_LENGTH = 40;
export const DEFAULT_MAX_OUTPUT_SIZE = 1024 * 1024;
/** Dagu's default: finished runs older than this many days are deleted. */
export const DEFAULT_HIST_RETENTION_DAYS = 30;
const MAX_SPEC_BYTES = 512 * 1024;

// ---------------------------------------------------------------------------------------------
// The normalised spec: every Dagu shorthand (string or list, map or list of maps) resolved once.

export type KeyValue = { key: string; value: string };

/** What YAML (core schema) and JSON can hold: the type of executor configs, RPC-serialisable. */
// Interfaces, not type aliases: TypeScript expands them lazily, which keeps the Durable Object
// RPC stub types (which map every field) finite.
export type JsonValue = string | number | boolean | null | JsonArray | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}
export interface JsonArray extends Array<JsonValue> {}

export type Condition = { condition: string; expected: string | undefined; negate: boolean; error: string | undefined };

/**
 * Dagu's `repeatPolicy`, as the 1.30.2 binary runs it: after each run of the step, `while`
 * repeats when the check matches, `until` when it doesn't; the check is the exit code (in
 * `exitCodes`), else the condition, else "it succeeded". At most `limit` runs in all.
 */
export type RepeatPolicy = {
  mode: "while" | "until";
  condition: Condition | undefined;
  exitCodes: number[];
  intervalSec: number;
  backoff: number;
  maxIntervalSec: number | undefined;
  limit: number | undefined;
};

export type RetryPolicy = {
  limit: number;
  intervalSec: number;
  exitCodes: number[];
  /** Multiplier applied to the interval after each attempt; 1 = constant interval. */
  backoff: number;
  maxIntervalSec: number | undefined;
};

export type ContinueOn = {
  failure: boolean;
  skipped: boolean;
  exitCodes: number[];
  output: string[];
  markSuccess: boolean;
};

export type StepSpec = {
  name: string;
  id: string | undefined;
  description: string;
  command: string | undefined;
  script: string | undefined;
  shell: string | undefined;
  dir: string | undefined;
  /** `undefined` when not declared (a chain then links the step to the previous one). */
  depends: string[] | undefined;
  /** The variable that captures stdout. */
  output: string | undefined;
  /** Its key in the run's outputs (Dagu: `output: {key}`, else the name in camelCase); null when omitted. */
  outputKey: string | null;
  env: KeyValue[];
  preconditions: Condition[];
  retryPolicy: RetryPolicy | undefined;
  repeatPolicy: RepeatPolicy | undefined;
  continueOn: ContinueOn;
  timeoutSec: number | undefined;
  executor: { type: string; config: JsonObject } | undefined;
  /** A call of another DAG (Dagu's sub-DAG): the step runs it and ends as it ends. */
  subDag: SubDagCall | undefined;
  /** A router (Dagu 2.x): its routes, in the order Dagu tries them; its targets are wired when the DAG is read. */
  router: { value: string; routes: { pattern: string; targets: string[] }[] } | undefined;
};

/**
 * `call: <dag>` (1.x `run:` + `params:`, 2.x `action: dag.run`), with `params` as Dagu's string
 * form; `enqueue` (2.x `dag.enqueue`) queues the run and doesn't wait for it. The name and
 * params are expanded when the step starts.
 */
export type SubDagCall = { dag: string; params: string; enqueue: boolean; parallel: ParallelSpec | undefined };

/**
 * `parallel:` — one call per item, at most `maxConcurrent` at a time. Static items are the
 * text of each (an object's as JSON, as Dagu passes it); a `variable` is read when the step starts.
 */
export type ParallelSpec = { items: string[] | undefined; variable: string | undefined; maxConcurrent: number };

/** Dagu's limits: items of one `parallel:` step, and calls running at once by default. */
export const MAX_PARALLEL_ITEMS = 1000;
/**
 * Steps in one DAG (each document of a file). A run's coordinator keeps and scans every step's
 * state on each event; past this a run would spend its CPU on bookkeeping. Larger work belongs in
 * sub-DAGs or a parallel step.
 */
export const MAX_STEPS = 1000;
/** Documents in one file: the DAG and the sub-DAGs after `---` it may call. */
export const MAX_DOCUMENTS = 100;
export const DEFAULT_MAX_CONCURRENT = 10;

export type HandlerEvent = "success" | "failure" | "abort" | "exit";

export type DagSpec = {
  name: string | undefined;
  description: string;
  group: string | undefined;
  tags: string[];
  type: DagType;
  schedule: string[];
  params: KeyValue[];
  /** Rules of the typed params (Dagu 2.x), checked when a run starts. */
  paramRules: ParamRule[];
  env: KeyValue[];
  /** How many runs may be active at once; -1 for no limit. */
  maxActiveRuns: number;
  timeoutSec: number | undefined;
  maxOutputSize: number;
  histRetentionDays: number;
  /** How webhook triggers treat the request: which headers reach the run and which names it, what payloads it takes. */
  webhook: WebhookSpec;
  steps: StepSpec[];
  handlerOn: Partial<Record<HandlerEvent, StepSpec>>;
  /** The sub-DAGs defined after `---` in the same file, by name (they run only when called). */
  localDags: DagSpec[];
};

/** A DAG's `webhook:` settings, as its triggers apply them. */
export type WebhookSpec = {
  /** Lower-cased header names the run gets as WEBHOOK_HEADERS. */
  forwardHeaders: string[];
  /** Each header as its text (`forwardHeaders`) or as a list of values, as Dagu 2.x (`forward_headers`). */
  headerValues: "text" | "list";
  runIdHeader: string | undefined;
  /** false: the inbound log keeps no request bodies of this DAG. */
  storeBodies: boolean;
  maxPayloadSize?: number;
  /** A JSON Schema in dagflare's subset (./json-schema.ts), checked when the DAG is saved. */
  schema?: unknown;
  events?: string[];
};

export type SpecError = { field: string; message: string; line?: number; column?: number };

export type ParseResult = { ok: true; spec: DagSpec } | { ok: false; errors: SpecError[] };

export function formatSpecError(error: SpecError): string {
  const where = error.line === undefined ? "" : ` (line ${error.line}, col ${error.column})`;
  return `${error.field ? `${error.field}: ` : ""}${error.message}${where}`;
}

// ---------------------------------------------------------------------------------------------
// Structure: the raw YAML shapes Dagu accepts.

const scalar = z.union([z.string(), z.number(), z.boolean()], { error: "expected a string, number or boolean" });
type RawTags =
  | string
  | Record<string, string | number | boolean>
  | (string | Record<string, string | number | boolean>)[];

/** Tags (Dagu 2.x: labels) as strings: `a, b` and `env=prod team=platform` split, `{env: prod}` as `env=prod`. */
function tagsOf(raw: RawTags | undefined): string[] {
  const pairs = (map: Record<string, unknown>) => Object.entries(map).map(([key, value]) => `${key}=${value}`);
  const words = (text: string) =>
    text.split(",").flatMap((part) => {
      const tokens = part.trim().split(/\s+/);
      return tokens.length > 1 && tokens.every((token) => token.includes("=")) ? tokens : [part.trim()];
    });
  const items = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  return items.flatMap((item) => (typeof item === "string" ? words(item) : pairs(item))).filter((tag) => tag !== "");
}

const scheduleItem = z.union(
  [
    z.string(),
    z.strictObject({ kind: z.literal("cron").optional(), expression: z.string(), profile: z.string().optional() }),
    z.strictObject({ kind: z.literal("at").optional(), at: z.string(), profile: z.string().optional() }),
  ],
  { error: "expected a cron expression, {expression} or {at}" },
);
const scheduleList = z.union([scheduleItem, z.array(scheduleItem)]);

type ScheduleEntry = { path: Path } & ({ expression: string } | { problem: string });

/** The start schedules of a DAG, each with its place in the file; what dagflare can't run, with why. */
function scheduleEntries(raw: RawDag["schedule"]): ScheduleEntry[] {
  if (raw === undefined) return [];
  const items = (value: z.infer<typeof scheduleList> | undefined, path: Path): ScheduleEntry[] => {
    if (value === undefined) return [];
    if (Array.isArray(value)) return value.flatMap((item, index) => items(item, [...path, index]));
    if (typeof value === "string") return [{ expression: value, path }];
    if (value.profile !== undefined)
      return [{ problem: "runtime profiles are not supported: every schedule of the DAG is active", path }];
    if ("at" in value)
      return [
        { problem: "one-off schedules ('at') are not supported: start the run through the API at that time", path },
      ];
    return [{ expression: value.expression, path }];
  };
  if (typeof raw === "string" || Array.isArray(raw)) return items(raw, ["schedule"]);
  if ("at" in raw || "expression" in raw) return items(raw, ["schedule"]);
  const refused = (["stop", "restart"] as const)
    .filter((kind) => raw[kind] !== undefined)
    .map((kind) => ({
      problem: `'${kind}' schedules are not supported: only start schedules are`,
      path: ["schedule", kind],
    }));
  return [...items(raw.start, ["schedule", "start"]), ...refused];
}

const stringOrList = (what: string) =>
  z.union([z.string(), z.array(z.string())], { error: `expected ${what} or a list of them` });
const keyValues = z.union(
  [z.record(z.string(), scalar), z.array(z.union([z.string(), z.record(z.string(), scalar)]))],
  { error: "expected a map of KEY: value or a list of KEY=value entries" },
);
/** A shell and its options: `bash -e`, or Dagu's list form `[bash, -e]` (read as the same text). */
const shellSchema = z
  .union([z.string(), z.array(z.string()).min(1)], {
    error: "expected a shell, e.g. 'bash -e', or a list of its words",
  })
  .transform((shell) => (Array.isArray(shell) ? shell.join(" ") : shell));
const variableName = z.string().regex(/^\$?[A-Za-z_][A-Za-z0-9_]*$/, "expected a variable name");
const seconds = z.number({ error: "expected a number of seconds" }).min(0, "must not be negative");

/** The fields of a Dagu 2.x typed parameter; an object with `name` and one of these is one. */
const typedParamSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected a parameter name"),
  default: scalar.optional(),
  description: z.string().optional(),
  type: z
    .enum(["string", "integer", "number", "boolean"], { error: "expected string, integer, number or boolean" })
    .optional(),
  required: z.boolean().optional(),
  enum: z.array(scalar).min(1).optional(),
  minimum: z.number().optional(),
  maximum: z.number().optional(),
  min_length: z.int().min(0).optional(),
  max_length: z.int().min(0).optional(),
  pattern: z
    .string()
    .refine((pattern) => compiles(pattern), "invalid regular expression")
    .optional(),
});
// `eval` (a default computed by a command when the DAG loads) is recognised, to be refused by name.
const TYPED_PARAM_KEYS = new Set([...Object.keys(typedParamSchema.shape), "eval"]);
const exitCodes = z.union([z.int(), z.array(z.int())], { error: "expected an exit code or a list of exit codes" });

const conditionSchema = z.union(
  [
    z.string(),
    z.strictObject({
      condition: z.string(),
      expected: scalar.optional(),
      negate: z.boolean().optional(),
      error: z.string().optional(),
    }),
  ],
  { error: "expected a condition string or {condition, expected}" },
);

const backoffSchema = z.union([z.boolean(), z.number().gt(1, "a backoff multiplier must be greater than 1")]);

const retryPolicySchema = z.strictObject({
  limit: z.int().min(0, "must not be negative").max(100, "at most 100 retries"),
  intervalSec: seconds.optional(),
  exitCode: exitCodes.optional(),
  backoff: backoffSchema.optional(),
  maxIntervalSec: seconds.optional(),
});

const repeatPolicySchema = z.strictObject({
  repeat: z.union([z.boolean(), z.enum(["while", "until"])], { error: "expected true, 'while' or 'until'" }).optional(),
  condition: z.string().optional(),
  expected: scalar.optional(),
  exitCode: exitCodes.optional(),
  intervalSec: seconds.optional(),
  backoff: backoffSchema.optional(),
  maxIntervalSec: seconds.optional(),
  limit: z.int().min(1, "must be at least 1").max(10_000, "at most 10,000 runs").optional(),
});

const continueOnFields = z.strictObject({
  failure: z.boolean().optional(),
  skipped: z.boolean().optional(),
  exitCode: exitCodes.optional(),
  output: stringOrList("an output pattern").optional(),
  markSuccess: z.boolean().optional(),
});
const continueOnSchema = z.union([
  z.enum(["failure", "failed", "skipped"], { error: "expected 'failure', 'skipped' or a map" }),
  continueOnFields,
]);

/** A list of items over Dagu's limit says so (a union's error would only say "expected …"). */
const tooManyItems = (input: unknown) =>
  Array.isArray(input) && input.length > MAX_PARALLEL_ITEMS
    ? `at most ${MAX_PARALLEL_ITEMS} items (Dagu's limit), not ${input.length}`
    : undefined;

/** Items of `parallel:` as Dagu reads them: strings, numbers, or objects of scalars (a call's params). */
const parallelItems = z
  .array(z.union([z.string(), z.number(), z.record(z.string(), scalar)]), {
    error: "expected a list of strings, numbers or objects of scalar values",
  })
  .min(1, "needs at least one item")
  .max(MAX_PARALLEL_ITEMS, `at most ${MAX_PARALLEL_ITEMS} items (Dagu's limit)`);

const executorSchema = z.union(
  [z.string(), z.strictObject({ type: z.string(), config: z.record(z.string(), z.unknown()).optional() })],
  { error: "expected an executor type or {type, config}" },
);

const stepFields = {
  name: z.string().min(1, "must not be empty").max(128, "at most 128 characters"),
  id: z.string().optional(),
  description: z.string().optional(),
  command: z
    .union([z.string(), z.array(scalar)], { error: "expected a command string or a list of arguments" })
    .optional(),
  script: z.string().optional(),
  shell: shellSchema.optional(),
  dir: z.string().optional(),
  depends: stringOrList("a step name").optional(),
  output: z
    .union(
      [
        variableName,
        z.strictObject({ name: variableName, key: z.string().min(1).optional(), omit: z.boolean().optional() }),
      ],
      { error: "expected a variable name or {name, key, omit} (Dagu 2.x's structured outputs are not supported yet)" },
    )
    .optional(),
  env: keyValues.optional(),
  preconditions: z.union([conditionSchema, z.array(conditionSchema)]).optional(),
  retryPolicy: retryPolicySchema.optional(),
  repeatPolicy: repeatPolicySchema.optional(),
  continueOn: continueOnSchema.optional(),
  timeoutSec: seconds.optional(),
  executor: executorSchema.optional(),
  /** Dagu 2.x's router (`action: router.route`, or 2.0–2.6's `type: router`), read by ./step-forms.ts. */
  router: z
    .strictObject({
      value: z
        .string({ error: "a router needs 'value': the text its routes match" })
        .trim()
        .min(1, "must not be empty"),
      routes: z
        .record(
          z.string().trim().min(1, "a route's pattern must not be empty"),
          z
            .array(z.string().trim().min(1, "a target must not be empty"), { error: "expected a list of step names" })
            .min(1, "a route needs at least one target step"),
          { error: "a router needs 'routes': a map of pattern to the steps it runs" },
        )
        .refine((routes) => Object.keys(routes).length > 0, "a router needs at least one route"),
    })
    .optional(),
  /** A string, or (2.x dag.enqueue, read by ./step-forms.ts) the DAG to queue. */
  call: z
    .union([
      z.string().min(1, "expected the name of the DAG to run"),
      z.strictObject({ dag: z.string().min(1), enqueue: z.literal(true) }),
    ])
    .optional(),
  params: z
    .union(
      [
        z.string(),
        z.record(z.string(), z.unknown()),
        z.array(z.union([z.string(), z.record(z.string(), z.unknown())])),
      ],
      { error: "expected a string of KEY=value pairs, a map or a list" },
    )
    .optional(),
  parallel: z
    .union(
      [
        z.string(),
        parallelItems,
        z.strictObject({
          items: z.union([z.string(), parallelItems], {
            error: (issue) => tooManyItems(issue.input) ?? "expected a list of items or a variable that holds them",
          }),
          maxConcurrent: z.int().min(1, "must be at least 1").max(1000, "at most 1000").optional(),
        }),
      ],
      {
        error: (issue) =>
          tooManyItems(issue.input) ??
          "expected a list of items, a variable that holds them, or {items, max_concurrent}",
      },
    )
    .optional(),
};
/** A step may go unnamed (Dagu names it by its place); a handler is named by its event. */
const stepSchema = z.strictObject({ ...stepFields, name: stepFields.name.optional() });

/** Dagu 2.x `defaults`: what every step (and handler) has unless it sets its own. */
const defaultsSchema = z.strictObject({
  retryPolicy: retryPolicySchema.optional(),
  repeatPolicy: repeatPolicySchema.optional(),
  continueOn: continueOnSchema.optional(),
  timeoutSec: seconds.optional(),
  env: keyValues.optional(),
});

const webhookSchema = z.strictObject({
  forwardHeaders: z
    .array(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, "not a header name"))
    .max(50)
    .optional(),
  runIdHeader: z
    .string()
    .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, "not a header name")
    .optional(),
  storeBodies: z.boolean().optional(),
  /** Bytes; Dagu 2.x has one server-wide `webhooks.max_payload_size`, here each DAG may lower it. */
  maxPayloadSize: z
    .int()
    .min(1, "must be at least 1 byte")
    .max(WEBHOOK_MAX_PAYLOAD_BYTES, `at most ${WEBHOOK_MAX_PAYLOAD_BYTES} bytes (1 MiB, the trigger's limit)`)
    .optional(),
  /** A JSON Schema (dagflare's subset, ./json-schema.ts) every payload must validate against. */
  schema: z.unknown().optional(),
  /** The GitHub events (X-GitHub-Event) that start a run; others are acknowledged and ignored. */
  events: z
    .array(z.string().regex(/^[a-z0-9_.*-]+$/, "not a GitHub event name (lower case, like push or pull_request)"))
    .min(1, "list at least one event, or leave `events` out")
    .max(100)
    .optional(),
});

const handlersSchema = z.strictObject({
  success: stepSchema.optional(),
  failure: stepSchema.optional(),
  abort: stepSchema.optional(),
  cancel: stepSchema.optional(),
  exit: stepSchema.optional(),
});

const dagSchema = z.strictObject({
  name: z.string().optional(),
  description: z.string().optional(),
  group: z.string().optional(),
  /** Dagu 2.x also writes them as `labels`, maps and `key=value` pairs (`env=prod team=platform`). */
  tags: z
    .union([z.string(), z.record(z.string(), scalar), z.array(z.union([z.string(), z.record(z.string(), scalar)]))], {
      error: "expected a tag, a list of them, or a map of key: value",
    })
    .optional(),
  type: z
    .enum(["chain", "graph"], {
      error: (issue) =>
        typeof issue.input === "string"
          ? `type '${issue.input}' is not supported: dagflare runs 'chain' and 'graph' DAGs (not Dagu's agent or build DAGs)`
          : "expected 'chain' or 'graph'",
    })
    .optional(),
  /** A cron expression, a list, 2.x `{expression}`/`{at}` entries, or 1.x `{start, stop, restart}`. */
  schedule: z
    .union(
      [
        scheduleList,
        z.strictObject({
          start: scheduleList.optional(),
          stop: scheduleList.optional(),
          restart: scheduleList.optional(),
        }),
      ],
      {
        error: "expected a cron expression, a list of them, or {start, stop, restart}",
      },
    )
    .optional(),
  params: z
    .union(
      [
        z.string(),
        z.record(z.string(), scalar),
        // Strings, KEY: value maps, and (2.x) typed definitions: each object is sorted out in paramsOf.
        z.array(z.union([z.string(), z.record(z.string(), z.unknown())])),
      ],
      { error: "expected a string of KEY=value pairs, a map or a list" },
    )
    .optional(),
  env: keyValues.optional(),
  /** -1: never queue (Dagu's "always run"). */
  maxActiveRuns: z
    .union([z.literal(-1), z.int().min(1, "must be at least 1 (or -1: never queue)").max(1000, "at most 1000")])
    .optional(),
  timeoutSec: seconds.optional(),
  maxOutputSize: z
    .int()
    .min(1)
    .max(16 * 1024 * 1024, "at most 16 MiB")
    .optional(),
  histRetentionDays: z.int().min(1, "must be at least 1").max(3650, "at most 3650").optional(),
  /** Defaults of every step that doesn't set its own (Dagu: `shell`, `workingDir`; 2.x `working_dir`). */
  shell: shellSchema.optional(),
  workingDir: z.string().optional(),
  defaults: defaultsSchema.optional(),
  webhook: webhookSchema.optional(),
  handlerOn: handlersSchema.optional(),
  steps: z.array(stepSchema, { error: "expected a list of steps" }).min(1, "a DAG needs at least one step"),
});

/** The file's levels, for reading both of Dagu's spellings (./dialect.ts). */
const RETRY_LEVEL: Level = { keys: Object.keys(retryPolicySchema.shape) };
const REPEAT_LEVEL: Level = { keys: Object.keys(repeatPolicySchema.shape) };
const CONTINUE_ON_LEVEL: Level = { keys: Object.keys(continueOnFields.shape) };
const STEP_LEVEL: Level = {
  keys: Object.keys(stepFields),
  // Renamed in 2.x (working_dir); and Dagu 1.x also reads `precondition` for `preconditions`.
  aliases: { working_dir: "dir", workingDir: "dir", precondition: "preconditions" },
  children: {
    retryPolicy: { level: RETRY_LEVEL },
    repeatPolicy: { level: REPEAT_LEVEL },
    continueOn: { level: CONTINUE_ON_LEVEL },
    parallel: { level: { keys: ["items", "maxConcurrent"] } },
  },
  rewrite: readStepForms,
};
const DAG_LEVEL: Level = {
  keys: Object.keys(dagSchema.shape),
  aliases: { labels: "tags" },
  children: {
    steps: { each: STEP_LEVEL },
    handlerOn: {
      level: {
        keys: Object.keys(handlersSchema.shape),
        children: Object.fromEntries(Object.keys(handlersSchema.shape).map((event) => [event, { level: STEP_LEVEL }])),
      },
    },
    webhook: { level: { keys: Object.keys(webhookSchema.shape) } },
    defaults: {
      level: {
        keys: Object.keys(defaultsSchema.shape),
        children: {
          retryPolicy: { level: RETRY_LEVEL },
          repeatPolicy: { level: REPEAT_LEVEL },
          continueOn: { level: CONTINUE_ON_LEVEL },
        },
      },
    },
  },
};

type RawDag = z.infer<typeof dagSchema>;
type RawStep = z.infer<typeof stepSchema>;

const KNOWN_FIELDS = new Set([
  ...Object.keys(dagSchema.shape),
  ...Object.keys(stepFields),
  ...Object.keys(retryPolicySchema.shape),
  "condition",
  "expected",
  "negate",
  "failure",
  "skipped",
  "exitCode",
  "markSuccess",
  "type",
  "config",
  "forwardHeaders",
  "runIdHeader",
  "storeBodies",
  "maxPayloadSize",
  "events",
]);

// ---------------------------------------------------------------------------------------------

type Path = readonly (string | number)[];
/**
 * An error found after YAML parsing: `path` names the field (in the canonical spelling), `at`
 * is where in the document it is shown (default: the field itself). Both are turned back into
 * the spelling the file used (Dagu 1.x or 2.x) when the error is reported.
 */
type LocatedError = { path: Path; message: string; at?: Path; atKey?: boolean; spelledAsSource?: boolean };

export type ParseOptions = {
  /** The DAG's file name: a `name:` in the spec, when present, must equal it. */
  fileName?: string;
};

export function parseDagSpec(source: string, options: ParseOptions = {}): ParseResult {
  if (new TextEncoder().encode(source).byteLength > MAX_SPEC_BYTES) {
    return { ok: false, errors: [{ field: "", message: `spec is larger than ${MAX_SPEC_BYTES / 1024} KiB` }] };
  }
  const lineCounter = new LineCounter();
  // Bounded before anything reads the documents as data (./yaml-bounds.ts).
  const yamlProblem = (problem: YamlProblem): ParseResult => {
    const { line, column } = positionOf(source, problem.offset);
    return { ok: false, errors: [{ field: problem.field ?? "yaml", message: problem.message, line, column }] };
  };
  const scan = scanYaml(source, MAX_STEPS);
  if (scan.problem) return yamlProblem(scan.problem);
  // Dagu: the first document is the DAG; the ones after `---` are sub-DAGs it may call by name.
  const documents = parseAllDocuments(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const yamlErrors = [...documents].flatMap((document) => document.errors);
  const unsafeAlias = yamlErrors.length === 0 && scan.aliases > 0 ? aliasProblem([...documents]) : undefined;
  if (unsafeAlias) return yamlProblem(unsafeAlias);
  if (yamlErrors.length > 0) {
    return {
      ok: false,
      errors: yamlErrors.map((error) => {
        const position = lineCounter.linePos(error.pos[0]);
        // The most common slip (the Dagu docs' own Slack example makes it): `: ` inside an unquoted value.
        const hint =
          error.code === "BLOCK_AS_IMPLICIT_KEY" || /Nested mappings are not allowed/.test(error.message)
            ? " (a value that contains ': ' must be quoted, or written as a block: `command: >-`)"
            : "";
        return {
          field: "yaml",
          message: `${firstLine(error.message)}${hint}`,
          line: position.line,
          column: position.col,
        };
      }),
    };
  }

  if (documents.length > MAX_DOCUMENTS) {
    return yamlProblem({
      message: `${documents.length} documents: a file holds a DAG and at most ${MAX_DOCUMENTS - 1} sub-DAGs`,
      offset: documents[MAX_DOCUMENTS]!.range[0],
    });
  }
  const [main, ...others] = [...documents];
  const dag = readDocument(main, lineCounter, options);
  const localDags = others.map((document, index) => {
    const read = readDocument(document, lineCounter, {}, `documents[${index + 1}]`);
    if ("spec" in read && read.spec.name === undefined) {
      const at = { field: `documents[${index + 1}].name`, message: "a sub-DAG after '---' needs a name" };
      return { errors: [withLine(at, document.contents, lineCounter)] };
    }
    return read;
  });
  const errors = [dag, ...localDags].flatMap((read) => ("errors" in read ? read.errors : []));
  const names = new Set<string>();
  localDags.forEach((read, index) => {
    if (!("spec" in read) || read.spec.name === undefined) return;
    if (names.has(read.spec.name)) {
      const at = { field: `documents[${index + 1}].name`, message: `duplicate sub-DAG name '${read.spec.name}'` };
      errors.push(withLine(at, others[index]!.contents, lineCounter));
    }
    names.add(read.spec.name);
  });
  if (errors.length > 0 || !("spec" in dag)) return { ok: false, errors };
  const spec = { ...dag.spec, localDags: localDags.flatMap((read) => ("spec" in read ? [read.spec] : [])) };
  const callErrors = localCallProblems(spec, options.fileName);
  if (callErrors.length > 0) return { ok: false, errors: callErrors };
  return { ok: true, spec };
}

/**
 * The documents after `---` of a valid spec, by name, each as the spec of a run of it: the
 * document first, then its siblings (which it may call), as Dagu resolves a call in the file.
 */
export function localDagSources(source: string): Map<string, string> {
  const [, ...documents] = [...parseAllDocuments(source)];
  // A document after the first keeps its `---` marker when printed: it is put back by the join.
  const texts = documents.map((document) => ({
    name: document.get("name"),
    text: String(document).replace(/^---[ \t]*\n/, ""),
  }));
  return new Map(
    texts.flatMap(({ name, text }) =>
      typeof name === "string"
        ? [[name, [text, ...texts.filter((other) => other.name !== name).map((other) => other.text)].join("---\n")]]
        : [],
    ),
  );
}

/** Every step (and handler) of a DAG. */
export function allSteps(spec: DagSpec): StepSpec[] {
  return [...spec.steps, ...Object.values(spec.handlerOn)];
}

/** The DAGs a spec calls by a fixed name (a name with `${…}` is known only when the step runs). */
export function calledDagNames(spec: DagSpec): string[] {
  return allSteps(spec).flatMap((step) => (step.subDag && !step.subDag.dag.includes("$") ? [step.subDag.dag] : []));
}

/**
 * Calls between the documents of one file that can't work: a cycle (a document that calls
 * itself through others; Dagu would recurse until its depth gives out) and a `dag.enqueue` of a
 * document (a queued run outlives the file's run: it must be a stored DAG).
 */
function localCallProblems(spec: DagSpec, fileName: string | undefined): SpecError[] {
  const mainName = spec.name ?? fileName;
  const documents = new Map<string, DagSpec>(spec.localDags.map((local) => [local.name!, local]));
  if (mainName !== undefined && !documents.has(mainName)) documents.set(mainName, spec);
  const where = (owner: DagSpec) => (owner === spec ? "" : ` (in the document '${owner.name}')`);
  const errors: SpecError[] = [];
  for (const owner of [spec, ...spec.localDags]) {
    for (const step of allSteps(owner)) {
      if (step.subDag?.enqueue && spec.localDags.some((local) => local.name === step.subDag!.dag)) {
        errors.push({
          field: `${step.name}.call`,
          message: `dag.enqueue queues a run of a stored DAG; '${step.subDag.dag}' is a document of this file: use dag.run${where(owner)}`,
        });
      }
    }
  }
  // Depth-first over the calls between documents (an explicit stack: any chain of calls is
  // fine); a call back onto the path is a cycle.
  const done = new Set<string>();
  const callees = (name: string) => calledDagNames(documents.get(name)!).filter((callee) => documents.has(callee));
  for (const root of documents.keys()) {
    if (done.has(root)) continue;
    const path: { name: string; callees: string[]; next: number }[] = [{ name: root, callees: callees(root), next: 0 }];
    const onPath = new Map([[root, 0]]);
    while (path.length > 0) {
      const top = path.at(-1)!;
      const callee = top.callees[top.next++];
      if (callee === undefined) {
        path.pop();
        onPath.delete(top.name);
        done.add(top.name);
        continue;
      }
      const at = onPath.get(callee);
      if (at !== undefined) {
        const cycle = [...path.slice(at).map((each) => each.name), callee];
        errors.push({ field: "call", message: `sub-DAG call cycle ${cycle.join(" -> ")}: a DAG may not call itself` });
        return errors;
      }
      if (done.has(callee)) continue;
      onPath.set(callee, path.length);
      path.push({ name: callee, callees: callees(callee), next: 0 });
    }
  }
  return errors;
}

/** One document of the file, read as a DAG; its errors' fields start with `prefix` (a sub-DAG's place). */
function readDocument(
  document: Document | undefined,
  lineCounter: LineCounter,
  options: ParseOptions,
  prefix = "",
): { spec: DagSpec } | { errors: SpecError[] } {
  // Aliases were bounded by aliasProblem(), by expanded size: stricter than `yaml`'s own alias count.
  const tree: unknown = document?.toJS({ maxAliasCount: -1 }) ?? {};
  const steps = stepCount(tree);
  if (steps > MAX_STEPS) {
    const error = { path: ["steps"], message: `${steps} steps: a DAG has at most ${MAX_STEPS}`, spelledAsSource: true };
    const reported = withPosition(error, document, lineCounter, (path) => path);
    return { errors: [prefix ? { ...reported, field: `${prefix}.${reported.field}` } : reported] };
  }
  const defaultType = defaultDagType(tree);
  const groups = flattenStepGroups(tree, defaultType);
  const dialect = canonicalize(groups.tree, DAG_LEVEL);
  const toSource = (path: Path) => groups.toSource(dialect.toSource(path));
  const located: LocatedError[] = dialect.problems.map(({ sourcePath, message, atKey }) => ({
    path: groups.toSource(sourcePath),
    message,
    atKey,
    spelledAsSource: true,
  }));
  const structure = dagSchema.safeParse(withStringSteps(dialect.tree), { reportInput: true });
  if (!structure.success) {
    for (const issue of structure.error.issues) located.push(...fromZodIssue(issue));
  } else {
    const normalised = normalise(structure.data, defaultType, located);
    // Dagu 2.x spells it `forward_headers` and gives each header a list of values; dagflare's
    // earlier `forwardHeaders` gave the text. Each spelling keeps its own form.
    const spec: DagSpec =
      toSource(["webhook", "forwardHeaders"]).at(-1) === "forward_headers"
        ? { ...normalised, webhook: { ...normalised.webhook, headerValues: "list" } }
        : normalised;
    checkMeaning(structure.data, spec, options, located);
    checkTemplateSteps(structure.data, spec, document, toSource, located);
    if (located.length === 0) return { spec };
  }
  return {
    errors: located.map((error) => {
      const reported = withPosition(error, document, lineCounter, toSource);
      return prefix ? { ...reported, field: `${prefix}.${reported.field}` } : reported;
    }),
  };
}

/** The steps of a document as written, a group's (a list inside `steps`) each counted. */
function stepCount(tree: unknown): number {
  if (typeof tree !== "object" || tree === null || !("steps" in tree) || !Array.isArray(tree.steps)) return 0;
  return tree.steps.reduce((count: number, item: unknown) => count + (Array.isArray(item) ? item.length : 1), 0);
}

/** Dagu's shorthand step `- echo hi` is a step with that command. */
function withStringSteps(tree: unknown): unknown {
  if (typeof tree !== "object" || tree === null || !("steps" in tree) || !Array.isArray(tree.steps)) return tree;
  return { ...tree, steps: tree.steps.map((step: unknown) => (typeof step === "string" ? { command: step } : step)) };
}

function fromZodIssue(issue: z.core.$ZodIssue): LocatedError[] {
  const path = issue.path.filter((segment): segment is string | number => typeof segment !== "symbol");
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => ({ path: [...path, key], message: unknownFieldMessage(path, key), atKey: true }));
  }
  if (issue.code === "invalid_type" && issue.input === undefined) {
    return [{ path, message: "is required" }];
  }
  // zod's generic prefix adds nothing next to a field name.
  return [{ path, message: issue.message.replace(/^Invalid input: /, "") }];
}

/** A field no schema level has: a Dagu feature dagflare doesn't run (why, and instead), or a likely typo. */
function unknownFieldMessage(path: Path, key: string): string {
  const inStep = path.length === 2 && (path[0] === "steps" || path[0] === "handlerOn");
  const inHandlers = path.length === 1 && path[0] === "handlerOn";
  const inDefaults = path.length === 1 && path[0] === "defaults";
  const level =
    path.length === 0 ? "dag" : inStep ? "step" : inHandlers ? "handler" : inDefaults ? "defaults" : undefined;
  const reason = level && unsupportedField(level, key);
  if (reason) return `'${key}' ${reason}`;
  const suggestion = nearestName(key, KNOWN_FIELDS);
  return suggestion ? `unknown field '${key}' (did you mean '${suggestion}'?)` : `unknown field '${key}'`;
}

// ---------------------------------------------------------------------------------------------
// Normalisation: shorthand forms to one shape.

function normalise(raw: RawDag, defaultType: DagType, errors: LocatedError[]): DagSpec {
  const defaults: StepDefaults = {
    shell: raw.shell,
    dir: raw.workingDir,
    retryPolicy: raw.defaults?.retryPolicy,
    repeatPolicy: raw.defaults?.repeatPolicy,
    continueOn: raw.defaults?.continueOn,
    timeoutSec: raw.defaults?.timeoutSec,
    env: toKeyValues(raw.defaults?.env, ["defaults", "env"], errors),
  };
  const handlerOn: DagSpec["handlerOn"] = {};
  const handlers = raw.handlerOn ?? {};
  const handlerEntries: [HandlerEvent, keyof typeof handlers][] = [
    ["success", "success"],
    ["failure", "failure"],
    // Dagu spells the abort handler `cancel` in older specs; both mean the same.
    ["abort", handlers.abort === undefined ? "cancel" : "abort"],
    ["exit", "exit"],
  ];
  for (const [event, key] of handlerEntries) {
    const step = handlers[key];
    if (step) handlerOn[event] = normaliseStep(step, `on${capitalise(event)}`, ["handlerOn", key], errors, defaults);
  }
  return {
    name: raw.name,
    description: raw.description ?? "",
    group: raw.group,
    tags: tagsOf(raw.tags),
    type: raw.type ?? defaultType,
    schedule: scheduleEntries(raw.schedule).flatMap((entry) => ("expression" in entry ? [entry.expression] : [])),
    ...paramsOf(raw.params, errors),
    env: toKeyValues(raw.env, ["env"], errors),
    maxActiveRuns: raw.maxActiveRuns ?? 1,
    timeoutSec: raw.timeoutSec,
    maxOutputSize: raw.maxOutputSize ?? DEFAULT_MAX_OUTPUT_SIZE,
    histRetentionDays: raw.histRetentionDays ?? DEFAULT_HIST_RETENTION_DAYS,
    webhook: {
      forwardHeaders: (raw.webhook?.forwardHeaders ?? []).map((name) => name.toLowerCase()),
      headerValues: "text",
      runIdHeader: raw.webhook?.runIdHeader,
      storeBodies: raw.webhook?.storeBodies ?? true,
      ...(raw.webhook?.maxPayloadSize === undefined ? {} : { maxPayloadSize: raw.webhook.maxPayloadSize }),
      ...(raw.webhook?.schema === undefined ? {} : { schema: raw.webhook.schema }),
      ...(raw.webhook?.events === undefined ? {} : { events: raw.webhook.events }),
    },
    steps: wireRouters(
      resolveIdDependencies(
        // Dagu names a step without a name by its kind and place: cmd_1, script_2, http_3, …
        raw.steps.map((step, index) =>
          normaliseStep(step, generatedStepName(step, index + 1), ["steps", index], errors, defaults),
        ),
      ),
      raw.type ?? defaultType,
      errors,
    ),
    handlerOn,
    localDags: [],
  };
}

/**
 * A step's command as one text. Dagu 1.x runs a list of commands one after another and stops at
 * the first that fails (checked with the Dagu 1.30.2 binary); for the http executor a list is
 * the words of `METHOD URL`.
 */
function commandText(command: RawStep["command"], executor: RawStep["executor"]): string | undefined {
  if (!Array.isArray(command)) return command;
  const type = typeof executor === "string" ? executor : executor?.type;
  if (type === "http") return command.map(String).join(" ");
  // Each in a fresh shell, as Dagu runs them: a `cd` or `export` doesn't carry to the next.
  return command.map((each) => `( ${String(each)}\n)`).join(" && ");
}

/** `depends` may name a step by its `id` (Dagu); the plan works with names. */
function resolveIdDependencies(steps: StepSpec[]): StepSpec[] {
  const names = new Set(steps.map((step) => step.name));
  const nameOfId = new Map(steps.flatMap((step) => (step.id === undefined ? [] : [[step.id, step.name] as const])));
  return steps.map((step) => ({
    ...step,
    depends: step.depends?.map((dependency) =>
      names.has(dependency) ? dependency : (nameOfId.get(dependency) ?? dependency),
    ),
  }));
}

/**
 * The DAG's params: defaults in order (Dagu's string form, a map, or a list of `KEY=value`,
 * `KEY: value` and 2.x typed definitions) and the rules of the typed ones, whose defaults must
 * keep their own rules.
 */
function paramsOf(raw: RawDag["params"], errors: LocatedError[]): { params: KeyValue[]; paramRules: ParamRule[] } {
  if (typeof raw === "string") {
    return { params: parseParamString(raw).map((entry) => checkedValue(entry, ["params"], errors)), paramRules: [] };
  }
  if (!Array.isArray(raw)) return { params: toKeyValues(raw, ["params"], errors), paramRules: [] };
  const params: KeyValue[] = [];
  const paramRules: ParamRule[] = [];
  raw.forEach((entry, index) => {
    const path = ["params", index];
    const typed =
      typeof entry !== "string" &&
      "name" in entry &&
      Object.keys(entry).some((key) => key !== "name" && TYPED_PARAM_KEYS.has(key));
    if (typeof entry === "string" && !entry.includes("=")) {
      // A bare value is positional, named by its place in the list, as in the string form.
      params.push(checkedValue({ key: String(index + 1), value: entry }, path, errors));
      return;
    }
    if (!typed) {
      const legacy = z.union([z.string(), z.record(z.string(), scalar)]).safeParse(entry);
      if (legacy.success) params.push(...toKeyValues([legacy.data], path, errors));
      else
        errors.push({ path, message: "expected KEY=value, a map of KEY: value, or a typed parameter {name, type, …}" });
      return;
    }
    if ("eval" in entry) {
      errors.push({
        path: [...path, "eval"],
        message: "'eval' runs a command when the DAG loads, which dagflare doesn't: give a default",
      });
      return;
    }
    const definition = typedParamSchema.safeParse(entry);
    if (!definition.success) {
      for (const issue of definition.error.issues) {
        for (const error of fromZodIssue(issue)) errors.push({ ...error, path: [...path, ...error.path] });
      }
      return;
    }
    const {
      name,
      default: fallback,
      type,
      required,
      enum: allowed,
      minimum,
      maximum,
      min_length,
      max_length,
      pattern,
    } = definition.data;
    const rule: ParamRule = {
      name,
      type,
      required: required ?? false,
      enum: allowed?.map(String),
      minimum,
      maximum,
      minLength: min_length,
      maxLength: max_length,
      pattern,
    };
    paramRules.push(rule);
    if (fallback === undefined) return;
    const problem = paramProblem(rule, String(fallback));
    if (problem) errors.push({ path: [...path, "default"], message: `the default breaks its own rule: ${problem}` });
    params.push({ key: name, value: String(fallback) });
  });
  return { params, paramRules };
}

/** What a DAG sets for all of its steps. */
type StepDefaults = {
  shell: string | undefined;
  dir: string | undefined;
  retryPolicy: RawStep["retryPolicy"];
  repeatPolicy: RawStep["repeatPolicy"];
  continueOn: RawStep["continueOn"];
  timeoutSec: number | undefined;
  /** Set before the step's own env, which may override it. */
  env: KeyValue[];
};

function normaliseStep(
  raw: RawStep,
  name: string,
  path: Path,
  errors: LocatedError[],
  defaults: StepDefaults,
): StepSpec {
  const continueOn = raw.continueOn ?? defaults.continueOn;
  const retry = raw.retryPolicy ?? defaults.retryPolicy;
  const executor = raw.executor;
  return {
    name: raw.name ?? name,
    id: raw.id,
    description: raw.description ?? "",
    command: commandText(raw.command, executor),
    script: raw.script,
    shell: raw.shell ?? defaults.shell,
    dir: raw.dir ?? defaults.dir,
    depends: raw.depends === undefined ? undefined : toList(raw.depends),
    ...outputOf(raw.output),
    env: [...defaults.env, ...toKeyValues(raw.env, [...path, "env"], errors)],
    preconditions: toList(raw.preconditions).map((condition) =>
      conditionOf(typeof condition === "string" ? { condition } : condition),
    ),
    repeatPolicy: repeatPolicyOf(raw.repeatPolicy ?? defaults.repeatPolicy),
    retryPolicy: retry && {
      limit: retry.limit,
      intervalSec: retry.intervalSec ?? 0,
      exitCodes: toList(retry.exitCode),
      backoff: backoffOf(retry.backoff),
      maxIntervalSec: retry.maxIntervalSec,
    },
    continueOn:
      typeof continueOn === "string"
        ? {
            failure: continueOn !== "skipped",
            skipped: continueOn === "skipped",
            exitCodes: [],
            output: [],
            markSuccess: false,
          }
        : {
            failure: continueOn?.failure ?? false,
            skipped: continueOn?.skipped ?? false,
            exitCodes: toList(continueOn?.exitCode),
            output: toList(continueOn?.output),
            markSuccess: continueOn?.markSuccess ?? false,
          },
    timeoutSec: raw.timeoutSec ?? defaults.timeoutSec,
    executor:
      executor === undefined
        ? undefined
        : typeof executor === "string"
          ? { type: executor, config: {} }
          : { type: executor.type, config: (executor.config ?? {}) as JsonObject },
    subDag: subDagOf(raw, path, errors),
    router: raw.router && { value: raw.router.value, routes: orderedRoutes(raw.router.routes) },
    // A router runs in the Worker: it only prints its routes (./invocation.ts).
    ...(raw.router && { executor: { type: "log", config: {} } }),
  };
}

/**
 * A DAG's type when it sets none. Dagu 1.x and 2.0–2.6 default to `chain`; Dagu 2.7 made
 * `graph` the default, in the release that brought its step forms `run:` (as shell text),
 * `action:` and `with:`. A file that uses them is a 2.7+ file and is read as one; so is a file
 * with a router, which only 2.x reads. Any other file reads as a chain — a 2.7+ file written in
 * the older forms can't be told from a 1.x one (the README says to write `type: graph`).
 */
function defaultDagType(tree: unknown): DagType {
  const isObject = (value: unknown): value is Record<string, unknown> =>
    typeof value === "object" && value !== null && !Array.isArray(value);
  if (!isObject(tree)) return "chain";
  const steps = Array.isArray(tree.steps) ? tree.steps.flat() : [];
  const handlers = [tree.handlerOn, tree.handler_on].flatMap((map) => (isObject(map) ? Object.values(map) : []));
  const writtenIn27 = (step: unknown) =>
    isObject(step) &&
    (step.action !== undefined ||
      step.with !== undefined ||
      step.type === "router" ||
      // `run:` next to `params:` is Dagu 1.x's sub-DAG call.
      (step.run !== undefined && step.params === undefined));
  return [...steps, ...handlers].some(writtenIn27) ? "graph" : "chain";
}

/** Dagu's order of a router's routes: exact patterns, then `re:` ones, a catch-all `re:.*` last, each group by text. */
function orderedRoutes(routes: Record<string, string[]>): { pattern: string; targets: string[] }[] {
  const rank = (pattern: string) => (pattern === "re:.*" ? 2 : pattern.startsWith("re:") ? 1 : 0);
  return Object.entries(routes)
    .map(([pattern, targets]) => ({ pattern, targets }))
    .sort((a, b) => rank(a.pattern) - rank(b.pattern) || (a.pattern < b.pattern ? -1 : a.pattern > b.pattern ? 1 : 0));
}

/**
 * A router's routes become its targets' conditions, as Dagu wires them: each target depends on
 * the router and runs only when the router's value matches its route's pattern (exact, or
 * `re:`), else it is skipped; skipping is no failure downstream (continueOn.skipped).
 */
function wireRouters(steps: StepSpec[], type: DagType, errors: LocatedError[]): StepSpec[] {
  const routed = new Map<string, { router: string; condition: Condition }>();
  // A route may name a step by its id, as `depends` may.
  const nameOf = (target: string) =>
    steps.some((step) => step.name === target) ? target : (steps.find((step) => step.id === target)?.name ?? target);
  steps.forEach((step, index) => {
    if (!step.router) return;
    if (type !== "graph") {
      errors.push({
        path: ["steps", index],
        message: `router '${step.name}' needs 'type: graph' (a chain runs every step in order)`,
      });
    }
    for (const { pattern, targets } of step.router.routes) {
      for (const target of targets.map(nameOf)) {
        const earlier = routed.get(target);
        if (earlier) {
          errors.push({
            path: ["steps", index],
            message: `router '${step.name}': step '${target}' is the target of more than one route`,
          });
        } else if (!steps.some((candidate) => candidate.name === target)) {
          errors.push({
            path: ["steps", index],
            message: `router '${step.name}' routes to '${target}', which is not a step`,
          });
        }
        routed.set(target, {
          router: step.name,
          condition: conditionOf({ condition: step.router.value, expected: pattern }),
        });
      }
    }
  });
  return steps.map((step) => {
    const route = routed.get(step.name);
    const skippedIsFine = step.router !== undefined || route !== undefined;
    return {
      ...step,
      ...(route && {
        preconditions: [...step.preconditions, route.condition],
        depends: [...new Set([...(step.depends ?? []), route.router])],
      }),
      ...(skippedIsFine && { continueOn: { ...step.continueOn, skipped: true } }),
    };
  });
}

/** A step's call of another DAG, its params as Dagu's string form and its fan-out; `params`/`parallel` need a call. */
function subDagOf(raw: RawStep, path: Path, errors: LocatedError[]): SubDagCall | undefined {
  if (raw.call === undefined) {
    for (const field of ["params", "parallel"] as const) {
      if (raw[field] === undefined) continue;
      const what = field === "params" ? "passes params to" : "runs one call per item of";
      errors.push({
        path: [...path, field],
        message: `'${field}' ${what} a sub-DAG: it goes with 'call' (2.x: action: dag.run)`,
      });
    }
    return undefined;
  }
  const { dag, enqueue } = typeof raw.call === "string" ? { dag: raw.call, enqueue: false } : raw.call;
  // Dagu also finds a DAG by its file name.
  const name = dag.replace(/\.ya?ml$/, "");
  if (!name.includes("$") && name.includes("/")) {
    errors.push({
      path: [...path, "call"],
      message: `'${dag}' names a DAG by its file path, and dagflare's DAGs have names, not folders: call it by its name`,
    });
  } else if (!name.includes("$") && !isValidDagName(name)) {
    errors.push({ path: [...path, "call"], message: `'${dag}' is not a DAG name: ${DAG_NAME_RULE}` });
  }
  return { dag: name, params: paramsTextOf(raw.params), enqueue, parallel: parallelOf(raw.parallel) };
}

/** A call's params as Dagu's string form: as written, or a map / list of `KEY=value` joined with values quoted. */
function paramsTextOf(raw: RawStep["params"]): string {
  if (raw === undefined || typeof raw === "string") return raw ?? "";
  const pairs = (map: Record<string, unknown>) =>
    Object.entries(map).map(
      ([key, value]) => `${key}=${quoteParam(typeof value === "string" ? value : JSON.stringify(value))}`,
    );
  const entries = Array.isArray(raw) ? raw : [raw];
  return entries.flatMap((entry) => (typeof entry === "string" ? [entry] : pairs(entry))).join(" ");
}

/** A param value as Dagu's string form writes it: quoted (JSON-style) when it has spaces or quotes, or is empty. */
export function quoteParam(value: string): string {
  return /[\s"']/.test(value) || value === "" ? JSON.stringify(value) : value;
}

function parallelOf(raw: RawStep["parallel"]): ParallelSpec | undefined {
  if (raw === undefined) return undefined;
  const { items, maxConcurrent } = typeof raw === "string" || Array.isArray(raw) ? { items: raw } : raw;
  return typeof items === "string"
    ? { items: undefined, variable: items, maxConcurrent: maxConcurrent ?? DEFAULT_MAX_CONCURRENT }
    : {
        items: items.map(parallelItemText),
        variable: undefined,
        maxConcurrent: maxConcurrent ?? DEFAULT_MAX_CONCURRENT,
      };
}

/** An item as Dagu passes it: a string as written, a number as Go prints it, an object as JSON (keys sorted, values as text). */
function parallelItemText(item: string | number | Record<string, string | number | boolean>): string {
  if (typeof item !== "object") return String(item);
  const entries = Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(Object.fromEntries(entries.map(([key, value]) => [key, String(value)])));
}

/** `KEY=value` strings, single-key maps or one map, all to `{key, value}` in order. */
function toKeyValues(raw: z.infer<typeof keyValues> | undefined, path: Path, errors: LocatedError[]): KeyValue[] {
  if (raw === undefined) return [];
  const list = Array.isArray(raw);
  const entries = list ? raw : [raw];
  return entries.flatMap((entry, index) => {
    const at = list ? [...path, index] : path;
    if (typeof entry !== "string") {
      return Object.entries(entry).map(([key, value]) =>
        checkedValue({ key, value: String(value) }, [...at, key], errors),
      );
    }
    const equals = entry.indexOf("=");
    if (equals <= 0) {
      errors.push({ path, message: `expected KEY=value, got '${entry}'`, at });
      return [];
    }
    return [checkedValue({ key: entry.slice(0, equals), value: entry.slice(equals + 1) }, at, errors)];
  });
}

/** The texts of a step in which Dagu expands references (never a template's text). */
const stepTexts = (step: StepSpec) => [
  step.command,
  step.executor?.type === "template" ? undefined : step.script,
  ...step.env.map(({ value }) => value),
  ...step.preconditions.map(({ condition }) => condition),
  JSON.stringify(step.executor?.config ?? {}),
];

/**
 * Why a reference in these texts can't run, if one can't: Dagu 1.30's `${id.stdout}`,
 * `${id.stderr}`, `${id.exitCode}` of a step with that id, and Dagu 2.x's `${params.NAME}`.
 * Left alone, each would expand to nothing here.
 */
function unsupportedReference(
  texts: readonly (string | undefined)[],
  stepIds: ReadonlySet<string>,
): string | undefined {
  for (const text of texts) {
    for (const match of (text ?? "").matchAll(/\$\{([A-Za-z_][A-Za-z0-9_-]*)\.([A-Za-z_][A-Za-z0-9_]*)\}/g)) {
      const [reference, owner, field] = match as unknown as [string, string, string];
      if (stepIds.has(owner) && ["stdout", "stderr", "exitCode"].includes(field))
        return `'${reference}' reads another step's log file or exit code, which is not supported yet: give that step an \`output:\` and use its variable`;
      if (owner === "params" || owner === "env")
        return `'${reference}' (Dagu 2.x) is not supported yet: write \`\${${field}}\``;
    }
  }
  return undefined;
}

/** A precondition or repeat condition as read. An empty `expected` is none, as in Dagu: the condition runs as a command. */
function conditionOf(raw: {
  condition: string;
  expected?: string | number | boolean | undefined;
  negate?: boolean | undefined;
  error?: string | undefined;
}): Condition {
  const expected = raw.expected === undefined || raw.expected === "" ? undefined : String(raw.expected);
  return { condition: raw.condition, expected, negate: raw.negate ?? false, error: raw.error };
}

/** Dagu's repeat modes: explicit, `repeat: true` (while), or implied (a condition: until; exit codes: while). */
function repeatPolicyOf(raw: RawStep["repeatPolicy"]): RepeatPolicy | undefined {
  if (!raw) return undefined;
  const exitCodes = toList(raw.exitCode);
  const condition =
    raw.condition === undefined ? undefined : conditionOf({ condition: raw.condition, expected: raw.expected });
  const mode =
    raw.repeat === "while" || raw.repeat === "until"
      ? raw.repeat
      : raw.repeat === true
        ? "while"
        : condition !== undefined
          ? "until"
          : exitCodes.length > 0
            ? "while"
            : undefined;
  if (mode === undefined) return undefined;
  return {
    mode,
    condition,
    exitCodes,
    intervalSec: raw.intervalSec ?? 0,
    backoff: backoffOf(raw.backoff),
    maxIntervalSec: raw.maxIntervalSec,
    limit: raw.limit,
  };
}

const backoffOf = (backoff: boolean | number | undefined) =>
  backoff === true ? 2 : backoff === false || backoff === undefined ? 1 : backoff;

/**
 * A step's `output`: its variable, and its key in the run's outputs as Dagu 1.30.2 writes it —
 * the `key` given, or the name in camelCase (`TOTAL_COUNT` → `totalCount`, `myVar` → `myvar`),
 * or none with `omit: true` (the variable still works in the DAG).
 */
function outputOf(raw: RawStep["output"]): { output: string | undefined; outputKey: string | null } {
  if (raw === undefined) return { output: undefined, outputKey: null };
  const { name, key, omit } = typeof raw === "string" ? { name: raw, key: undefined, omit: false } : raw;
  const variable = name.replace(/^\$/, "");
  if (omit) return { output: variable, outputKey: null };
  const words = variable.split("_").filter((word) => word !== "");
  const camel = words.map((word, index) =>
    index === 0 ? word.toLowerCase() : word[0]!.toUpperCase() + word.slice(1).toLowerCase(),
  );
  return { output: variable, outputKey: key ?? camel.join("") };
}

/**
 * Dagu runs `` `command` `` in an env or param value when it loads the DAG; dagflare runs
 * nothing outside a step, so such a value is refused rather than kept as text.
 */
function checkedValue(entry: KeyValue, at: Path, errors: LocatedError[]): KeyValue {
  if (/`[^`]*`/.test(entry.value)) {
    errors.push({
      path: at,
      message: `'${entry.key}' runs a command (\`…\`) when the DAG loads, which dagflare doesn't: run it in a step with \`output:\` and use that variable`,
    });
  }
  return entry;
}

/**
 * Dagu's string form of params: `A=1 B="two words" positional`. A positional value is named by
 * its 1-based position among all the tokens (in `A=1 x`, x is `2`), as Dagu exposes `$2`.
 */
export function parseParamString(source: string): KeyValue[] {
  const tokens = source.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) ?? [];
  return tokens.map((token, index) => {
    const named = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(token);
    return named ? { key: named[1]!, value: unquote(named[2]!) } : { key: String(index + 1), value: unquote(token) };
  });
}

// ---------------------------------------------------------------------------------------------
// Meaning: what the structure can't say.

function checkMeaning(raw: RawDag, spec: DagSpec, options: ParseOptions, errors: LocatedError[]): void {
  if (spec.name !== undefined && options.fileName !== undefined && spec.name !== options.fileName) {
    errors.push({
      path: ["name"],
      message: `'${spec.name}' differs from the DAG's name '${options.fileName}'; remove it or make them equal`,
    });
  }
  if (spec.name !== undefined && !isValidDagName(spec.name)) {
    errors.push({ path: ["name"], message: DAG_NAME_RULE });
  }
  if (raw.webhook?.schema !== undefined) {
    for (const problem of schemaProblems(raw.webhook.schema))
      errors.push({ path: ["webhook", "schema", ...problem.path], message: problem.message });
  }

  for (const entry of scheduleEntries(raw.schedule)) {
    const problem = "problem" in entry ? entry.problem : cronProblem(entry.expression);
    if (!problem) continue;
    const message = "problem" in entry ? problem : `'${entry.expression}': ${problem}`;
    errors.push({ path: "problem" in entry ? entry.path : ["schedule"], message, at: entry.path });
  }

  const firstIndex = new Map<string, number>();
  spec.steps.forEach((step, index) => {
    if (firstIndex.has(step.name)) {
      errors.push({ path: ["steps", index, "name"], message: `duplicate step name '${step.name}'` });
    } else {
      firstIndex.set(step.name, index);
    }
  });

  const stepIds = new Set(spec.steps.flatMap((step) => (step.id === undefined ? [] : [step.id])));
  const envReference = unsupportedReference(
    [...spec.env, ...spec.params].map(({ value }) => value),
    stepIds,
  );
  if (envReference) errors.push({ path: ["env"], message: envReference });
  const checkStep = (step: StepSpec, rawStep: RawStep, path: Path) => {
    if (
      step.command === undefined &&
      step.script === undefined &&
      step.subDag === undefined &&
      step.router === undefined
    ) {
      errors.push({ path, message: "a step needs a command or a script" });
    }
    if (step.subDag) checkSubDagStep(step, path, errors);
    const refusal = step.executor && executorRefusal(step.executor.type);
    if (refusal) errors.push({ path: [...path, "executor"], message: refusal });
    if (step.executor?.type === "jq") {
      const problems = jqStepProblems({ command: rawStep.command, script: step.script, config: step.executor.config });
      for (const { field, message } of problems) errors.push({ path: [...path, field], message });
    }
    const reference = unsupportedReference(stepTexts(step), stepIds);
    if (reference) errors.push({ path, message: reference });

    step.preconditions.forEach((condition, index) => {
      const regex = condition.expected?.startsWith("re:") ? condition.expected.slice(3) : undefined;
      if (regex !== undefined && !compiles(regex)) {
        const at = Array.isArray(rawStep.preconditions)
          ? [...path, "preconditions", index]
          : [...path, "preconditions"];
        errors.push({ path: [...path, "preconditions"], message: `invalid regular expression '${regex}'`, at });
      }
    });
  };

  spec.steps.forEach((step, index) => {
    const path = ["steps", index];
    const rawStep = raw.steps[index]!;
    checkStep(step, rawStep, path);
    (step.depends ?? []).forEach((dependency, dependencyIndex) => {
      if (firstIndex.has(dependency)) return;
      const at = Array.isArray(rawStep.depends) ? [...path, "depends", dependencyIndex] : [...path, "depends"];
      errors.push({ path: [...path, "depends"], message: `unknown step '${dependency}'`, at });
    });
  });
  for (const { step, rawStep, path } of handlerSteps(raw, spec)) checkStep(step, rawStep, path);

  if (errors.length > 0) return;
  const cycle = findCycle(resolveDependencies(spec.steps, spec.type));
  if (cycle) {
    const index = firstIndex.get(cycle[0]!)!;
    const declared = raw.steps[index]!.depends !== undefined;
    errors.push({
      path: ["steps", index, "depends"],
      message: `dependency cycle ${cycle.join(" -> ")}`,
      at: declared ? ["steps", index, "depends"] : ["steps", index],
    });
  }
}

/**
 * What a calling step may not have: a command-run condition (the call runs in the Worker, where
 * no shell is; Dagu runs it in the parent's process).
 */
function checkSubDagStep(step: StepSpec, path: Path, errors: LocatedError[]): void {
  const shellConditions = [
    ...step.preconditions,
    ...(step.repeatPolicy?.condition ? [step.repeatPolicy.condition] : []),
  ];
  const shell = shellConditions.find(isShellCondition);
  if (shell) {
    errors.push({
      path,
      message: `'${shell.condition}' runs a command, and a step that calls a DAG runs no commands itself: compare a variable instead (e.g. an earlier step's output)`,
    });
  }
}

/** The DAG's handlers with their paths (`abort` may be written `cancel`). */
function handlerSteps(raw: RawDag, spec: DagSpec): { step: StepSpec; rawStep: RawStep; path: Path }[] {
  return Object.entries(spec.handlerOn).map(([event, step]) => {
    const key = event === "abort" && raw.handlerOn?.abort === undefined ? "cancel" : event;
    return { step, rawStep: raw.handlerOn![key as keyof NonNullable<RawDag["handlerOn"]>]!, path: ["handlerOn", key] };
  });
}

/**
 * Template steps (Dagu 2.x template.render) checked against the YAML as written: the template
 * must parse as Go's text/template with what dagflare renders, and each value of its data must
 * read here as Dagu's YAML reads it (./template-render.ts). Errors point into the step's own
 * fields: `with.template` (2.x), or `script` and `config.data` (2.0's `type:`, 1.x's `executor:`).
 */
function checkTemplateSteps(
  raw: RawDag,
  spec: DagSpec,
  document: Document | undefined,
  toSource: (path: Path) => Path,
  located: LocatedError[],
): void {
  const steps = [
    ...spec.steps.map((step, index) => ({ step, path: ["steps", index] as Path })),
    ...handlerSteps(raw, spec),
  ];
  for (const { step, path } of steps) {
    if (step.executor?.type !== "template") continue;
    const sourcePath = toSource(path);
    const node = document?.getIn(sourcePath, true);
    const written = (key: string) => isMap(node) && node.has(key);
    const fields = written("with")
      ? { text: ["with", "template"], config: ["with"] }
      : written("config")
        ? { text: ["script"], config: ["config"] }
        : { text: ["script"], config: ["executor", "config"] };
    for (const problem of templateStepProblems({ script: step.script, config: step.executor.config })) {
      const field = problem.field === "script" ? fields.text : fields.config;
      located.push({ path: [...sourcePath, ...field], message: problem.message, spelledAsSource: true });
    }
    const data = isMap(node) ? node.getIn([...fields.config, "data"], true) : undefined;
    for (const problem of templateDataProblems(data)) {
      const at = [...sourcePath, ...fields.config, "data", ...problem.path];
      located.push({ path: at, message: problem.message, spelledAsSource: true });
    }
  }
}

export const DAG_NAME_RULE = `must match ${DAG_NAME_PATTERN.source} and be at most ${DAG_NAME_MAX_LENGTH} characters`;

export function isValidDagName(name: string): boolean {
  return name.length <= DAG_NAME_MAX_LENGTH && DAG_NAME_PATTERN.test(name);
}

/** Dagu's cron: five fields or a `@daily`-style nickname, optionally behind `CRON_TZ=<zone> `. */
export function parseSchedule(expression: string): { pattern: string; timezone: string | undefined } {
  const zoned = /^CRON_TZ=(\S+)\s+(.*)$/s.exec(expression.trim());
  return zoned
    ? { pattern: zoned[2]!.trim(), timezone: zoned[1] }
    : { pattern: expression.trim(), timezone: undefined };
}

function cronProblem(expression: string): string | undefined {
  const { pattern, timezone } = parseSchedule(expression);
  if (!pattern.startsWith("@") && pattern.split(/\s+/).length !== 5) {
    return "expected 5 fields (minute hour day-of-month month day-of-week)";
  }
  if (timezone !== undefined && !isTimeZone(timezone)) return `unknown time zone '${timezone}'`;
  try {
    new Cron(pattern, { paused: true, timezone });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : "invalid cron expression";
  }
}

/** The next time a schedule fires after `from`, or `undefined` when it never does. */
export function nextScheduledRun(expression: string, from: Date): Date | undefined {
  const { pattern, timezone } = parseSchedule(expression);
  try {
    return new Cron(pattern, { paused: true, timezone }).nextRun(from) ?? undefined;
  } catch {
    return undefined;
  }
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Positions.

/** The error as reported: its field and place in the spelling the file used. */
function withPosition(
  error: LocatedError,
  document: Document | undefined,
  lineCounter: LineCounter,
  toSource: (path: Path) => Path,
): SpecError {
  const asWritten = error.spelledAsSource ? (path: Path) => path : toSource;
  const field = fieldName(asWritten(error.path)) || "spec";
  const offset = offsetOf(document, asWritten(error.at ?? error.path), error.atKey ?? false);
  if (offset === undefined) return { field, message: error.message };
  const { line, col } = lineCounter.linePos(offset);
  return { field, message: error.message, line, column: col };
}

/** An error placed at the start of a node (a whole document, say). */
function withLine(error: SpecError, node: unknown, lineCounter: LineCounter): SpecError {
  const offset = rangeStart(node);
  if (offset === undefined) return error;
  const { line, col } = lineCounter.linePos(offset);
  return { ...error, line, column: col };
}

/** Start offset of the node at `path` (of its key when `atKey`), or of its nearest existing ancestor. */
function offsetOf(document: Document | undefined, path: Path, atKey: boolean): number | undefined {
  let node: unknown = document?.contents;
  let offset = rangeStart(node);
  for (const [depth, segment] of path.entries()) {
    const last = depth === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && item.key.value === segment);
      if (!pair) break;
      if (last && atKey) return rangeStart(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === "number") {
      node = node.items[segment];
    } else {
      break;
    }
    offset = rangeStart(node) ?? offset;
  }
  return offset;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
  return range?.[0];
}

// ---------------------------------------------------------------------------------------------

function fieldName(path: Path): string {
  return path.reduce<string>(
    (name, segment) => (typeof segment === "number" ? `${name}[${segment}]` : name ? `${name}.${segment}` : segment),
    "",
  );
}

function toList<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function unquote(value: string): string {
  return /^(["']).*\1$/s.test(value) ? value.slice(1, -1) : value;
}

function firstLine(message: string): string {
  return message.split("\n")[0]!.trim();
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Registry helpers.

/** What the registry stores besides the YAML, derived from the parsed spec on every write. */
export type DagRecord = {
  name: string;
  spec: string;
  description: string;
  tags: string[];
  schedules: string[];
  webhook: DagSpec["webhook"];
};

export type RecordResult = { ok: true; record: DagRecord; spec: DagSpec } | { ok: false; errors: SpecError[] };

export function toDagRecord(name: string, source: string): RecordResult {
  const parsed = parseDagSpec(source, { fileName: name });
  if (!parsed.ok) return parsed;
  const { spec } = parsed;
  return {
    ok: true,
    spec,
    record: {
      name,
      spec: source,
      description: spec.description,
      tags: spec.tags,
      schedules: spec.schedule,
      webhook: spec.webhook,
    },
  };
}

/**
 * The spec with its DAG's `name:` field (if it has one) set to `name`, comments and layout kept;
 * sub-DAGs after `---` keep theirs.
 */
export function renameInSpec(source: string, name: string): string {
  const documents = [...parseAllDocuments(source)];
  const [main] = documents;
  if (!main || !isMap(main.contents) || !main.has("name")) return source;
  main.set("name", name);
  return documents.map((document) => document.toString()).join("");
}

export function defaultSpec(name: string): string {
  return `# ${name}: describe what this DAG does.\nsteps:\n  - name: hello\n    command: echo "hello from ${name}"\n`;
}
