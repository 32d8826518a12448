import type { StepInvocation, StepOutcome } from "../domain/run.ts";

/** Runs one step attempt. Executors never throw for a failing step: they return its outcome. */
export interface Executor {
  run(invocation: StepInvocation, signal: AbortSignal): Promise<StepOutcome>;
}

/** Output beyond this is cut (the tail is kept); a row of run state must stay well under 2 MB. */
export const MAX_LOG_BYTES = 256 * 1024;

export function capLog(text: string, maxBytes = MAX_LOG_BYTES): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.byteLength <= maxBytes) return text;
  const marker = `[… ${bytes.byteLength - maxBytes} bytes cut …]\n`;
  return marker + new TextDecoder().decode(bytes.slice(bytes.byteLength - maxBytes));
}
