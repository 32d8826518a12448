/**
 * The corpus of `npm run compat` (test/compat/corpus): Dagu's own DAG files, verbatim, one
 * folder per era, and sources.json saying where each comes from (test/compat/README.md).
 */
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const CORPUS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "test", "compat", "corpus");

export type Era = "1.x" | "2.x";

/** A file's origin: a file at a commit, or a part of one (a markdown block, a Go string, a Go map entry). */
export type Source = { repo: string; commit: string; path: string; block?: number; line?: number; entry?: string };

/** `file` is the path in the corpus (`1.x/<slug>.yaml`); the slug is also a valid DAG name. */
export type CorpusFile = { file: string; era: Era; slug: string; text: string; source: Source };

/** The corpus files whose path contains `filter` (all without one), in path order. */
export async function readCorpus(filter?: string): Promise<CorpusFile[]> {
  const sources = JSON.parse(await readFile(join(CORPUS_DIR, "sources.json"), "utf8")) as Record<string, Source>;
  const files = Object.keys(sources)
    .filter((file) => !filter || file.includes(filter))
    .sort();
  return Promise.all(
    files.map(async (file) => ({
      file,
      era: file.startsWith("1.x/") ? "1.x" : "2.x",
      slug: file.replace(/^.*\//, "").replace(/\.yaml$/, ""),
      text: await readFile(join(CORPUS_DIR, file), "utf8"),
      source: sources[file]!,
    })),
  );
}
