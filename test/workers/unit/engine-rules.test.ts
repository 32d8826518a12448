import { describe, expect, it } from "vitest";
import type { ContinueOn, RetryPolicy } from "../../../src/domain/dag-spec.ts";
import { expand, expandDeep } from "../../../src/domain/expand.ts";
import { formatParams, resolveParams } from "../../../src/domain/params.ts";
import {
  afterHandlers,
  backoffDelaySeconds,
  continues,
  progress,
  type StepState,
  shouldRetry,
  stepsOutcome,
} from "../../../src/domain/progress.ts";
import { newRunId } from "../../../src/domain/run.ts";

describe("expand", () => {
  const payload = JSON.stringify({
    branch: "main",
    commits: [{ author: { name: "Ada" } }],
    repository: { name: "dagflare", stars: 3 },
    flag: true,
  });
  const scope = new Map([
    ["WEBHOOK_PAYLOAD", payload],
    ["NAME", "world"],
    ["TEXT", "not json"],
  ]);

  it("replaces ${VAR} and JSON paths with dot and bracket indices", () => {
    expect(expand("hello ${NAME}", scope)).toBe("hello world");
    expect(expand("${WEBHOOK_PAYLOAD.branch}", scope)).toBe("main");
    expect(expand("${WEBHOOK_PAYLOAD.commits.0.author.name}", scope)).toBe("Ada");
    expect(expand("${WEBHOOK_PAYLOAD.commits[0].author.name}", scope)).toBe("Ada");
    expect(expand("${WEBHOOK_PAYLOAD.repository.stars} ${WEBHOOK_PAYLOAD.flag}", scope)).toBe("3 true");
  });

  it("renders objects and arrays as JSON, and missing values as empty", () => {
    expect(JSON.parse(expand("${WEBHOOK_PAYLOAD.repository}", scope))).toEqual({ name: "dagflare", stars: 3 });
    expect(expand("${WEBHOOK_PAYLOAD.commits}", scope)).toBe('[{"author":{"name":"Ada"}}]');
    expect(
      expand("[${MISSING}] [${WEBHOOK_PAYLOAD.nope.deeper}] [${WEBHOOK_PAYLOAD.commits.5}] [${TEXT.field}]", scope),
    ).toBe("[] [] [] []");
  });

  it("only reads the scope it is given: never the Worker's bindings", () => {
    expect(expand("${JWT_SECRET}${DB}${ADMIN_PASSWORD}", scope)).toBe("");
  });

  it("expands bare $NAME and malformed ${ as Dagu 1.30.2 does, and deep inside config objects", () => {
    // Dagu's expander gives up on a malformed ${ and falls back to Go's os.ExpandEnv (checked
    // with the binary): `${ not a ref }` names no variable, an unclosed `${` loses its brace.
    expect(expand("$NAME ${ not a ref } ${NAME", scope)).toBe("world  NAME");
    expect(expandDeep({ headers: { "X-Branch": "${WEBHOOK_PAYLOAD.branch}" }, list: ["${NAME}", 3] }, scope)).toEqual({
      headers: { "X-Branch": "main" },
      list: ["world", 3],
    });
  });
});

describe("params", () => {
  const defaults = [
    { key: "A", value: "1" },
    { key: "B", value: "2" },
  ];

  it("overrides defaults by name from a string, JSON text or an object, keeping order; adds new names", () => {
    expect(resolveParams(defaults, "B=x C=3")).toEqual([
      { key: "A", value: "1" },
      { key: "B", value: "x" },
      { key: "C", value: "3" },
    ]);
    expect(resolveParams(defaults, '{"A": "j", "N": 5}')).toEqual([
      { key: "A", value: "j" },
      { key: "B", value: "2" },
      { key: "N", value: "5" },
    ]);
    expect(resolveParams(defaults, { B: { deep: true } })).toEqual([
      { key: "A", value: "1" },
      { key: "B", value: '{"deep":true}' },
    ]);
    expect(resolveParams(defaults, undefined)).toEqual(defaults);
  });

  it("rejects JSON that is not an object", () => {
    expect(() => resolveParams(defaults, "{oops")).toThrow(SyntaxError);
  });

  it("formats params as Dagu's string, quoting where needed", () => {
    expect(
      formatParams([
        { key: "A", value: "1" },
        { key: "B", value: "two words" },
        { key: "3", value: "pos" },
      ]),
    ).toBe('A=1 B="two words" pos');
  });
});

describe("progress", () => {
  const deps = new Map([
    ["a", []],
    ["b", ["a"]],
    ["c", ["b"]],
    ["d", []],
  ]);
  const state = (status: StepState["status"], continued = status === "succeeded"): StepState => ({ status, continued });

  it("readies steps whose dependencies succeeded", () => {
    const states = new Map([
      ["a", state("succeeded")],
      ["b", state("not_started")],
      ["c", state("not_started")],
      ["d", state("running")],
    ]);
    expect(progress(deps, states)).toEqual({ ready: ["b"], blocked: [] });
  });

  it("aborts dependents of a failure, skips dependents of a skip, unless continueOn allows", () => {
    expect(
      progress(
        deps,
        new Map([
          ["a", state("failed")],
          ["b", state("not_started")],
          ["c", state("not_started")],
          ["d", state("succeeded")],
        ]),
      ).blocked,
    ).toEqual([{ name: "b", status: "aborted" }]);
    expect(
      progress(
        deps,
        new Map([
          ["a", state("skipped")],
          ["b", state("not_started")],
          ["c", state("not_started")],
          ["d", state("succeeded")],
        ]),
      ).blocked,
    ).toEqual([{ name: "b", status: "skipped" }]);
    expect(
      progress(
        deps,
        new Map([
          ["a", state("failed", true)],
          ["b", state("not_started")],
          ["c", state("not_started")],
          ["d", state("succeeded")],
        ]),
      ).ready,
    ).toEqual(["b"]);
  });

  it("continueOn: failure, exit codes and output patterns (substring or re: per line); skipped", () => {
    const base: ContinueOn = { failure: false, skipped: false, exitCodes: [], output: [], markSuccess: false };
    expect(continues(base, "failed", 1, "")).toBe(false);
    expect(continues({ ...base, failure: true }, "failed", 1, "")).toBe(true);
    expect(continues({ ...base, exitCodes: [3] }, "failed", 3, "")).toBe(true);
    expect(continues({ ...base, output: ["warning"] }, "failed", 1, "first\na warning here")).toBe(true);
    expect(continues({ ...base, output: ["re:^WARN \\d+$"] }, "failed", 1, "x\nWARN 42")).toBe(true);
    expect(continues({ ...base, markSuccess: true }, "failed", 1, "")).toBe(false);
    expect(continues(base, "skipped", null, "")).toBe(false);
    expect(continues({ ...base, skipped: true }, "skipped", null, "")).toBe(true);
  });

  it("run outcome: failed, partially succeeded (needs a success), succeeded; a failing handler fails a success", () => {
    expect(
      stepsOutcome(
        new Map([
          ["a", state("succeeded")],
          ["b", state("failed")],
        ]),
      ),
    ).toBe("failed");
    expect(
      stepsOutcome(
        new Map([
          ["a", state("succeeded")],
          ["b", state("failed", true)],
        ]),
      ),
    ).toBe("partially_succeeded");
    expect(
      stepsOutcome(
        new Map([
          ["a", state("skipped", false)],
          ["b", state("failed", true)],
        ]),
      ),
    ).toBe("failed");
    expect(
      stepsOutcome(
        new Map([
          ["a", state("skipped", false)],
          ["b", state("skipped", false)],
        ]),
      ),
    ).toBe("succeeded");
    expect(afterHandlers("succeeded", true)).toBe("failed");
    expect(afterHandlers("partially_succeeded", true)).toBe("partially_succeeded");
    expect(afterHandlers("aborted", true)).toBe("aborted");
  });
});

describe("retry timing", () => {
  const policy = (overrides: Partial<RetryPolicy>): RetryPolicy => ({
    limit: 5,
    intervalSec: 2,
    exitCodes: [],
    backoff: 1,
    maxIntervalSec: undefined,
    ...overrides,
  });

  it("is constant without backoff, multiplies with it, and is capped by maxIntervalSec", () => {
    expect([1, 2, 3].map((n) => backoffDelaySeconds(policy({}), n))).toEqual([2, 2, 2]);
    expect([1, 2, 3, 4].map((n) => backoffDelaySeconds(policy({ backoff: 2 }), n))).toEqual([2, 4, 8, 16]);
    expect([1, 2, 3, 4].map((n) => backoffDelaySeconds(policy({ backoff: 2, maxIntervalSec: 10 }), n))).toEqual([
      2, 4, 8, 10,
    ]);
    expect(backoffDelaySeconds(policy({ backoff: 1.5, intervalSec: 4 }), 3)).toBe(9);
  });

  it("retries within the limit, and only the listed exit codes when a list is given", () => {
    expect(shouldRetry(policy({ limit: 2 }), 1, 1)).toBe(true);
    expect(shouldRetry(policy({ limit: 2 }), 2, 1)).toBe(false);
    expect(shouldRetry(policy({ exitCodes: [75] }), 0, 1)).toBe(false);
    expect(shouldRetry(policy({ exitCodes: [75] }), 0, 75)).toBe(true);
    expect(shouldRetry(undefined, 0, 1)).toBe(false);
  });
});

it("run ids are UUIDv7: unique and ordered by time", () => {
  const early = newRunId(1_700_000_000_000);
  const late = newRunId(1_700_000_000_001);
  expect(early).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(early < late).toBe(true);
  expect(newRunId()).not.toBe(newRunId());
});
