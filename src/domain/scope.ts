/**
 * The variables a step sees, in Dagu's order of precedence: the run's built-ins, the webhook
 * payload and headers, params, DAG env, then earlier steps' outputs. Each value may refer to
 * the ones defined before it (`params: BRANCH=${WEBHOOK_PAYLOAD.branch}`).
 */
import type { KeyValue } from "./dag-spec.ts";
import { expand } from "./expand.ts";

export type ScopeInput = {
  dagName: string;
  runId: string;
  stepName: string;
  /** The webhook payload as exact JSON text, and the forwarded headers as JSON; null when none. */
  payload: string | null;
  headers: string | null;
  params: readonly KeyValue[];
  /** The outcome of the steps once they are done (handlers see it as DAG_RUN_STATUS). */
  outcome: string | null;
  dagEnv: readonly KeyValue[];
  /** `output:` variables of finished steps, in step order. */
  outputs: Iterable<readonly [variable: string, value: string]>;
};

export function runScope(input: ScopeInput): Map<string, string> {
  const scope = new Map<string, string>([
    ["DAG_NAME", input.dagName],
    ["DAG_RUN_ID", input.runId],
    ["DAG_RUN_STEP_NAME", input.stepName],
  ]);
  // First, so params and env can read them.
  if (input.payload !== null) scope.set("WEBHOOK_PAYLOAD", input.payload);
  if (input.headers !== null) scope.set("WEBHOOK_HEADERS", input.headers);
  for (const { key, value } of input.params) scope.set(key, expand(value, scope));
  scope.set(
    "DAGU_PARAMS_JSON",
    JSON.stringify(Object.fromEntries(input.params.map(({ key }) => [key, scope.get(key)]))),
  );
  if (input.outcome !== null) scope.set("DAG_RUN_STATUS", input.outcome);
  for (const { key, value } of input.dagEnv) scope.set(key, expand(value, scope));
  for (const [variable, value] of input.outputs) scope.set(variable, value);
  return scope;
}
