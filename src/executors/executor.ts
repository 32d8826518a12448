import type { AttemptProgress } from "../coordinator/run-machine.ts";
import type { OutputOffsets, StepInvocation, StepOutcome } from "../domain/run.ts";

/** What a consumer offers an executor besides the attempt. */
export type ExecutionContext = {
  env: Cloudflare.Env;
  /** When this consumer must stop waiting and hand a long attempt to the next one (epoch ms). */
  handOffAt: number;
  /**
   * Reports output so far (and the offsets read up to) and keeps the attempt alive; `false` once
   * the attempt is no longer this consumer's (ended, or taken over): stop, report nothing.
   */
  progress(output: AttemptProgress): Promise<boolean>;
  /** Aborts when the attempt is no longer this consumer's (../domain/liveness.ts). */
  fence: AbortSignal;
};

/** A long attempt still running when its consumer's time is up, to be followed by another consumer. */
export type HandOff = { handOff: OutputOffsets };

/** Runs one step attempt. Executors never throw for a failing step: they return its outcome. */
export interface Executor {
  run(invocation: StepInvocation, signal: AbortSignal, context: ExecutionContext): Promise<StepOutcome | HandOff>;
}

/** Output beyond this is cut (the tail is kept); a row of run state must stay well under 2 MB. */
export const MAX_LOG_BYTES = 256 * 1024;

/**
 * stdout as the result must carry it (the invocation says how): for an `output:` step its head,
 * up to one byte past maxOutputSize (which tells "too large") and at least the log's size;
 * otherwise the log's tail.
 */
export function capStdout(text: string, capture: StepInvocation["stdoutCapture"]): string {
  if (capture.keep === "tail") return capLog(text, capture.limit);
  const bytes = new TextEncoder().encode(text);
  return bytes.byteLength <= capture.limit ? text : new TextDecoder().decode(bytes.slice(0, capture.limit));
}

export function capLog(text: string, maxBytes = MAX_LOG_BYTES): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.byteLength <= maxBytes) return text;
  const marker = `[… ${bytes.byteLength - maxBytes} bytes cut …]\n`;
  return marker + new TextDecoder().decode(bytes.slice(bytes.byteLength - maxBytes));
}
