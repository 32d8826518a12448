import { DAG_NAME_RULE, type DagRecord, formatSpecError, isValidDagName, toDagRecord } from "./dag-spec.ts";

export type DagFileResult = { ok: true; record: DagRecord } | { ok: false; errors: string[] };

/**
 * One DAG file (`fileName` without its folder): the DAG is named after the file without its
 * extension, as in Dagu, and validated by the same parser the API uses.
 */
export function dagFromFile(fileName: string, source: string): DagFileResult {
  const dot = fileName.lastIndexOf(".");
  const name = dot > 0 ? fileName.slice(0, dot) : fileName;
  if (!isValidDagName(name)) return { ok: false, errors: [`file name '${name}' ${DAG_NAME_RULE}`] };
  const result = toDagRecord(name, source);
  return result.ok ? { ok: true, record: result.record } : { ok: false, errors: result.errors.map(formatSpecError) };
}
