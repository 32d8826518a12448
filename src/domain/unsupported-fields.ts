/**
 * Dagu DAG fields dagflare knows and doesn't run, each with why and what to use instead: a file
 * that uses one is refused naming the feature, rather than with a bare "unknown field". Keys are
 * the 1.x camelCase spelling; a 2.x snake_case key is looked up by its camelCase twin.
 */
import { snakeToCamel } from "./dialect.ts";

const SUB_DAGS_LATER = "sub-DAGs come with the composition work (not supported yet)";
const NOT_HERE = "dagflare keeps each run's logs itself; there are no log files to place";

const DAG_FIELDS: Readonly<Record<string, string>> = {
  dotenv: "loads .env files next to the DAG, which dagflare doesn't keep: set the variables in `env:`",
  logDir: NOT_HERE,
  logOutput: NOT_HERE,
  mailOn: "sends e-mail, which dagflare doesn't: use an alert policy (JOB_SUCCESS / JOB_FAILURE)",
  errorMail: "sends e-mail, which dagflare doesn't: use an alert policy (JOB_FAILURE)",
  infoMail: "sends e-mail, which dagflare doesn't: use an alert policy (JOB_SUCCESS)",
  smtp: "configures e-mail, which dagflare doesn't send: use an alert policy",
  preconditions: "DAG-level preconditions are not supported: put them on the first step",
  precondition: "DAG-level preconditions are not supported: put them on the first step",
  delaySec: "is not supported: the steps start at once",
  restartWaitSec: "is not supported: dagflare has no restart",
  maxCleanUpTimeSec: "is not supported: a stopped step's process tree is killed at once",
  maxActiveSteps: "is not supported yet: independent steps all start together",
  queue: "is not supported: each DAG has its own queue, bounded by maxActiveRuns",
  skipIfSuccessful: "is not supported: a scheduled run always runs",
  stopSchedule: "is not supported: only start schedules are",
  restartSchedule: "is not supported: only start schedules are",
  secrets: "is not supported: keep secrets as Worker secrets and pass what a step needs in `env:`",
  container:
    "runs the steps in a container image per DAG, which dagflare cannot: the steps already run in the runner image",
  ssh: "configures SSH, and dagflare has no SSH client",
  workerSelector: "chooses Dagu workers; dagflare has one pool of runners",
  runConfig: "is not supported",
};

const STEP_FIELDS: Readonly<Record<string, string>> = {
  call: SUB_DAGS_LATER,
  parallel: SUB_DAGS_LATER,
  repeatPolicy: "repeats a step, which comes with the composition work (not supported yet)",
  mailOnError: "sends e-mail, which dagflare doesn't: use an alert policy (JOB_FAILURE)",
  signalOnStop: "is not supported: a stopped step's process tree gets SIGTERM, then SIGKILL",
  stdout: NOT_HERE,
  stderr: NOT_HERE,
  logOutput: NOT_HERE,
  workerSelector: "chooses Dagu workers; dagflare has one pool of runners",
  container: "runs the step in a container image, which dagflare cannot: the steps already run in the runner image",
  shellArgs: "is not supported: put the options in the command, or run `bash -o …` in it",
  shellPackages: "installs packages for nix-shell, which dagflare doesn't: install them in the runner image",
};

/** Why a field at the DAG's top level (`"dag"`) or in a step isn't supported, or `undefined` if dagflare doesn't know it. */
export function unsupportedField(level: "dag" | "step", key: string): string | undefined {
  const table = level === "dag" ? DAG_FIELDS : STEP_FIELDS;
  return table[key] ?? table[snakeToCamel(key)];
}
