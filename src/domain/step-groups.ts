/**
 * Dagu's nested step lists: an item of `steps` that is itself a list is a group of steps that
 * run side by side. As the Dagu 1.30.2 binary reads them:
 * - in a `chain` (the default), each step of a group follows the item before the group, and
 *   the item after the group follows every step of it (a step's own `depends` still wins);
 *   in a `graph`, a group adds no dependencies;
 * - a step without a name at the i-th item (counting from 1), j-th in its group (from 0), is
 *   `<kind>_<i+j>`, or the next number no earlier unnamed step took (so `[a, [b, c, d], e]`
 *   names e `cmd_5`, and `[a, [b, name: y], e]` names e `cmd_3`); see `generatedStepName`.
 * The groups are flattened before the file is checked; errors still name a step where the file
 * wrote it (`steps[1][0].command`).
 */

type Path = readonly (string | number)[];

export type FlatSteps = {
  tree: unknown;
  /** A path in the flattened tree as a path in the file (`steps.3` → `steps.1.0`). */
  toSource: (path: Path) => Path;
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

export function flattenStepGroups(tree: unknown, defaultType: "chain" | "graph" = "chain"): FlatSteps {
  const unchanged = { tree, toSource: (path: Path) => path };
  if (!isObject(tree) || !Array.isArray(tree.steps) || !tree.steps.some(Array.isArray)) return unchanged;

  const items: unknown[] = tree.steps;
  const chain = (tree.type ?? defaultType) === "chain";
  const flat: unknown[] = [];
  const sourceIndex: (readonly number[])[] = [];
  const generated = new Set<string>();
  /** The names of the previous item: one step, or every step of a group. */
  let previous: string[] = [];

  items.forEach((item, outer) => {
    const members = Array.isArray(item) ? item : [item];
    const names: string[] = [];
    members.forEach((member, inner) => {
      const step: Record<string, unknown> =
        typeof member === "string" ? { command: member } : isObject(member) ? { ...member } : {};
      if (!isObject(member) && typeof member !== "string") {
        flat.push(member); // left as written for the schema to refuse
      } else {
        if (typeof step.name !== "string" || step.name === "") {
          let number = outer + 1 + inner;
          while (generated.has(generatedStepName(step, number))) number++;
          step.name = generatedStepName(step, number);
          generated.add(step.name as string);
        }
        // A group's steps always get theirs (none, for a group that opens the DAG): a chain would
        // otherwise link each to the one before it in the flattened list.
        const grouped = Array.isArray(item) || (Array.isArray(items[outer - 1]) && previous.length > 0);
        if (chain && grouped && step.depends === undefined) step.depends = previous;
        flat.push(step);
        names.push(step.name as string);
      }
      sourceIndex.push(Array.isArray(item) ? [outer, inner] : [outer]);
    });
    previous = names;
  });

  return {
    tree: { ...tree, steps: flat },
    toSource: (path) =>
      path[0] === "steps" && typeof path[1] === "number" && sourceIndex[path[1]]
        ? ["steps", ...sourceIndex[path[1]]!, ...path.slice(2)]
        : path,
  };
}

/**
 * The name Dagu 1.30.2 gives a step without one, at a number (its place): by its kind —
 * `parallel_N` for a sub-DAG fan-out, `dag_N` for a sub-DAG call, `<executor>_N` when it names
 * an executor (`http_4`, `shell_6`), `script_N` for a script or a command of several lines,
 * else `cmd_N`. Reads a step as written (2.x `run`/`action`, 2.0's
 * `type`) or as read, with the same result.
 */
export function generatedStepName(step: Record<string, unknown>, number: number): string {
  const executor = step.executor ?? step.type;
  const type = typeof executor === "string" ? executor : isObject(executor) ? executor.type : undefined;
  const action = typeof step.action === "string" ? step.action : undefined;
  const text = step.command ?? step.run;
  const multiLine = typeof text === "string" && text.trimEnd().includes("\n");
  const callsDag =
    step.call !== undefined || (step.run !== undefined && step.params !== undefined) || action?.startsWith("dag.");
  const kind =
    step.parallel !== undefined
      ? "parallel"
      : callsDag
        ? "dag"
        : typeof type === "string" && type !== ""
          ? type
          : action && ACTION_EXECUTORS[action]
            ? ACTION_EXECUTORS[action]
            : step.script !== undefined || multiLine
              ? "script"
              : "cmd";
  return `${kind}_${number}`;
}

/** The executor a 2.x action is read as (./step-forms.ts), for naming a step written with it. */
const ACTION_EXECUTORS: Readonly<Record<string, string>> = {
  "http.request": "http",
  "jq.filter": "jq",
  "log.write": "log",
  "template.render": "template",
};
