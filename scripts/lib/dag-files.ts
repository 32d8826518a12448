import { readdir, readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import type { DagFileResult } from "../../src/domain/dag-files.ts";

export type DagSource = { file: string; fileName: string; source: string };
export type DagFile = { file: string } & DagFileResult;

/** The DAG files of a folder (`*.yaml`, `*.yml`) by name, unparsed; none when the folder doesn't exist. */
export async function readDagSources(folder: string): Promise<DagSource[]> {
  const entries = await readdir(folder).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    throw error;
  });
  const fileNames = entries.filter((entry) => [".yaml", ".yml"].includes(extname(entry))).sort();
  return Promise.all(
    fileNames.map(async (fileName) => {
      const file = join(folder, fileName);
      return { file, fileName, source: await readFile(file, "utf8") };
    }),
  );
}

/** The DAG files of a folder, each validated by the parser the API uses. */
export async function readDagFiles(folder: string): Promise<DagFile[]> {
  // Imported here, not above: `npm run dev` reads the files without the parser (~0.5 s to load),
  // and the Worker parses them.
  const { dagFromFile } = await import("../../src/domain/dag-files.ts");
  return (await readDagSources(folder)).map(({ file, fileName, source }) => ({
    file,
    ...dagFromFile(fileName, source),
  }));
}
