/**
 * Conditions Dagu runs as shell text, checked on the step runner (whatever the step's executor):
 * preconditions before the step — the first that is not met skips it — and a repeat condition
 * after each of its runs. Each check is a short execution of its own.
 */
import { shellConditionMet } from "../domain/conditions.ts";
import type { ShellCheck, StepInvocation, StepOutcome } from "../domain/run.ts";
import { commandExecutor } from "./command.ts";
import type { ExecutionContext } from "./executor.ts";

/** A check is a condition, not a job: it gets a minute. */
const CHECK_TIMEOUT_MS = 60_000;
const CHECK_OUTPUT_BYTES = 64 * 1024;

/**
 * The step's outcome when a precondition check stops it — skipped (not met), or failed (the runner could not
 * check it: that is no reason to skip) — or `undefined` when every check is met.
 */
export async function preconditionOutcome(
  invocation: StepInvocation,
  context: ExecutionContext,
): Promise<StepOutcome | undefined> {
  for (const [index, check] of (invocation.preconditionChecks ?? []).entries()) {
    const met = await runCheck(invocation, check, `precondition-${index + 1}`, {}, context);
    if (typeof met !== "boolean") return met; // the runner could not check it
    if (!met) return { skipped: check.skipReason, exitCode: 0, stdout: "", stderr: "" };
  }
  return undefined;
}

/** The answer of a step's repeat check after a run that printed `stdout`; undefined when it could not run. */
export async function repeatConditionMet(
  invocation: StepInvocation,
  stdout: string,
  context: ExecutionContext,
): Promise<boolean | undefined> {
  const check = invocation.repeatCheck;
  if (!check) return undefined;
  // The run's output is the step's `output:` variable for the check, as for the next steps.
  const output = check.outputVariable ? { [check.outputVariable]: stdout.trim() } : {};
  const met = await runCheck(invocation, check, "repeat", output, context);
  return typeof met === "boolean" ? met : undefined;
}

async function runCheck(
  invocation: StepInvocation,
  check: ShellCheck,
  label: string,
  env: Record<string, string>,
  context: ExecutionContext,
): Promise<boolean | StepOutcome> {
  const probe: StepInvocation = {
    ...invocation,
    // Its own name (and attempt's key), so the runner keeps it apart from the step's execution.
    step: `${invocation.step}#${label}`,
    executor: "command",
    command: check.command,
    script: undefined,
    env: { ...invocation.env, ...env, ...check.env },
    config: {},
    timeoutMs: CHECK_TIMEOUT_MS,
    stdoutCapture: { limit: CHECK_OUTPUT_BYTES, keep: "head" },
    preconditionChecks: undefined,
    repeatCheck: undefined,
  };
  const signal = AbortSignal.timeout(CHECK_TIMEOUT_MS);
  // Its output is not the step's: nothing is reported while it runs.
  const checkContext = { ...context, handOffAt: Date.now() + CHECK_TIMEOUT_MS * 2, progress: async () => true };
  const outcome = await commandExecutor.run(probe, signal, checkContext);
  // Unreachable runner: the outcome that says so, for the step.
  if (!("handOff" in outcome) && outcome.runnerUnavailable) return outcome;
  return !("handOff" in outcome) && shellConditionMet(check, outcome);
}
