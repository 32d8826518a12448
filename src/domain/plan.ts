/**
 * The step graph of a DAG. Like Dagu's `NewPlan(steps)`, it is built and checked for cycles
 * before anything is stored or run.
 */

export type DagType = "chain" | "graph";

export type PlannedStep = {
  name: string;
  /** `undefined` when the step does not declare `depends` (in a chain it then follows the previous step). */
  depends: readonly string[] | undefined;
};

/**
 * Each step's predecessors. In a `chain` a step without `depends` runs after the step before it;
 * in a `graph` it has no predecessors. An explicit `depends: []` always means "none".
 */
export function resolveDependencies(steps: readonly PlannedStep[], type: DagType): Map<string, string[]> {
  const dependencies = new Map<string, string[]>();
  steps.forEach((step, index) => {
    const previous = steps[index - 1];
    const implicit = type === "chain" && previous !== undefined ? [previous.name] : [];
    dependencies.set(step.name, step.depends === undefined ? implicit : [...step.depends]);
  });
  return dependencies;
}

/** The first dependency cycle found, as a closed path (`[a, b, a]`), or `null` when the graph is acyclic. */
export function findCycle(dependencies: ReadonlyMap<string, readonly string[]>): string[] | null {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];

  const visit = (name: string): string[] | null => {
    state.set(name, "visiting");
    stack.push(name);
    for (const dependency of dependencies.get(name) ?? []) {
      if (!dependencies.has(dependency)) continue;
      const seen = state.get(dependency);
      if (seen === "visiting") return [...stack.slice(stack.indexOf(dependency)), dependency];
      if (seen === undefined) {
        const cycle = visit(dependency);
        if (cycle) return cycle;
      }
    }
    stack.pop();
    state.set(name, "done");
    return null;
  };

  for (const name of dependencies.keys()) {
    if (state.has(name)) continue;
    const cycle = visit(name);
    if (cycle) return cycle;
  }
  return null;
}
