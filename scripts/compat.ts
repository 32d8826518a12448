/**
 * `npm run compat`: how much of Dagu's own DAG files dagflare speaks (issue 14), measured on the
 * corpus in test/compat/corpus: Dagu's examples, docs and tests of both eras, kept verbatim
 * (test/compat/README.md says where each comes from and how they were chosen).
 *
 * 1. Validation. Every file goes through POST /dags/validate of a local dagflare; 1.x files also
 *    through the real Dagu 1.30.2 (`dagu validate`, then `dagu dry`, which finds cycles). A file is
 *      accepted         dagflare takes it (noted apart: Dagu refuses it);
 *      refused          every error is one of dagflare's refusals, or follows from one in the same
 *                       step (a refused action leaves its step without a command). A refusal is a
 *                       message of the tables in src/domain/unsupported-fields.ts,
 *                       executor-support.ts or step-forms.ts, which README's "Coming from Dagu"
 *                       documents: it names the Dagu feature, why, and what to use instead. "Not
 *                       yet" when it says the feature comes later (sub-DAGs, parallel, repeat,
 *                       router…), else for good (docker, ssh, mail…);
 *      invalid in both  Dagu refuses the file too (1.x only: npm has no Dagu 2.x binary);
 *      other refusal    any other error: dagflare refuses a file Dagu takes (for 2.x: may take)
 *                       without a documented reason. These are failures.
 *    Runnable on Workers = every file except the invalid ones and those refused for good. Its
 *    accepted share is printed twice: with the "not yet" refusals counted as not accepted, and
 *    with those files left out.
 *
 * 2. Runs. Each 1.x file both accept runs on Dagu (in the caller's environment, as a user runs
 *    it: its default shell is $SHELL) and on dagflare, in a fresh folder that holds only the file
 *    on both sides, unless one of RUN_RULES says it can't run here on its own (network, long
 *    sleeps). Compared: the run's status, each step's and handler's status, and each one's stdout
 *    after `normalise` (run id, folder, HOME, host name, ISO times). Dagu runs the file twice: a
 *    file whose two Dagu runs print different things, or whose steps read a clock or randomness,
 *    is nondeterministic and compared on statuses only. A file whose Dagu run failed on a missing
 *    file or command is counted apart ("needs what this machine lacks"). Any difference in an
 *    accepted file is a silent one; the target is none.
 *
 * Prints every file dagflare doesn't accept with its first error, every run difference, then the
 * counts, and writes test-artifacts/compat-report.json. Exits 0 whatever it finds (it measures, it
 * doesn't gate) unless it crashes.
 *
 *   npm run compat [-- --filter <part of a corpus path, e.g. 1.x/test->]
 *   DAGU_BIN=/path/to/dagu npm run compat     (a Dagu 1.30.2 binary other than the npm package's)
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import createClient, { type Client } from "openapi-fetch";
import { formatSpecError, parseDagSpec, type StepSpec } from "../src/domain/dag-spec.ts";
import { camelToSnake, snakeToCamel } from "../src/domain/dialect.ts";
import { executorRefusal } from "../src/domain/executor-support.ts";
import { NODE_STATUS_LABELS, RUN_STATUS_LABELS } from "../src/domain/status.ts";
import { unsupportedField } from "../src/domain/unsupported-fields.ts";
import type { paths } from "../ui/src/api/schema";
import { CORPUS_DIR, type CorpusFile, type Era, readCorpus } from "./lib/compat-corpus.ts";
import { DAGU_VERSION, daguBinary, daguCheck, daguStart, daguVersion, withDaguHome } from "./lib/dagu-cli.ts";
import { startLocalInstance } from "./lib/local-instance.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const reportFile = join(root, "test-artifacts", "compat-report.json");
const CONCURRENCY = 4;
const RUN_TIMEOUT_MS = 20_000;
const POLL_MS = 100;
const MAX_SLEEP_SECONDS = 5;

type Refusal = { feature: string; later: boolean; namedInReadme: boolean };
type Verdict =
  | { kind: "accepted"; daguError: string | undefined }
  | { kind: "refused"; refusals: Refusal[]; errors: string[] }
  | { kind: "invalid in both"; errors: string[]; daguError: string }
  | { kind: "other refusal"; errors: string[] };

/** A run on either side, reduced to what is compared. */
type StepOutcome = { status: string; stdout: string };
type RunOutcome = { status: string; steps: Map<string, StepOutcome> };
type ReportedRun = { status: string; steps: Record<string, StepOutcome> };
type RunComparison =
  | { kind: "not run"; reason: string }
  | {
      kind: "equivalent" | "different";
      nondeterministic: string | undefined;
      lacking: string | undefined;
      differences: string[];
      /** Both runs as compared (normalised), for the JSON report. */
      runs: { dagu: ReportedRun; dagflare: ReportedRun };
    }
  | { kind: "timed out" | "error"; detail: string };

type Api = Client<paths>;

// ---------------------------------------------------------------------------------------------
// Validation and classification.

/** The "Coming from Dagu" section of the README, where each refused feature should be named. */
async function comingFromDagu(): Promise<string> {
  const readme = await readFile(join(root, "README.md"), "utf8");
  return /^## Coming from Dagu$([\s\S]*?)^## /m.exec(readme)?.[1] ?? "";
}

/**
 * Refusals written outside the field tables (step-forms.ts, dag-spec.ts): the shape of the
 * message and the feature it names ("" when the message names it in its first quotes).
 */
const OTHER_REFUSALS: readonly [shape: RegExp, feature: string][] = [
  [/^unknown action '[^']+' \(custom actions/, "custom actions"],
  [/^action '([^']+)'/, ""],
  [/^'eval' runs a command when the DAG loads/, "eval"],
  [/^'([^']+)' is not supported with run/, ""],
  [/^'([^']+)' of http\.request is not supported/, ""],
  [/^'([^']+)' of jq\.filter is not supported/, ""],
  [/^'(input)' reads a JSON file/, ""],
  [/^jq's '(input)' reads a JSON file/, ""],
  [/^a jq step's 'file:\/\/' script reads a file/, "file://"],
  [/^a jq filter of several lines/, "jq"],
  [/^jq\.filter needs 'data'/, "jq.filter"],
  [/^'(template_ref|output)' (?:reads the template|writes the result to a file)/, ""],
  [
    /^template: template:\d+: (?:the function |printf verb |the printf flag |the (?:complex|hexadecimal floating-point) number |the string )?(\S+).* is not supported by dagflare/,
    "",
  ],
  [/^'[^']+' runs a command \(`…`\) when the DAG loads/, "backticks"],
  [/^'\$\{[^.]+\.(?:stdout|stderr|exitCode)\}' reads another step's log file/, "${id.stdout}"],
  [/^'\$\{params\.[^}]+\}' \(Dagu 2\.x\) is not supported yet/, "${params.NAME}"],
  [/^'\$\{env\.[^}]+\}' \(Dagu 2\.x\) is not supported yet/, "${env.NAME}"],
  [/^'[^']+' names a DAG by its file path/, "file path"],
  [/structured outputs are not supported yet/, "structured outputs"],
  [/^'(stop|restart)' schedules are not supported/, ""],
  [/^one-off schedules \('at'\) are not supported/, "at"],
  [/^runtime profiles are not supported/, "profile"],
  [/^type '([^']+)' is not supported/, ""],
];

/** The feature an error message refuses, if it is one of dagflare's refusals. */
function refusedFeature(message: string): string | undefined {
  const field = /^'([^']+)' (.*)$/s.exec(message);
  const levels = ["dag", "step", "handler"] as const;
  if (field && levels.some((level) => unsupportedField(level, field[1]!) === field[2])) {
    return field[1];
  }
  const executor = /^(?:unknown )?executor '([^']+)'/.exec(message);
  // The README's executor table names the known ones; any other is "refused as an unknown executor".
  if (executor && executorRefusal(executor[1]!) === message)
    return message.startsWith("unknown") ? "unknown executor" : executor[1];
  for (const [shape, feature] of OTHER_REFUSALS) {
    const match = shape.exec(message);
    if (match) return match[1] ?? feature;
  }
  return undefined;
}

/**
 * Whether the README's section names a feature: in either spelling, an action by its family
 * (`postgres` of `postgres.query`), and a remote action (`owner/repo@v1`) as such.
 */
function namedIn(readme: string, feature: string): boolean {
  if (feature.includes("@")) return readme.includes("remote or custom actions");
  const names = [feature, snakeToCamel(feature), camelToSnake(feature), feature.split(".")[0]!];
  const word = (name: string) => new RegExp(`(?<![\\w$])${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?!\\w)`, "i");
  return names.some((name) => word(name).test(readme));
}

function refusalOf(message: string, readme: string): Refusal | undefined {
  const feature = refusedFeature(message);
  if (feature === undefined) return undefined;
  return { feature, later: /not supported yet/.test(message), namedInReadme: namedIn(readme, feature) };
}

type SpecError = { field: string; message: string };

async function validateOnDagflare(api: Api, text: string): Promise<SpecError[]> {
  const { data, error } = await api.POST("/dags/validate", { body: { spec: text } });
  if (!data) throw new Error(`POST /dags/validate: ${JSON.stringify(error)}`);
  return data.specErrors;
}

/** The step (or handler) an error is in, e.g. `steps[2]`, or `undefined` for the DAG's own fields. */
const stepOf = (field: string) => /^(?:documents\[\d+\]\.)?(?:steps\[\d+\]|handlerOn\.\w+)/.exec(field)?.[0];

/**
 * Dagu refusing the file decides first; then dagflare's errors. In a step dagflare refuses, its
 * other errors are follow-ons of that refusal (a refused `action` leaves the step without a
 * command), so they don't count against it.
 */
async function classify(api: Api, dagu: string, home: string, readme: string, file: CorpusFile): Promise<Verdict> {
  const specErrors = await validateOnDagflare(api, file.text);
  const daguError = file.era === "1.x" ? await daguCheck(dagu, join(CORPUS_DIR, file.file), home) : undefined;
  if (specErrors.length === 0) return { kind: "accepted", daguError };
  const judged = specErrors.map((error) => ({
    error,
    refusal: refusalOf(error.message, readme),
    step: stepOf(error.field),
  }));
  const refusedSteps = new Set(judged.flatMap(({ refusal, step }) => (refusal && step ? [step] : [])));
  const followsRefusal = (step: string | undefined) => step !== undefined && refusedSteps.has(step);
  // The report shows a file's first error: unexplained errors first, then permanent refusals.
  const rank = ({ refusal, step }: (typeof judged)[number]) =>
    refusal ? (refusal.later ? 2 : 1) : followsRefusal(step) ? 3 : 0;
  const errors = judged.sort((a, b) => rank(a) - rank(b)).map(({ error }) => formatSpecError(error));
  if (daguError !== undefined) return { kind: "invalid in both", errors, daguError };
  const refusals = judged.flatMap(({ refusal }) => (refusal ? [refusal] : []));
  if (refusals.length > 0 && judged.every((each) => rank(each) > 0)) return { kind: "refused", refusals, errors };
  return { kind: "other refusal", errors };
}

const refusedForGood = (verdict: Verdict) =>
  verdict.kind === "refused" && verdict.refusals.some((refusal) => !refusal.later);
const refusedForNow = (verdict: Verdict) => verdict.kind === "refused" && !refusedForGood(verdict);

// ---------------------------------------------------------------------------------------------
// Runs: which files, and the two sides.

const stepTexts = (steps: StepSpec[]) => steps.map((step) => `${step.command ?? ""}\n${step.script ?? ""}`);

/** Why a file can't run here on its own, or `undefined` when it can (checked in this order). */
const RUN_RULES: readonly [reason: string, applies: (steps: StepSpec[]) => boolean][] = [
  ["http executor (network)", (steps) => steps.some((step) => step.executor?.type === "http")],
  [
    "network or remote tools (curl, wget, ssh, docker, URLs…)",
    (steps) =>
      stepTexts(steps).some((text) =>
        /\b(curl|wget|ssh|scp|rsync|docker|kubectl|gcloud|aws|gsutil|git clone|pip3? install|npm install)\b|https?:\/\//.test(
          text,
        ),
      ),
  ],
  [
    `sleeps longer than ${MAX_SLEEP_SECONDS} s`,
    (steps) =>
      stepTexts(steps).some((text) =>
        [...text.matchAll(/\bsleep\s+(\d+(?:\.\d+)?)/g)].some((match) => Number(match[1]) > MAX_SLEEP_SECONDS),
      ),
  ],
];

/** A clock or randomness in a step: its output can't be compared across runs. */
const VARYING = /\b(date|uuidgen|shuf|mktemp|openssl rand)\b|\$RANDOM|\/dev\/u?random|\$\$/;
/** A failed step's stderr on Dagu saying something this machine doesn't have. */
const LACKING = /not found|No such file or directory|can't open file/;

function allSteps(text: string): StepSpec[] {
  const parsed = parseDagSpec(text);
  if (!parsed.ok) return [];
  return [...parsed.spec.steps, ...Object.values(parsed.spec.handlerOn)];
}

function runExclusion(file: CorpusFile, verdict: Verdict): string | undefined {
  if (file.era !== "1.x") return "2.x (no Dagu 2.x binary to compare with)";
  if (verdict.kind !== "accepted") return "not accepted by dagflare";
  if (verdict.daguError !== undefined) return "refused by Dagu";
  const steps = allSteps(file.text);
  return RUN_RULES.find(([, applies]) => applies(steps))?.[0];
}

/** The name both sides give the DAG: its `name:`, else the file's name (as Dagu does). */
function dagName(file: CorpusFile): string {
  const parsed = parseDagSpec(file.text);
  return (parsed.ok ? parsed.spec.name : undefined) ?? file.slug;
}

/** A fresh folder holding only the DAG file: the working directory of the run's steps. */
async function freshFolder(folder: string, file: CorpusFile): Promise<string> {
  await rm(folder, { recursive: true, force: true });
  await mkdir(folder, { recursive: true });
  const path = join(folder, `${file.slug}.yaml`);
  await writeFile(path, file.text);
  return path;
}

/**
 * What legitimately differs between two runs of one file, replaced by placeholders: the run's
 * id (and its sub-DAG runs' ids, in a calling step's result), its working folder, HOME, the
 * host's name and ISO times; trailing spaces and the final newlines are dropped.
 */
function normalise(text: string, run: { runId: string; folder: string; home: string | RegExp }): string {
  return (
    text
      .replaceAll(run.runId, "<run-id>")
      .replaceAll(run.folder, "<folder>")
      .replaceAll(run.home, "<home>")
      .replaceAll(hostname(), "<host>")
      .replace(/\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?/g, "<time>")
      // A sub-DAG run's id in a calling step's result (Dagu's are base58, dagflare's UUIDs).
      .replace(/"dagRunId": "[A-Za-z0-9_-]+"/g, '"dagRunId": "<sub-run-id>"')
      .replace(/[ \t]+$/gm, "")
      .trimEnd()
  );
}

const runLabel = (code: number) => RUN_STATUS_LABELS[code] ?? `status ${code}`;
const nodeLabel = (code: number) => NODE_STATUS_LABELS[code] ?? `status ${code}`;

type DaguSide = RunOutcome & { timedOut: boolean; lacking: string | undefined };

async function runOnDagu(dagu: string, file: CorpusFile): Promise<DaguSide> {
  const folder = await mkdtemp(join(tmpdir(), "compat-run-"));
  try {
    const run = await daguStart(dagu, await freshFolder(folder, file), RUN_TIMEOUT_MS);
    const nodes = [...run.steps, ...run.handlers];
    const lacking = nodes.find((node) => node.status === 2 && LACKING.test(node.stderr));
    const steps = new Map(
      nodes.map((node) => [
        node.name,
        { status: nodeLabel(node.status), stdout: normalise(node.stdout, { ...run, folder }) },
      ]),
    );
    return {
      status: runLabel(run.status),
      steps,
      timedOut: run.timedOut,
      lacking: lacking && `${lacking.name}: ${lacking.stderr.trim().split("\n").at(-1)}`,
    };
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/** A step's HOME on the local runner: its execution's folder under the runner's work root. */
const RUNNER_HOME = /[^\s'"]*\/runner\/[0-9a-f]{64}/g;

async function runOnDagflare(api: Api, folder: string, file: CorpusFile): Promise<RunOutcome & { timedOut: boolean }> {
  await freshFolder(folder, file);
  const name = dagName(file);
  await ok(api.POST("/dags", { body: { name, spec: file.text } }), `create ${name}`);
  try {
    const { dagRunId } = await ok(
      api.POST("/dags/{fileName}/start", { params: { path: { fileName: name } }, body: {} }),
      `start ${name}`,
    );
    const path = { name, dagRunId };
    const deadline = Date.now() + RUN_TIMEOUT_MS;
    let details = await ok(api.GET("/dag-runs/{name}/{dagRunId}", { params: { path } }), "run details");
    while ([1, 5].includes(details.dagRunDetails.status) && Date.now() < deadline) {
      await new Promise((done) => setTimeout(done, POLL_MS));
      details = await ok(api.GET("/dag-runs/{name}/{dagRunId}", { params: { path } }), "run details");
    }
    const run = details.dagRunDetails;
    const timedOut = [1, 5].includes(run.status);
    if (timedOut) await api.POST("/dag-runs/{name}/{dagRunId}/stop", { params: { path } });
    const nodes = [...run.nodes, run.onSuccess, run.onFailure, run.onCancel, run.onExit].filter(
      (node) => node !== undefined,
    );
    const steps = new Map<string, StepOutcome>();
    for (const node of nodes) {
      const log = await ok(
        api.GET("/dag-runs/{name}/{dagRunId}/steps/{stepName}/log", {
          params: { path: { ...path, stepName: node.step.name }, query: { stream: "stdout" } },
        }),
        "step log",
      );
      const stdout = normalise(log.content, { runId: dagRunId, folder, home: RUNNER_HOME });
      steps.set(node.step.name, { status: node.statusLabel, stdout });
    }
    return { status: run.statusLabel, steps, timedOut };
  } finally {
    await api.DELETE("/dags/{fileName}", { params: { path: { fileName: name } } });
  }
}

/** The body of a call that must succeed; anything else fails with what came back. */
async function ok<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>, what: string): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok || data === undefined) throw new Error(`${what}: ${response.status} ${JSON.stringify(error)}`);
  return data;
}

const quote = (text: string) => JSON.stringify(text.length > 400 ? `${text.slice(0, 400)}…` : text);

/** What differs between the two runs; stdout only when `withStdout`. */
function differences(dagu: RunOutcome, dagflare: RunOutcome, withStdout: boolean): string[] {
  const found: string[] = [];
  if (dagu.status !== dagflare.status) found.push(`run: Dagu ${dagu.status}, dagflare ${dagflare.status}`);
  for (const name of new Set([...dagu.steps.keys(), ...dagflare.steps.keys()])) {
    const [expected, actual] = [dagu.steps.get(name), dagflare.steps.get(name)];
    if (!expected || !actual) {
      found.push(`step '${name}': only on ${expected ? "Dagu" : "dagflare"}`);
    } else if (expected.status !== actual.status) {
      found.push(`step '${name}': Dagu ${expected.status}, dagflare ${actual.status}`);
    } else if (withStdout && expected.stdout !== actual.stdout) {
      found.push(
        `step '${name}' stdout:\n      Dagu     ${quote(expected.stdout)}\n      dagflare ${quote(actual.stdout)}`,
      );
    }
  }
  return found;
}

/** Two runs of one file print the same when every step's normalised stdout is equal. */
const samePrints = (a: RunOutcome, b: RunOutcome) =>
  a.steps.size === b.steps.size && [...a.steps].every(([name, step]) => b.steps.get(name)?.stdout === step.stdout);

type DaguRuns = [DaguSide, DaguSide | undefined];

/** The file run twice on Dagu (once when the first run timed out), or why it didn't run. */
async function daguTwice(dagu: string, file: CorpusFile): Promise<DaguRuns | Error> {
  try {
    const first = await runOnDagu(dagu, file);
    return first.timedOut ? [first, undefined] : [first, await runOnDagu(dagu, file)];
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

const reported = ({ status, steps }: RunOutcome): ReportedRun => ({ status, steps: Object.fromEntries(steps) });

function compare(file: CorpusFile, [first, second]: DaguRuns, dagflare: RunOutcome): RunComparison {
  const varying = stepTexts(allSteps(file.text)).some((text) => VARYING.test(text));
  const nondeterministic = varying
    ? "a step reads a clock or randomness"
    : second && !samePrints(first, second)
      ? "two Dagu runs printed different things"
      : undefined;
  const found = differences(first, dagflare, nondeterministic === undefined);
  return {
    kind: found.length === 0 ? "equivalent" : "different",
    nondeterministic,
    lacking: first.lacking,
    differences: found,
    runs: { dagu: reported(first), dagflare: reported(dagflare) },
  };
}

const failure = (side: string, error: unknown): RunComparison => ({
  kind: "error",
  detail: `${side}: ${error instanceof Error ? error.message : String(error)}`,
});
const tooSlow = (side: string): RunComparison => ({
  kind: "timed out",
  detail: `${side} took longer than ${RUN_TIMEOUT_MS / 1000} s`,
});

/** A file Dagu has run, run on dagflare too and compared. */
async function compareRuns(
  api: Api,
  folder: string,
  file: CorpusFile,
  onDagu: DaguRuns | Error,
): Promise<RunComparison> {
  if (onDagu instanceof Error) return failure("Dagu", onDagu);
  if (onDagu[0].timedOut) return tooSlow("Dagu");
  try {
    const onDagflare = await runOnDagflare(api, folder, file);
    return onDagflare.timedOut ? tooSlow("dagflare") : compare(file, onDagu, onDagflare);
  } catch (error) {
    return failure("dagflare", error);
  }
}

// ---------------------------------------------------------------------------------------------
// Report.

async function mapWithLimit<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

const percent = (part: number, whole: number) => (whole === 0 ? "–" : `${((100 * part) / whole).toFixed(1)} %`);
const firstLine = (text: string) => text.split("\n")[0]!;
const clip = (text: string) => (text.length > 300 ? `${text.slice(0, 300)}…` : text);

type Entry = { file: CorpusFile; verdict: Verdict; run: RunComparison };

function printValidation(entries: Entry[]): void {
  const eras: Era[] = ["1.x", "2.x"];
  const count = (era: Era | undefined, test: (entry: Entry) => boolean) =>
    entries.filter((entry) => (era === undefined || entry.file.era === era) && test(entry)).length;
  const row = (label: string, test: (entry: Entry) => boolean) =>
    console.log(
      `  ${label.padEnd(40)}${eras.map((era) => String(count(era, test)).padStart(7)).join("")}${String(count(undefined, test)).padStart(8)}`,
    );
  console.log(`\nvalidation${" ".repeat(32)}${eras.map((era) => era.padStart(7)).join("")}   total`);
  row("files", () => true);
  row("accepted", ({ verdict }) => verdict.kind === "accepted");
  row(
    `  of which Dagu ${DAGU_VERSION} refuses`,
    ({ verdict }) => verdict.kind === "accepted" && verdict.daguError !== undefined,
  );
  row("refused with a documented reason", ({ verdict }) => verdict.kind === "refused");
  row("  for good (docker, ssh, mail…)", ({ verdict }) => refusedForGood(verdict));
  row("  not yet (foreach, ${id.stdout}…)   ", ({ verdict }) => refusedForNow(verdict));
  row("invalid in both (Dagu refuses too)", ({ verdict }) => verdict.kind === "invalid in both");
  row("other refusal (failures)", ({ verdict }) => verdict.kind === "other refusal");

  const accepted = count(undefined, ({ verdict }) => verdict.kind === "accepted");
  const others = count(undefined, ({ verdict }) => verdict.kind === "other refusal");
  const later = count(undefined, ({ verdict }) => refusedForNow(verdict));
  console.log("\nrunnable on Workers (all files but invalid ones and permanent refusals), accepted:");
  console.log(
    `  not-yet refusals counted as not accepted  ${accepted} / ${accepted + others + later} = ${percent(accepted, accepted + others + later)}`,
  );
  console.log(
    `  not-yet refusals left out                 ${accepted} / ${accepted + others} = ${percent(accepted, accepted + others)}`,
  );
  const unnamed = [
    ...new Set(
      entries.flatMap(({ verdict }) =>
        verdict.kind === "refused" ? verdict.refusals.filter((r) => !r.namedInReadme).map((r) => r.feature) : [],
      ),
    ),
  ];
  if (unnamed.length > 0)
    console.log(`  refused features README's "Coming from Dagu" doesn't name: ${unnamed.join(", ")}`);
}

function printRuns(entries: Entry[]): void {
  const runs = entries.filter(({ file }) => file.era === "1.x");
  const reasons = new Map<string, number>();
  for (const { run } of runs) if (run.kind === "not run") reasons.set(run.reason, (reasons.get(run.reason) ?? 0) + 1);
  console.log(`\nruns of 1.x files on Dagu ${DAGU_VERSION} and dagflare`);
  for (const [reason, n] of reasons) console.log(`  not run: ${reason.padEnd(58)}${String(n).padStart(4)}`);
  const compared = runs.flatMap(({ run }) => (run.kind === "equivalent" || run.kind === "different" ? [run] : []));
  const counted = compared.filter((run) => run.lacking === undefined);
  const lacking = compared.filter((run) => run.lacking !== undefined);
  const equivalent = counted.filter((run) => run.kind === "equivalent").length;
  const line = (label: string, value: string) => console.log(`  ${label.padEnd(67)}${value.padStart(4)}`);
  line(
    "timed out or failed to run",
    String(runs.filter(({ run }) => run.kind === "timed out" || run.kind === "error").length),
  );
  line("needs what this machine lacks (Dagu's run: not found), not counted", String(lacking.length));
  line("  of which equivalent anyway", String(lacking.filter((run) => run.kind === "equivalent").length));
  line("compared", String(counted.length));
  line(
    "  nondeterministic: statuses compared, not stdout",
    String(counted.filter((run) => run.nondeterministic).length),
  );
  line("  equivalent", String(equivalent));
  line("  silently different", String(counted.length - equivalent));
  console.log(`  run equivalence: ${equivalent} / ${counted.length} = ${percent(equivalent, counted.length)}`);
}

function printDetails(entries: Entry[]): void {
  const order: Verdict["kind"][] = ["other refusal", "refused", "invalid in both"];
  console.log("\nfiles dagflare doesn't accept (first error):");
  for (const kind of order) {
    for (const { file, verdict } of entries) {
      if (verdict.kind !== kind || verdict.kind === "accepted") continue;
      const tag = verdict.kind === "refused" ? (refusedForGood(verdict) ? "refused" : "not yet") : verdict.kind;
      console.log(`  [${tag}] ${file.file}: ${firstLine(verdict.errors[0]!)}`);
      if (verdict.kind === "invalid in both") console.log(`      Dagu: ${clip(verdict.daguError)}`);
    }
  }
  const accepted = entries.filter(({ verdict }) => verdict.kind === "accepted" && verdict.daguError !== undefined);
  if (accepted.length > 0) console.log(`\naccepted by dagflare, refused by Dagu ${DAGU_VERSION}:`);
  for (const { file, verdict } of accepted) {
    if (verdict.kind === "accepted") console.log(`  ${file.file}: Dagu: ${clip(verdict.daguError ?? "")}`);
  }
  console.log("\nrun differences:");
  for (const { file, run } of entries) {
    if (run.kind === "timed out" || run.kind === "error") {
      console.log(`  [${run.kind}] ${file.file}: ${clip(run.detail)}`);
    }
    if (run.kind !== "different") continue;
    const tags = [run.lacking && `lacks: ${run.lacking}`, run.nondeterministic].filter(Boolean).join("; ");
    console.log(`  ${file.file}${tags ? ` (${tags})` : ""}`);
    for (const difference of run.differences) console.log(`    ${difference}`);
  }
}

async function writeReport(entries: Entry[], version: string): Promise<void> {
  const files = entries.map(({ file, verdict, run }) => ({ file: file.file, source: file.source, verdict, run }));
  await mkdir(dirname(reportFile), { recursive: true });
  await writeFile(reportFile, `${JSON.stringify({ dagu: version, files }, null, 2)}\n`);
  console.log(`\nreport: ${reportFile}`);
}

// ---------------------------------------------------------------------------------------------

const { values: options } = parseArgs({ options: { filter: { type: "string" } } });
const corpus = await readCorpus(options.filter);
const dagu = await daguBinary();
const version = await daguVersion(dagu);
const readme = await comingFromDagu();
const stepsFolder = await mkdtemp(join(tmpdir(), "compat-dagflare-"));
const instance = await startLocalInstance({ DAGS_DIR: stepsFolder });
try {
  const api = createClient<paths>({ baseUrl: instance.api, headers: { Authorization: `Bearer ${instance.token}` } });
  const verdicts = await withDaguHome((home) =>
    mapWithLimit(corpus, CONCURRENCY, (file) => classify(api, dagu, home, readme, file)),
  );
  const exclusions = corpus.map((file, index) => runExclusion(file, verdicts[index]!));
  const runnable = corpus.filter((_, index) => exclusions[index] === undefined);
  console.log(`\n${corpus.length} files; running ${runnable.length} on Dagu ${version} and dagflare`);
  const daguRuns = await mapWithLimit(runnable, CONCURRENCY, (file) => daguTwice(dagu, file));
  const runs = new Map<CorpusFile, RunComparison>();
  // One dagflare run at a time: they share the runner's working folder, which each run empties.
  for (const [index, file] of runnable.entries()) {
    runs.set(file, await compareRuns(api, stepsFolder, file, daguRuns[index]!));
  }
  const entries: Entry[] = corpus.map((file, index) => ({
    file,
    verdict: verdicts[index]!,
    run: runs.get(file) ?? { kind: "not run", reason: exclusions[index]! },
  }));
  printDetails(entries);
  printValidation(entries);
  printRuns(entries);
  await writeReport(entries, version);
} finally {
  await instance.stop();
  await rm(stepsFolder, { recursive: true, force: true });
}
