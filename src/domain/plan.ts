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

/**
 * The first dependency cycle found, as a closed path (`[a, b, a]`), or `null` when the graph is
 * acyclic. Depth-first with an explicit stack: a chain of any length can't overflow the call stack.
 */
export function findCycle(dependencies: ReadonlyMap<string, readonly string[]>): string[] | null {
  const state = new Map<string, "visiting" | "done">();
  /** The path being explored: each step with the index of its next dependency to look at. */
  const path: { name: string; next: number }[] = [];
  const onPath = new Map<string, number>();

  for (const root of dependencies.keys()) {
    if (state.has(root)) continue;
    state.set(root, "visiting");
    onPath.set(root, 0);
    path.push({ name: root, next: 0 });
    while (path.length > 0) {
      const top = path.at(-1)!;
      const dependency = dependencies.get(top.name)?.[top.next++];
      if (dependency === undefined) {
        path.pop();
        onPath.delete(top.name);
        state.set(top.name, "done");
        continue;
      }
      if (!dependencies.has(dependency)) continue;
      const seen = state.get(dependency);
      if (seen === "visiting") return [...path.slice(onPath.get(dependency)).map((each) => each.name), dependency];
      if (seen === undefined) {
        state.set(dependency, "visiting");
        onPath.set(dependency, path.length);
        path.push({ name: dependency, next: 0 });
      }
    }
  }
  return null;
}
