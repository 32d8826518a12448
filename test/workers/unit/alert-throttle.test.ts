import { describe, expect, it } from "vitest";
import { tokenValues } from "../../../src/alerts/context.ts";
import type { EventFacts } from "../../../src/alerts/events.ts";
import { windowOf } from "../../../src/alerts/throttle.ts";
import type { PolicyRow } from "../../../src/db/alerts.ts";

const deployment = { DEPLOYMENT_NAME: "prod", PUBLIC_URL: "https://dagflare.example.com" };
const policy = (throttle?: {
  max: number;
  windowMinutes: number;
}): Pick<PolicyRow, "id" | "name" | "description" | "options"> => ({
  id: "p",
  name: "Throttled",
  description: "",
  options: throttle ? { throttle } : {},
});

describe("alert throttle", () => {
  it("windows follow the clock in UTC: 60 minutes is the clock hour, 1440 the UTC day, others count from the epoch", () => {
    const at = "2026-01-08T10:42:17.123Z";
    expect(windowOf({ max: 1, windowMinutes: 60 }, at)).toEqual({
      start: "2026-01-08T10:00:00.000Z",
      end: "2026-01-08T11:00:00.000Z",
    });
    expect(windowOf({ max: 1, windowMinutes: 15 }, at)).toEqual({
      start: "2026-01-08T10:30:00.000Z",
      end: "2026-01-08T10:45:00.000Z",
    });
    expect(windowOf({ max: 1, windowMinutes: 1440 }, at)).toEqual({
      start: "2026-01-08T00:00:00.000Z",
      end: "2026-01-09T00:00:00.000Z",
    });
    const sevens = windowOf({ max: 1, windowMinutes: 7 }, at);
    expect((Date.parse(sevens.start) / 60_000) % 7).toBe(0);
    expect(Date.parse(sevens.end) - Date.parse(sevens.start)).toBe(7 * 60_000);
    // The window's end belongs to the next one.
    expect(windowOf({ max: 1, windowMinutes: 60 }, "2026-01-08T11:00:00.000Z").start).toBe("2026-01-08T11:00:00.000Z");
  });

  it("a digest says how many were held back, when and by what throttle; a normal alert has no held_count", () => {
    const failure: EventFacts = { dagName: "deploy", runId: "r1", runStatus: "failed", error: "exit code 2" };
    const hour = { windowStart: "2026-01-08T10:00:00.000Z", windowEnd: "2026-01-08T11:00:00.000Z" };
    const digest = tokenValues(deployment, policy({ max: 2, windowMinutes: 60 }), "JOB_FAILURE", {
      ...failure,
      ...hour,
      heldCount: 7,
    });
    expect(digest.held_count).toBe("7");
    expect(digest.alert_summary).toBe(
      "Job deploy failed — the latest of 7 alerts about deploy held back between 10:00 and 11:00 UTC (throttle: 2 per 60 minutes)",
    );
    expect(digest.alert_content!.split("\n").slice(0, 2)).toEqual([
      "7 alerts about deploy were held back between 10:00 and 11:00 UTC (throttle: 2 per 60 minutes); the details are the latest one's.",
      "Error: exit code 2",
    ]);

    const normal = tokenValues(deployment, policy({ max: 2, windowMinutes: 60 }), "JOB_FAILURE", failure);
    expect(normal.held_count).toBe("");
    expect(normal.alert_summary).toBe("Job deploy failed");

    // A day's window names its dates; an event about no DAG names none.
    const day = tokenValues(deployment, policy({ max: 1, windowMinutes: 1440 }), "AGENT_UNAVAILABLE", {
      agentUrl: "http://runner",
      error: "refused",
      windowStart: "2026-01-08T00:00:00.000Z",
      windowEnd: "2026-01-09T00:00:00.000Z",
      heldCount: 1,
    });
    expect(day.alert_summary).toBe(
      "The step runner is unreachable — the latest of 1 alert held back between Jan 8 00:00 and Jan 9 00:00 UTC (throttle: 1 per 1440 minutes)",
    );
  });
});
