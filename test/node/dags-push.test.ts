import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
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

const api = async (method: string, path: string, auth: string, body?: unknown) => {
  const response = await fetch(`${dev.url}/api/v2${path}`, {
    method,
    headers: { Authorization: `Bearer ${auth}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
};

function push(folder: string, apiKey: string) {
  return spawnSync(process.execPath, [join(root, "scripts", "dags-push.ts"), folder], {
    env: { ...process.env, DAGFLARE_URL: dev.url, DAGFLARE_API_KEY: apiKey },
    encoding: "utf8",
  });
}

it("npm run dags:push creates, updates and skips; reports invalid files and exits 1", async () => {
  const key = (await api("POST", "/api-keys", token, { name: "ci-push", role: "manager" })).body.key as string;
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
  expect((await api("GET", "/dags/brand-new/spec", token)).body.spec).toContain("echo new");
  expect((await api("GET", "/dags/example-nightly-report", token)).body.dag.description).toBe("replaced");
  expect((await api("GET", "/dags/broken", token)).status).toBe(404);

  writeFileSync(join(folder, "broken.yml"), "steps:\n  - name: a\n    command: x\n");
  const second = push(folder, key);
  expect(second.status).toBe(0);
  expect(second.stdout).toContain("= brand-new (unchanged)");
  expect(second.stdout).toContain("✓ broken (created)");

  const viewerKey = (await api("POST", "/api-keys", token, { name: "ci-viewer", role: "viewer" })).body.key as string;
  writeFileSync(join(folder, "brand-new.yaml"), "steps:\n  - name: a\n    command: echo v3\n");
  const forbidden = push(folder, viewerKey);
  expect(forbidden.status).toBe(1);
  expect(forbidden.stderr).toContain("403");
});
