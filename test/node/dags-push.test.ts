import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import createClient from "openapi-fetch";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { paths } from "../../ui/src/api/schema";
import { type Dev, killLeftovers, login, root, startDev, stopDev } from "./dev-server.ts";

let dev: Dev;
let token: string;
beforeAll(async () => {
  dev = await startDev({
    STATE_DIR: mkdtempSync(join(tmpdir(), "dagflare-state-")),
    ADMIN_USERNAME: "admin",
    ADMIN_PASSWORD: "push-test-password",
  });
  token = ((await (await login(dev.url, "admin", "push-test-password")).json()) as { token: string }).token;
});
afterAll(async () => {
  if (dev) await stopDev(dev, "SIGTERM");
  killLeftovers();
});

/** The typed API client (the UI's paths) against the dev server, as the admin. */
const api = () => createClient<paths>({ baseUrl: `${dev.url}/api/v2`, headers: { Authorization: `Bearer ${token}` } });

async function apiKey(name: string, role: "viewer" | "manager"): Promise<string> {
  const { data, response } = await api().POST("/api-keys", { body: { name, role } });
  expect(response.status).toBe(201);
  return data!.key;
}

function push(folder: string, apiKey: string) {
  return spawnSync(process.execPath, [join(root, "scripts", "dags-push.ts"), folder], {
    env: { ...process.env, DAGFLARE_URL: dev.url, DAGFLARE_API_KEY: apiKey },
    encoding: "utf8",
  });
}

it("npm run dags:push creates, updates and skips; reports invalid files and exits 1", async () => {
  const key = await apiKey("ci-push", "manager");
  const folder = mkdtempSync(join(tmpdir(), "dagflare-dags-"));
  writeFileSync(join(folder, "brand-new.yaml"), "steps:\n  - name: a\n    command: echo new\n");
  writeFileSync(
    join(folder, "example-nightly-report.yaml"),
    "description: replaced\nsteps:\n  - name: a\n    command: echo v2\n",
  );
  writeFileSync(join(folder, "broken.yml"), "steps:\n  - name: a\n    command: x\n    depends: [ghost]\n");
  writeFileSync(join(folder, "notes.txt"), "not a DAG");

  const first = push(folder, key);
  expect(first.status).toBe(1);
  expect(first.stdout).toContain("✓ brand-new (created)");
  expect(first.stdout).toContain("✓ example-nightly-report (updated)");
  expect(first.stderr).toContain("steps[0].depends: unknown step 'ghost' (line 4, col 15)");
  const dag = (fileName: string) => ({ params: { path: { fileName } } });
  expect((await api().GET("/dags/{fileName}/spec", dag("brand-new"))).data?.spec).toContain("echo new");
  expect((await api().GET("/dags/{fileName}", dag("example-nightly-report"))).data?.dag?.description).toBe("replaced");
  expect((await api().GET("/dags/{fileName}", dag("broken"))).response.status).toBe(404);

  writeFileSync(join(folder, "broken.yml"), "steps:\n  - name: a\n    command: x\n");
  const second = push(folder, key);
  expect(second.status).toBe(0);
  expect(second.stdout).toContain("= brand-new (unchanged)");
  expect(second.stdout).toContain("✓ broken (created)");

  const viewerKey = await apiKey("ci-viewer", "viewer");
  writeFileSync(join(folder, "brand-new.yaml"), "steps:\n  - name: a\n    command: echo v3\n");
  const forbidden = push(folder, viewerKey);
  expect(forbidden.status).toBe(1);
  expect(forbidden.stderr).toContain("403");
});
