import { afterEach, describe, expect, it, vi } from "vitest";
import { formatLine, log } from "../../../src/log.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("log", () => {
  it("writes one JSON object per line, level and msg first, with the bound fields", () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    log.child({ requestId: "r-1" }).error("it broke", { dag: "d" });
    expect(error).toHaveBeenCalledTimes(1);
    const line = error.mock.calls[0]![0] as string;
    expect(line).not.toContain("\n");
    expect(Object.keys(JSON.parse(line))).toEqual(["level", "msg", "requestId", "dag"]);
    expect(JSON.parse(line)).toEqual({ level: "error", msg: "it broke", requestId: "r-1", dag: "d" });
  });

  it("uses console.log for info and console.warn for warn", () => {
    const info = vi.spyOn(console, "log").mockImplementation(() => {});
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    log.info("hello");
    log.warn("careful", { attempt: 2 });
    expect(JSON.parse(info.mock.calls[0]![0] as string)).toEqual({ level: "info", msg: "hello" });
    expect(JSON.parse(warn.mock.calls[0]![0] as string)).toEqual({ level: "warn", msg: "careful", attempt: 2 });
  });

  it("serialises errors as {name, message, stack}, and fields can't replace level or msg", () => {
    const entry = JSON.parse(formatLine("error", "failed", { error: new TypeError("bad"), level: "info", msg: "x" }));
    expect(entry.level).toBe("error");
    expect(entry.msg).toBe("failed");
    expect(entry.error).toMatchObject({ name: "TypeError", message: "bad" });
    expect(typeof entry.error.stack).toBe("string");
  });

  it("still logs the message when a field can't be serialised", () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(JSON.parse(formatLine("warn", "odd", { cycle }))).toEqual({
      level: "warn",
      msg: "odd",
      unserialisableFields: ["cycle"],
    });
  });
});
