/**
 * A step attempt as an executor receives it: every variable bound, so the executor needs
 * nothing else of the run. http steps get their text expanded, jq steps their JSON input,
 * template steps their data; shell text never gets values pasted in — its references become
 * environment variables (./shell-refs.ts).
 */
import { MAX_LOG_BYTES } from "../executors/executor.ts";
import { isShellCondition } from "./conditions.ts";
import type { Condition, StepSpec } from "./dag-spec.ts";
import { runsInWorker } from "./executor-support.ts";
import { expand, expandDeep } from "./expand.ts";
import type { PreconditionCheck, ShellCheck, StepInvocation, StepMessage } from "./run.ts";
import { bindShellReferences, ShellBindingError } from "./shell-refs.ts";

/** A command step without `timeoutSec` is still killed by the runner after a day. */
const MAX_COMMAND_MS = 24 * 60 * 60 * 1000;

export type InvocationInput = {
  attempt: StepMessage;
  step: StepSpec;
  /** The run's variables for this step (./scope.ts); the step's own env is added here. */
  scope: Map<string, string>;
  maxOutputSize: number;
  /** How long the coordinator lets an http attempt run before it times out. */
  leaseMs: number;
};

export function buildInvocation(input: InvocationInput): StepInvocation {
  const invocation = buildStepInvocation(input);
  if (invocation.refusal) return invocation;
  try {
    const checks = preconditionChecks(input.step, input.scope);
    const repeatCondition = input.step.repeatPolicy?.condition;
    const repeatCheck =
      repeatCondition && isShellCondition(repeatCondition)
        ? { ...shellCheck(repeatCondition, input.step, input.scope), outputVariable: input.step.output }
        : undefined;
    return {
      ...invocation,
      ...(checks.length > 0 ? { preconditionChecks: checks } : {}),
      ...(repeatCheck ? { repeatCheck } : {}),
    };
  } catch (error) {
    if (!(error instanceof ShellBindingError)) throw error;
    return { ...invocation, refusal: error.message };
  }
}

/**
 * The step's preconditions that are shell text (Dagu runs them), bound like a command: run
 * as written when they have no `expected`, or printed (their command substitutions run) to be
 * compared with it.
 */
function preconditionChecks(step: StepSpec, scope: Map<string, string>): PreconditionCheck[] {
  return step.preconditions.filter(isShellCondition).map((condition) => {
    const result =
      condition.expected === undefined ? "exited with a non-zero code" : `did not print '${condition.expected}'`;
    return {
      ...shellCheck(condition, step, scope),
      skipReason: condition.error ?? `precondition not met: '${condition.condition}' ${result}`,
    };
  });
}

/** A shell condition bound like a command: run as written (no `expected`), or printed to be compared. */
function shellCheck(condition: Condition, step: StepSpec, scope: Map<string, string>): ShellCheck {
  const text = condition.expected === undefined ? condition.condition : `printf '%s\\n' "${condition.condition}"`;
  const bound = bindShellReferences(text, scope, step.shell);
  return { command: bound.text, env: bound.variables, expected: condition.expected, negate: condition.negate };
}

function buildStepInvocation({ attempt, step, scope, maxOutputSize, leaseMs }: InvocationInput): StepInvocation {
  withStepEnv(step, scope);
  const base = {
    ...attempt,
    shell: step.shell,
    dir: step.dir,
    config: expandDeep(step.executor?.config ?? {}, scope),
    // An output step keeps its head: one byte past maxOutputSize tells "too large", and at least
    // the log's size, so a step that printed too much still shows what it printed (as Dagu's log).
    stdoutCapture: step.output
      ? { limit: Math.max(maxOutputSize + 1, MAX_LOG_BYTES), keep: "head" as const }
      : { limit: MAX_LOG_BYTES, keep: "tail" as const },
  };
  if (step.executor?.type === "jq") {
    // Dagu expands the JSON input (the script) and the config, never the filter: `$name` is jq's.
    const script = step.script === undefined ? undefined : expand(step.script, scope);
    return { ...base, executor: "jq", command: step.command?.trim() ?? "", script, env: {}, timeoutMs: leaseMs };
  }
  if (step.router) {
    // What Dagu's router executor prints: the value as written, and each route's targets.
    const routes = step.router.routes.map(({ pattern, targets }) => `  ${pattern} -> [${targets.join(" ")}]\n`);
    const command = `Router evaluating: ${step.router.value}\n${routes.join("")}`;
    return { ...base, executor: "log", command, script: undefined, env: {}, timeoutMs: leaseMs };
  }
  if (step.executor?.type === "log") {
    // Dagu 2.x's log.write: the message (the step's command here), expanded, is all it prints.
    return {
      ...base,
      executor: "log",
      command: expand(step.command ?? "", scope),
      script: undefined,
      env: {},
      timeoutMs: leaseMs,
    };
  }
  if (step.executor?.type === "template") {
    // Dagu 2.x's template.render: its data (the config) is expanded, never the template itself,
    // whose `${…}` and `{{…}}` are text and Go template actions.
    return { ...base, executor: "template", command: "", script: step.script, env: {}, timeoutMs: leaseMs };
  }
  if (step.executor?.type === "http") {
    const command = expand(step.command ?? "", scope);
    const script = step.script === undefined ? undefined : expand(step.script, scope);
    return { ...base, executor: "http", command, script, env: Object.fromEntries(scope), timeoutMs: leaseMs };
  }
  // A script for another interpreter (`command` + `script`) is passed on as written.
  const timeoutMs = step.timeoutSec ? step.timeoutSec * 1000 : MAX_COMMAND_MS;
  try {
    const command = bindShellReferences(step.command ?? "", scope, step.shell);
    const script =
      step.script === undefined || step.command ? undefined : bindShellReferences(step.script, scope, step.shell);
    const env = { ...Object.fromEntries(scope), ...command.variables, ...script?.variables };
    return { ...base, executor: "command", command: command.text, script: script?.text ?? step.script, env, timeoutMs };
  } catch (error) {
    if (!(error instanceof ShellBindingError)) throw error;
    return {
      ...base,
      executor: "command",
      command: "",
      script: undefined,
      env: {},
      timeoutMs,
      refusal: error.message,
    };
  }
}

/** The scope with the step's own env added, each value expanded with what comes before it. */
export function withStepEnv(step: StepSpec, scope: Map<string, string>): Map<string, string> {
  for (const { key, value } of step.env) scope.set(key, expand(value, scope));
  return scope;
}

/** Whether the step runs on the step runner (a command or script) rather than in the Worker (http, jq, log, template). */
export function runsOnRunner(step: StepSpec | undefined): boolean {
  return !runsInWorker(step?.executor?.type);
}
