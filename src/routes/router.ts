import { createRoute, OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import { requireBuiltinAuth, requireRole } from "../auth/middleware.ts";
import type { Role } from "../domain/roles.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { ErrorSchema } from "./schemas.ts";

/**
 * A sub-app whose request validation failures become 400s in the error envelope, naming the
 * first offending field (all of them are in `details.issues`).
 */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (result.success) return;
      const issues = result.error.issues.map((issue) => ({
        field: [result.target, ...issue.path.map(String)].join("."),
        message: issue.code === "unrecognized_keys" ? `unknown field(s) ${issue.keys.join(", ")}` : issue.message,
      }));
      const first = issues[0]!;
      throw new ApiError("bad_request", `${first.field}: ${first.message}`, { issues });
    },
  });
}

const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorSchema } },
});

/** Error responses every route can give; routes add their own 404/409 where they apply. */
const commonErrors = {
  400: errorResponse("Invalid request: malformed JSON, a wrong type or an unknown field"),
  500: errorResponse("Unexpected error"),
};

/** A route open to anyone (health, the OpenAPI document, login). */
export function publicRoute<R extends RouteConfig>(config: R) {
  return createRoute({ ...config, security: [], responses: { ...commonErrors, ...config.responses } });
}

/**
 * A route that requires at least `role`; the role is enforced by middleware and documented.
 * `builtinAuthOnly` routes answer 401 when AUTH_MODE is none (webhooks need real identities).
 */
export function roleRoute<R extends RouteConfig>(role: Role, config: R, options: { builtinAuthOnly?: boolean } = {}) {
  return createRoute({
    ...config,
    middleware: options.builtinAuthOnly ? [requireBuiltinAuth, requireRole(role)] : requireRole(role),
    description: `${config.description ?? config.summary ?? ""}\n\nRequires the **${role}** role or higher.`.trim(),
    responses: {
      ...commonErrors,
      401: errorResponse("Not authenticated"),
      403: errorResponse(`Requires the ${role} role`),
      ...config.responses,
    },
  });
}

export const jsonBody = <T>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});

export const jsonResponse = <T>(description: string, schema: T) => ({
  description,
  content: { "application/json": { schema } },
});

export { errorResponse };
