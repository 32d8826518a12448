/**
 * One step execution: a shell command or script run in its own process group with a clean
 * environment, its output streamed to files (never held whole in memory), killed as a group on
 * timeout or cancel.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";

/** Linux refuses an environment string over 128 KiB (MAX_ARG_STRLEN); larger values go to files. */
export const ENV_VALUE_LIMIT = 64 * 1024;
/** Variables always also written to a file (`<NAME>_FILE`): they are large by nature. */
const ALWAYS_FILES = new Set(["WEBHOOK_PAYLOAD"]);
const KILL_GRACE_MS = 2_000;
export const CHUNK_LIMIT = 64 * 1024;
const LOG_TAIL = 256 * 1024;

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

export type ExecutionResult = { exitCode: number; timedOut: boolean; error?: string | undefined; stdout: string; stderr: string };

export type Snapshot = {
  state: "running" | "done";
  stdout: { chunk: string; next: number };
  stderr: { chunk: string; next: number };
  result?: ExecutionResult;
};

export type RunnerConfig = { dagsDir: string; workRoot: string };

export class Execution {
  readonly #dir: string;
  readonly #child: ChildProcess;
  readonly #done: Promise<void>;
  readonly #request: ExecutionRequest;
  #result: ExecutionResult | undefined;
  #stopReason: "timeout" | "cancelled" | undefined;
  readonly #timer: NodeJS.Timeout;
  finishedAt: number | undefined;

  constructor(key: string, request: ExecutionRequest, config: RunnerConfig) {
    this.#request = request;
    this.#dir = join(config.workRoot, key);
    mkdirSync(this.#dir, { recursive: true });
    const { env, prelude } = this.#environment(request.env);
    const shell = request.shell || "sh";
    const cwd = request.dir ? (isAbsolute(request.dir) ? request.dir : join(config.dagsDir, request.dir)) : config.dagsDir;
    let argv: string[];
    if (request.script !== undefined) {
      const scriptFile = join(this.#dir, "script");
      // A shell script gets the prelude; a script for another interpreter is left exactly as written.
      writeFileSync(scriptFile, request.command ? request.script : `${prelude}${request.script}`, { mode: 0o700 });
      argv = request.command ? [shell, "-c", `${prelude}${request.command} "$1"`, shell, scriptFile] : [shell, scriptFile];
    } else {
      argv = [shell, "-c", `${prelude}${request.command ?? ""}`];
    }
    const out = openSync(join(this.#dir, "stdout"), "w");
    const err = openSync(join(this.#dir, "stderr"), "w");
    this.#child = spawn(argv[0]!, argv.slice(1), { cwd: existsSync(cwd) ? cwd : undefined, env: env as NodeJS.ProcessEnv, detached: true, stdio: ["ignore", out, err] });
    closeSync(out);
    closeSync(err);
    this.#timer = setTimeout(() => this.stop("timeout"), request.timeoutMs);
    this.#done = new Promise<void>((resolve) => {
      this.#child.once("error", (error) => this.#finish(127, `could not start ${shell}: ${error.message}`, resolve));
      this.#child.once("exit", (code, signal) => this.#finish(code ?? 128 + signalNumber(signal), undefined, resolve));
    });
    if (!existsSync(cwd)) writeFileSync(join(this.#dir, "stderr"), `working directory ${cwd} does not exist; using the runner's\n`, { flag: "a" });
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
    setTimeout(() => this.#signalGroup("SIGKILL"), KILL_GRACE_MS).unref();
  }

  /** Output after the given byte offsets (at most CHUNK_LIMIT each) and, once done, the result. */
  snapshot(stdoutFrom: number, stderrFrom: number): Snapshot {
    const running = this.running;
    const stdout = this.#read("stdout", stdoutFrom, CHUNK_LIMIT);
    const stderr = this.#read("stderr", stderrFrom, CHUNK_LIMIT);
    return running ? { state: "running", stdout, stderr } : { state: "done", stdout, stderr, result: this.#result! };
  }

  remove(): void {
    rmSync(this.#dir, { recursive: true, force: true });
  }

  /**
   * A clean environment: a fixed PATH and locale, HOME in the execution's folder, then the
   * step's variables, never the runner's own. A value too large for an environment string
   * becomes a file (`<NAME>_FILE`) and a shell variable set by the prelude.
   */
  #environment(variables: Record<string, string>): { env: Record<string, string>; prelude: string } {
    const env: Record<string, string> = {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      LANG: "C.UTF-8",
      HOME: this.#dir,
    };
    let prelude = "";
    for (const [name, value] of Object.entries(variables)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) continue;
      const large = Buffer.byteLength(value) > ENV_VALUE_LIMIT;
      if (large || ALWAYS_FILES.has(name)) {
        const file = join(this.#dir, `${name}.value`);
        writeFileSync(file, value);
        env[`${name}_FILE`] = file;
        // $(cat) would drop trailing newlines; this keeps the value exact.
        if (large) prelude += `${name}=$(cat -- "$${name}_FILE"; printf x); ${name}=\${${name}%x}\n`;
      }
      if (!large) env[name] = value;
    }
    return { env, prelude };
  }

  #finish(exitCode: number, error: string | undefined, resolve: () => void): void {
    if (this.#result) return;
    clearTimeout(this.#timer);
    // Whatever the step left running in its group ends with it.
    this.#signalGroup("SIGKILL");
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
      if (this.#child.pid) process.kill(-this.#child.pid, signal);
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
