import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestCase, type TestModule, type TestSpecification, type TestSuite } from "vitest/node";
import { freePort } from "./scripts/lib/local-instance.ts";
import { TEST_JWT_SECRET, TEST_RUNNER_SECRET } from "./test/workers/runner-secret.ts";

// The step runner's port is chosen here, so the Worker's bindings can name it; the workers
// project's global setup starts the runner on it.
process.env.DAGFLARE_TEST_RUNNER_PORT ??= String(await freePort());

// wrangler.toml requires these secrets ([env.dev.secrets]); the vitest plugin reads the config
// like `wrangler dev`, which takes secrets from the environment (else it warns "Missing required
// secrets" for every runtime it starts). The processes of the node and faults projects drop them
// again (test/node/clean-env.ts): `npm run dev` starts there as a new user starts it.
process.env.JWT_SECRET = TEST_JWT_SECRET;
process.env.RUNNER_SECRET = TEST_RUNNER_SECRET;
// …and then says so, "Using secrets defined in process.env", once per runtime: an info line of
// wrangler's, about what the two lines above did on purpose. Its warnings and errors still show.
process.env.WRANGLER_LOG ??= "warn";

/**
 * Vite's warning 'Sourcemap for "…/node_modules/…" points to missing source files', dropped:
 * packages (@cloudflare/containers, standardwebhooks) publish maps naming sources they don't ship,
 * and Vite then keeps their published code in stack traces, all a failure inside them needs. The
 * same warning about a file of ours still shows. (Vitest replaces a project's customLogger, so
 * this wraps the resolved one.)
 */
const quietDependencySourcemaps: Plugin = {
  name: "dagflare:quiet-dependency-sourcemaps",
  configResolved(config) {
    const warnOnce = config.logger.warnOnce.bind(config.logger);
    config.logger.warnOnce = (message, options) => {
      if (/^Sourcemap for ".*\/node_modules\/.*" points to missing source files$/.test(message)) return;
      warnOnce(message, options);
    };
  },
};

/** Worker code inside workerd, with the real local D1, Durable Objects and Queues. */
const workerd = async () =>
  cloudflareTest({
    // The dev environment: local queues deliver at once (max_batch_timeout = 0).
    wrangler: { configPath: "./wrangler.toml", environment: "dev" },
    miniflare: {
      bindings: {
        RUNNER_URL: `http://127.0.0.1:${process.env.DAGFLARE_TEST_RUNNER_PORT}`,
        // Alerts: a short retry schedule and timeout (2 s: a local receiver answers well within it
        // even with three test files at a time on two cores), and a secret a header may name.
        ALERTS_RETRY_SCHEDULE: "0,1,1",
        ALERTS_TIMEOUT_MS: "2000",
        ALERT_SECRET_TEST_TOKEN: "alert-secret-value",
        // The latency lab (src/dev/latency.ts) off for the Worker and its coordinators; a test
        // turns it on for its own requests with env overrides (test/workers/api/trigger-latency.test.ts).
        SIMULATE_D1_RTT_MS: "",
        SIMULATE_D1_REPLICA_RTT_MS: "",
        SIMULATE_DO_RTT_MS: "",
        SIMULATE_DO_D1_RTT_MS: "",
        TEST_MIGRATIONS: await readD1Migrations("./migrations"),
      },
    },
  });

/** Tests that need a deployment nobody has used yet (no users at all): their own storage. */
const FRESH_DEPLOYMENT_TESTS = ["test/workers/api/bootstrap.test.ts"];

/**
 * Worker tests that wait on real time: the step runner's processes, heartbeats and leases,
 * retry schedules, a 1,000-run fan-out. `npm test` runs them in runtimes of their own beside the
 * others; `npm run test:fast` leaves them out.
 */
const SLOW_WORKER_TESTS = [
  "test/workers/engine/sub-dags.test.ts",
  "test/workers/engine/commands.test.ts",
  "test/workers/engine/recovery.test.ts",
  "test/workers/engine/repeat.test.ts",
  "test/workers/api/alerts.test.ts",
];

/**
 * A workerd runtime runs file after file of its project, storage shared: tests name what they
 * create uniquely (unique()), so they don't need a fresh D1 each, and each file skips ~1 s of
 * start-up.
 */
const sharedRuntime = {
  isolate: false,
  // Not vitest's 5 s: `npm test` runs three files at a time on two cores, beside `npm run dev`
  // start-ups, and a test that takes 2 s alone (bcrypt, the step runner) can take three times that.
  testTimeout: 20_000,
  setupFiles: ["./test/workers/apply-migrations.ts"],
  globalSetup: ["./test/workers/global-setup.ts"],
};

/** The node and faults projects start `npm run dev` as a new user does. */
const localStack = {
  environment: "node",
  setupFiles: ["./test/node/clean-env.ts"],
};

/**
 * Longest first, so the run ends with short files: the fault suite (minutes, mostly waiting on
 * timers), the node files (each starts `npm run dev`), the slow worker tests, then the rest.
 * Within a project, vitest's order: slowest last time first. A project's files stay together, so
 * a workerd runtime is reused from one file to the next.
 */
const PROJECT_ORDER = ["faults", "node", "workers-slow", "workers", "workers-fresh"];
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => PROJECT_ORDER.indexOf(file.project.name);
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig(async () => ({
  test: {
    // Three files at a time on two cores: the fault suite mostly waits, and so do the worker
    // tests (on the step runner, timers, the local queue); `npm run dev` start-ups are the CPU.
    maxWorkers: 3,
    sequence: { sequencer: LongestFirst },
    /**
     * The Worker's info lines (src/log.ts, `{"level":"info",…}`: what a tick pruned, say) report
     * what it did, never a problem; in the workers projects they would only bury the output.
     * Its warnings and errors print, but those a test provokes and checks (expectLogged).
     */
    onConsoleLog(log: string, _type: "stdout" | "stderr", entity?: TestModule | TestSuite | TestCase) {
      if (entity?.project.name.startsWith("workers") && log.startsWith('{"level":"info",')) return false;
    },
    projects: [
      {
        plugins: [await workerd(), quietDependencySourcemaps],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          exclude: [...FRESH_DEPLOYMENT_TESTS, ...SLOW_WORKER_TESTS],
          ...sharedRuntime,
        },
      },
      {
        plugins: [await workerd(), quietDependencySourcemaps],
        test: { name: "workers-slow", include: SLOW_WORKER_TESTS, ...sharedRuntime },
      },
      {
        plugins: [await workerd(), quietDependencySourcemaps],
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
          // Each file starts `npm run dev` (up to 150 s on a busy machine: test/node/dev-server.ts).
          testTimeout: 300_000,
          hookTimeout: 300_000,
          ...localStack,
        },
      },
      {
        // `npm run test:faults`: the local stack killed mid-run and started again (minutes, not seconds).
        test: {
          name: "faults",
          include: ["test/faults/**/*.test.ts"],
          testTimeout: 840_000,
          hookTimeout: 120_000,
          ...localStack,
        },
      },
    ],
  },
}));
