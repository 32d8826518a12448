/**
 * Dagu 2.x typed params (`params: [{name, type, default, enum, required, …}]`): a run's values
 * are checked when it starts, so a bad one is a clear 400 and never reaches a step. Values stay
 * strings at run time, as in Dagu.
 */
import type { KeyValue } from "./dag-spec.ts";

/** A typed parameter (Dagu 2.x rich params): what a run's value must be. Values stay strings. */
export type ParamRule = {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | undefined;
  required: boolean;
  enum: string[] | undefined;
  minimum: number | undefined;
  maximum: number | undefined;
  minLength: number | undefined;
  maxLength: number | undefined;
  pattern: string | undefined;
};

const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** Why `value` breaks `rule`, or `undefined`. */
export function paramProblem(rule: ParamRule, value: string | undefined): string | undefined {
  if (value === undefined || value === "") return rule.required ? `${rule.name} is required` : undefined;
  if (rule.type === "integer" && !/^-?\d+$/.test(value)) return `${rule.name} must be an integer, not '${value}'`;
  if (rule.type === "number" && !NUMBER.test(value)) return `${rule.name} must be a number, not '${value}'`;
  if (rule.type === "boolean" && value !== "true" && value !== "false") {
    return `${rule.name} must be true or false, not '${value}'`;
  }
  if (rule.enum && !rule.enum.includes(value))
    return `${rule.name} must be one of ${rule.enum.join(", ")}, not '${value}'`;
  if (rule.type === "integer" || rule.type === "number") {
    const number = Number(value);
    if (rule.minimum !== undefined && number < rule.minimum) return `${rule.name} must be at least ${rule.minimum}`;
    if (rule.maximum !== undefined && number > rule.maximum) return `${rule.name} must be at most ${rule.maximum}`;
  }
  if (rule.minLength !== undefined && value.length < rule.minLength) {
    return `${rule.name} must be at least ${rule.minLength} characters`;
  }
  if (rule.maxLength !== undefined && value.length > rule.maxLength) {
    return `${rule.name} must be at most ${rule.maxLength} characters`;
  }
  if (rule.pattern !== undefined && !new RegExp(rule.pattern).test(value)) {
    return `${rule.name} must match ${rule.pattern}, not '${value}'`;
  }
  return undefined;
}

/** The first way a run's params break the DAG's typed params, or `undefined`. */
export function paramsProblem(rules: readonly ParamRule[], params: readonly KeyValue[]): string | undefined {
  for (const rule of rules) {
    const problem = paramProblem(rule, params.find((param) => param.key === rule.name)?.value);
    if (problem) return problem;
  }
  return undefined;
}
