/**
 * Gathers the corpus of `npm run compat` (test/compat/corpus/): DAG files written by the Dagu
 * project, copied verbatim from pinned commits, with each file's source in sources.json. Run it
 * only to rebuild the corpus (the files are checked in), with clones of the three repositories:
 *
 *   node scripts/compat-corpus.ts --dagu1 <dagu-org/dagu clone> --dagu2 <dagucloud/dagu clone> --docs <dagucloud/docs clone>
 *
 * The rules (test/compat/README.md explains them):
 *   - every source is read at a pinned commit (`git show`), so a rebuild gives the same files;
 *   - a markdown block is a DAG when it is a ```yaml block whose fence starts its line and whose
 *     text has a top-level `steps:`; blocks indented in lists and fragments without `steps:` are
 *     skipped, as are Go test literals built with fmt verbs (`%s`) and string concatenation;
 *   - a sample, not everything: the first few DAGs of each doc page, test file and conformance
 *     folder (the caps below), so each feature is seen without hundreds of near-copies;
 *   - identical texts are kept once per era.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { DAG_NAME_MAX_LENGTH } from "../src/domain/dag-spec.ts";
import { CORPUS_DIR, type Era, type Source } from "./lib/compat-corpus.ts";

/** Dagu 1.30.2, the binary `npm run compat` compares with; and v1.20.0, the last release with an examples/ folder. */
const DAGU_1 = {
  repo: "dagu-org/dagu",
  v1_30_2: "ba4a358abd372d2288d9b1ca410716c93754ae9a",
  v1_20_0: "72c2eabf8d292ac1ab4ac8eaa894881f6309d3db",
};
const DAGU_2 = { repo: "dagucloud/dagu", head: "532c512944b2e5eb8991b5bc7cbeafa74fd5b47a" };
/** The docs left the main repository at v1.24; 31ffe917 is their state when v1.30.3 was released (2026-01-06). */
const DOCS = {
  repo: "dagucloud/docs",
  v1_30: "31ffe917f449407997ad86bc2c196802858556d5",
  head: "2a492fc1627eb284ffece8945afb8711a2161f67",
};

const DOC_BLOCKS_PER_PAGE = { "1.x": 2, "2.x": 1 };
const LITERALS_PER_TEST_FILE = 2;
const FIXTURES_PER_CONFORMANCE_FOLDER = 1;
/** Conformance fixtures named like this test that Dagu refuses a file; the corpus takes the ones it runs. */
const NEGATIVE_FIXTURE = /invalid|forbidden|unsupported|reject|error|missing|duplicate|empty|unknown/;

type Found = { slug: string; text: string; source: Source };

const { values: options } = parseArgs({
  options: { dagu1: { type: "string" }, dagu2: { type: "string" }, docs: { type: "string" } },
});
if (!options.dagu1 || !options.dagu2 || !options.docs) {
  console.error("usage: node scripts/compat-corpus.ts --dagu1 <clone> --dagu2 <clone> --docs <clone>");
  process.exit(2);
}
const clones: Record<string, string> = {
  [DAGU_1.repo]: options.dagu1,
  [DAGU_2.repo]: options.dagu2,
  [DOCS.repo]: options.docs,
};

const git = (repo: string, ...args: string[]) =>
  execFileSync("git", ["-C", clones[repo]!, ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
const show = (repo: string, commit: string, path: string) => git(repo, "show", `${commit}:${path}`);
const listFiles = (repo: string, commit: string, under: string) =>
  git(repo, "ls-tree", "-r", "--name-only", commit, "--", under).split("\n").filter(Boolean).sort();

/** A DAG name (and file name) made of the words of `parts`: leading words are dropped until it fits. */
function slugOf(prefix: string, parts: string[], suffix = ""): string {
  const words = parts
    .join("-")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .split("-");
  const tail = suffix ? `-${suffix}` : "";
  while (words.length > 1 && `${prefix}-${words.join("-")}${tail}`.length > DAG_NAME_MAX_LENGTH) words.shift();
  return `${prefix}-${words.join("-")}${tail}`.slice(0, DAG_NAME_MAX_LENGTH);
}

const isDag = (text: string) => /^steps:/m.test(text);

/** The ```yaml blocks of a markdown page, numbered from 1 among all its yaml blocks. */
function yamlBlocks(markdown: string): { block: number; text: string }[] {
  return [...markdown.matchAll(/^```ya?ml\b[^\n]*\n([\s\S]*?)^```/gm)].map((match, index) => ({
    block: index + 1,
    text: match[1]!,
  }));
}

function docDags(era: Era, commit: string): Found[] {
  return listFiles(DOCS.repo, commit, ".")
    .filter((path) => path.endsWith(".md"))
    .flatMap((path) =>
      yamlBlocks(show(DOCS.repo, commit, path))
        .filter(({ text }) => isDag(text))
        .slice(0, DOC_BLOCKS_PER_PAGE[era])
        .map(({ block, text }) => ({
          slug: slugOf("doc", [path.replace(/\.md$/, "")], String(block)),
          text,
          source: { repo: DOCS.repo, commit, path, block },
        })),
    );
}

/** Go raw string literals (`…`) with a DAG in them, and their first line; templates and concatenations are skipped. */
function goLiterals(source: string): { line: number; text: string }[] {
  return [...source.matchAll(/`([^`]*)`(\s*\+)?/g)].flatMap((match) => {
    const text = match[1]!;
    if (match[2] || !isDag(text) || /%[sdvq]/.test(text)) return [];
    return [{ line: source.slice(0, match.index).split("\n").length, text }];
  });
}

function integrationTestDags(): Found[] {
  const { repo } = DAGU_1;
  const commit = DAGU_1.v1_30_2;
  return listFiles(repo, commit, "internal/integration")
    .filter((path) => path.endsWith("_test.go"))
    .flatMap((path) =>
      goLiterals(show(repo, commit, path))
        .slice(0, LITERALS_PER_TEST_FILE)
        .map(({ line, text }, index) => ({
          slug: slugOf("test", [basename(path, "_test.go")], String(index + 1)),
          text,
          source: { repo, commit, path, line },
        })),
    );
}

/** The example DAGs a Dagu binary writes into an empty DAGs folder (a Go map of file name to raw string). */
function shippedExamples(repo: string, commit: string, path: string): Found[] {
  const source = show(repo, commit, path);
  return [...source.matchAll(/^\s*"([^"]+\.yaml)":\s*`([^`]*)`/gm)].map((match) => ({
    slug: slugOf("shipped", [match[1]!.replace(/\.yaml$/, "")]),
    text: match[2]!,
    source: { repo, commit, path, entry: match[1]! },
  }));
}

/** The DAG files under a folder, named `prefix-<what name() gives>`. */
function yamlFiles(repo: string, commit: string, under: string, name: (path: string) => [string, string]): Found[] {
  return listFiles(repo, commit, under)
    .filter((path) => /\.ya?ml$/.test(path))
    .map((path) => ({ path, text: show(repo, commit, path) }))
    .filter(({ text }) => isDag(text))
    .map(({ path, text }) => {
      const [prefix, words] = name(path);
      return { slug: slugOf(prefix, [words]), text, source: { repo, commit, path } };
    });
}

const fileWords = (path: string) => basename(path).replace(/\.ya?ml$/, "");

function conformanceFixtures(): Found[] {
  const { repo, head } = DAGU_2;
  const fixtures = yamlFiles(repo, head, "conformance", (path) => [
    `conf-${/spec(\d+)/.exec(path)?.[1]}`,
    fileWords(path),
  ]).filter(({ source }) => !NEGATIVE_FIXTURE.test(basename(source.path)));
  const perFolder = new Map<string, number>();
  return fixtures.filter(({ source }) => {
    const folder = dirname(source.path);
    perFolder.set(folder, (perFolder.get(folder) ?? 0) + 1);
    return perFolder.get(folder)! <= FIXTURES_PER_CONFORMANCE_FOLDER;
  });
}

function gather(): Record<Era, Found[]> {
  return {
    "1.x": [
      ...shippedExamples(DAGU_1.repo, DAGU_1.v1_30_2, "internal/persistence/filedag/examples_unix.go"),
      ...yamlFiles(DAGU_1.repo, DAGU_1.v1_20_0, "examples", (path) => ["examples", fileWords(path)]),
      ...docDags("1.x", DOCS.v1_30),
      ...integrationTestDags(),
    ],
    "2.x": [
      ...shippedExamples(DAGU_2.repo, DAGU_2.head, "internal/persis/file/dag/examples_unix.go"),
      ...yamlFiles(DAGU_2.repo, DAGU_2.head, "examples", (path) => ["examples", basename(dirname(path))]),
      ...docDags("2.x", DOCS.head),
      ...conformanceFixtures(),
    ],
  };
}

const sources: Record<string, Source> = {};
rmSync(join(CORPUS_DIR, "1.x"), { recursive: true, force: true });
rmSync(join(CORPUS_DIR, "2.x"), { recursive: true, force: true });
for (const [era, found] of Object.entries(gather()) as [Era, Found[]][]) {
  mkdirSync(join(CORPUS_DIR, era), { recursive: true });
  const texts = new Set<string>();
  for (const { slug, text, source } of found) {
    if (texts.has(text)) continue;
    texts.add(text);
    const file = `${era}/${slug}.yaml`;
    if (sources[file]) throw new Error(`two sources for ${file}: ${JSON.stringify([sources[file], source])}`);
    sources[file] = source;
    writeFileSync(join(CORPUS_DIR, file), text);
  }
  console.log(`${era}: ${texts.size} files`);
}
writeFileSync(join(CORPUS_DIR, "sources.json"), `${JSON.stringify(sources, null, 2)}\n`);
