/** The build cache `npm run dev` shares between state folders (scripts/lib/build-cache.ts). */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BuildCache } from "../../scripts/lib/build-cache.ts";

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

function buildFolder(files: Record<string, string>): string {
  const dir = tempDir("dagflare-build-");
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

describe("build cache", () => {
  it("gives back a saved build whole, in place of what the target held; nothing for sources it never saw", () => {
    const cacheDir = tempDir("dagflare-cache-");
    const cache = new BuildCache("/unused", cacheDir);
    cache.save("ui", "a1", buildFolder({ "index.html": "<html>a1</html>", "assets/app.js": "app()" }));

    const target = buildFolder({ "stale.js": "old build" });
    expect(cache.restore("ui", "a1", target)).toBe(true);
    expect(readdirSync(target).sort()).toEqual(["assets", "index.html"]);
    expect(readFileSync(join(target, "assets", "app.js"), "utf8")).toBe("app()");

    const untouched = buildFolder({ "index.html": "mine" });
    expect(cache.restore("ui", "b2", untouched)).toBe(false);
    expect(cache.restore("worker", "a1", untouched)).toBe(false);
    expect(readFileSync(join(untouched, "index.html"), "utf8")).toBe("mine");
  });

  it("an entry that isn't a whole build is not restored: the target stays as it was", () => {
    const cacheDir = tempDir("dagflare-cache-");
    const cache = new BuildCache("/unused", cacheDir);
    // Not a folder: a stranger's file, or what a broken disk left.
    writeFileSync(join(cacheDir, "ui-broken"), "not a build");
    const target = buildFolder({ "index.html": "mine" });
    expect(cache.restore("ui", "broken", target)).toBe(false);
    expect(readFileSync(join(target, "index.html"), "utf8")).toBe("mine");
    expect(readdirSync(join(target, "..")).filter((name) => name.includes(".incoming-"))).toEqual([]);
  });

  it("keeps the first of two saves of the same sources, and the newest builds of each kind", () => {
    const cacheDir = tempDir("dagflare-cache-");
    const cache = new BuildCache("/unused", cacheDir);
    cache.save("worker", "same", buildFolder({ "index.js": "first" }));
    cache.save("worker", "same", buildFolder({ "index.js": "second" }));
    const target = tempDir("dagflare-build-");
    cache.restore("worker", "same", target);
    expect(readFileSync(join(target, "index.js"), "utf8")).toBe("first");
    // Nothing half-written is left beside the builds.
    expect(readdirSync(cacheDir)).toEqual(["worker-same"]);

    // Oldest first by use: "same" was just restored, so it is the newest of the five.
    for (const [index, hash] of ["h1", "h2", "h3", "h4"].entries()) {
      cache.save("worker", hash, buildFolder({ "index.js": hash }));
      const past = new Date(Date.now() - (10 - index) * 60_000);
      utimesSync(join(cacheDir, `worker-${hash}`), past, past);
    }
    cache.save("ui", "u1", buildFolder({ "index.html": "ui" }));
    cache.save("worker", "h5", buildFolder({ "index.js": "h5" }));
    expect(readdirSync(cacheDir).sort()).toEqual(["ui-u1", "worker-h3", "worker-h4", "worker-h5", "worker-same"]);
    expect(existsSync(join(cacheDir, "worker-h1"))).toBe(false);
  });
});
