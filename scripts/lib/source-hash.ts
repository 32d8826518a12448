import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";

/**
 * One SHA-256 over a build's inputs: the files under `paths` (files or folders, relative to
 * `root`; a missing one counts as absent), each as its path and content, in a fixed order, plus
 * `extra` strings (settings that change the output). `skip` leaves out folders by path (relative
 * to `root`), e.g. a build's own output. Reading a few hundred small files takes milliseconds.
 */
export async function hashSources(
  root: string,
  paths: readonly string[],
  options: { skip?: readonly string[]; extra?: readonly string[] } = {},
): Promise<string> {
  const skip = new Set(options.skip ?? []);
  const files: string[] = [];
  const walk = async (path: string): Promise<void> => {
    if (skip.has(relative(root, path))) return;
    const entries = await readdir(path, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOTDIR") return undefined;
      if (error.code === "ENOENT") return [];
      throw error;
    });
    if (!entries) files.push(path);
    else await Promise.all(entries.map((entry) => walk(join(path, entry.name))));
  };
  await Promise.all(paths.map((path) => walk(join(root, path))));
  const hash = createHash("sha256");
  for (const value of options.extra ?? []) hash.update(`extra\0${value}\0`);
  files.sort();
  const contents = await Promise.all(files.map((file) => readFile(file)));
  files.forEach((file, index) => {
    const content = contents[index]!;
    hash.update(`file\0${relative(root, file)}\0${content.length}\0`);
    hash.update(content);
  });
  return hash.digest("hex");
}
