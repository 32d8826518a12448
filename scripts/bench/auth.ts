/**
 * `npm run bench:auth`: what authentication costs per request on a local `npm run dev`.
 *
 * Baseline: POST /auth/login, which pays one bcrypt compare (cost 10) per request: what every
 * API-key request would cost without the verified fast path (and Dagu pays that once per
 * stored key). Measured against it: GET /auth/me with an API key (one bcrypt per isolate, then
 * a SHA-256 digest) and with a session JWT (HMAC + one D1 read).
 *
 * Prints medians and p90s in milliseconds and the ratio to the baseline; the machine is shared
 * and noisy, so compare ratios, not absolute numbers.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const ROUNDS = Number(process.env.ROUNDS ?? 300);
const LOGIN_ROUNDS = Number(process.env.LOGIN_ROUNDS ?? 40);

const port = await new Promise<number>((done) => {
  const server = createServer().listen(0, "127.0.0.1", () => {
    const { port } = server.address() as { port: number };
    server.close(() => done(port));
  });
});
const stateDir = mkdtempSync(join(tmpdir(), "dagflare-bench-"));
const dev = spawn(process.execPath, [join(root, "scripts", "dev.ts")], {
  cwd: root,
  env: { ...process.env, PORT: String(port), STATE_DIR: stateDir, ADMIN_USERNAME: "bench", ADMIN_PASSWORD: "bench-password-1" },
  stdio: ["ignore", "pipe", "inherit"],
});
let output = "";
dev.stdout!.on("data", (chunk) => (output += chunk));
const url = `http://127.0.0.1:${port}/api/v2`;

try {
  while (!output.includes("[dagflare] ready")) {
    if (dev.exitCode !== null) throw new Error(`dev exited:\n${output}`);
    await new Promise((done) => setTimeout(done, 100));
  }
  const login = () =>
    fetch(`${url}/auth/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: "bench", password: "bench-password-1" }),
    });
  const { token } = (await (await login()).json()) as { token: string };
  const created = await fetch(`${url}/api-keys`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: "bench", role: "viewer" }),
  });
  const { key } = (await created.json()) as { key: string };
  const me = (credential: string) => () => fetch(`${url}/auth/me`, { headers: { Authorization: `Bearer ${credential}` } });

  const baseline = await measure("login (1 bcrypt per request) — baseline", login, LOGIN_ROUNDS);
  const apiKey = await measure("GET /auth/me with an API key", me(key), ROUNDS);
  const session = await measure("GET /auth/me with a session JWT", me(token), ROUNDS);
  const noAuth = await measure("GET /health (no auth)", () => fetch(`${url}/health`), ROUNDS);

  console.log(`\n${"request".padEnd(44)} ${"median".padStart(8)} ${"p90".padStart(8)} ${"vs baseline".padStart(12)}`);
  for (const row of [baseline, apiKey, session, noAuth]) {
    const ratio = row.median / baseline.median;
    console.log(`${row.label.padEnd(44)} ${row.median.toFixed(2).padStart(8)} ${row.p90.toFixed(2).padStart(8)} ${ratio.toFixed(3).padStart(12)}`);
  }
  console.log(`\nAPI-key auth is ${(baseline.median / apiKey.median).toFixed(1)}x faster than a bcrypt per request (medians, ms).`);
} finally {
  dev.kill("SIGTERM");
  await new Promise((done) => dev.once("exit", done));
  rmSync(stateDir, { recursive: true, force: true });
}

async function measure(label: string, request: () => Promise<Response>, rounds: number) {
  for (let i = 0; i < 5; i++) await (await request()).arrayBuffer(); // warm up (and the first bcrypt)
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    const response = await request();
    await response.arrayBuffer();
    samples.push(performance.now() - start);
    if (!response.ok) throw new Error(`${label}: HTTP ${response.status}`);
  }
  samples.sort((a, b) => a - b);
  return { label, median: samples[Math.floor(rounds / 2)]!, p90: samples[Math.floor(rounds * 0.9)]! };
}
