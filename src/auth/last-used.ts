import type { Context } from "hono";
import { touchLastUsed, type UsageTable } from "../db/last-used.ts";
import type { AppEnv } from "../env.ts";
import { logger } from "../log.ts";

/** When this isolate last recorded each credential's use: most requests then skip the D1 write. */
const lastRecorded = new Map<string, number>();

/**
 * Records that a credential (an API key, a webhook) was just used, at most once per
 * `resolutionMs` per isolate and after the response (waitUntil), so `lastUsedAt` adds no D1
 * write to the request's own path.
 */
export function recordUse(c: Context<AppEnv>, table: UsageTable, id: string, resolutionMs: number): void {
  const at = Date.now();
  if (at - (lastRecorded.get(id) ?? 0) < resolutionMs) return;
  if (lastRecorded.size >= 10_000) lastRecorded.clear();
  lastRecorded.set(id, at);
  c.executionCtx.waitUntil(
    touchLastUsed(c.env.DB, table, id, new Date(at).toISOString(), resolutionMs).catch((error: unknown) =>
      logger(c).error("recording a credential's use failed", { table, id, error }),
    ),
  );
}
