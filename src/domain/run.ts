/**
 * Vocabulary shared by the coordinator (Durable Object), the queue consumer and the routes.
 * A DagRun is one execution of a DAG; a node is one step (or handler) inside it.
 */
import { toHex } from "./bytes.ts";
import type { JsonObject } from "./dag-spec.ts";
import type { RunStatus } from "./status.ts";
import type { ParentLink } from "./sub-dag.ts";
import type { NewWebhookRequest } from "./webhook-request.ts";

/**
 * How a run was started: by a person (manual), an API key, a webhook, a schedule, a retry, or
 * another DAG's step (parent: a sub-DAG call or dag.enqueue).
 */
export const RUN_TRIGGERS = ["manual", "api", "webhook", "schedule", "retry", "parent"] as const;
export type RunTrigger = (typeof RUN_TRIGGERS)[number];

export function isRunTrigger(value: string): value is RunTrigger {
  return (RUN_TRIGGERS as readonly string[]).includes(value);
}

export type StartRequest = {
  /** The DAG's stable id (its coordinator's key) and current name. */
  dagId: string;
  dagName: string;
  /** The DAG's YAML at the moment of the start: a run keeps the spec it started with. */
  spec: string;
  runId?: string | undefined;
  params?: string | Record<string, unknown> | undefined;
  /** The webhook payload as exact JSON text, exposed to steps as WEBHOOK_PAYLOAD. */
  payload?: string | undefined;
  /** The webhook request headers the DAG forwards, as JSON (WEBHOOK_HEADERS). */
  headers?: string | undefined;
  trigger: RunTrigger;
  /** Who or what started it: a username, `api-key:<name>`, a webhook, a schedule. */
  triggeredBy: string;
  /** Refuse while a run of this DAG is running or queued. */
  singleton?: boolean;
  /** The step that called this run and waits for it: it starts at once, beside the DAG's own runs. */
  parent?: ParentLink | undefined;
  /**
   * The webhook inbound log's row of the trigger asking for this start (without its run id): the
   * coordinator writes it with the run's D1 copy once the run is started, in the same D1 batch.
   */
  inbound?: Omit<NewWebhookRequest, "run_id"> | undefined;
};

export type StartResult =
  | { ok: true; runId: string; status: RunStatus }
  | { ok: false; code: "already_exists" | "bad_request"; message: string };

/**
 * What the STEPS queue carries: ids only (a queue message is limited to 128 KB). `dagId`
 * addresses the DAG's coordinator; it survives a rename.
 */
export type StepMessage = {
  dagId: string;
  runId: string;
  step: string;
  attempt: number;
  /**
   * A command attempt handed from one consumer to the next (a consumer runs at most 15 minutes,
   * a command may run longer): the output offsets already reported.
   */
  resume?: OutputOffsets | undefined;
  /**
   * The fencing token of a claimed attempt (./liveness.ts): a consumer's reports carry the one
   * its claim returned; a takeover message carries the holder's it replaces.
   */
  claim?: number | undefined;
};

export type OutputOffsets = { stdoutFrom: number; stderrFrom: number };

/** A step attempt ready to execute: variables already bound by the coordinator. */
export type StepInvocation = StepMessage & {
  executor: "http" | "jq" | "log" | "template" | "command";
  /**
   * http: `METHOD URL`, expanded. jq: the filter, as written (its JSON input is `script`, expanded).
   * template: empty (the template is `script`, as written; its data is `config.data`, expanded).
   * command: shell text whose references are bound to `env` variables.
   */
  command: string;
  script: string | undefined;
  shell: string | undefined;
  dir: string | undefined;
  config: JsonObject;
  env: Record<string, string>;
  /** Wall-clock budget for the attempt; the coordinator's alarm enforces it too. */
  timeoutMs: number;
  /** How much stdout the result must carry: all of it (up to maxOutputSize) for `output:`, else the log's tail. */
  stdoutCapture: { limit: number; keep: "head" | "tail" };
  /** Why the attempt must fail without running (e.g. a value that can't be bound safely). */
  refusal?: string | undefined;
  /** Preconditions that are shell commands (Dagu runs them): checked on the runner before the step. */
  preconditionChecks?: PreconditionCheck[] | undefined;
  /**
   * A repeat condition that is a shell command: checked on the runner after each run, with the
   * run's output in `outputVariable` (the step's `output:`), its answer in `repeatConditionMet`.
   */
  repeatCheck?: (ShellCheck & { outputVariable: string | undefined }) | undefined;
};

/** A condition decided by running shell text (./conditions.ts: `shellConditionMet`). */
export type ShellCheck = {
  command: string;
  /** Variables the command's bound references need, besides the step's env. */
  env: Record<string, string>;
  expected: string | undefined;
  negate: boolean;
};

/**
 * A precondition decided by running shell text: met when it exits 0 (no `expected`), or when a
 * line of its output matches `expected` (a condition with command substitution).
 */
export type PreconditionCheck = ShellCheck & {
  /** Why the step is skipped when the check fails. */
  skipReason: string;
};

export type StepOutcome = {
  /** Set when a precondition check failed: the step is skipped (Dagu), for this reason. */
  skipped?: string | undefined;
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Why the attempt failed, for people: "HTTP 503", "timed out after 5 s", … */
  error?: string | undefined;
  /** The step runner could not be reached: nothing ran. */
  runnerUnavailable?: boolean | undefined;
  /** The attempt hit its time limit: it fails with exit code 124 and is not retried (Dagu). */
  timedOut?: boolean | undefined;
  /** The answer of the invocation's `repeatCheck`; undefined when there is none or it could not run. */
  repeatConditionMet?: boolean | undefined;
};

export type StepResult = StepMessage & StepOutcome & { startedAt: string; finishedAt: string };

/** Emitted once when a run reaches a final status; the alert policies consume it. */
export type RunFinishedEvent = {
  type: "run.finished";
  dagName: string;
  runId: string;
  status: RunStatus;
  trigger: RunTrigger;
  triggeredBy: string;
  queuedAt: string;
  startedAt: string | null;
  finishedAt: string;
  durationMs: number;
  failedSteps: string[];
  error: string | undefined;
  /** The first failed step that says why, and the tail of its output, the run's secrets redacted. */
  failedStep?: string | undefined;
  failureOutput?: string | undefined;
  /** A success after the DAG's previous finished run failed: that run's id. */
  recoveredFrom?: string | undefined;
};

/** A time-ordered id (UUID version 7), so runs sort by creation in every list. */
export function newRunId(now = Date.now()): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  const time = BigInt(now);
  for (let i = 0; i < 6; i++) bytes[i] = Number((time >> BigInt(8 * (5 - i))) & 0xffn);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = toHex(bytes);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The rule for a dagRunId given by a caller (Dagu's), and how a refusal words it. */
export const RUN_ID_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;
export const RUN_ID_RULE = "may contain letters, digits, _ and - only (at most 64)";
