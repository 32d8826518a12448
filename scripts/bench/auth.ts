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
import { ADMIN, startLocalInstance } from "../lib/local-instance.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 300);
const LOGIN_ROUNDS = Number(process.env.LOGIN_ROUNDS ?? 40);

const instance = await startLocalInstance();
const { api, token } = instance;
try {
  const login = () =>
    fetch(`${api}/auth/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(ADMIN),
    });
  const created = await fetch(`${api}/api-keys`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: "bench", role: "viewer" }),
  });
  const { key } = (await created.json()) as { key: string };
  const me = (credential: string) => () =>
    fetch(`${api}/auth/me`, { headers: { Authorization: `Bearer ${credential}` } });

  const baseline = await measure("login (1 bcrypt per request) — baseline", login, LOGIN_ROUNDS);
  const apiKey = await measure("GET /auth/me with an API key", me(key), ROUNDS);
  const session = await measure("GET /auth/me with a session JWT", me(token), ROUNDS);
  const noAuth = await measure("GET /health (no auth)", () => fetch(`${api}/health`), ROUNDS);

  console.log(`\n${"request".padEnd(44)} ${"median".padStart(8)} ${"p90".padStart(8)} ${"vs baseline".padStart(12)}`);
  for (const row of [baseline, apiKey, session, noAuth]) {
    const ratio = row.median / baseline.median;
    console.log(
      `${row.label.padEnd(44)} ${row.median.toFixed(2).padStart(8)} ${row.p90.toFixed(2).padStart(8)} ${ratio.toFixed(3).padStart(12)}`,
    );
  }
  console.log(
    `\nAPI-key auth is ${(baseline.median / apiKey.median).toFixed(1)}x faster than a bcrypt per request (medians, ms).`,
  );
} finally {
  await instance.stop();
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
