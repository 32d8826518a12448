import type { Role } from "../domain/roles.ts";

export type ApiKeyRow = {
  id: string;
  name: string;
  description: string;
  role: Role;
  key_prefix: string;
  key_hash: string;
  created_by: string;
  created_at: string;
  updated_at: string;
  last_used_at: string | null;
};

export async function listApiKeys(db: D1Database): Promise<ApiKeyRow[]> {
  const { results } = await db.prepare("SELECT * FROM api_keys ORDER BY created_at, name").all<ApiKeyRow>();
  return results;
}

export function findApiKeyById(db: D1Database, id: string): Promise<ApiKeyRow | null> {
  return db.prepare("SELECT * FROM api_keys WHERE id = ?1").bind(id).first<ApiKeyRow>();
}

export async function findApiKeysByPrefix(db: D1Database, prefix: string): Promise<ApiKeyRow[]> {
  const { results } = await db.prepare("SELECT * FROM api_keys WHERE key_prefix = ?1").bind(prefix).all<ApiKeyRow>();
  return results;
}

/** Inserts the key unless its name is taken; returns whether it was inserted. */
export async function insertApiKey(db: D1Database, row: Omit<ApiKeyRow, "last_used_at">): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `INSERT INTO api_keys (id, name, description, role, key_prefix, key_hash, created_by, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING`,
    )
    .bind(
      row.id,
      row.name,
      row.description,
      row.role,
      row.key_prefix,
      row.key_hash,
      row.created_by,
      row.created_at,
      row.updated_at,
    )
    .run();
  return meta.changes > 0;
}

/** Updates name, description and/or role; `false` when the row is gone or the new name is taken. */
export async function updateApiKey(
  db: D1Database,
  id: string,
  changes: { name?: string | undefined; description?: string | undefined; role?: Role | undefined },
  at: string,
): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `UPDATE OR IGNORE api_keys
       SET name = COALESCE(?2, name), description = COALESCE(?3, description), role = COALESCE(?4, role), updated_at = ?5
       WHERE id = ?1`,
    )
    .bind(id, changes.name ?? null, changes.description ?? null, changes.role ?? null, at)
    .run();
  return meta.changes > 0;
}

export async function deleteApiKey(db: D1Database, id: string): Promise<boolean> {
  const { meta } = await db.prepare("DELETE FROM api_keys WHERE id = ?1").bind(id).run();
  return meta.changes > 0;
}
