import { describe, expect, it } from "vitest";
import { humanDuration, humanTime } from "../../../src/alerts/context.ts";
import { nextDelay, retryAfter } from "../../../src/alerts/deliver.ts";
import { renderBody } from "../../../src/alerts/destinations.ts";
import { checkTemplate, truncate } from "../../../src/alerts/template.ts";

describe("alert templates", () => {
  it("render tokens inside strings only, keep numbers and key order, and stay JSON whatever the values", () => {
    const check = checkTemplate(
      '{"b": "{{job_name}}: {{failure_message | truncate:8}}", "a": [1e400, "{{run_id}}"], "n": 12345678901234567890}',
    );
    if (!check.ok) throw new Error("template refused");
    const rendered = renderBody(check.tree, "", "generic", {
      job_name: 'd"e\\p',
      failure_message: "line1\nline2 🚀 more",
      run_id: "}{",
    });
    expect(rendered).toBe('{"b":"d\\"e\\\\p: line1\\nl…","a":[1e400,"}{"],"n":12345678901234567890}');
    expect(JSON.parse(rendered).b).toBe('d"e\\p: line1\nl…');
  });

  it("truncates by characters, never splitting an emoji", () => {
    expect(truncate("abc", 5)).toBe("abc");
    expect(truncate("abcdef", 4)).toBe("abc…");
    expect(truncate("🚀🚀🚀🚀", 3)).toBe("🚀🚀…");
    expect(truncate("a🚀b", 2)).toBe("a…");
  });

  it("report problems with their line and column", () => {
    expect(checkTemplate('{\n  "a": 1,\n  "b" 2\n}')).toMatchObject({ ok: false, errors: [{ line: 3, column: 7 }] });
    expect(checkTemplate('{"a":\n   "{{nope}} {{job_name}} {{asset_key}}"}')).toEqual({
      ok: false,
      errors: [{ message: "unknown token {{nope}}", line: 2, column: 5 }],
    });
    expect(checkTemplate('{"a": "{{ alert_sumary }} {{asset_nme}} {{job_name_of_the_dag}}"}')).toEqual({
      ok: false,
      errors: [
        { message: "unknown token {{alert_sumary}} (did you mean {{alert_summary}}?)", line: 1, column: 8 },
        { message: "unknown token {{asset_nme}} (did you mean {{asset_name}}?)", line: 1, column: 27 },
        { message: "unknown token {{job_name_of_the_dag}}", line: 1, column: 41 },
      ],
    });
  });

  it("times and durations for people; Retry-After and the retry schedule", () => {
    expect(humanTime("2026-01-08T10:00:00.000Z")).toBe("Jan 8, 2026 10:00 AM");
    expect(humanTime("2026-01-08T22:05:00.000Z")).toBe("Jan 8, 2026 10:05 PM");
    expect([humanDuration(42_000), humanDuration(300_000), humanDuration(3_720_000)]).toEqual([
      "42 seconds",
      "5 minutes",
      "1 hour 2 minutes",
    ]);
    expect(retryAfter(new Headers({ "retry-after": "7" }), "")).toBe(7);
    expect(
      retryAfter(new Headers({ "retry-after": new Date(Date.now() + 30_000).toUTCString() }), ""),
    ).toBeGreaterThanOrEqual(29);
    expect(retryAfter(new Headers(), '{"message": "You are being rate limited.", "retry_after": 1.5}')).toBe(2);
    const schedule = [0, 5, 300];
    expect(nextDelay(schedule, 1)).toBeGreaterThanOrEqual(4);
    expect(nextDelay(schedule, 1)).toBeLessThanOrEqual(6);
    expect(nextDelay(schedule, 1, 60)).toBeGreaterThanOrEqual(54);
    expect(nextDelay(schedule, 3)).toBeUndefined();
  });
});
