/**
 * Dagu DAG fields dagflare knows and doesn't run, each with why and what to use instead: a file
 * that uses one is refused naming the feature, rather than with a bare "unknown field". Keys are
 * the 1.x camelCase spelling; a 2.x snake_case key is looked up by its camelCase twin.
 */
import { snakeToCamel } from "./dialect.ts";

const NOT_HERE = "dagflare keeps each run's logs itself; there are no log files to place";

const DAG_FIELDS: Readonly<Record<string, string>> = {
  dotenv: "loads .env files next to the DAG, which dagflare doesn't keep: set the variables in `env:`",
  logDir: NOT_HERE,
  logOutput: NOT_HERE,
  mailOn: "sends e-mail, which dagflare doesn't: use an alert policy (JOB_SUCCESS / JOB_FAILURE)",
  errorMail: "sends e-mail, which dagflare doesn't: use an alert policy (JOB_FAILURE)",
  infoMail: "sends e-mail, which dagflare doesn't: use an alert policy (JOB_SUCCESS)",
  smtp: "configures e-mail, which dagflare doesn't send: use an alert policy",
  preconditions: "DAG-level preconditions are not supported: put them on the first step",
  precondition: "DAG-level preconditions are not supported: put them on the first step",
  delaySec: "is not supported: the steps start at once",
  restartWaitSec: "is not supported: dagflare has no restart",
  maxCleanUpTimeSec: "is not supported: a stopped step's process tree is killed at once",
  maxActiveSteps: "is not supported yet: independent steps all start together",
  queue: "is not supported: each DAG has its own queue, bounded by maxActiveRuns",
  skipIfSuccessful: "is not supported: a scheduled run always runs",
  stopSchedule: "is not supported: only start schedules are",
  restartSchedule: "is not supported: only start schedules are",
  secrets:
    "is not supported yet: dagflare has no secret store for DAGs, and a spec is stored as written, so keep secrets out of it",
  container:
    "runs the steps in a container image per DAG, which dagflare cannot: the steps already run in the runner image",
  ssh: "configures SSH, and dagflare has no SSH client",
  workerSelector: "chooses Dagu workers; dagflare has one pool of runners",
  runConfig:
    "sets how Dagu's UI starts runs, which dagflare doesn't read: params are edited at start per its own rules",
  // Dagu 2.x
  retryPolicy: "retries the whole DAG, which dagflare doesn't: set `retry_policy` on the steps, or in `defaults`",
  histRetentionRuns: "is not supported: keep history by age with `hist_retention_days`",
  catchupWindow:
    "replays missed schedule ticks, which dagflare doesn't: a tick missed while the Worker was away is not run later",
  overlapPolicy: "goes with `catchup_window` (replaying missed ticks), which dagflare doesn't",
  consts: "is not supported yet: write the values in `env:`",
  shellArgs: "is not supported: put the options in the commands, or run `bash -o …` in them",
  tools:
    "installs CLI tools where steps run, which dagflare doesn't: install them in the runner image (container/Dockerfile)",
  resources: "sets CPU and memory limits per run: choose the runner's instance type in wrangler.toml instead",
  registryAuths: "configures container registries, which dagflare doesn't pull from: steps run in the runner image",
  kubernetes: "runs steps on Kubernetes, which dagflare can't: steps run in the runner image",
  actions: "defines custom actions, which dagflare doesn't run: write their steps out in the DAG",
  stepTypes: "defines custom step types, which dagflare doesn't run: write their steps out in the DAG",
  artifacts:
    "keeps files per run, which dagflare doesn't: upload them from a step (`action: http.request`), pass data with `output:`",
  otel: "exports OpenTelemetry traces, which dagflare doesn't: its logs are JSON lines with the run id (Workers Logs)",
  llm: "configures LLM agent steps, which dagflare doesn't run: call the model's API with `action: http.request`",
  harness: "runs coding-agent harnesses, which dagflare doesn't",
  harnesses: "runs coding-agent harnesses, which dagflare doesn't",
  tasks: "goes with agent DAGs, which dagflare doesn't run",
  redis:
    "configures the redis actions, which dagflare doesn't run: use a `run:` step with redis-cli in the runner image",
  s3: "configures the s3 actions, which dagflare doesn't run: use the bucket's API with `action: http.request`",
};

const STEP_FIELDS: Readonly<Record<string, string>> = {
  mailOnError: "sends e-mail, which dagflare doesn't: use an alert policy (JOB_FAILURE)",
  signalOnStop: "is not supported: a stopped step's process tree gets SIGTERM, then SIGKILL",
  stdout: NOT_HERE,
  stderr: NOT_HERE,
  logOutput: NOT_HERE,
  workerSelector: "chooses Dagu workers; dagflare has one pool of runners",
  container: "runs the step in a container image, which dagflare cannot: the steps already run in the runner image",
  shellArgs: "is not supported: put the options in the command, or run `bash -o …` in it",
  shellPackages: "installs packages for nix-shell, which dagflare doesn't: install them in the runner image",
  // Dagu 2.x
  foreach: "repeats steps over items, which comes with the composition work (not supported yet)",
  routes: "goes with a router: write `type: router` (2.x: `action: router.route` with `with: {value, routes}`)",
  value: "goes with a router: write `type: router` (2.x: `action: router.route` with `with: {value, routes}`)",
  approval: "waits for a person's approval, which dagflare doesn't: split the DAG and start the rest by webhook",
  dependencies:
    "snapshots files for Dagu's distributed workers, which dagflare doesn't need: put the files in dags/, which the runner image holds",
  inputs: "declares build inputs, which dagflare doesn't: steps read the runner image's dags/ folder",
  outputs: "declares typed outputs, which dagflare doesn't: use `output:` (a variable) instead",
  outputSchema: "checks a step's output against a schema, which dagflare doesn't",
  llm: "runs an LLM chat step, which dagflare doesn't: call the model's API with `action: http.request`",
  messages: "goes with an LLM chat step, which dagflare doesn't run: call the model's API with `action: http.request`",
  tools: "goes with an LLM chat step, which dagflare doesn't run",
};

/** Handlers (`handlerOn.<event>`) dagflare doesn't run. */
const HANDLER_FIELDS: Readonly<Record<string, string>> = {
  init: "runs a handler before the steps, which is not supported yet: make it the first step (in a graph, one every step depends on)",
  wait: "runs when a step waits for approval, and dagflare has no approval steps",
};

/** `defaults` (2.x) a step would take but dagflare doesn't; the others are refused as in a step. */
const DEFAULTS_FIELDS: Readonly<Record<string, string>> = {
  ...STEP_FIELDS,
  preconditions: "in defaults are not supported yet: put them on the steps",
  call: "is a step's own: a default can't call a DAG for every step",
  parallel: "is a step's own: a default can't fan out every step",
  params: "is a sub-DAG call's own: set them on the calling step",
};

const TABLES = { dag: DAG_FIELDS, step: STEP_FIELDS, handler: HANDLER_FIELDS, defaults: DEFAULTS_FIELDS } as const;

/** Why a field at the DAG's top level, in a step or among the handlers isn't supported, or `undefined` if dagflare doesn't know it. */
export function unsupportedField(level: keyof typeof TABLES, key: string): string | undefined {
  const table = TABLES[level];
  return table[key] ?? table[snakeToCamel(key)];
}

/** Every field this module refuses, by level (the README's Coming-from-Dagu table names each). */
export function refusedFieldNames(): Record<keyof typeof TABLES, string[]> {
  return {
    dag: Object.keys(DAG_FIELDS),
    step: Object.keys(STEP_FIELDS),
    handler: Object.keys(HANDLER_FIELDS),
    defaults: Object.keys(DEFAULTS_FIELDS),
  };
}
