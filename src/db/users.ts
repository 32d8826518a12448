import type { Role } from "../domain/roles.ts";

export type UserRow = {
  id: string;
  username: string;
  password_hash: string;
  role: Role;
  token_version: number;
  created_at: string;
  updated_at: string;
};

/** Whether any user exists: the first-admin bootstrap runs only while none does. */
export async function hasUsers(db: D1Database): Promise<boolean> {
  return (await db.prepare("SELECT 1 FROM users LIMIT 1").first()) !== null;
}

export function findUserById(db: D1Database, id: string): Promise<UserRow | null> {
  return db.prepare("SELECT * FROM users WHERE id = ?1").bind(id).first<UserRow>();
}

export function findUserByUsername(db: D1Database, username: string): Promise<UserRow | null> {
  return db.prepare("SELECT * FROM users WHERE username = ?1").bind(username).first<UserRow>();
}

export async function listUsers(db: D1Database): Promise<UserRow[]> {
  const { results } = await db.prepare("SELECT * FROM users ORDER BY username").all<UserRow>();
  return results;
}

export type NewUser = { id: string; username: string; passwordHash: string; role: Role; at: string };

/** Inserts the user unless the username is taken; returns whether it was inserted. */
export async function insertUser(db: D1Database, user: NewUser): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `INSERT INTO users (id, username, password_hash, role, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT DO NOTHING`,
    )
    .bind(user.id, user.username, user.passwordHash, user.role, user.at)
    .run();
  return meta.changes > 0;
}

/** Inserts the user only while the users table is empty: the first-admin bootstrap. */
export async function insertFirstUser(db: D1Database, user: NewUser): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `INSERT INTO users (id, username, password_hash, role, created_at, updated_at)
       SELECT ?1, ?2, ?3, ?4, ?5, ?5 WHERE NOT EXISTS (SELECT 1 FROM users)`,
    )
    .bind(user.id, user.username, user.passwordHash, user.role, user.at)
    .run();
  return meta.changes > 0;
}

/** Updates username and/or role; `false` when the row is gone or the new username is taken. */
export async function updateUser(
  db: D1Database,
  id: string,
  changes: { username?: string | undefined; role?: Role | undefined },
  at: string,
): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `UPDATE OR IGNORE users SET username = COALESCE(?2, username), role = COALESCE(?3, role), updated_at = ?4
       WHERE id = ?1`,
    )
    .bind(id, changes.username ?? null, changes.role ?? null, at)
    .run();
  return meta.changes > 0;
}

/** Sets a new password hash and ends every session issued for the old one. */
export async function setPassword(db: D1Database, id: string, passwordHash: string, at: string): Promise<boolean> {
  const { meta } = await db
    .prepare("UPDATE users SET password_hash = ?2, token_version = token_version + 1, updated_at = ?3 WHERE id = ?1")
    .bind(id, passwordHash, at)
    .run();
  return meta.changes > 0;
}

export async function deleteUser(db: D1Database, id: string): Promise<boolean> {
  const { meta } = await db.prepare("DELETE FROM users WHERE id = ?1").bind(id).run();
  return meta.changes > 0;
}
