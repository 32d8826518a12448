/**
 * Preconditions Dagu runs as shell text, checked on the step runner before the step itself
 * (whatever its executor): each is a short execution of its own, and the first that is not met
 * skips the step.
 */
import { shellConditionMet } from "../domain/conditions.ts";
import type { StepInvocation, StepOutcome } from "../domain/run.ts";
import { commandExecutor } from "./command.ts";
import type { ExecutionContext } from "./executor.ts";

/** A check is a condition, not a job: it gets a minute. */
const CHECK_TIMEOUT_MS = 60_000;
const CHECK_OUTPUT_BYTES = 64 * 1024;

/**
 * The step's outcome when a check stops it — skipped (not met), or failed (the runner could not
 * check it: that is no reason to skip) — or `undefined` when every check is met.
 */
export async function preconditionOutcome(
  invocation: StepInvocation,
  context: ExecutionContext,
): Promise<StepOutcome | undefined> {
  for (const [index, check] of (invocation.preconditionChecks ?? []).entries()) {
    const probe: StepInvocation = {
      ...invocation,
      // Its own name, so the runner keeps it apart from the step's execution (and from the other checks).
      step: `${invocation.step}#precondition-${index + 1}`,
      executor: "command",
      command: check.command,
      script: undefined,
      env: { ...invocation.env, ...check.env },
      config: {},
      timeoutMs: CHECK_TIMEOUT_MS,
      stdoutCapture: { limit: CHECK_OUTPUT_BYTES, keep: "head" },
      preconditionChecks: undefined,
    };
    const signal = AbortSignal.timeout(CHECK_TIMEOUT_MS);
    // Its output is not the step's: nothing is reported while it runs.
    const checkContext = { ...context, handOffAt: Date.now() + CHECK_TIMEOUT_MS * 2, progress: async () => true };
    const outcome = await commandExecutor.run(probe, signal, checkContext);
    if (!("handOff" in outcome) && outcome.runnerUnavailable) return outcome;
    if ("handOff" in outcome || !shellConditionMet(check, outcome)) {
      return { skipped: check.skipReason, exitCode: 0, stdout: "", stderr: "" };
    }
  }
  return undefined;
}
