import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { freePort } from "./scripts/lib/local-instance.ts";
import { TEST_RUNNER_SECRET } from "./test/workers/runner-secret.ts";

// The step runner's port is chosen here, so the Worker's bindings can name it; the workers
// project's global setup starts the runner on it.
process.env.DAGFLARE_TEST_RUNNER_PORT ??= String(await freePort());

/** Worker code inside workerd, with the real local D1, Durable Objects and Queues. */
const workerd = async () =>
  cloudflareTest({
    // The dev environment: local queues deliver at once (max_batch_timeout = 0).
    wrangler: { configPath: "./wrangler.toml", environment: "dev" },
    miniflare: {
      bindings: {
        // A fixed signing secret; production checks are exercised by overriding
        // ENVIRONMENT per request (auth.test.ts).
        JWT_SECRET: "test-only-secret-0123456789abcdef0123456789",
        RUNNER_URL: `http://127.0.0.1:${process.env.DAGFLARE_TEST_RUNNER_PORT}`,
        RUNNER_SECRET: TEST_RUNNER_SECRET,
        // Alerts: a short retry schedule and timeout, and a secret a header may name.
        ALERTS_RETRY_SCHEDULE: "0,1,1",
        ALERTS_TIMEOUT_MS: "1000",
        ALERT_SECRET_TEST_TOKEN: "alert-secret-value",
        TEST_MIGRATIONS: await readD1Migrations("./migrations"),
      },
    },
  });

/** Tests that need a deployment nobody has used yet (no users at all): their own storage. */
const FRESH_DEPLOYMENT_TESTS = ["test/workers/api/bootstrap.test.ts"];

export default defineConfig(async () => ({
  test: {
    projects: [
      {
        plugins: [await workerd()],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          exclude: FRESH_DEPLOYMENT_TESTS,
          // One workerd for every file, storage shared: tests name what they create uniquely
          // (unique()), so they don't need a fresh D1 each, and the suite skips ~1 s of start-up
          // per file.
          isolate: false,
          setupFiles: ["./test/workers/apply-migrations.ts"],
          globalSetup: ["./test/workers/global-setup.ts"],
        },
      },
      {
        plugins: [await workerd()],
        test: {
          name: "workers-fresh",
          include: FRESH_DEPLOYMENT_TESTS,
          setupFiles: ["./test/workers/apply-migrations.ts"],
        },
      },
      {
        // Processes on this machine: `npm run dev`, scripts, the step runner and the browser.
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          environment: "node",
          // Each file starts `npm run dev` (up to 150 s on a busy machine: test/node/dev-server.ts).
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        // `npm run test:faults`: the local stack killed mid-run and started again (minutes, not seconds).
        test: {
          name: "faults",
          include: ["test/faults/**/*.test.ts"],
          environment: "node",
          testTimeout: 840_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
}));
