import { z } from "@hono/zod-openapi";
import { hashSecret } from "../auth/passwords.ts";
import { now } from "../db/time.ts";
import { deleteUser, findUserById, insertUser, listUsers, setPassword, updateUser } from "../db/users.ts";
import { ApiError, notFound } from "../errors.ts";
import { createRouter, errorResponse, jsonBody, jsonResponse, roleRoute } from "./router.ts";
import {
  PasswordSchema,
  RoleSchema,
  SuccessSchema,
  UserIdParam,
  UsernameSchema,
  UserResponseSchema,
  UserSchema,
} from "./schemas.ts";
import { userView } from "./views/user.ts";

const taken = (username: string) => new ApiError("already_exists", `username '${username}' is already taken`);

const list = roleRoute("admin", {
  method: "get",
  path: "/users",
  tags: ["users"],
  summary: "List users",
  responses: { 200: jsonResponse("Users", z.object({ users: z.array(UserSchema) }).openapi("UsersListResponse")) },
});

const create = roleRoute("admin", {
  method: "post",
  path: "/users",
  tags: ["users"],
  summary: "Create a user",
  request: { body: jsonBody(z.strictObject({ username: UsernameSchema, password: PasswordSchema, role: RoleSchema })) },
  responses: { 201: jsonResponse("Created", UserResponseSchema), 409: errorResponse("Username taken") },
});

const get = roleRoute("admin", {
  method: "get",
  path: "/users/{userId}",
  tags: ["users"],
  summary: "Get a user",
  request: { params: UserIdParam },
  responses: { 200: jsonResponse("The user", UserResponseSchema), 404: errorResponse("No such user") },
});

const update = roleRoute("admin", {
  method: "patch",
  path: "/users/{userId}",
  tags: ["users"],
  summary: "Change a user's username and/or role (not your own role)",
  request: {
    params: UserIdParam,
    body: jsonBody(z.strictObject({ username: UsernameSchema.optional(), role: RoleSchema.optional() })),
  },
  responses: {
    200: jsonResponse("Updated", UserResponseSchema),
    404: errorResponse("No such user"),
    409: errorResponse("Username taken"),
  },
});

const remove = roleRoute("admin", {
  method: "delete",
  path: "/users/{userId}",
  tags: ["users"],
  summary: "Delete a user (not yourself); their sessions end at once",
  request: { params: UserIdParam },
  responses: { 204: { description: "Deleted" }, 404: errorResponse("No such user") },
});

const resetPassword = roleRoute("admin", {
  method: "post",
  path: "/users/{userId}/reset-password",
  tags: ["users"],
  summary: "Set a user's password; their sessions end at once",
  request: { params: UserIdParam, body: jsonBody(z.strictObject({ newPassword: PasswordSchema })) },
  responses: { 200: jsonResponse("Password reset", SuccessSchema), 404: errorResponse("No such user") },
});

export const userRoutes = createRouter()
  .openapi(list, async (c) => c.json({ users: (await listUsers(c.env.DB)).map(userView) }, 200))
  .openapi(create, async (c) => {
    const { username, password, role } = c.req.valid("json");
    const at = now();
    const user = { id: crypto.randomUUID(), username, passwordHash: await hashSecret(password), role, at };
    if (!(await insertUser(c.env.DB, user))) throw taken(username);
    return c.json({ user: { id: user.id, username, role, createdAt: at, updatedAt: at } }, 201);
  })
  .openapi(get, async (c) => {
    const user = await findUserById(c.env.DB, c.req.valid("param").userId);
    if (!user) throw notFound("user");
    return c.json({ user: userView(user) }, 200);
  })
  .openapi(update, async (c) => {
    const { userId } = c.req.valid("param");
    const changes = c.req.valid("json");
    if (changes.role !== undefined && userId === c.get("principal").id) {
      throw new ApiError("forbidden", "you cannot change your own role");
    }
    if (!(await updateUser(c.env.DB, userId, changes, now()))) {
      const existing = await findUserById(c.env.DB, userId);
      if (!existing) throw notFound("user");
      throw taken(changes.username ?? "");
    }
    const user = await findUserById(c.env.DB, userId);
    if (!user) throw notFound("user");
    return c.json({ user: userView(user) }, 200);
  })
  .openapi(remove, async (c) => {
    const { userId } = c.req.valid("param");
    if (userId === c.get("principal").id) throw new ApiError("forbidden", "you cannot delete yourself");
    if (!(await deleteUser(c.env.DB, userId))) throw notFound("user");
    return c.body(null, 204);
  })
  .openapi(resetPassword, async (c) => {
    const { userId } = c.req.valid("param");
    const { newPassword } = c.req.valid("json");
    if (!(await setPassword(c.env.DB, userId, await hashSecret(newPassword), now()))) throw notFound("user");
    return c.json({ message: "password reset" }, 200);
  });
