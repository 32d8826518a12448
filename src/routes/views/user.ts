/** The wire shape of a user (Dagu's `User`): never the password hash or the token version. */
import type { UserRow } from "../../db/users.ts";
import type { Role } from "../../domain/roles.ts";

export type User = { id: string; username: string; role: Role; createdAt: string; updatedAt: string };

export const userView = (row: UserRow): User => ({
  id: row.id,
  username: row.username,
  role: row.role,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});
