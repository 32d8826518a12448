import type { StepInvocation, StepOutcome } from "../domain/run.ts";
import type { Executor } from "./executor.ts";
import { httpExecutor } from "./http.ts";

/** Until the container-backed runner exists, a command step fails at once with a clear reason. */
const missingCommandExecutor: Executor = {
  async run(): Promise<StepOutcome> {
    const error = "no command executor configured: command and script steps need the step runner";
    return { exitCode: 1, stdout: "", stderr: error, error };
  },
};

export function executorFor(invocation: StepInvocation): Executor {
  return invocation.executor === "http" ? httpExecutor : missingCommandExecutor;
}

/** Runs an attempt within its time budget; whatever happens, the outcome is a value, never a throw. */
export async function execute(invocation: StepInvocation): Promise<StepOutcome> {
  const signal = AbortSignal.timeout(invocation.timeoutMs);
  try {
    const outcome = await executorFor(invocation).run(invocation, signal);
    return signal.aborted && outcome.exitCode !== 0 ? { ...outcome, exitCode: 124, timedOut: true } : outcome;
  } catch (error) {
    const message = `executor error: ${error instanceof Error ? error.message : String(error)}`;
    return { exitCode: 1, stdout: "", stderr: message, error: message };
  }
}
