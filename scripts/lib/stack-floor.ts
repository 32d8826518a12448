/**
 * What the local Cloudflare stack costs on this machine before any dagflare code runs: the
 * floors under `npm run dev`'s start, its memory and its trigger, measured with a bare Worker in
 * workerd through Miniflare, as dagflare's is run.
 *
 *   bareStart()         a fresh Node process loads Miniflare and starts a one-line Worker, until it
 *                       answers; then, idle, the resident memory of that Node and its workerd. No
 *                       local stack starts sooner or idles smaller.
 *   startBareWorker()   a bare Worker behind the same front as dagflare's (Miniflare's entry, router
 *                       and asset workers, which every request passes), with one SQLite-backed
 *                       Durable Object and a local D1, its state on disk under `stateRoot`:
 *       GET  /api/health          answers at once: the no-op
 *       POST /api/do-write        an RPC to the object, which stores one row before it answers:
 *                                 what any trigger that keeps exactly-once run ids must do first
 *                                 (the run stored where its id is decided, before the 200)
 *       POST /api/do-write-d1     the same, then one D1 insert by the object before it answers
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { treeMemory } from "./process-tree.ts";

const root = resolve(import.meta.dirname, "..", "..");
const loadMiniflare = () => createRequire(`${root}/`)("miniflare") as typeof import("miniflare");

/** The one-line Worker's Node: it says `up` once the Worker answered, and stops when its stdin closes. */
const BARE_START = `
const { createRequire } = await import("node:module");
const { Miniflare, convertV4MiniflareOptions } = createRequire(process.cwd() + "/")("miniflare");
const mf = new Miniflare(convertV4MiniflareOptions({
  host: "127.0.0.1", port: 0, modules: true, script: "export default { fetch: () => new Response('ok') }",
}));
await (await fetch(await mf.ready)).text();
process.stdout.write("up\\n");
process.stdin.resume();
process.stdin.on("end", () => mf.dispose().then(() => process.exit(0)));
`;

/** Milliseconds from the spawn until the one-line Worker answered; its idle Node and workerd's memory in MB. */
export async function bareStart(
  settleMs = 1_000,
  timeoutMs = 60_000,
): Promise<{ ms: number; rssMb: number; pssMb: number | undefined }> {
  const began = performance.now();
  const child = spawn(process.execPath, ["--input-type=module", "-e", BARE_START], {
    cwd: root,
    stdio: ["pipe", "pipe", "inherit"],
  });
  child.stdin!.on("error", () => undefined); // gone already: nothing to tell it
  const exited = new Promise<number | null>((done) => child.once("exit", done));
  try {
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`the bare Worker did not answer in ${timeoutMs} ms`)), timeoutMs);
      let output = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (output.split("\n").includes("up")) {
          clearTimeout(timer);
          done();
        }
      });
      exited.then((code) => fail(new Error(`the bare Worker's Node exited ${code} before it answered`)));
    });
    const ms = performance.now() - began;
    await new Promise((done) => setTimeout(done, settleMs));
    const { rssMb, pssMb } = treeMemory(child.pid!);
    return { ms, rssMb, pssMb };
  } finally {
    child.stdin!.end();
    // Its dispose may hang with a broken workerd: then it goes the hard way.
    const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(kill);
  }
}

const BARE_WORKER = `
import { DurableObject } from "cloudflare:workers";
export class Runs extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, body TEXT)");
  }
  async write(id, body, toD1) {
    this.ctx.storage.sql.exec("INSERT INTO runs (id, body) VALUES (?, ?)", id, body);
    if (toD1) await this.env.DB.prepare("INSERT INTO runs (id, body) VALUES (?1, ?2)").bind(id, body).run();
    return id;
  }
}
export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    if (path === "/api/health") return Response.json({ status: "healthy" });
    if (path !== "/api/do-write" && path !== "/api/do-write-d1") return new Response("not found", { status: 404 });
    const runs = env.RUNS.get(env.RUNS.idFromName("one DAG"));
    const id = await runs.write(crypto.randomUUID(), await request.text(), path.endsWith("-d1"));
    return Response.json({ dagRunId: id });
  },
};
`;

/** The bare Worker, warmed up (its isolate, its object and both tables): a request for each route. */
export type BareWorker = {
  health: () => Promise<Response>;
  write: () => Promise<Response>;
  writeAndInsert: () => Promise<Response>;
  stop: () => Promise<void>;
};

export async function startBareWorker(stateRoot: string): Promise<BareWorker> {
  const { Miniflare, convertV4MiniflareOptions } = loadMiniflare();
  const folder = mkdtempSync(join(stateRoot, "dagflare-bare-worker-"));
  mkdirSync(join(folder, "assets"));
  writeFileSync(join(folder, "assets", "index.html"), "<!doctype html><title>bare</title>");
  const compatibilityDate = "2026-11-01";
  const miniflare = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      defaultPersistRoot: join(folder, "state"),
      workers: [
        {
          name: "bare",
          modules: true,
          script: BARE_WORKER,
          compatibilityDate,
          durableObjects: { RUNS: { className: "Runs", useSQLite: true } },
          d1Databases: { DB: "00000000-0000-0000-0000-000000000000" },
          // As wrangler.toml's [assets] makes dagflare's: the UI's files, and /api/* to the Worker first.
          assets: {
            directory: join(folder, "assets"),
            run_worker_first: ["/api/*"],
            routerConfig: { has_user_worker: true, static_routing: { asset_worker: [], user_worker: ["/api/*"] } },
            assetConfig: { not_found_handling: "single-page-application", compatibility_date: compatibilityDate },
          },
        },
      ],
    } as Parameters<typeof convertV4MiniflareOptions>[0]),
  );
  const stop = async () => {
    await miniflare.dispose();
    rmSync(folder, { recursive: true, force: true });
  };
  try {
    const url = String(await miniflare.ready).replace(/\/$/, "");
    await (await miniflare.getD1Database("DB")).exec("CREATE TABLE runs (id TEXT PRIMARY KEY, body TEXT)");
    const post = (path: string) => () => fetch(`${url}${path}`, { method: "POST", body: crypto.randomUUID() });
    const bare = {
      health: () => fetch(`${url}/api/health`),
      write: post("/api/do-write"),
      writeAndInsert: post("/api/do-write-d1"),
      stop,
    };
    for (let i = 0; i < 20; i++) {
      const response = await bare.writeAndInsert();
      if (!response.ok) throw new Error(`the bare Worker's write: ${response.status} ${await response.text()}`);
    }
    return bare;
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}
