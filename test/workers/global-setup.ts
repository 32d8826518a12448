/**
 * Runs in Node before the workerd tests: a real HTTP server on 127.0.0.1 for the http executor
 * to call (code inside workerd can't listen on a port). Its port reaches tests via inject().
 */

import { mkdtempSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { IMAGE_SHELL, startRunner } from "../../container/runner/server.ts";
import { TEST_RUNNER_SECRET } from "./runner-secret.ts";

declare module "vitest" {
  export interface ProvidedContext {
    echoUrl: string;
  }
}

/** The servers, started once for the projects that share this setup (workers, workers-slow). */
type Servers = { echoUrl: string; users: number; close: () => Promise<void> };
const SERVERS = Symbol.for("dagflare.testServers");
const shared = globalThis as { [SERVERS]?: Promise<Servers> };

export default async function setup(project: TestProject) {
  shared[SERVERS] ??= startServers();
  const servers = await shared[SERVERS];
  servers.users += 1;
  project.provide("echoUrl", servers.echoUrl);
  return async () => {
    servers.users -= 1;
    if (servers.users === 0) await servers.close();
  };
}

async function startServers(): Promise<Servers> {
  const hits = new Map<string, number>();
  /** Responses sent in full, by path: a test can wait until a slow answer has gone out. */
  const answered = new Map<string, number>();
  const dropped = new Map<string, number>();
  const receivers = new Map<string, { headers: unknown; body: string }[]>();
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const [, route, key, arg] = url.pathname.split("/");
      const count = (hits.get(url.pathname) ?? 0) + 1;
      hits.set(url.pathname, count);
      response.on("finish", () => answered.set(url.pathname, (answered.get(url.pathname) ?? 0) + 1));
      response.on("close", () => {
        if (!response.writableFinished) dropped.set(url.pathname, (dropped.get(url.pathname) ?? 0) + 1);
      });
      const send = (status: number, text: string, type = "text/plain") => {
        response.writeHead(status, { "content-type": type });
        response.end(text);
      };
      switch (route) {
        case "text": // /text/<anything>: 200 with that text
          return send(200, decodeURIComponent(key ?? ""));
        case "json":
          return send(
            200,
            JSON.stringify({ a: { b: [1, 2] }, name: "dagflare", nested: { list: [{ author: { name: "Ada" } }] } }),
            "application/json",
          );
        case "receiver": {
          // /receiver/<id>/<plan>: records the request; the nth call answers the nth entry of the
          // comma-separated plan (a status, `429:<seconds>` with Retry-After, or `hang`), the last one repeating.
          const plan = (arg ?? "200").split(",");
          const received = receivers.get(key!) ?? [];
          received.push({ headers: request.headers, body });
          receivers.set(key!, received);
          const step = plan[Math.min(received.length, plan.length) - 1]!;
          if (step === "hang") return;
          const [status, retryAfter] = step.split(":");
          if (retryAfter) response.setHeader("retry-after", retryAfter);
          return send(Number(status), `answer ${received.length}`);
        }
        case "received": // /received/<id>: what /receiver/<id> got, as JSON
          return send(200, JSON.stringify(receivers.get(key!) ?? []), "application/json");
        case "body": // the request body, as sent
          return send(200, body);
        case "echo": // the request as JSON
          return send(
            200,
            JSON.stringify({
              method: request.method,
              query: Object.fromEntries(url.searchParams),
              headers: request.headers,
              body,
            }),
            "application/json",
          );
        case "bytes": // /bytes/<n>: n bytes of "x"
          return send(200, "x".repeat(Number(key)));
        case "status": // /status/<code>
          return send(Number(key), `status ${key}`);
        case "slow": // /slow/<ms>[/<anything>]
          return void setTimeout(() => send(200, "slow-done"), Number(key));
        case "flaky": // /flaky/<id>/<n>: 503 for the first n calls of <id>, then 200
          return count <= Number(arg) ? send(503, `attempt ${count} failed`) : send(200, `attempt ${count} ok`);
        case "hits": // /hits/<path…>: how often that path was called
          return send(200, String(hits.get(`/${url.pathname.split("/").slice(2).join("/")}`) ?? 0));
        case "answered": // /answered/<path…>: how many answers to that path went out in full
          return send(200, String(answered.get(`/${url.pathname.split("/").slice(2).join("/")}`) ?? 0));
        case "dropped": // /dropped/<path…>: how many requests to that path the caller gave up before an answer
          return send(200, String(dropped.get(`/${url.pathname.split("/").slice(2).join("/")}`) ?? 0));
        default:
          return send(404, "no such route");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };

  // The step runner, as `npm run dev` runs it: a local process reached through RUNNER_URL
  // (vitest.config.ts chose its port and put the URL and secret in the Worker's bindings).
  const runner = await startRunner({
    secret: TEST_RUNNER_SECRET,
    port: Number(process.env.DAGFLARE_TEST_RUNNER_PORT),
    host: "127.0.0.1",
    dagsDir: join(import.meta.dirname, "..", "..", "dags"),
    defaultShell: IMAGE_SHELL,
    workRoot: mkdtempSync(join(tmpdir(), "dagflare-test-runner-")),
  });
  return {
    echoUrl: `http://127.0.0.1:${port}`,
    users: 0,
    close: async () => {
      await runner.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
