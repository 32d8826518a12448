/**
 * Which of Dagu's step executors dagflare runs. A step whose executor it can't run is refused
 * when the DAG is validated, with what to use instead: before this, `executor: docker` (or ssh,
 * …) was accepted and its text run as a shell command, silently different from Dagu.
 */

/** Runs on the step runner as a shell command: Dagu's default executor and its two names. */
const SHELL_EXECUTORS = new Set(["shell", "command"]);
/** Run inside the Worker (../executors): no container involved. */
const WORKER_EXECUTORS = new Set(["http", "jq", "log", "template"]);

const SUB_DAG = "is not how dagflare calls a sub-DAG: write `call: <dag>` (with `params:`)";
const GITHUB_ACTION =
  "runs a GitHub Action through Docker (nektos/act), which dagflare cannot: start the workflow through GitHub's API (workflow_dispatch) with `executor: http`";

/** Dagu 1.x executors dagflare does not run (by every name Dagu accepts), each with why and what to do instead. */
const REFUSED: Readonly<Record<string, string>> = {
  docker:
    "runs a container image per step, which dagflare cannot: command steps run in the deployment's runner image (container/Dockerfile); drop `executor` and install what the command needs there",
  ssh: "runs the command on another host over SSH, and dagflare has no SSH client: call an HTTP API on that host with `executor: http`",
  mail: "sends e-mail over SMTP, which dagflare doesn't speak: use an alert policy, or a mail provider's HTTP API with `executor: http`",
  dag: SUB_DAG,
  subworkflow: SUB_DAG,
  parallel: "is not how dagflare fans out: write `call: <dag>` with `parallel:`",
  github_action: GITHUB_ACTION,
  gha: GITHUB_ACTION,
  "github-action": GITHUB_ACTION,
  archive: "is not supported: run tar or zip in a command step",
  hitl: "waits for a person's approval, which dagflare doesn't: split the DAG and start the rest by webhook",
};

/** Why a step with this executor type can't run here, or `undefined` when it can. */
export function executorRefusal(type: string): string | undefined {
  if (type === "" || WORKER_EXECUTORS.has(type) || SHELL_EXECUTORS.has(type)) return undefined;
  const reason = REFUSED[type];
  if (reason) return `executor '${type}' ${reason}`;
  return `unknown executor '${type}': dagflare runs shell commands (no executor, or 'shell'), 'http', 'jq', 'log' and 'template'`;
}

/** Whether steps of this executor type run in the Worker rather than on the step runner. */
export function runsInWorker(type: string | undefined): boolean {
  return type !== undefined && WORKER_EXECUTORS.has(type);
}

/**
 * What a jq step may not be, checked with the Dagu 1.30.2 binary where it says so: its `command`
 * is the one filter (a list is refused by Dagu too), on one line (Dagu reads a command of several
 * lines as the step's script, in place of the JSON), and its input is the step's text, not a file.
 */
export function jqStepProblems(step: {
  command: unknown;
  script: string | undefined;
  config: Readonly<Record<string, unknown>>;
}): { field: "command" | "script" | "executor"; message: string }[] {
  const problems: { field: "command" | "script" | "executor"; message: string }[] = [];
  if (Array.isArray(step.command)) {
    problems.push({ field: "command", message: "a jq step's command is its one filter, not a list" });
  } else if (typeof step.command === "string" && step.command.trim().includes("\n")) {
    problems.push({
      field: "command",
      message:
        "a jq filter of several lines: Dagu runs a command of several lines as the step's script (in place of the JSON input); write the filter on one line",
    });
  }
  const noFiles = "steps share no file system in dagflare: put the JSON in the step";
  if (step.script?.startsWith("file://")) {
    problems.push({ field: "script", message: `a jq step's 'file://' script reads a file (Dagu 2.x), and ${noFiles}` });
  }
  if (step.config.input !== undefined) {
    problems.push({ field: "executor", message: `jq's 'input' reads a JSON file (Dagu 2.x), and ${noFiles}` });
  }
  return problems;
}
