/**
 * Dagu 2.7's step forms ("action schema v2") read as the 1.x forms dagflare runs:
 * - `run: <shell>` (one line: `command`; several: `script`), with `with: {shell}`;
 * - `action: http.request` + `with: {method, url, headers, query, body, timeout, json, silent}`:
 *   the http executor (`command: "METHOD URL"`, the rest as its `config`);
 * - `action: exec` + `with: {command, args}`: the program and its arguments, each quoted, so no
 *   shell syntax in them is interpreted (as Dagu runs it, without a shell);
 * - `action: noop`: a step that succeeds;
 * - `action: log.write` + `with: {message}`: the log executor (in the Worker) writes the message;
 * - `action: template.render` + `with: {template, data}`: the template executor (in the Worker)
 *   renders the template (as `script`) with the data (its `config`), as Dagu 2.x reads it;
 * - `action: jq.filter` + `with: {filter, data, raw}`: the jq executor (the filter as `command`,
 *   the data as `script`: a string as written, anything else as JSON), as Dagu 2.x reads it;
 * - Dagu 2.0–2.6's `type:` + `config:` (the 1.x `executor:`) and `exec: {command, args}`.
 * Every other action is refused with why and what to use instead, never run as something else.
 *
 * A call of another DAG (a sub-DAG) is read as `call: <dag>` (+ `params`): 2.x's
 * `action: dag.run` / `dag.enqueue` + `with: {dag, params}`, and Dagu 1.x's `run: <dag>` with
 * `params:`. A 1.x `run: <dag>` without params can't be told from 2.7's `run: <shell>`, and is
 * read as the shell text (the README says to write `call:`).
 */

import { daguTemplateText } from "./template-render.ts";

type Path = readonly (string | number)[];

export type StepFormResult = {
  object: Record<string, unknown>;
  problems: { path: Path; message: string }[];
  /** Canonical keys the result has where the file wrote another (`command` ← `run`). */
  writtenAs: Record<string, string>;
};

/** `with:` keys of http.request that the http executor runs as Dagu does. */
const HTTP_CONFIG_KEYS = new Set(["headers", "query", "body", "timeout", "json", "silent"]);
const SHELL_WITH_KEYS = new Set(["shell"]);

const NOT_YET = "is not supported yet";
const REFUSED_ACTIONS: Readonly<Record<string, string>> = {
  "docker.run":
    "runs a container image per step, which dagflare cannot: `run:` steps run in the deployment's runner image (container/Dockerfile); install the tools there",
  "container.run":
    "runs a container image per step, which dagflare cannot: `run:` steps run in the deployment's runner image (container/Dockerfile); install the tools there",
  "k8s.run": "needs a Kubernetes cluster, which dagflare doesn't drive: call its API with `action: http.request`",
  "kubernetes.run":
    "needs a Kubernetes cluster, which dagflare doesn't drive: call its API with `action: http.request`",
  "ssh.run":
    "runs a command over SSH, and dagflare has no SSH client: call an HTTP API on that host with `action: http.request`",
  "mail.send":
    "sends e-mail over SMTP, which dagflare doesn't speak: use an alert policy, or a mail provider's API with `action: http.request`",
};

/** Families of actions refused for one reason, by the prefix of their name. */
const REFUSED_FAMILIES: readonly [prefix: string, reason: string][] = [
  [
    "postgres.",
    "talks to a database, which dagflare doesn't: use a `run:` step with the database's client in the runner image",
  ],
  ["sqlite.", "talks to a database, which dagflare doesn't: use a `run:` step with sqlite3 in the runner image"],
  ["redis.", "talks to Redis, which dagflare doesn't: use a `run:` step with redis-cli in the runner image"],
  ["s3.", "is not supported: use `action: http.request` against the bucket's API, or a `run:` step with a client"],
  ["sftp.", "is not supported: dagflare has no SFTP client"],
  ["archive.", "is not supported: run tar or zip in a `run:` step"],
  ["file.", "is not supported: steps share no file system in dagflare; use a `run:` step"],
  ["artifact.", "is not supported: dagflare keeps no artifacts; pass data with `output:`"],
  ["git.", "is not supported: run git in a `run:` step (the runner image has it)"],
  ["state.", "is not supported: dagflare keeps no state store between runs"],
  ["wait.", "is not supported: use a schedule, or a step's retry_policy to wait for a condition"],
  ["data.", NOT_YET],
  ["outputs.", NOT_YET],
  ["log.", "is not supported: write to stdout in a `run:` step"],
  ["chat.", "is not supported: call the model's API with `action: http.request`"],
  ["harness.", "is not supported: dagflare runs no agent harnesses"],
  ["human.", "is not supported: dagflare has no human tasks; start a second DAG by webhook instead"],
];

function actionRefusal(action: string): string {
  const reason = REFUSED_ACTIONS[action] ?? REFUSED_FAMILIES.find(([prefix]) => action.startsWith(prefix))?.[1];
  if (reason) return `action '${action}' ${reason}`;
  if (action.includes("@")) return `action '${action}': remote and custom actions are not supported`;
  return `unknown action '${action}' (custom actions are not supported): dagflare runs 'run:' steps and the actions http.request, jq.filter, log.write, template.render, dag.run, dag.enqueue, router.route, exec and noop`;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** One argument for a POSIX shell, taken literally (a `${VAR}` inside is still bound, as Dagu expands it). */
const quoteArgument = (value: unknown) => `'${String(value).replaceAll("'", `'"'"'`)}'`;

/** A step (keys already canonical) with any 2.x form turned into the 1.x one. */
export function readStepForms(step: Record<string, unknown>): StepFormResult {
  const problems: StepFormResult["problems"] = [];
  const writtenAs: Record<string, string> = {};
  const { run, action, with: options, call, type, config, exec, ...rest } = step;
  const result: Record<string, unknown> = rest;

  // Dagu 2.0–2.6 wrote a router as `type: router` with the step's own `value` and `routes`.
  if (type === "router" && config === undefined && step.executor === undefined) {
    const { value, routes, ...others } = rest;
    routerForm({ value, routes }, others, problems);
    writtenAs.router = "type";
    return { object: others, problems, writtenAs };
  }
  // Dagu 2.0–2.6 spelled the executor as the step's `type` + `config`, and direct exec as `exec:`.
  if (type !== undefined || config !== undefined) {
    if (step.executor !== undefined) {
      problems.push({
        path: [type === undefined ? "config" : "type"],
        message: "'type'/'config' (Dagu 2.0–2.6) and 'executor' (1.x) are two spellings of a step's executor",
      });
    } else if (type === undefined) {
      problems.push({ path: ["config"], message: "'config' goes with 'type' (the executor it configures)" });
    } else {
      result.executor = config === undefined ? type : { type, config };
      writtenAs.executor = "type";
    }
  }
  if (exec !== undefined && twoXForms(step).length === 0) {
    if (!isObject(exec)) problems.push({ path: ["exec"], message: "expected {command, args}" });
    else execForm(exec, ["exec"], result, problems);
    writtenAs.command = "exec";
  }

  if (call !== undefined) result.call = call;
  if (run !== undefined && step.params !== undefined && call === undefined) {
    // Dagu 1.x: `run: <dag>` with `params:` calls that DAG.
    result.call = run;
    writtenAs.call = "run";
    return { object: result, problems, writtenAs };
  }
  const forms = ["call", "run", "action", "command", "script", "executor", "type", "config", "exec"].filter(
    (key) => step[key] !== undefined,
  );
  if (call !== undefined && forms.length > 1) {
    problems.push({
      path: ["call"],
      message: `a step either calls a DAG or runs something itself, not ${forms.map((key) => `'${key}'`).join(" and ")}`,
    });
    return { object: result, problems, writtenAs };
  }
  const twoX = twoXForms(step);
  if (twoX.length > 0 && forms.length > 1) {
    problems.push({
      path: [twoX[0]!],
      message: `a step is one of 'run', 'action' (Dagu 2.7) or 'command'/'script'/'executor' (1.x), not ${forms.map((key) => `'${key}'`).join(" and ")}`,
    });
    return { object: result, problems, writtenAs };
  }
  if (options !== undefined && twoX.length === 0) {
    problems.push({ path: ["with"], message: "'with' goes with 'run' or 'action'" });
    return { object: result, problems, writtenAs };
  }
  const withOptions = options ?? {};
  if (!isObject(withOptions)) {
    problems.push({ path: ["with"], message: "expected a map of options" });
    return { object: result, problems, writtenAs };
  }

  if (run !== undefined) {
    const list = Array.isArray(run) && run.length > 0 && run.every((each) => typeof each === "string");
    if (typeof run !== "string" && !list) {
      problems.push({ path: ["run"], message: "expected the shell text to run, or a list of commands" });
      return { object: result, problems, writtenAs };
    }
    // A list is commands run one after another, as a 1.x `command:` list.
    const key = typeof run === "string" && run.trimEnd().includes("\n") ? "script" : "command";
    result[key] = run;
    writtenAs[key] = "run";
    for (const [name, value] of Object.entries(withOptions)) {
      if (!SHELL_WITH_KEYS.has(name)) {
        problems.push({ path: ["with", name], message: `'${name}' is not supported with run (only 'shell')` });
      } else if (typeof value !== "string") {
        problems.push({ path: ["with", name], message: "expected a shell name or path" });
      } else {
        result.shell = value;
        writtenAs.shell = "with";
      }
    }
    return { object: result, problems, writtenAs };
  }

  if (action === undefined) return { object: result, problems, writtenAs };
  writtenAs.command = "action";
  writtenAs.executor = "action";
  if (typeof action !== "string") {
    problems.push({ path: ["action"], message: "expected an action name" });
  } else if (action === "noop") {
    result.command = "true";
  } else if (action === "exec") {
    execForm(withOptions, ["with"], result, problems);
  } else if (action === "http.request") {
    const { method, url, format, ...config } = withOptions;
    if (format !== undefined && format !== "json") {
      problems.push({ path: ["with", "format"], message: "expected 'json' (or leave format out)" });
    }
    for (const name of Object.keys(config)) {
      if (!HTTP_CONFIG_KEYS.has(name)) {
        problems.push({
          path: ["with", name],
          message: `'${name}' of http.request is not supported (supported: method, url, ${[...HTTP_CONFIG_KEYS].join(", ")}, format)`,
        });
      }
    }
    if (typeof method !== "string" || typeof url !== "string") {
      problems.push({ path: ["with"], message: "http.request needs 'method' and 'url'" });
    } else {
      result.command = `${method} ${url}`;
      result.executor = { type: "http", config: format === "json" ? { ...config, json: true } : config };
    }
  } else if (action === "jq.filter") {
    jqFilterForm(withOptions, result, problems);
    writtenAs.script = "with";
  } else if (action === "dag.run" || action === "dag.enqueue") {
    dagRunForm(withOptions, action === "dag.enqueue", result, problems);
    writtenAs.call = "action";
    writtenAs.params = "with";
  } else if (action === "router.route") {
    routerForm(withOptions, result, problems);
    writtenAs.router = "action";
  } else if (action === "log.write") {
    logWriteForm(withOptions, result, problems);
  } else if (action === "template.render") {
    templateRenderForm(withOptions, result, problems);
    writtenAs.script = "with";
  } else {
    problems.push({ path: ["action"], message: actionRefusal(action) });
  }
  return { object: result, problems, writtenAs };
}

/** `action: dag.run` / `dag.enqueue` + `with: {dag, params}`: a call of that DAG (`call:` + `params:`). */
function dagRunForm(
  options: Record<string, unknown>,
  enqueue: boolean,
  result: Record<string, unknown>,
  problems: StepFormResult["problems"],
): void {
  const { dag, params, queue, ...unknown } = options;
  for (const name of Object.keys(unknown))
    problems.push({ path: ["with", name], message: `unknown option '${name}' of dag.run (it has 'dag' and 'params')` });
  if (queue !== undefined) {
    problems.push({
      path: ["with", "queue"],
      message: "'queue' names a Dagu queue, and dagflare has one queue per DAG: leave it out",
    });
  }
  if (typeof dag !== "string" || dag === "") {
    problems.push({ path: ["with", "dag"], message: "expected the name of the DAG to run" });
    return;
  }
  result.call = enqueue ? { dag, enqueue: true } : dag;
  if (params !== undefined) result.params = params;
}

/** A router (`action: router.route` + `with: {value, routes}`, or 2.0–2.6's `type: router`): checked by the schema's `router`. */
function routerForm(
  options: Record<string, unknown>,
  result: Record<string, unknown>,
  problems: StepFormResult["problems"],
): void {
  const { value, routes, ...unknown } = options;
  for (const name of Object.keys(unknown))
    problems.push({
      path: ["with", name],
      message: `unknown option '${name}' of router.route (it has 'value' and 'routes')`,
    });
  result.router = { value, routes };
}

/** `action: jq.filter` as Dagu 2.x normalises it: the filter is the command, the data the script. */
function jqFilterForm(
  options: Record<string, unknown>,
  result: Record<string, unknown>,
  problems: StepFormResult["problems"],
): void {
  const { filter, data, input, raw, ...unknown } = options;
  for (const name of Object.keys(unknown)) {
    problems.push({
      path: ["with", name],
      message: `'${name}' of jq.filter is not supported (supported: filter, data, raw)`,
    });
  }
  if (input !== undefined) {
    problems.push({
      path: ["with", "input"],
      message: "'input' reads a JSON file, and steps share no file system in dagflare: put the JSON in 'data'",
    });
  }
  if (typeof filter !== "string" || filter.trim() === "") {
    problems.push({ path: ["with", "filter"], message: "jq.filter needs 'filter': the jq filter to run" });
  } else {
    result.command = filter;
  }
  if (data === undefined) {
    if (input === undefined) problems.push({ path: ["with"], message: "jq.filter needs 'data': the JSON to filter" });
  } else if (typeof data === "string") {
    if (data.trim() === "") problems.push({ path: ["with", "data"], message: "'data' must not be empty" });
    else result.script = data;
  } else {
    // As Go's json.Marshal: `data:` left empty (null) is the input `null`.
    result.script = JSON.stringify(data);
  }
  result.executor = { type: "jq", config: raw === undefined ? {} : { raw } };
}

const twoXForms = (step: Record<string, unknown>) => ["run", "action"].filter((key) => step[key] !== undefined);

/** Direct exec (`action: exec` + `with:`, or 2.0–2.6's `exec:`): the program and its arguments, each quoted. */
function execForm(
  options: Record<string, unknown>,
  at: Path,
  result: Record<string, unknown>,
  problems: StepFormResult["problems"],
): void {
  const { command, args = [], ...unknown } = options;
  for (const name of Object.keys(unknown))
    problems.push({ path: [...at, name], message: `unknown option '${name}' of exec` });
  if (typeof command !== "string" || command === "") {
    problems.push({ path: [...at, "command"], message: "exec needs 'command': the program to run" });
  } else if (!Array.isArray(args)) {
    problems.push({ path: [...at, "args"], message: "expected a list of arguments" });
  } else {
    result.command = [command, ...args].map(quoteArgument).join(" ");
  }
}

/** `action: log.write` + `with: {message}` (Dagu 2.x): the message, expanded, written to stdout with a final newline. */
function logWriteForm(
  options: Record<string, unknown>,
  result: Record<string, unknown>,
  problems: StepFormResult["problems"],
): void {
  const { message, ...unknown } = options;
  for (const name of Object.keys(unknown))
    problems.push({ path: ["with", name], message: `unknown option '${name}' of log.write (it has 'message')` });
  if (typeof message !== "string") {
    problems.push({ path: ["with", "message"], message: "log.write needs 'message': the text to write" });
    return;
  }
  result.command = message;
  result.executor = { type: "log", config: {} };
}

/**
 * `action: template.render` + `with: {template, data}` (Dagu 2.x): the template as the step's
 * script, the data as its config. Dagu's `template_ref` (a scoped reference such as
 * `${env.NAME}` holding the template) and `output` (a file) are refused.
 */
function templateRenderForm(
  options: Record<string, unknown>,
  result: Record<string, unknown>,
  problems: StepFormResult["problems"],
): void {
  const { template, data, template_ref: reference, output, ...unknown } = options;
  for (const name of Object.keys(unknown))
    problems.push({
      path: ["with", name],
      message: `unknown option '${name}' of template.render (it has template, data)`,
    });
  if (reference !== undefined) {
    problems.push({
      path: ["with", "template_ref"],
      message:
        "'template_ref' reads the template from a scoped reference (${env.NAME}, ${steps.<id>.outputs.<name>}), which dagflare doesn't resolve: write the template in 'template'",
    });
  }
  if (output !== undefined) {
    problems.push({
      path: ["with", "output"],
      message:
        "'output' writes the result to a file, and steps share no file system in dagflare: the result is the step's stdout (`output: VAR` captures it)",
    });
  }
  if (typeof template !== "string" || daguTemplateText(template) === "") {
    if (reference === undefined)
      problems.push({ path: ["with", "template"], message: "template.render needs 'template': the text to render" });
    return;
  }
  result.script = template;
  // `data:` left empty is no data, as Dagu reads it (an empty map).
  if (data !== undefined && data !== null && !isObject(data)) {
    problems.push({
      path: ["with", "data"],
      message: "expected a map of values for the template (`.name` reads `name`)",
    });
    return;
  }
  result.executor = { type: "template", config: isObject(data) ? { data } : {} };
}
