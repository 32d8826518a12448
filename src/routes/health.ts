import { z } from "@hono/zod-openapi";
import packageJson from "../../package.json" with { type: "json" };
import { createRouter, jsonResponse, publicRoute } from "./router.ts";

// workerd freezes the clock at the epoch while a module loads, so the start is taken at the first request.
let startedAt: number | undefined;

const health = publicRoute({
  method: "get",
  path: "/health",
  tags: ["system"],
  summary: "Liveness: answers without authentication",
  responses: {
    200: jsonResponse(
      "Healthy",
      z
        .object({
          status: z.enum(["healthy", "unhealthy"]),
          version: z.string(),
          uptime: z.number().int(),
          timestamp: z.string(),
        })
        .openapi("HealthResponse"),
    ),
  },
});

export const healthRoutes = createRouter().openapi(health, (c) => {
  startedAt ??= Date.now();
  return c.json(
    {
      status: "healthy" as const,
      version: packageJson.version,
      uptime: Math.floor((Date.now() - startedAt) / 1000),
      timestamp: new Date().toISOString(),
    },
    200,
  );
});
