import type { StepInvocation, StepOutcome } from "../domain/run.ts";
import { commandExecutor } from "./command.ts";
import type { ExecutionContext, Executor, HandOff } from "./executor.ts";
import { httpExecutor } from "./http.ts";
import { jqExecutor } from "./jq.ts";
import { logExecutor } from "./log.ts";
import { preconditionOutcome, repeatConditionMet } from "./preconditions.ts";
import { templateExecutor } from "./template.ts";

const EXECUTORS: Readonly<Record<StepInvocation["executor"], Executor>> = {
  http: httpExecutor,
  jq: jqExecutor,
  log: logExecutor,
  template: templateExecutor,
  command: commandExecutor,
};

export function executorFor(invocation: StepInvocation): Executor {
  return EXECUTORS[invocation.executor];
}

/** Runs an attempt within its time budget; whatever happens, the outcome is a value, never a throw. */
export async function execute(invocation: StepInvocation, context: ExecutionContext): Promise<StepOutcome | HandOff> {
  // The time limit, or the consumer losing the attempt: either way the work stops.
  const signal = AbortSignal.any([AbortSignal.timeout(invocation.timeoutMs), context.fence]);
  try {
    // A resumed attempt passed its checks in the consumer that started it.
    if (!invocation.resume && !invocation.refusal) {
      const stopped = await preconditionOutcome(invocation, context);
      if (stopped) return stopped;
    }
    const outcome = await executorFor(invocation).run(invocation, signal, context);
    if ("handOff" in outcome) return outcome;
    if (signal.aborted && !context.fence.aborted && outcome.exitCode !== 0)
      return { ...outcome, exitCode: 124, timedOut: true };
    if (!invocation.repeatCheck || outcome.timedOut) return outcome;
    return { ...outcome, repeatConditionMet: await repeatConditionMet(invocation, outcome.stdout, context) };
  } catch (error) {
    const message = `executor error: ${error instanceof Error ? error.message : String(error)}`;
    return { exitCode: 1, stdout: "", stderr: message, error: message };
  }
}
