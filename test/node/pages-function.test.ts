/**
 * The Pages side of production: the function in ui/functions, built by wrangler as Pages builds
 * it, run in workerd. /api/* must reach the Worker byte for byte (webhook signatures cover the raw
 * body) and its answer must come back as is; every other path is the app's static files.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { afterAll, beforeAll, expect, it } from "vitest";
import { root } from "./dev-server.ts";

type Seen = { method: string; url: string; authorization: string | null; signature: string | null; body: string };

let miniflare: Miniflare;
const seenByApi: Seen[] = [];
const seenByAssets: string[] = [];

beforeAll(() => {
  const outdir = mkdtempSync(join(tmpdir(), "dagflare-pages-"));
  const build = spawnSync(
    process.execPath,
    [join(root, "node_modules", "wrangler", "bin", "wrangler.js"), "pages", "functions", "build", "--outdir", outdir],
    {
      cwd: join(root, "ui"),
      encoding: "utf8",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    },
  );
  expect(build.status, build.stderr).toBe(0);
  miniflare = new Miniflare(
    convertV4MiniflareOptions({
      modules: true,
      scriptPath: join(outdir, "index.js"),
      modulesRoot: outdir,
      compatibilityDate: "2026-11-01",
      serviceBindings: {
        // The service binding is the seam: behind it, the dagflare Worker (tested on its own).
        API: async (request: Request) => {
          seenByApi.push({
            method: request.method,
            url: request.url,
            authorization: request.headers.get("authorization"),
            signature: request.headers.get("x-hub-signature-256"),
            body: await request.text(),
          });
          return Response.json(
            { code: "rate_limited", message: "slow down" },
            { status: 429, headers: { "Retry-After": "7" } },
          );
        },
        ASSETS: async (request: Request) => {
          seenByAssets.push(new URL(request.url).pathname);
          return new Response("<!doctype html><title>dagflare</title>", { headers: { "Content-Type": "text/html" } });
        },
      },
    }),
  );
}, 60_000);

afterAll(() => miniflare?.dispose());

it("passes /api/* to the Worker unchanged and returns its answer as is", async () => {
  const body = '{"ref":"refs/heads/main",  "n": 12345678901234567890}';
  const response = await miniflare.dispatchFetch("https://ui.example.com/api/v2/webhooks/deploy?x=1", {
    method: "POST",
    headers: {
      Authorization: "Bearer dagu_wh_abc",
      "X-Hub-Signature-256": "sha256=00ff",
      "Content-Type": "application/json",
    },
    body,
  });
  expect(response.status).toBe(429);
  expect(response.headers.get("retry-after")).toBe("7");
  expect(await response.json()).toEqual({ code: "rate_limited", message: "slow down" });
  expect(seenByApi).toEqual([
    {
      method: "POST",
      url: "https://ui.example.com/api/v2/webhooks/deploy?x=1",
      authorization: "Bearer dagu_wh_abc",
      signature: "sha256=00ff",
      body,
    },
  ]);
  expect(seenByAssets).toEqual([]);
});

it("serves the app for every other path (deep links included)", async () => {
  for (const path of ["/", "/dags/deploy", "/runs/deploy/20261124T120000Z"]) {
    const response = await miniflare.dispatchFetch(`https://ui.example.com${path}`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("<title>dagflare</title>");
  }
  expect(seenByAssets).toEqual(["/", "/dags/deploy", "/runs/deploy/20261124T120000Z"]);
  expect(seenByApi).toHaveLength(1);
});
