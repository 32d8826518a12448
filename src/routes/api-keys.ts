import { z } from "@hono/zod-openapi";
import { hashSecret } from "../auth/passwords.ts";
import { deleteApiKey, findApiKeyById, insertApiKey, listApiKeys, updateApiKey } from "../db/api-keys.ts";
import { now } from "../db/time.ts";
import { API_KEY_PREFIX, displayPrefix, generateSecret } from "../domain/secrets.ts";
import { ApiError, notFound } from "../errors.ts";
import { createRouter, errorResponse, jsonBody, jsonResponse, roleRoute } from "./router.ts";
import { ApiKeyIdParam, ApiKeySchema, RoleSchema } from "./schemas.ts";
import { apiKeyView } from "./views/api-key.ts";

const taken = (name: string) => new ApiError("already_exists", `an API key named '${name}' already exists`);
const ApiKeyResponse = z.object({ apiKey: ApiKeySchema }).openapi("APIKeyResponse");
const Name = z.string().trim().min(1).max(100);
const Description = z.string().max(500);

const list = roleRoute("admin", {
  method: "get",
  path: "/api-keys",
  tags: ["api-keys"],
  summary: "List API keys (never the keys themselves)",
  responses: {
    200: jsonResponse("API keys", z.object({ apiKeys: z.array(ApiKeySchema) }).openapi("APIKeysListResponse")),
  },
});

const create = roleRoute("admin", {
  method: "post",
  path: "/api-keys",
  tags: ["api-keys"],
  summary: "Create an API key; the full key is in this response only",
  request: { body: jsonBody(z.strictObject({ name: Name, description: Description.optional(), role: RoleSchema })) },
  responses: {
    201: jsonResponse("Created", z.object({ apiKey: ApiKeySchema, key: z.string() }).openapi("CreateAPIKeyResponse")),
    409: errorResponse("Name taken"),
  },
});

const get = roleRoute("admin", {
  method: "get",
  path: "/api-keys/{keyId}",
  tags: ["api-keys"],
  summary: "Get an API key",
  request: { params: ApiKeyIdParam },
  responses: { 200: jsonResponse("The API key", ApiKeyResponse), 404: errorResponse("No such key") },
});

const update = roleRoute("admin", {
  method: "patch",
  path: "/api-keys/{keyId}",
  tags: ["api-keys"],
  summary: "Rename, describe or change the role of an API key; a new role applies at once",
  request: {
    params: ApiKeyIdParam,
    body: jsonBody(
      z.strictObject({ name: Name.optional(), description: Description.optional(), role: RoleSchema.optional() }),
    ),
  },
  responses: {
    200: jsonResponse("Updated", ApiKeyResponse),
    404: errorResponse("No such key"),
    409: errorResponse("Name taken"),
  },
});

const remove = roleRoute("admin", {
  method: "delete",
  path: "/api-keys/{keyId}",
  tags: ["api-keys"],
  summary: "Revoke an API key; it stops working on the next request",
  request: { params: ApiKeyIdParam },
  responses: { 204: { description: "Revoked" }, 404: errorResponse("No such key") },
});

export const apiKeyRoutes = createRouter()
  .openapi(list, async (c) => c.json({ apiKeys: (await listApiKeys(c.env.DB)).map(apiKeyView) }, 200))
  .openapi(create, async (c) => {
    const { name, description = "", role } = c.req.valid("json");
    const key = generateSecret(API_KEY_PREFIX);
    const at = now();
    const row = {
      id: crypto.randomUUID(),
      name,
      description,
      role,
      key_prefix: displayPrefix(key),
      key_hash: await hashSecret(key),
      created_by: c.get("principal").id,
      created_at: at,
      updated_at: at,
    };
    if (!(await insertApiKey(c.env.DB, row))) throw taken(name);
    return c.json({ apiKey: apiKeyView({ ...row, last_used_at: null }), key }, 201);
  })
  .openapi(get, async (c) => {
    const row = await findApiKeyById(c.env.DB, c.req.valid("param").keyId);
    if (!row) throw notFound("API key");
    return c.json({ apiKey: apiKeyView(row) }, 200);
  })
  .openapi(update, async (c) => {
    const { keyId } = c.req.valid("param");
    const changes = c.req.valid("json");
    if (!(await updateApiKey(c.env.DB, keyId, changes, now()))) {
      if (!(await findApiKeyById(c.env.DB, keyId))) throw notFound("API key");
      throw taken(changes.name ?? "");
    }
    const row = await findApiKeyById(c.env.DB, keyId);
    if (!row) throw notFound("API key");
    return c.json({ apiKey: apiKeyView(row) }, 200);
  })
  .openapi(remove, async (c) => {
    if (!(await deleteApiKey(c.env.DB, c.req.valid("param").keyId))) throw notFound("API key");
    return c.body(null, 204);
  });
