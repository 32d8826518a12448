/**
 * Which of Dagu's step executors dagflare runs. A step whose executor it can't run is refused
 * when the DAG is validated, with what to use instead: before this, `executor: docker` (or ssh,
 * jq, …) was accepted and its text run as a shell command, silently different from Dagu.
 */

/** Runs on the step runner as a shell command: Dagu's default executor and its two names. */
const SHELL_EXECUTORS = new Set(["shell", "command"]);
const HTTP_EXECUTOR = "http";

const SUB_DAG = "runs a sub-DAG, which is not supported yet (sub-DAGs come with the composition work)";
const GITHUB_ACTION =
  "runs a GitHub Action through Docker (nektos/act), which dagflare cannot: start the workflow through GitHub's API (workflow_dispatch) with `executor: http`";

/** Dagu 1.x executors dagflare does not run (by every name Dagu accepts), each with why and what to do instead. */
const REFUSED: Readonly<Record<string, string>> = {
  docker:
    "runs a container image per step, which dagflare cannot: command steps run in the deployment's runner image (container/Dockerfile); drop `executor` and install what the command needs there",
  ssh: "runs the command on another host over SSH, and dagflare has no SSH client: call an HTTP API on that host with `executor: http`",
  mail: "sends e-mail over SMTP, which dagflare doesn't speak: use an alert policy, or a mail provider's HTTP API with `executor: http`",
  jq: "is not supported yet (jq comes with sub-DAGs and data actions): run `jq` in a command step meanwhile (the runner image has it)",
  dag: SUB_DAG,
  subworkflow: SUB_DAG,
  parallel: "runs a sub-DAG per item, which is not supported yet (sub-DAGs come with the composition work)",
  github_action: GITHUB_ACTION,
  gha: GITHUB_ACTION,
  "github-action": GITHUB_ACTION,
  archive: "is not supported: run tar or zip in a command step",
  hitl: "waits for a person's approval, which dagflare doesn't: split the DAG and start the rest by webhook",
};

/** Why a step with this executor type can't run here, or `undefined` when it can. */
export function executorRefusal(type: string): string | undefined {
  if (type === "" || type === HTTP_EXECUTOR || SHELL_EXECUTORS.has(type)) return undefined;
  const reason = REFUSED[type];
  if (reason) return `executor '${type}' ${reason}`;
  return `unknown executor '${type}': dagflare runs shell commands (no executor, or 'shell') and 'http'`;
}
