import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { config, DEFAULT_RETRY_SCHEDULE, usable } from "../../../src/config.ts";
import { ApiError } from "../../../src/errors.ts";

const problemOf = (run: () => unknown): ApiError => {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error("expected an ApiError");
};

describe("config(env)", () => {
  it("reads the test bindings", () => {
    const settings = config(env);
    expect(settings.production).toBe(false);
    expect(settings.environment).toBe("development");
    expect(usable(settings.authMode)).toBe("builtin");
    expect(usable(settings.jwtSecret)).toBe(env.JWT_SECRET);
    expect(settings.runner.url).toBe(env.RUNNER_URL);
    expect(settings.runner.instances).toBe(3);
    expect(settings.alerts).toMatchObject({
      publicUrl: "http://127.0.0.1:8787",
      deploymentName: "local",
      timeoutMs: 2000,
      retrySchedule: [0, 1, 1],
      allowLocalHttp: true,
      secrets: { ALERT_SECRET_TEST_TOKEN: "alert-secret-value" },
    });
  });

  it("has defaults for what is unset", () => {
    const settings = config({});
    expect(settings.environment).toBe("");
    expect(usable(settings.authMode)).toBe("builtin");
    expect(settings.admin).toBeUndefined();
    expect(settings.runner).toEqual({ url: undefined, secret: "", instances: 3 });
    expect(settings.alerts).toEqual({
      publicUrl: "",
      deploymentName: "",
      timeoutMs: 15_000,
      retrySchedule: DEFAULT_RETRY_SCHEDULE,
      allowLocalHttp: false,
      secrets: {},
    });
    // Outside production, a fixed encryption key; a JWT secret is needed everywhere.
    expect(usable(settings.encryptionKey).length).toBeGreaterThanOrEqual(32);
    expect(problemOf(() => usable(settings.jwtSecret)).status).toBe(503);
  });

  it("falls back to the defaults for numbers and schedules that don't parse", () => {
    const settings = config({ RUNNER_INSTANCES: "many", ALERTS_TIMEOUT_MS: "0", ALERTS_RETRY_SCHEDULE: "0,soon,5" });
    expect(settings.runner.instances).toBe(3);
    expect(settings.alerts.timeoutMs).toBe(15_000);
    expect(settings.alerts.retrySchedule).toEqual(DEFAULT_RETRY_SCHEDULE);
    expect(config({ ALERTS_RETRY_SCHEDULE: " 2, 10 " }).alerts.retrySchedule).toEqual([2, 10]);
    expect(config({ PUBLIC_URL: "https://x.example//" }).alerts.publicUrl).toBe("https://x.example");
  });

  it("keeps a bad setting as a problem that becomes a 503 where it is used, without the secret", () => {
    const bad = config({ AUTH_MODE: "off", ENVIRONMENT: "production", JWT_SECRET: "Zq9-tooShort", ENCRYPTION_KEY: "" });
    const authMode = problemOf(() => usable(bad.authMode));
    expect(authMode.code).toBe("service_unavailable");
    expect(authMode.message).toBe("AUTH_MODE must be 'builtin' or 'none', not 'off'");
    const jwt = problemOf(() => usable(bad.jwtSecret));
    expect(jwt.message).toContain("wrangler secret put JWT_SECRET");
    expect(jwt.message).not.toContain("Zq9-tooShort");
    expect(problemOf(() => usable(bad.encryptionKey)).message).toContain("wrangler secret put ENCRYPTION_KEY");
    const strong = config({ ENVIRONMENT: "production", JWT_SECRET: "s".repeat(32), ENCRYPTION_KEY: "k".repeat(32) });
    expect(usable(strong.jwtSecret)).toBe("s".repeat(32));
    expect(usable(strong.encryptionKey)).toBe("k".repeat(32));
  });

  it("needs both admin secrets for a first admin", () => {
    expect(config({ ADMIN_USERNAME: "root" }).admin).toBeUndefined();
    expect(config({ ADMIN_USERNAME: "root", ADMIN_PASSWORD: "pw" }).admin).toEqual({
      username: "root",
      password: "pw",
    });
  });

  it("is parsed once per env object, so a modified copy gets its own", () => {
    expect(config(env)).toBe(config(env));
    const copy = { ...env, AUTH_MODE: "none" };
    expect(config(copy)).toBe(config(copy));
    expect(config(copy)).not.toBe(config(env));
    expect(usable(config(copy).authMode)).toBe("none");
    expect(usable(config(env).authMode)).toBe("builtin");
    expect(Object.isFrozen(config(env))).toBe(true);
    expect(Object.isFrozen(config(env).alerts)).toBe(true);
  });

  it("refuses a variable of the wrong type, naming it but not its value", () => {
    expect(() => config({ JWT_SECRET: 42 as unknown as string })).toThrow(/JWT_SECRET/);
    expect(() => config({ JWT_SECRET: 42 as unknown as string })).not.toThrow(/42/);
  });

  it("simulates round trips in development only: production, and any other ENVIRONMENT, ignore SIMULATE_*", () => {
    const simulate = {
      SIMULATE_D1_RTT_MS: "150",
      SIMULATE_D1_REPLICA_RTT_MS: "5",
      SIMULATE_DO_RTT_MS: "150",
      SIMULATE_DO_D1_RTT_MS: "2",
    };
    expect(config({ ENVIRONMENT: "development", ...simulate }).latencyLab).toEqual({
      roundTrips: { d1: 150, d1Replica: 5, coordinator: 150, coordinatorD1: 2 },
    });
    for (const environment of ["production", "staging", "", "Development"])
      expect(config({ ENVIRONMENT: environment, ...simulate }).latencyLab).toBeUndefined();
    expect(config({ ...simulate }).latencyLab).toBeUndefined();
    // Declared empty ([env.dev.vars]): no simulation; a replica is as far as the primary unless said.
    expect(config({ ENVIRONMENT: "development", SIMULATE_D1_RTT_MS: "" }).latencyLab).toBeUndefined();
    expect(config({ ENVIRONMENT: "development", SIMULATE_D1_RTT_MS: "80" }).latencyLab?.roundTrips).toEqual({
      d1: 80,
      d1Replica: 80,
      coordinator: 0,
      coordinatorD1: 0,
    });
  });

  it("takes a Durable Object location hint for coordinators, and refuses an unknown one", () => {
    expect(config({}).coordinatorLocationHint).toBeUndefined();
    expect(config({ COORDINATOR_LOCATION_HINT: "" }).coordinatorLocationHint).toBeUndefined();
    expect(config({ COORDINATOR_LOCATION_HINT: "ENAM" }).coordinatorLocationHint).toBe("enam");
    expect(() => config({ COORDINATOR_LOCATION_HINT: "us-east-1" })).toThrow(/COORDINATOR_LOCATION_HINT.*enam/);
  });
});
