/** Reading a DAG spec in tests: the spec, or its formatted errors, failing loudly when the other came. */
import { type DagSpec, formatSpecError, parseDagSpec } from "../../../src/domain/dag-spec.ts";

export function specOf(source: string): DagSpec {
  const result = parseDagSpec(source);
  if (!result.ok) throw new Error(result.errors.map(formatSpecError).join("; "));
  return result.spec;
}

export function errorsOf(source: string, fileName?: string): string[] {
  const result = parseDagSpec(source, { fileName });
  if (result.ok) throw new Error("expected the spec to be rejected");
  return result.errors.map(formatSpecError);
}
