/**
 * The Worker as `npm run dev` runs it (scripts/dev.ts), built from wrangler.toml by wrangler's own
 * code into a folder that scripts/lib/dev-worker.ts starts in Miniflare without wrangler:
 *
 *   - `worker.json`: the Miniflare options wrangler derives from the config for local development
 *     (`unstable_getMiniflareWorkerOptions`: bindings, D1, Durable Objects, queues, rate limits,
 *     assets, crons), the vars the environment may override, and the D1 migrations, each split
 *     into statements by wrangler's own splitter with the record `wrangler d1 migrations apply`
 *     adds, for the Worker to apply (src/dev/setup.ts);
 *   - the Worker bundled by esbuild — wrangler's, at its version — with wrangler's settings for
 *     this config (module rules for `.wasm` and text imports, `cloudflare:` imports external,
 *     the same conditions, target and defines), unminified, so stack traces read as the source.
 *
 * Run by dev.ts as a program (`node dev-build.ts <out dir> <wrangler env> <config key> <bundle
 * key>`) only when its inputs changed: the keys are hashes of WORKER_CONFIG_INPUTS and
 * WORKER_BUNDLE_INPUTS, recorded in worker.json. Loading wrangler alone takes a second or two and
 * ~250 MB, which neither a restart nor the resident stack should pay, nor a rebuild after an edit
 * under src/: while the config key is unchanged, the config's part of the last build is kept and
 * only the bundle is made again. A config feature this doesn't mirror (nodejs_compat, custom
 * module rules, aliases, …) stops it with a clear error rather than starting a Worker that differs
 * from `wrangler dev`'s.
 *
 * Secrets never reach the folder: the options carry wrangler.toml's vars only, and dev-worker.ts
 * adds secrets and overrides from its environment at start.
 */
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { DevSetupRequest } from "../../src/dev/protocol.ts";

/** What the config's part of the build depends on, for scripts/lib/source-hash.ts (this file included). */
export const WORKER_CONFIG_INPUTS = [
  "wrangler.toml",
  "migrations",
  "package.json",
  "package-lock.json",
  "scripts/lib/dev-build.ts",
] as const;

/** What the bundle depends on, besides the config's part. */
export const WORKER_BUNDLE_INPUTS = [
  "src",
  "tsconfig.json",
  "package.json",
  "package-lock.json",
  "scripts/lib/dev-build.ts",
] as const;

/** wrangler.toml's settings for the bundle. */
type Bundling = {
  main: string;
  define: Record<string, string>;
  tsconfig?: string;
  jsxFactory?: string;
  jsxFragment?: string;
  keepNames: boolean;
  navigatorUserAgent: boolean;
};

export type WorkerBuild = {
  /** The hashes of the inputs it was built from (WORKER_CONFIG_INPUTS, WORKER_BUNDLE_INPUTS). */
  keys: { config: string; bundle: string };
  name: string;
  /** Miniflare's (v4-style) worker options, without `name`, the modules and the bindings' values. */
  workerOptions: Record<string, unknown>;
  bundling: Bundling;
  modules: { type: "ESModule" | "CompiledWasm" | "Text" | "Data"; path: string }[];
  /** wrangler.toml's vars for this environment. */
  vars: Record<string, unknown>;
  /**
   * Names whose values the environment supplies, as wrangler dev takes them from process.env when
   * the config declares `[secrets]`: the declared vars and the required secrets.
   */
  fromEnvironment: string[];
  migrations: DevSetupRequest["migrations"];
};

type ConfigPart = Omit<WorkerBuild, "keys" | "modules">;

export const WORKER_BUILD_FILE = "worker.json";

/** Wrangler's default module rules (DEFAULT_MODULE_RULES), as esbuild import filters. */
const MODULE_RULES: { type: WorkerBuild["modules"][number]["type"]; filter: RegExp }[] = [
  { type: "Text", filter: /\.(txt|html|sql)$/ },
  { type: "Data", filter: /\.bin$/ },
  { type: "CompiledWasm", filter: /\.wasm(\?module)?$/ },
];

/** The build's keys, or undefined when there is none (or it is incomplete). */
export function workerBuildKeys(outDir: string): WorkerBuild["keys"] | undefined {
  try {
    return (JSON.parse(readFileSync(join(outDir, WORKER_BUILD_FILE), "utf8")) as WorkerBuild).keys;
  } catch {
    return undefined;
  }
}

async function build(outDir: string, environment: string, keys: WorkerBuild["keys"]): Promise<void> {
  const root = resolve(import.meta.dirname, "..", "..");
  let previous: WorkerBuild | undefined;
  try {
    previous = JSON.parse(readFileSync(join(outDir, WORKER_BUILD_FILE), "utf8")) as WorkerBuild;
  } catch {
    // none yet
  }
  const config: ConfigPart =
    previous?.keys.config === keys.config ? withoutBundle(previous) : await fromWrangler(root, environment);

  // Built beside the folder, then swapped in: a failed build leaves the last good one in place.
  const tmpDir = `${outDir}.tmp-${process.pid}`;
  mkdirSync(tmpDir, { recursive: true });
  try {
    const modules = await bundle(config.bundling, root, tmpDir);
    const result: WorkerBuild = { keys, ...config, modules };
    writeFileSync(join(tmpDir, WORKER_BUILD_FILE), JSON.stringify(result, null, 2));
    rmSync(outDir, { recursive: true, force: true });
    renameSync(tmpDir, outDir);
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

function withoutBundle({ keys: _keys, modules: _modules, ...config }: WorkerBuild): ConfigPart {
  return config;
}

/** The config's part, from wrangler.toml by wrangler's code. */
async function fromWrangler(root: string, environment: string): Promise<ConfigPart> {
  const wrangler = await import("wrangler");
  const config = wrangler.unstable_readConfig({ config: join(root, "wrangler.toml"), env: environment });

  const unsupported = [
    config.no_bundle && "no_bundle",
    config.rules.length > 0 && "rules",
    Object.keys(config.alias ?? {}).length > 0 && "alias",
    config.build.command && "build.command",
    config.find_additional_modules && "find_additional_modules",
    config.compatibility_flags.some((flag: string) => flag.startsWith("nodejs_")) && "the nodejs_* compatibility flags",
    config.d1_databases.some((db: { migrations_pattern?: string }) => db.migrations_pattern !== undefined) &&
      "d1_databases.migrations_pattern",
  ].filter(Boolean);
  if (unsupported.length > 0) {
    throw new Error(
      `wrangler.toml uses ${unsupported.join(", ")}, which scripts/lib/dev-build.ts doesn't mirror from wrangler's bundler yet`,
    );
  }
  if (!config.main) throw new Error("wrangler.toml has no `main`");

  const { workerOptions } = wrangler.unstable_getMiniflareWorkerOptions(config, environment, {
    // RUNNER_URL points the Worker at the local step runner; no Docker here.
    overrides: { enableContainers: false },
  });
  // The values wrangler read from this process's environment stay out of the file (see above).
  const { bindings: _fromEnvironment, ...options } = workerOptions as Record<string, unknown>;
  const db = config.d1_databases.find((database: { binding: string }) => database.binding === "DB");
  return {
    name: config.name ?? "worker",
    workerOptions: { ...options, rootPath: root },
    bundling: {
      main: config.main,
      define: config.define,
      tsconfig: config.tsconfig,
      jsxFactory: config.jsx_factory,
      jsxFragment: config.jsx_fragment,
      keepNames: config.keep_names ?? true,
      navigatorUserAgent: !config.compatibility_flags.includes("no_global_navigator"),
    },
    vars: config.vars,
    fromEnvironment: [...Object.keys(config.vars), ...(config.secrets?.required ?? [])],
    migrations: db ? migrations(root, db, wrangler.unstable_splitSqlQuery) : { table: "d1_migrations", files: [] },
  };
}

/** Wrangler's bundle (src/deployment-bundle/bundle.ts) for a module Worker, as dev builds it. */
async function bundle(bundling: Bundling, root: string, outDir: string): Promise<WorkerBuild["modules"]> {
  // wrangler's own esbuild, at the version it bundles with (resolved, not loaded, through wrangler).
  const esbuild = createRequire(fileURLToPath(import.meta.resolve("wrangler")))("esbuild") as typeof import("esbuild");
  const extra: WorkerBuild["modules"] = [];
  const nodeEnv = JSON.stringify(process.env.NODE_ENV || "development");
  await esbuild.build({
    entryPoints: [bundling.main],
    absWorkingDir: root,
    bundle: true,
    outfile: join(outDir, "index.js"),
    format: "esm",
    target: "es2024",
    supported: { "import-source": true, using: true },
    loader: { ".js": "jsx", ".mjs": "jsx", ".cjs": "jsx" },
    conditions: ["workerd", "worker", "browser"],
    keepNames: bundling.keepNames,
    external: ["cloudflare:*", "__STATIC_CONTENT_MANIFEST"],
    define: {
      ...(bundling.navigatorUserAgent && { "navigator.userAgent": '"Cloudflare-Workers"' }),
      "process.env.NODE_ENV": nodeEnv,
      "global.process.env.NODE_ENV": nodeEnv,
      "globalThis.process.env.NODE_ENV": nodeEnv,
      ...bundling.define,
    },
    ...(bundling.tsconfig && { tsconfig: bundling.tsconfig }),
    ...(bundling.jsxFactory && { jsxFactory: bundling.jsxFactory }),
    ...(bundling.jsxFragment && { jsxFragment: bundling.jsxFragment }),
    logLevel: "warning",
    plugins: [
      {
        // wrangler's module collector: a `.wasm` (or text, or data) import becomes a module of its
        // own next to the bundle, named by its content as wrangler names it.
        name: "dagflare-dev-modules",
        setup(build) {
          for (const rule of MODULE_RULES) {
            build.onResolve({ filter: rule.filter }, async (args) => {
              if (args.pluginData === "dagflare-dev-modules") return undefined;
              const resolved = await build.resolve(args.path.replace(/\?module$/, ""), {
                kind: args.kind,
                resolveDir: args.resolveDir,
                importer: args.importer,
                pluginData: "dagflare-dev-modules",
              });
              if (resolved.errors.length > 0) return { errors: resolved.errors };
              const content = readFileSync(resolved.path);
              const name = `${createHash("sha1").update(content).digest("hex")}-${basename(resolved.path)}`;
              if (!extra.some((module) => module.path === name)) {
                copyFileSync(resolved.path, join(outDir, name));
                extra.push({ type: rule.type, path: name });
              }
              return { path: `./${name}`, external: true };
            });
          }
        },
      },
    ],
  });
  return [{ type: "ESModule", path: "index.js" }, ...extra];
}

/** `wrangler d1 migrations apply`'s list and queries (src/d1/migrations/helpers.ts), per file. */
function migrations(
  root: string,
  db: { migrations_dir?: string; migrations_table?: string },
  split: (sql: string) => string[],
): WorkerBuild["migrations"] {
  const table = db.migrations_table || "d1_migrations";
  const dir = join(root, db.migrations_dir ?? "migrations");
  const leading = (name: string) => Number.parseInt(name.split("_")[0]!, 10);
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".sql"))
    .map((entry) => entry.name)
    .sort((a, b) => {
      const [x, y] = [leading(a), leading(b)];
      if (x !== y && Number.isFinite(x) && Number.isFinite(y)) return x - y;
      if (x !== y && (Number.isFinite(x) || Number.isFinite(y))) return Number.isFinite(x) ? -1 : 1;
      return a < b ? -1 : a > b ? 1 : 0;
    });
  const quotedTable = `"${table.replace(/"/g, '""')}"`;
  return {
    table,
    files: names.map((name) => ({
      name,
      statements: split(
        `${readFileSync(join(dir, name), "utf8")}\nINSERT INTO ${quotedTable} (name)\nvalues ('${name.replace(/'/g, "''")}');`,
      ),
    })),
  };
}

if (import.meta.main) {
  const [outDir, environment, config, bundle] = process.argv.slice(2);
  if (!outDir || !environment || !config || !bundle) {
    throw new Error("usage: dev-build.ts <out dir> <wrangler environment> <config key> <bundle key>");
  }
  await build(resolve(outDir), environment, { config, bundle });
}
