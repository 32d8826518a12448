/**
 * Dagu's text conditions, in one place: a step's `preconditions` (decided before it runs) and
 * the `output` patterns of `continueOn` (decided after it failed) match text line by line, and
 * a pattern written `re:…` is an unanchored regular expression tried on each line.
 */
import type { Condition } from "./dag-spec.ts";
import { expand, type Scope } from "./expand.ts";

/**
 * How a literal (non-`re:`) pattern matches a line: a precondition's `expected` must equal a
 * line of the condition's value; a `continueOn.output` pattern need only occur in a line.
 */
export type LiteralMatch = "equals" | "contains";

/** Whether some line of `text` matches `pattern`; an invalid regex matches nothing. */
export function matchesSomeLine(pattern: string, text: string, literal: LiteralMatch): boolean {
  const lines = text.split("\n");
  if (pattern.startsWith("re:")) {
    let regex: RegExp;
    try {
      regex = new RegExp(pattern.slice(3));
    } catch {
      return false;
    }
    return lines.some((line) => regex.test(line));
  }
  return lines.some((line) => (literal === "equals" ? line === pattern : line.includes(pattern)));
}

/** Why a step must not run: skipped, as a condition is not met. */
export type UnmetPrecondition = { skip: string };

/**
 * A condition Dagu runs as shell text: one without `expected` (met when it exits 0) or one with
 * command substitution. The coordinator can't run them; the step's runner checks them first.
 */
export function isShellCondition(condition: Condition): boolean {
  return condition.expected === undefined || condition.condition.includes("`");
}

/** Whether a shell condition's run meets it: exit 0, or (with `expected`) a matching line of its output. */
export function shellConditionMet(
  check: { expected: string | undefined; negate: boolean },
  result: { exitCode: number; stdout: string },
): boolean {
  const met =
    check.expected === undefined
      ? result.exitCode === 0
      : result.exitCode === 0 && matchesSomeLine(check.expected, result.stdout.replace(/\n$/, ""), "equals");
  return met !== check.negate;
}

/**
 * The first of a step's preconditions that the coordinator decides (a value against `expected`)
 * and that stops it, with the variables it sees; `undefined` when the step may be dispatched.
 */
export function unmetPrecondition(preconditions: readonly Condition[], scope: Scope): UnmetPrecondition | undefined {
  for (const condition of preconditions) {
    if (isShellCondition(condition)) continue; // checked by the runner, before the step runs
    // Expanded as Dagu does: `${NAME}`, bare `$NAME`, JSON paths and the shell's operators.
    const actual = expand(condition.condition, scope);
    const met = matchesSomeLine(condition.expected!, actual, "equals") !== condition.negate;
    if (!met) {
      const reason = `precondition not met: '${condition.condition}' is '${actual}', expected '${condition.expected}'`;
      return { skip: condition.error ?? reason };
    }
  }
  return undefined;
}
