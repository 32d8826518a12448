/**
 * Roles with Dagu's meaning, weakest first: a viewer reads; an operator also starts, stops and
 * retries runs; a manager also writes DAGs; an admin also manages users, API keys and webhooks.
 */
export const ROLES = ["viewer", "operator", "manager", "admin"] as const;

export type Role = (typeof ROLES)[number];

export function roleAtLeast(role: Role, required: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(required);
}
