/** The wire shapes of DAGs and their steps. */
import type { StepSpec } from "../../domain/dag-spec.ts";

/** Dagu's Step. */
export function stepView(step: StepSpec) {
  return {
    name: step.name,
    id: step.id,
    description: step.description,
    command: step.command,
    script: step.script,
    dir: step.dir,
    depends: step.depends ?? [],
    output: step.output,
    preconditions: step.preconditions.map(({ condition, expected, negate }) => ({ condition, expected, negate })),
    timeoutSec: step.timeoutSec,
    executorConfig: step.executor,
  };
}
