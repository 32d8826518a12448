/**
 * Dagu 2.x's `log.write`, run in the Worker: the step's message (its command, already expanded)
 * is its stdout, ended with a newline unless it has one, as Dagu writes it.
 */
import { capStdout, type Executor } from "./executor.ts";

export const logExecutor: Executor = {
  async run(invocation) {
    if (invocation.refusal) return { exitCode: 1, stdout: "", stderr: invocation.refusal, error: invocation.refusal };
    const message = invocation.command.endsWith("\n") ? invocation.command : `${invocation.command}\n`;
    return { exitCode: 0, stdout: capStdout(message, invocation.stdoutCapture), stderr: "" };
  },
};
