/**
 * Command and script steps, run by the step runner (container/runner). The runner executes
 * asynchronously: the consumer starts the execution, then long-polls it, reporting output to the
 * coordinator as it comes (which also keeps the attempt's lease alive). A command may outlive a
 * consumer (15 minutes of wall time): at `handOffAt` the attempt is handed to the next consumer,
 * which resumes polling from the same offsets.
 */
import { emitEvent } from "../alerts/events.ts";
import { config } from "../config.ts";
import type { OutputOffsets, StepOutcome } from "../domain/run.ts";
import { log } from "../log.ts";
import type { Executor } from "./executor.ts";
import { callRunner, ExecutionUnknown, executionKey, RunnerUnavailable, type Snapshot } from "./runner.ts";

/** How long one poll may wait for the execution to finish. */
const POLL_WAIT_MS = 20_000;

const failure = (error: string): StepOutcome => ({ exitCode: 1, stdout: "", stderr: error, error });

export const commandExecutor: Executor = {
  async run(invocation, _signal, context) {
    if (invocation.refusal) return failure(invocation.refusal);
    const key = await executionKey(invocation);
    let offsets: OutputOffsets = invocation.resume ?? { stdoutFrom: 0, stderrFrom: 0 };
    // Never wait past the hand-off: the next consumer must find the attempt handed over in time.
    const wait = () => Math.max(0, Math.min(POLL_WAIT_MS, context.handOffAt - Date.now()));
    try {
      // A resumed attempt only polls: should the runner have lost it, it must not run twice.
      let snapshot: Snapshot = invocation.resume
        ? await callRunner(context.env, key, "GET", { wait: wait(), ...offsets }, undefined, context.fence)
        : await callRunner(
            context.env,
            key,
            "PUT",
            { wait: wait(), ...offsets },
            {
              command: invocation.command || undefined,
              script: invocation.script,
              shell: invocation.shell,
              dir: invocation.dir,
              env: invocation.env,
              timeoutMs: invocation.timeoutMs,
              stdout: invocation.stdoutCapture,
            },
            context.fence,
          );
      for (;;) {
        if (snapshot.result) {
          const { exitCode, stdout, stderr, error, timedOut } = snapshot.result;
          return { exitCode, stdout, stderr, error, timedOut };
        }
        offsets = { stdoutFrom: snapshot.stdout.next, stderrFrom: snapshot.stderr.next };
        const output = { stdout: snapshot.stdout.chunk, stderr: snapshot.stderr.chunk, next: offsets };
        if (!(await context.progress(output))) {
          // Stopped or timed out meanwhile (the coordinator asked for the kill), or taken over by
          // another consumer (the process must run on): either way this consumer lets go.
          return failure("the attempt is no longer this consumer's");
        }
        if (Date.now() >= context.handOffAt) return { handOff: offsets };
        snapshot = await callRunner(context.env, key, "GET", { wait: wait(), ...offsets }, undefined, context.fence);
      }
    } catch (error) {
      if (error instanceof ExecutionUnknown) {
        // Resumed after its consumer was lost, and the runner restarted meanwhile: the process is gone.
        return failure(`executor lost: ${error.message} (the step runner restarted while it ran)`);
      }
      if (!(error instanceof RunnerUnavailable)) throw error;
      await reportUnavailable(context.env, error.message);
      return { ...failure(error.message), runnerUnavailable: true };
    }
  },
};

/** AGENT_UNAVAILABLE, at most one event per ten minutes (its id is the ten-minute window). */
async function reportUnavailable(env: Cloudflare.Env, message: string): Promise<void> {
  const window = Math.floor(Date.now() / 600_000);
  const agentUrl = config(env).runner.url ?? "StepRunner container";
  await emitEvent(env, { id: `agent.${window}`, type: "AGENT_UNAVAILABLE", facts: { agentUrl, error: message } }).catch(
    (error: unknown) => log.error("AGENT_UNAVAILABLE alert not sent", { error }),
  );
}
