import type { Role } from "../domain/roles.ts";
import type { User } from "../routes/views/user.ts";

/** Who is calling: a signed-in user, an API key, or anyone at all when AUTH_MODE is `none`. */
export type Principal =
  | { kind: "user"; id: string; role: Role; user: User }
  | { kind: "api-key"; id: string; role: Role; name: string; createdAt: string; updatedAt: string }
  | { kind: "anonymous"; id: ""; role: "admin" };

const EPOCH = new Date(0).toISOString();

export const ANONYMOUS: Principal = { kind: "anonymous", id: "", role: "admin" };

/** The caller as Dagu's `User` shape, for /auth/me: an API key appears as `api-key:<name>`. */
export function principalAsUser(principal: Principal): User {
  switch (principal.kind) {
    case "user":
      return principal.user;
    case "api-key":
      return {
        id: principal.id,
        username: `api-key:${principal.name}`,
        role: principal.role,
        createdAt: principal.createdAt,
        updatedAt: principal.updatedAt,
      };
    case "anonymous":
      // Nobody created the anonymous admin; the epoch says so rather than inventing a date.
      return { id: "", username: "anonymous", role: "admin", createdAt: EPOCH, updatedAt: EPOCH };
  }
}
