/**
 * Structured logs: one JSON object per line, `{"level", "msg", ...fields}`, which Workers Logs
 * indexes field by field. Lines written while serving a request carry its `requestId`
 * (`logger(c)`), the id its response has in X-Request-Id.
 *
 * Never pass a secret (a token, a password, an API key, an alert header value) as a field.
 */
import type { Context } from "hono";
import type { AppEnv } from "./env.ts";

export type LogLevel = "info" | "warn" | "error";
export type LogFields = Readonly<Record<string, unknown>>;

export type Logger = {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose lines all carry `fields` too, e.g. `{ requestId }` or `{ dag, runId }`. */
  child(fields: LogFields): Logger;
};

const write: Record<LogLevel, (line: string) => void> = {
  info: (line) => console.log(line),
  warn: (line) => console.warn(line),
  error: (line) => console.error(line),
};

/** An Error (anywhere in the fields) as {name, message, stack}: JSON.stringify would make it `{}`. */
function serialisable(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  if (typeof value === "bigint") return value.toString();
  return value;
}

/** The line for one entry; exported for the tests. */
export function formatLine(level: LogLevel, msg: string, fields: LogFields): string {
  // level and msg first, and not overridable by a field of the same name.
  const entry: Record<string, unknown> = { level, msg, ...fields };
  entry.level = level;
  entry.msg = msg;
  try {
    return JSON.stringify(entry, serialisable);
  } catch {
    // A cycle, say: the message still gets out.
    return JSON.stringify({ level, msg, unserialisableFields: Object.keys(fields) });
  }
}

function createLogger(bound: LogFields): Logger {
  const emit =
    (level: LogLevel) =>
    (msg: string, fields: LogFields = {}) =>
      write[level](formatLine(level, msg, { ...bound, ...fields }));
  return {
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    child: (fields) => createLogger({ ...bound, ...fields }),
  };
}

/** Lines that belong to no request: queue consumers, the cron tick, Durable Object alarms. */
export const log: Logger = createLogger({});

/** The logger of the request being served: its lines carry the request's id. */
export function logger(c: Context<AppEnv>): Logger {
  const requestId = c.get("requestId");
  return requestId ? log.child({ requestId }) : log;
}
