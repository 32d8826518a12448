/**
 * jq 1.7.1 itself, compiled to WebAssembly: the `jq.wasm` of the npm package jq-web (built by
 * Emscripten from jq's `jq-1.7.1` tag). Workers can't compile WebAssembly from bytes at run time,
 * so the module is imported and bundled as a compiled module; and jq-web's own JavaScript loader
 * fetches the file as soon as it's imported (and needs Node's fs), so this file is its loader:
 * the ~30 functions the program imports, for a process with no files, no environment and UTC.
 *
 * Each run is a fresh instance running jq's `main` once, as a process would: nothing carries over
 * from one step to the next.
 */
import jqModule from "jq-web/jq.wasm";

export type JqProcessResult = { exitCode: number; stdout: string; stderr: string };

export type JqLimits = {
  /** jq's output beyond this stops the run (exit code 2, with a message). */
  maxOutputBytes: number;
  /** The most memory jq may grow to; beyond it jq fails as out of memory. */
  maxHeapBytes: number;
};

// A Worker has 128 MB: jq starts at 16.5 MB and may grow to 64 MB.
const DEFAULT_LIMITS: JqLimits = { maxOutputBytes: 16 * 1024 * 1024, maxHeapBytes: 64 * 1024 * 1024 };

// WASI errno values, as Emscripten's libc reads them.
const EBADF = 8;
const ENOENT = 44;
const ENOSYS = 52;
const ENOTTY = 59;
const ESPIPE = 70;

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;

/** How jq's `exit()` unwinds out of the module. */
class ProcessExit {
  readonly code: number;
  constructor(code: number) {
    this.code = code;
  }
}

class OutputTooLarge extends Error {}

type JqExports = {
  memory: WebAssembly.Memory;
  __wasm_call_ctors(): void;
  __main_argc_argv(argc: number, argv: number): number;
  _emscripten_stack_alloc(size: number): number;
};

/** Runs `jq ARGS` with `stdin` as its standard input, to its exit. */
export function runJqProcess(
  args: readonly string[],
  stdin: string,
  limits: JqLimits = DEFAULT_LIMITS,
): JqProcessResult {
  const input = new TextEncoder().encode(stdin);
  let inputOffset = 0;
  const stdout: Uint8Array[] = [];
  let stdoutBytes = 0;
  const stderr: Uint8Array[] = [];
  let memory: WebAssembly.Memory | undefined;

  const mem = () => {
    if (!memory) throw new Error("jq: memory used before the module started");
    return memory;
  };
  const view = () => new DataView(mem().buffer);
  const bytes = () => new Uint8Array(mem().buffer);
  const cString = (pointer: number) => {
    const all = bytes();
    let end = pointer;
    while (all[end] !== 0) end++;
    return new TextDecoder().decode(all.subarray(pointer, end));
  };
  const writeCString = (text: string, pointer: number, capacity: number) => {
    const encoded = new TextEncoder().encode(text).subarray(0, capacity - 1);
    bytes().set(encoded, pointer);
    bytes()[pointer + encoded.length] = 0;
  };

  /** The iovec list of a read or write: (pointer, length) pairs. */
  const iovecs = (pointer: number, count: number) =>
    Array.from({ length: count }, (_, index) => ({
      base: view().getUint32(pointer + index * 8, true),
      length: view().getUint32(pointer + index * 8 + 4, true),
    }));

  const wasi = {
    environ_sizes_get(countPointer: number, sizePointer: number) {
      view().setUint32(countPointer, 0, true);
      view().setUint32(sizePointer, 0, true);
      return 0;
    },
    environ_get: () => 0,
    fd_close: () => 0,
    fd_read(fd: number, iovs: number, count: number, readPointer: number) {
      if (fd !== STDIN) return EBADF;
      let read = 0;
      for (const { base, length } of iovecs(iovs, count)) {
        const chunk = input.subarray(inputOffset, inputOffset + length);
        bytes().set(chunk, base);
        inputOffset += chunk.length;
        read += chunk.length;
        if (chunk.length < length) break;
      }
      view().setUint32(readPointer, read, true);
      return 0;
    },
    fd_write(fd: number, iovs: number, count: number, writtenPointer: number) {
      if (fd !== STDOUT && fd !== STDERR) return EBADF;
      let written = 0;
      for (const { base, length } of iovecs(iovs, count)) {
        const chunk = bytes().slice(base, base + length);
        if (fd === STDOUT) {
          stdoutBytes += length;
          if (stdoutBytes > limits.maxOutputBytes) throw new OutputTooLarge();
          stdout.push(chunk);
        } else if (stderr.length < 1000) {
          stderr.push(chunk);
        }
        written += length;
      }
      view().setUint32(writtenPointer, written, true);
      return 0;
    },
    fd_fdstat_get(fd: number, statPointer: number) {
      if (fd > STDERR) return EBADF;
      // A regular file, with every right: a pipe in all but name, and never a terminal.
      bytes().fill(0, statPointer, statPointer + 24);
      view().setUint8(statPointer, 4);
      view().setBigUint64(statPointer + 8, 0xffffffffffffffffn, true);
      view().setBigUint64(statPointer + 16, 0xffffffffffffffffn, true);
      return 0;
    },
    fd_seek: () => ESPIPE,
    proc_exit(code: number) {
      throw new ProcessExit(code);
    },
  };

  const env = {
    exit(code: number) {
      throw new ProcessExit(code);
    },
    __assert_fail(condition: number, file: number, line: number) {
      throw new Error(`jq: assertion failed: ${cString(condition)} (${cString(file)}:${line})`);
    },
    _abort_js() {
      throw new Error("jq aborted");
    },
    __call_sighandler() {},
    _emscripten_runtime_keepalive_clear() {},
    emscripten_resize_heap(requested: number) {
      const target = requested >>> 0;
      if (target > limits.maxHeapBytes) return 0;
      const current = mem().buffer.byteLength;
      try {
        mem().grow(Math.ceil((target - current) / 65536));
        return 1;
      } catch {
        return 0;
      }
    },
    emscripten_date_now: () => Date.now(),
    // No files: jq looks for ~/.jq and its own location, finds neither, and reads standard input.
    __syscall_openat: () => -ENOENT,
    __syscall_stat64: () => -ENOENT,
    __syscall_lstat64: () => -ENOENT,
    __syscall_newfstatat: () => -ENOENT,
    __syscall_readlinkat: () => -ENOENT,
    __syscall_fstat64: () => -ENOSYS,
    __syscall_fcntl64: () => 0,
    // Not a terminal (isatty asks with an ioctl): no colours, no prompts.
    __syscall_ioctl: () => -ENOTTY,
    __syscall_getcwd(buffer: number, size: number) {
      if (size < 2) return -ENOENT;
      writeCString("/", buffer, size);
      return 2;
    },
    // Time: a Worker's clock is UTC, so local time is UTC.
    _tzset_js(timezone: number, daylight: number, standardName: number, daylightName: number) {
      view().setUint32(timezone, 0, true);
      view().setInt32(daylight, 0, true);
      writeCString("UTC", standardName, 17);
      writeCString("UTC", daylightName, 17);
    },
    _gmtime_js(time: bigint, tm: number) {
      writeTm(view(), tm, new Date(Number(time) * 1000));
    },
    _localtime_js(time: bigint, tm: number) {
      writeTm(view(), tm, new Date(Number(time) * 1000));
    },
    _timegm_js(tm: number) {
      const fields = view();
      const millis = Date.UTC(
        fields.getInt32(tm + 20, true) + 1900,
        fields.getInt32(tm + 16, true),
        fields.getInt32(tm + 12, true),
        fields.getInt32(tm + 8, true),
        fields.getInt32(tm + 4, true),
        fields.getInt32(tm, true),
      );
      writeTm(fields, tm, new Date(millis));
      return BigInt(Math.floor(millis / 1000));
    },
    strptime(buffer: number, format: number, tm: number) {
      const text = cString(buffer);
      const parsed = strptime(text, cString(format));
      if (!parsed) return 0;
      writeTm(view(), tm, parsed.date);
      // The end of what was read, in bytes.
      return buffer + new TextEncoder().encode(text.slice(0, parsed.length)).length;
    },
  };

  const instance = new WebAssembly.Instance(jqModule, { env, wasi_snapshot_preview1: wasi });
  const exports = instance.exports as unknown as JqExports;
  memory = exports.memory;
  let exitCode: number;
  try {
    exports.__wasm_call_ctors();
    const argv = ["jq", ...args];
    const pointers = argv.map((arg) => {
      const encoded = new TextEncoder().encode(arg);
      const pointer = exports._emscripten_stack_alloc(encoded.length + 1);
      writeCString(arg, pointer, encoded.length + 1);
      return pointer;
    });
    const argvPointer = exports._emscripten_stack_alloc((pointers.length + 1) * 4);
    for (const [index, pointer] of pointers.entries()) view().setUint32(argvPointer + index * 4, pointer, true);
    view().setUint32(argvPointer + pointers.length * 4, 0, true);
    exitCode = exports.__main_argc_argv(argv.length, argvPointer);
  } catch (error) {
    if (error instanceof ProcessExit) exitCode = error.code;
    else if (error instanceof OutputTooLarge) {
      stderr.push(new TextEncoder().encode(`jq: output larger than ${limits.maxOutputBytes} bytes, stopped`));
      exitCode = 2;
    } else {
      // A trap (out of memory, an abort): the process died, as a signal would end it.
      stderr.push(new TextEncoder().encode(`jq stopped: ${error instanceof Error ? error.message : String(error)}`));
      exitCode = 2;
    }
  }
  return { exitCode, stdout: decode(stdout), stderr: decode(stderr) };
}

function decode(chunks: Uint8Array[]): string {
  const decoder = new TextDecoder();
  return chunks.map((chunk) => decoder.decode(chunk, { stream: true })).join("") + decoder.decode();
}

/** C's `struct tm` (wasm32): sec, min, hour, mday, mon, year-1900, wday, yday, isdst, gmtoff. */
function writeTm(view: DataView, tm: number, date: Date): void {
  const fields = [
    date.getUTCSeconds(),
    date.getUTCMinutes(),
    date.getUTCHours(),
    date.getUTCDate(),
    date.getUTCMonth(),
    date.getUTCFullYear() - 1900,
    date.getUTCDay(),
    Math.floor((date.getTime() - Date.UTC(date.getUTCFullYear(), 0, 1)) / 86_400_000),
    0,
    0,
  ];
  for (const [index, value] of fields.entries()) view.setInt32(tm + index * 4, value, true);
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS = "(?:sun|mon|tue|wed|thu|fri|sat)[a-z]*";

/** What each conversion of strptime reads (the directives Emscripten's own strptime knows). */
const FIELD_PATTERNS: Readonly<Record<string, string>> = {
  Y: "[+-]?\\d{1,4}",
  y: "\\d{1,2}",
  C: "\\d{1,2}",
  m: "\\d{1,2}",
  d: "\\d{1,2}",
  e: "\\d{1,2}",
  H: "\\d{1,2}",
  I: "\\d{1,2}",
  M: "\\d{1,2}",
  S: "\\d{1,2}",
  j: "\\d{1,3}",
  p: "[ap]\\.?m\\.?",
  b: `(?:${MONTHS.join("|")})[a-z]*`,
  B: `(?:${MONTHS.join("|")})[a-z]*`,
  h: `(?:${MONTHS.join("|")})[a-z]*`,
  a: WEEKDAYS,
  A: WEEKDAYS,
  z: "z|[+-]\\d\\d:?(?:\\d\\d)?",
  Z: "[a-z]+",
  s: "-?\\d+",
};
const EQUIVALENTS: Readonly<Record<string, string>> = {
  T: "%H:%M:%S",
  D: "%m/%d/%y",
  F: "%Y-%m-%d",
  R: "%H:%M",
  r: "%I:%M:%S %p",
  c: "%a %b %e %H:%M:%S %Y",
  x: "%m/%d/%y",
  X: "%H:%M:%S",
};

/**
 * C's strptime for jq's `strptime`, `fromdate` and `fromdateiso8601` (which reads
 * `%Y-%m-%dT%H:%M:%SZ`): the conversions above, whitespace matching any run of whitespace, and
 * an offset (`%z`) moving the time to UTC. Returns the date and how many characters were read.
 */
export function strptime(text: string, format: string): { date: Date; length: number } | undefined {
  const expanded = format.replace(/%([TDFRrcxX])/g, (_match, letter: string) => EQUIVALENTS[letter]!);
  const fields: string[] = [];
  let source = "^";
  for (let index = 0; index < expanded.length; index++) {
    const char = expanded[index]!;
    if (char === "%" && index + 1 < expanded.length) {
      const letter = expanded[++index]!;
      if (letter === "%") source += "%";
      else if (letter === "n" || letter === "t") source += "\\s*";
      else {
        const pattern = FIELD_PATTERNS[letter];
        if (!pattern) return undefined;
        fields.push(letter);
        source += `(${pattern})`;
      }
    } else if (/\s/.test(char)) source += "\\s*";
    else source += char.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
  }
  const match = new RegExp(source, "i").exec(text);
  if (!match) return undefined;
  const value = (letter: string) => {
    const at = fields.indexOf(letter);
    return at < 0 ? undefined : match[at + 1];
  };
  const number = (letter: string) => {
    const text = value(letter);
    return text === undefined ? undefined : Number.parseInt(text, 10);
  };
  const epoch = number("s");
  if (epoch !== undefined) return { date: new Date(epoch * 1000), length: match[0].length };
  let year = number("Y") ?? 1900;
  const shortYear = number("y");
  if (number("Y") === undefined && shortYear !== undefined) {
    const century = number("C");
    year = century !== undefined ? century * 100 + shortYear : shortYear + (shortYear < 69 ? 2000 : 1900);
  }
  const monthName = value("b") ?? value("B") ?? value("h");
  const month =
    number("m") !== undefined ? number("m")! - 1 : monthName ? MONTHS.indexOf(monthName.slice(0, 3).toLowerCase()) : 0;
  let hour = number("H") ?? 0;
  const twelve = number("I");
  if (number("H") === undefined && twelve !== undefined) {
    const pm = value("p")?.toLowerCase().startsWith("p") ?? false;
    hour = (twelve % 12) + (pm ? 12 : 0);
  }
  const dayOfYear = number("j");
  const day = number("d") ?? number("e") ?? (dayOfYear === undefined ? 1 : undefined);
  let millis = Date.UTC(year, month, day ?? 1, hour, number("M") ?? 0, number("S") ?? 0);
  if (day === undefined && dayOfYear !== undefined)
    millis = Date.UTC(year, 0, dayOfYear, hour, number("M") ?? 0, number("S") ?? 0);
  const offset = value("z");
  if (offset && offset.toLowerCase() !== "z") {
    const [, sign, hours, minutes] = /^([+-])(\d\d):?(\d\d)?/.exec(offset)!;
    millis -= (sign === "-" ? -1 : 1) * (Number(hours) * 3600 + Number(minutes ?? 0) * 60) * 1000;
  }
  // Date.UTC reads years 0–99 as 1900–1999; strptime's years are literal.
  const date = new Date(millis);
  if (year >= 0 && year < 100) date.setUTCFullYear(date.getUTCFullYear() - 1900);
  return { date, length: match[0].length };
}
