/** The wire shape of an API key (Dagu's `APIKey`): never the hash. */
import type { ApiKeyRow } from "../../db/api-keys.ts";
import type { Role } from "../../domain/roles.ts";

export type ApiKey = {
  id: string;
  name: string;
  description: string;
  role: Role;
  keyPrefix: string;
  createdAt: string;
  updatedAt: string;
  createdBy: string;
  lastUsedAt: string | null;
};

export const apiKeyView = (row: ApiKeyRow): ApiKey => ({
  id: row.id,
  name: row.name,
  description: row.description,
  role: row.role,
  keyPrefix: row.key_prefix,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  createdBy: row.created_by,
  lastUsedAt: row.last_used_at,
});
