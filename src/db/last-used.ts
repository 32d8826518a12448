/** Tables whose rows record when their credential was last used. */
export type UsageTable = "api_keys" | "webhooks";

/**
 * Sets `last_used_at` unless another isolate recorded a use less than `resolutionMs` before
 * `at`: the resolution holds across isolates, not only within one.
 */
export async function touchLastUsed(
  db: D1Database,
  table: UsageTable,
  id: string,
  at: string,
  resolutionMs: number,
): Promise<void> {
  const before = new Date(Date.parse(at) - resolutionMs).toISOString();
  await db
    .prepare(`UPDATE ${table} SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?3)`)
    .bind(id, at, before)
    .run();
}
