/**
 * Finished builds of the UI and the Worker, kept by the hash of their sources and shared by every
 * state folder of this checkout: `npm run dev` on a new state folder (a second instance, each
 * test's and bench's own) copies a build made before instead of running Vite and wrangler again
 * (issue 20: a fresh state folder ready in 4.6 s, of which 2–2.5 s were the two builds).
 *
 * Each state folder still gets its own copy (dev.ts: a build elsewhere can't pull files from
 * under a running instance, and `--watch` rewrites its copy). A cached build never changes once
 * it is there: it is written aside and renamed into place, so a reader finds it whole or not at
 * all, and two instances that build the same sources at once keep the first. The newest
 * KEEP_PER_KIND builds of each kind are kept (a few MB each).
 *
 * The cache is in node_modules/.cache/dagflare (gone with node_modules); BUILD_CACHE_DIR moves
 * it, e.g. to an empty folder to measure a first start.
 */
import { cpSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";

const KEEP_PER_KIND = 4;

export type BuildKind = "ui" | "worker";

export class BuildCache {
  readonly #dir: string;

  constructor(root: string, dir = process.env.BUILD_CACHE_DIR) {
    this.#dir = dir || join(root, "node_modules", ".cache", "dagflare");
  }

  /**
   * Replaces `target` with the cached build of `hash`; false, and `target` untouched, when there
   * is none or it can't be copied (the caller builds instead). The copy is made beside `target`
   * and renamed into place: a start never runs on half a build.
   */
  restore(kind: BuildKind, hash: string, target: string): boolean {
    const cached = this.#entry(kind, hash);
    const incoming = `${target}.incoming-${process.pid}`;
    try {
      if (!statSync(cached).isDirectory()) return false;
      // Recently used first, so that another instance's pruning keeps it while it is copied.
      const now = new Date();
      utimesSync(cached, now, now);
      cpSync(cached, incoming, { recursive: true });
      rmSync(target, { recursive: true, force: true });
      renameSync(incoming, target);
      return true;
    } catch {
      return false;
    } finally {
      rmSync(incoming, { recursive: true, force: true });
    }
  }

  /** Keeps a copy of the finished build in `source` as the build of `hash`. Never fails the caller. */
  save(kind: BuildKind, hash: string, source: string): void {
    const aside = join(this.#dir, `.incoming-${process.pid}-${Date.now()}`);
    try {
      mkdirSync(this.#dir, { recursive: true });
      cpSync(source, aside, { recursive: true });
      // Fails when another instance saved the same build first: theirs stays.
      renameSync(aside, this.#entry(kind, hash));
      this.#prune(kind);
    } catch {
      // A cache that can't be written is only a slower next start.
    } finally {
      rmSync(aside, { recursive: true, force: true });
    }
  }

  #entry(kind: BuildKind, hash: string): string {
    return join(this.#dir, `${kind}-${hash}`);
  }

  #prune(kind: BuildKind): void {
    const entries = readdirSync(this.#dir).map((name) => ({
      name,
      path: join(this.#dir, name),
      used: statSync(join(this.#dir, name)).mtimeMs,
    }));
    const builds = entries.filter(({ name }) => name.startsWith(`${kind}-`)).sort((a, b) => b.used - a.used);
    // What a process killed while saving left behind.
    const abandoned = entries.filter(
      ({ name, used }) => name.startsWith(".incoming-") && Date.now() - used > 3_600_000,
    );
    for (const { path } of [...builds.slice(KEEP_PER_KIND), ...abandoned])
      rmSync(path, { recursive: true, force: true });
  }
}
