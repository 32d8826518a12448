/**
 * One step execution: a shell command or script run in its own process group with a clean
 * environment, its output streamed to files (never held whole in memory), killed as a group on
 * timeout or cancel.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { isAbsolute, join } from "node:path";
import type { Reaper } from "./reaper.ts";

/** Linux refuses an environment string over 128 KiB (MAX_ARG_STRLEN); larger values go to files. */
export const ENV_VALUE_LIMIT = 64 * 1024;
/** Variables always also written to a file (`<NAME>_FILE`): they are large by nature. */
const ALWAYS_FILES = new Set(["WEBHOOK_PAYLOAD"]);
const KILL_GRACE_MS = 2_000;
export const CHUNK_LIMIT = 64 * 1024;
/** setTimeout's limit (~24.8 days): a longer timeout would fire at once. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * Variables that make shells and interpreters load or run code (BASH_ENV, ZDOTDIR, LD_PRELOAD,
 * NODE_OPTIONS, GIT_SSH_COMMAND, …). A run's params come from whoever starts it, so a param may
 * never set one of these: they are dropped, with a note on stderr. `ENV` is not among them:
 * shells read it only when interactive, and steps run `shell -c`, so a DAG's `ENV: production`
 * (a common name in Dagu's examples) is just a variable.
 */
const CODE_LOADING =
  /^(BASH_ENV|ZDOTDIR|SHELLOPTS|BASHOPTS|PS4|IFS|CDPATH|PROMPT_COMMAND|BASH_FUNC_.*|LD_.*|DYLD_.*|NODE_OPTIONS|NODE_PATH|PYTHONSTARTUP|PYTHONPATH|PYTHONHOME|PERL5OPT|PERL5LIB|PERLLIB|RUBYOPT|RUBYLIB|GIT_SSH|GIT_SSH_COMMAND|GIT_CONFIG_.*|GIT_EXEC_PATH|GIT_ASKPASS|GIT_PROXY_COMMAND|GIT_EXTERNAL_DIFF|SSH_ASKPASS|EDITOR|VISUAL|PAGER)$/;
const LOG_TAIL = 256 * 1024;
/** A step's PATH when the request has none; the Worker sends the same (STEP_PATH in src/domain/scope.ts). */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export type ExecutionRequest = {
  /** Shell command text (run with `shell -c`); with `script`, the interpreter the script is given to. */
  command?: string | undefined;
  /** Script text: run by `shell`, or by `command` when both are set. */
  script?: string | undefined;
  shell?: string | undefined;
  /** Working directory: relative to the DAGs folder, which is also the default. */
  dir?: string | undefined;
  env: Record<string, string>;
  timeoutMs: number;
  /** How much stdout the final result carries, and which end of it. */
  stdout: { limit: number; keep: "head" | "tail" };
};

export type ExecutionResult = {
  exitCode: number;
  timedOut: boolean;
  error?: string | undefined;
  stdout: string;
  stderr: string;
};

export type Snapshot = {
  state: "running" | "done";
  stdout: { chunk: string; next: number };
  stderr: { chunk: string; next: number };
  result?: ExecutionResult;
};

/**
 * `stepUser`: run steps as this uid/gid (the container runs the runner as root, steps not).
 * `defaultShell`: the shell of a step that names none — Dagu's rule, the runner's `$SHELL` or `sh`.
 */
export type RunnerConfig = {
  dagsDir: string;
  workRoot: string;
  defaultShell: string;
  stepUser?: { uid: number; gid: number } | undefined;
  /** Told each step's process group, so that a runner killed outright doesn't leave steps running. */
  reaper?: Pick<Reaper, "watch" | "forget"> | undefined;
};

export class Execution {
  readonly #dir: string;
  readonly #child: ChildProcess | undefined;
  readonly #done: Promise<void>;
  readonly #request: ExecutionRequest;
  #result: ExecutionResult | undefined;
  #stopReason: "timeout" | "cancelled" | undefined;
  readonly #timer: NodeJS.Timeout;
  readonly #reaper: RunnerConfig["reaper"];
  finishedAt: number | undefined;

  constructor(key: string, request: ExecutionRequest, config: RunnerConfig) {
    this.#request = request;
    this.#reaper = config.reaper;
    this.#dir = join(config.workRoot, key);
    // Private to the step: other steps (another DAG's, too) can't read its payload or output.
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    const owner = config.stepUser;
    if (owner) chownSync(this.#dir, owner.uid, owner.gid);
    // `bash -e`: the program and its options, as Dagu splits a step's shell.
    const [shell = "sh", ...shellOptions] = (request.shell || config.defaultShell).trim().split(/\s+/);
    const { env, prelude, notes, positional } = this.#environment(request.env, owner, shell);
    const dir = request.dir && expandDir(request.dir, env);
    const cwd = dir ? (isAbsolute(dir) ? dir : join(config.dagsDir, dir)) : config.dagsDir;
    let argv: string[];
    if (request.script !== undefined) {
      const scriptFile = join(this.#dir, "script");
      // A shell script gets the prelude; a script for another interpreter is left exactly as written.
      this.#write(scriptFile, request.command ? request.script : `${prelude}${request.script}`, owner, 0o700);
      argv = request.command
        ? [shell, ...shellOptions, "-c", `${prelude}${request.command} "$@"`, shell, scriptFile, ...positional]
        : [shell, ...shellOptions, scriptFile, ...positional];
    } else {
      argv = [shell, ...shellOptions, "-c", `${prelude}${request.command ?? ""}`, shell, ...positional];
    }
    const out = openSync(join(this.#dir, "stdout"), "w", 0o600);
    const err = openSync(join(this.#dir, "stderr"), "w", 0o600);
    if (notes) writeFileSync(err, notes);
    let child: ChildProcess | undefined;
    let refusal: string | undefined;
    if (!existsSync(cwd)) refusal = `working directory ${dir} does not exist`;
    else if (Object.values(env).some((value) => value.includes("\0")))
      refusal = "a variable's value contains a NUL byte, which no environment can hold";
    else {
      try {
        child = spawn(argv[0]!, argv.slice(1), {
          cwd,
          env: env as NodeJS.ProcessEnv,
          detached: true,
          stdio: ["ignore", out, err],
          ...(owner ?? {}),
        });
      } catch (error) {
        refusal = `could not start ${shell}: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    closeSync(out);
    closeSync(err);
    this.#child = child;
    if (child?.pid) this.#reaper?.watch(child.pid);
    this.#timer = setTimeout(() => this.stop("timeout"), Math.min(request.timeoutMs, MAX_TIMEOUT_MS));
    this.#done = new Promise<void>((resolve) => {
      if (!child) return this.#finish(1, refusal, resolve);
      child.once("error", (error) => this.#finish(127, `could not start ${shell}: ${error.message}`, resolve));
      child.once("exit", (code, signal) => this.#finish(code ?? 128 + signalNumber(signal), undefined, resolve));
    });
  }

  #write(file: string, content: string, owner: RunnerConfig["stepUser"], mode = 0o600): void {
    writeFileSync(file, content, { mode });
    if (owner) chownSync(file, owner.uid, owner.gid);
  }

  get done(): Promise<void> {
    return this.#done;
  }

  get running(): boolean {
    return this.#result === undefined;
  }

  /** Ends the whole process group: SIGTERM, then SIGKILL after a grace period. */
  stop(reason: "timeout" | "cancelled"): void {
    if (!this.running) return;
    this.#stopReason ??= reason;
    this.#signalGroup("SIGTERM");
    // Only while it still runs: once it has ended, its group id may belong to someone else.
    setTimeout(() => this.running && this.#signalGroup("SIGKILL"), KILL_GRACE_MS).unref();
  }

  /** Output after the given byte offsets (at most CHUNK_LIMIT each) and, once done, the result. */
  snapshot(stdoutFrom: number, stderrFrom: number): Snapshot {
    const running = this.running;
    const stdout = this.#read("stdout", stdoutFrom, CHUNK_LIMIT);
    const stderr = this.#read("stderr", stderrFrom, CHUNK_LIMIT);
    return running ? { state: "running", stdout, stderr } : { state: "done", stdout, stderr, result: this.#result! };
  }

  /** Whether either stream has grown past the given byte offsets. */
  hasOutputAfter(stdoutFrom: number, stderrFrom: number): boolean {
    return this.#size("stdout") > stdoutFrom || this.#size("stderr") > stderrFrom;
  }

  remove(): void {
    rmSync(this.#dir, { recursive: true, force: true });
  }

  /**
   * A clean environment, never the runner's own: what Dagu gives a step (a PATH, the locale,
   * HOME — here the execution's folder —, SHELL, and the paths of the step's output files), then
   * the step's variables, which may replace any of those (`PATH`, `HOME`). A value too large for
   * an environment string becomes a file (`<NAME>_FILE`) and a shell variable set by the prelude.
   */
  #environment(
    variables: Record<string, string>,
    owner: RunnerConfig["stepUser"],
    shell: string,
  ): { env: Record<string, string>; prelude: string; notes: string; positional: string[] } {
    const env: Record<string, string> = {
      PATH: DEFAULT_PATH,
      LANG: "C.UTF-8",
      HOME: this.#dir,
      SHELL: shell,
      DAG_RUN_STEP_STDOUT_FILE: join(this.#dir, "stdout"),
      DAG_RUN_STEP_STDERR_FILE: join(this.#dir, "stderr"),
    };
    let prelude = "";
    let notes = "";
    const positional: string[] = [];
    for (const [name, value] of Object.entries(variables)) {
      // Positional params (`params: a b`, named 1, 2, …) are the shell's $1, $2, … as in Dagu.
      if (/^[1-9][0-9]{0,2}$/.test(name)) positional[Number(name) - 1] = value;
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) continue;
      if (CODE_LOADING.test(name)) {
        notes += `[dagflare] ignored the variable ${name}: it could make the shell or a tool run code\n`;
        continue;
      }
      const large = Buffer.byteLength(value) > ENV_VALUE_LIMIT;
      if (large || ALWAYS_FILES.has(name)) {
        const file = join(this.#dir, `${name}.value`);
        this.#write(file, value, owner);
        env[`${name}_FILE`] = file;
        // $(cat) would drop trailing newlines; this keeps the value exact.
        if (large) prelude += `${name}=$(cat -- "$${name}_FILE"; printf x); ${name}=\${${name}%x}\n`;
      }
      if (!large) env[name] = value;
    }
    return { env, prelude, notes, positional: Array.from(positional, (value) => value ?? "") };
  }

  #finish(exitCode: number, error: string | undefined, resolve: () => void): void {
    if (this.#result) return;
    clearTimeout(this.#timer);
    // Whatever the step left running in its group ends with it; then the group is gone, and its
    // number free for reuse, so the reaper must forget it.
    this.#signalGroup("SIGKILL");
    if (this.#child?.pid) this.#reaper?.forget(this.#child.pid);
    const reason = this.#stopReason;
    const timedOut = reason === "timeout";
    const seconds = Math.round(this.#request.timeoutMs / 1000);
    this.#result = {
      exitCode: timedOut ? 124 : exitCode,
      timedOut,
      error: error ?? (timedOut ? `timed out after ${seconds} s` : reason === "cancelled" ? "cancelled" : undefined),
      stdout: this.#final("stdout", this.#request.stdout.limit, this.#request.stdout.keep),
      stderr: this.#final("stderr", LOG_TAIL, "tail"),
    };
    this.finishedAt = Date.now();
    resolve();
  }

  #signalGroup(signal: NodeJS.Signals): void {
    try {
      if (this.#child?.pid) process.kill(-this.#child.pid, signal);
    } catch {
      // the group is gone already
    }
  }

  #size(stream: "stdout" | "stderr"): number {
    try {
      return statSync(join(this.#dir, stream)).size;
    } catch {
      return 0;
    }
  }

  #read(stream: "stdout" | "stderr", from: number, limit: number): { chunk: string; next: number } {
    const size = this.#size(stream);
    const start = Math.min(Math.max(0, from), size);
    const length = Math.min(limit, size - start);
    if (length <= 0) return { chunk: "", next: start };
    const buffer = Buffer.alloc(length);
    const fd = openSync(join(this.#dir, stream), "r");
    try {
      readSync(fd, buffer, 0, length, start);
    } finally {
      closeSync(fd);
    }
    // Never split a UTF-8 character: stop before an incomplete one at the end.
    const end = completeUtf8Length(buffer);
    return { chunk: buffer.subarray(0, end).toString("utf8"), next: start + end };
  }

  #final(stream: "stdout" | "stderr", limit: number, keep: "head" | "tail"): string {
    const size = this.#size(stream);
    const from = keep === "tail" ? Math.max(0, size - limit) : 0;
    return this.#read(stream, from, limit).chunk;
  }
}

/**
 * A step's working directory with its variables and a leading `~` expanded from the step's own
 * environment, as Dagu expands `dir: $HOME/work` (the step's HOME is its execution folder).
 */
function expandDir(dir: string, env: Record<string, string>): string {
  const withVariables = dir.replace(
    /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (_match, braced?: string, bare?: string) => env[(braced ?? bare)!] ?? "",
  );
  return withVariables.replace(/^~(?=\/|$)/, env.HOME ?? "~");
}

function completeUtf8Length(buffer: Buffer): number {
  let end = buffer.length;
  // Walk back over continuation bytes to the last lead byte and check its sequence is complete.
  let lead = end - 1;
  while (lead >= 0 && lead > end - 4 && (buffer[lead]! & 0xc0) === 0x80) lead--;
  if (lead < 0) return end;
  const byte = buffer[lead]!;
  const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
  if (lead + needed > end) end = lead;
  return end;
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return signal ? (numbers[signal] ?? 1) : 0;
}
