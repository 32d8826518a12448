/**
 * Dagu's two spellings of a DAG file: 1.x camelCase keys (`retryPolicy`, `timeoutSec`) and 2.x
 * snake_case ones (`retry_policy`, `timeout_sec`). Before a spec is checked, every key is turned
 * into its one canonical (camelCase) spelling, level by level; a file that sets both spellings
 * of one key is an error naming both. The renames are remembered, so that an error found later
 * names the field as the file spells it and points at its line.
 */

type Path = readonly (string | number)[];

/** The keys of one level of the file, and the levels below some of them. */
export type Level = {
  /** Canonical keys; each is also accepted in snake_case. */
  keys: readonly string[];
  /** Other spellings of a canonical key (2.x renamed a few: `working_dir` for `dir`). */
  aliases?: Readonly<Record<string, string>>;
  /** A level under a key: `{ level }` for a map, `{ each }` for a list (or one item) of maps. */
  children?: Readonly<Record<string, { level: Level } | { each: Level }>>;
  /**
   * Rewrites an object of this level (keys already canonical) into the shape the schema reads,
   * e.g. a 2.x step form into the 1.x one; problem paths are relative to the object, and
   * `writtenAs` names the key the file used for a key the rewrite made.
   */
  rewrite?: (object: Record<string, unknown>) => {
    object: Record<string, unknown>;
    problems: readonly { path: Path; message: string }[];
    writtenAs: Readonly<Record<string, string>>;
  };
};

/** A problem with the file's keys; its path is already in the file's own spelling. */
export type DialectProblem = { sourcePath: Path; message: string; atKey: boolean };

export type Canonical = {
  tree: unknown;
  problems: DialectProblem[];
  /** A canonical path as the file spells it. */
  toSource(path: Path): Path;
};

/** A 2.x snake_case key as its 1.x camelCase twin (`retry_policy` → `retryPolicy`). */
export const snakeToCamel = (key: string) =>
  key.replace(/_([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());

/** A 1.x camelCase key as its 2.x snake_case twin (`retryPolicy` → `retry_policy`). */
export const camelToSnake = (key: string) => key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

export function canonicalize(tree: unknown, root: Level): Canonical {
  const renames = new Map<string, string>();
  const problems: DialectProblem[] = [];

  const visit = (value: unknown, level: Level, path: Path): unknown => {
    if (!isPlainObject(value)) return value;
    const canonical = new Set(level.keys);
    const result: Record<string, unknown> = {};
    const spelledAs = new Map<string, string>();
    for (const [key, child] of Object.entries(value)) {
      const target = level.aliases?.[key] ?? (canonical.has(key) ? key : snakeToCamel(key));
      const name = canonical.has(target) ? target : key; // unknown keys stay as written, for the schema to name
      const earlier = spelledAs.get(name);
      if (earlier !== undefined) {
        problems.push({
          sourcePath: [...toSource(path), key],
          message: `'${earlier}' and '${key}' are two spellings of one field (Dagu 1.x and 2.x): keep one`,
          atKey: true,
        });
        continue;
      }
      spelledAs.set(name, key);
      if (name !== key) renames.set(JSON.stringify([...path, name]), key);
      const below = level.children?.[name];
      if (below === undefined) result[name] = child;
      else if ("level" in below) result[name] = visit(child, below.level, [...path, name]);
      else if (Array.isArray(child))
        result[name] = child.map((item, index) => visit(item, below.each, [...path, name, index]));
      else result[name] = visit(child, below.each, [...path, name]);
    }
    if (!level.rewrite) return result;
    const rewritten = level.rewrite(result);
    for (const [key, source] of Object.entries(rewritten.writtenAs))
      renames.set(JSON.stringify([...path, key]), source);
    for (const problem of rewritten.problems) {
      problems.push({ sourcePath: [...toSource(path), ...problem.path], message: problem.message, atKey: false });
    }
    return rewritten.object;
  };

  const toSource = (path: Path): Path => {
    const canonicalPrefix: (string | number)[] = [];
    return path.map((segment) => {
      canonicalPrefix.push(segment);
      return typeof segment === "string" ? (renames.get(JSON.stringify(canonicalPrefix)) ?? segment) : segment;
    });
  };
  return { tree: visit(tree, root, []), problems, toSource };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
