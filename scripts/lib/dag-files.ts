import { readdir, readFile } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import {
  DAG_NAME_RULE,
  type DagRecord,
  formatSpecError,
  isValidDagName,
  toDagRecord,
} from "../../src/domain/dag-spec.ts";

export type DagFile = { file: string } & ({ ok: true; record: DagRecord } | { ok: false; errors: string[] });

/**
 * The DAG files of a folder (`*.yaml`, `*.yml`), named after the file as Dagu does, each
 * validated by the same parser the API uses.
 */
export async function readDagFiles(folder: string): Promise<DagFile[]> {
  const entries = await readdir(folder).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    throw error;
  });
  const files = entries.filter((entry) => [".yaml", ".yml"].includes(extname(entry))).sort();
  return Promise.all(
    files.map(async (entry): Promise<DagFile> => {
      const file = join(folder, entry);
      const name = basename(entry, extname(entry));
      if (!isValidDagName(name)) return { file, ok: false, errors: [`file name '${name}' ${DAG_NAME_RULE}`] };
      const result = toDagRecord(name, await readFile(file, "utf8"));
      return result.ok
        ? { file, ok: true, record: result.record }
        : { file, ok: false, errors: result.errors.map(formatSpecError) };
    }),
  );
}
