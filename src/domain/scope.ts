/**
 * The variables a step sees, in Dagu's order (checked with the 1.30.2 binary): the run's
 * built-ins, the webhook payload and headers, DAG env, params, then earlier steps' outputs.
 * Each value may refer to the ones defined before it (`params: BRANCH=${WEBHOOK_PAYLOAD.branch}`,
 * `params: DIR=${BASE}/out` with BASE in env) — not to later ones: an env value can't read a
 * param — and a later one wins (a param overrides an env variable of the same name).
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

/**
 * The PATH a step starts with, which the step runner also uses when a request has none
 * (container/runner/execution.ts; test/node/runner.test.ts checks they agree). It is in every
 * scope, so `PATH: /opt/tools/bin:${PATH}` extends it, as it extends Dagu's own PATH.
 */
export const STEP_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export function runScope(input: ScopeInput): Map<string, string> {
  const scope = new Map<string, string>([
    ["PATH", STEP_PATH],
    ["DAG_NAME", input.dagName],
    ["DAG_RUN_ID", input.runId],
    ["DAG_RUN_STEP_NAME", input.stepName],
  ]);
  // First, so env and params can read them.
  if (input.payload !== null) scope.set("WEBHOOK_PAYLOAD", input.payload);
  if (input.headers !== null) scope.set("WEBHOOK_HEADERS", input.headers);
  for (const { key, value } of input.dagEnv) scope.set(key, expand(value, scope));
  for (const { key, value } of input.params) scope.set(key, expand(value, scope));
  scope.set(
    "DAGU_PARAMS_JSON",
    JSON.stringify(Object.fromEntries(input.params.map(({ key }) => [key, scope.get(key)]))),
  );
  if (input.outcome !== null) scope.set("DAG_RUN_STATUS", input.outcome);
  for (const [variable, value] of input.outputs) scope.set(variable, value);
  return scope;
}
