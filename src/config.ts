/**
 * The Worker's environment, parsed and validated once per env object: everything reads settings
 * from `config(env)`, never from `env.SOME_VAR`.
 *
 * A misconfigured setting that only some requests need (AUTH_MODE, JWT_SECRET, ENCRYPTION_KEY) is
 * kept as a `Setting` that says what is wrong, and `usable()` turns it into a 503 where it is used:
 * a bad ENCRYPTION_KEY must not take down login, nor a bad JWT_SECRET the health check.
 * Problems name the variable and how to fix it, never a secret's value.
 */
import { z } from "zod";
import { ApiError } from "./errors.ts";

export type AuthMode = "builtin" | "none";

/** A value, or why the deployment can't provide it (safe to show: it contains no secret). */
export type Setting<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

export type Config = {
  /** ENVIRONMENT, "" when unset; "production" turns on the strict checks. */
  readonly environment: string;
  readonly production: boolean;
  readonly authMode: Setting<AuthMode>;
  /** Signs session tokens (and derives webhook token digests). */
  readonly jwtSecret: Setting<string>;
  /** Encrypts alert header values and signing secrets; a fixed key outside production. */
  readonly encryptionKey: Setting<string>;
  /** The first admin, when both ADMIN_USERNAME and ADMIN_PASSWORD are set. */
  readonly admin: { readonly username: string; readonly password: string } | undefined;
  readonly runner: {
    /** A local step runner (`npm run dev`, the tests); unset means the StepRunner containers. */
    readonly url: string | undefined;
    readonly secret: string;
    readonly instances: number;
  };
  readonly alerts: {
    /** PUBLIC_URL without trailing slashes: the base of {{deployment_url}} and {{run_link}}. */
    readonly publicUrl: string;
    readonly deploymentName: string;
    readonly timeoutMs: number;
    /** Seconds before retry n. */
    readonly retrySchedule: readonly number[];
    /** Plain http to 127.0.0.1/localhost is allowed (development). */
    readonly allowLocalHttp: boolean;
    /** The ALERT_SECRET_* Worker secrets by name: the only env values a header may use. */
    readonly secrets: Readonly<Record<string, string>>;
  };
  readonly steps: {
    /**
     * STEPS_QUEUE_SERIAL: the queue hands its consumer one batch at a time, waiting for each to
     * end (miniflare's local queues; Cloudflare runs batches concurrently, up to max_concurrency).
     * The consumer then runs claimed attempts in the background, so a slow step holds back nothing.
     */
    readonly queueIsSerial: boolean;
  };
  /**
   * `npm run dev`'s per-start secret for its start-up route (src/dev/setup.ts); "" — the route
   * closed — unless ENVIRONMENT is "development".
   */
  readonly devSetupSecret: string;
  /** Retention of the webhook inbound log (src/webhooks/inbound-log.ts), enforced by the cron tick. */
  readonly webhookLog: {
    /** Requests kept per DAG, newest first: this many accepted ones and this many others. */
    readonly maxPerDag: number;
    readonly days: number;
  };
  /**
   * COORDINATOR_LOCATION_HINT: where a DAG's coordinator (Durable Object) is created — the region
   * of the D1 primary, so its D1 round trips stay short whoever triggers first (docs/latency.md).
   * Unset: Cloudflare places it near its first caller.
   */
  readonly coordinatorLocationHint: DurableObjectLocationHint | undefined;
  /**
   * Development only (ENVIRONMENT exactly "development"; `undefined` everywhere else, whatever is
   * set): milliseconds added to round trips so that a far sender's trigger can be measured on one
   * machine (src/dev/latency.ts), and the trigger's old path selectable per request for the comparison.
   */
  readonly latencyLab: LatencyLab | undefined;
};

/** Milliseconds each round trip takes in the simulation (SIMULATE_*_RTT_MS). */
export type SimulatedRoundTrips = {
  /** A Worker's query to the D1 primary. */
  readonly d1: number;
  /** A Worker's query in a D1 session that may use a read replica (the nearest). */
  readonly d1Replica: number;
  /** A Worker's call to a DAG's coordinator. */
  readonly coordinator: number;
  /** A coordinator's query to D1 (or call to another coordinator): next door when placed by the hint. */
  readonly coordinatorD1: number;
};

export type LatencyLab = { readonly roundTrips: SimulatedRoundTrips };

/** Seconds before retry n (Standard Webhooks' schedule): immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
export const DEFAULT_RETRY_SCHEDULE: readonly number[] = Object.freeze([0, 5, 300, 1800, 7200, 18000, 36000, 36000]);
const DEFAULT_ALERTS_TIMEOUT_MS = 15_000;
const DEFAULT_RUNNER_INSTANCES = 3;
const DEFAULT_WEBHOOK_LOG_MAX_PER_DAG = 1000;
const DEFAULT_WEBHOOK_LOG_DAYS = 14;
const MIN_PRODUCTION_SECRET_LENGTH = 32;
const DEV_FALLBACK_ENCRYPTION_KEY = "dagflare-development-only-encryption-key";

const ok = <T>(value: T): Setting<T> => ({ ok: true, value });
const problem = <T>(text: string): Setting<T> => ({ ok: false, problem: text });

const text = z.string().optional();
/** A number, or the default when unset, empty, zero or not a number. */
const numberOr = (fallback: number) => text.transform((raw) => Number(raw ?? fallback) || fallback);

const AuthModeSchema = z.enum(["builtin", "none"]);

const EnvSchema = z.object({
  ENVIRONMENT: text,
  AUTH_MODE: text,
  JWT_SECRET: text,
  ENCRYPTION_KEY: text,
  ADMIN_USERNAME: text,
  ADMIN_PASSWORD: text,
  RUNNER_URL: text,
  RUNNER_SECRET: text,
  RUNNER_INSTANCES: numberOr(DEFAULT_RUNNER_INSTANCES),
  PUBLIC_URL: text,
  DEPLOYMENT_NAME: text,
  ALERTS_TIMEOUT_MS: numberOr(DEFAULT_ALERTS_TIMEOUT_MS),
  ALERTS_RETRY_SCHEDULE: text,
  ALERTS_ALLOW_LOCAL_HTTP: text,
  STEPS_QUEUE_SERIAL: text,
  WEBHOOK_LOG_MAX_PER_DAG: numberOr(DEFAULT_WEBHOOK_LOG_MAX_PER_DAG),
  WEBHOOK_LOG_DAYS: numberOr(DEFAULT_WEBHOOK_LOG_DAYS),
  DEV_SETUP_SECRET: text,
  COORDINATOR_LOCATION_HINT: text,
  SIMULATE_D1_RTT_MS: text,
  SIMULATE_D1_REPLICA_RTT_MS: text,
  SIMULATE_DO_RTT_MS: text,
  SIMULATE_DO_D1_RTT_MS: text,
});

const LOCATION_HINTS = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"] as const;

function parseAuthMode(raw: string | undefined): Setting<AuthMode> {
  const mode = raw || "builtin";
  const parsed = AuthModeSchema.safeParse(mode);
  return parsed.success ? ok(parsed.data) : problem(`AUTH_MODE must be 'builtin' or 'none', not '${mode}'`);
}

function parseJwtSecret(secret: string, production: boolean): Setting<string> {
  if (secret.length >= (production ? MIN_PRODUCTION_SECRET_LENGTH : 1)) return ok(secret);
  // A development instance needs one too (`npm run dev` generates it), never a default.
  return problem(
    `builtin auth is disabled: JWT_SECRET is ${secret ? "shorter than 32 characters" : "not set"}. ` +
      "Set it with `wrangler secret put JWT_SECRET` (e.g. the output of `openssl rand -base64 48`).",
  );
}

function parseEncryptionKey(secret: string, production: boolean): Setting<string> {
  if (secret.length >= MIN_PRODUCTION_SECRET_LENGTH) return ok(secret);
  // Outside production a fixed key: `npm run dev` needs no setup and its local state survives restarts.
  if (!production) return ok(DEV_FALLBACK_ENCRYPTION_KEY);
  return problem(
    `encrypted settings are unavailable: ENCRYPTION_KEY is ${secret ? "shorter than 32 characters" : "not set"}. ` +
      "Set it with `wrangler secret put ENCRYPTION_KEY` (e.g. the output of `openssl rand -base64 48`).",
  );
}

/** Comma-separated seconds; anything that isn't a list of numbers ≥ 0 means the default. */
function parseRetrySchedule(raw: string | undefined): readonly number[] {
  // Empty is unset: [env.dev.vars] declares it empty so `npm run dev` can take it from the environment.
  const configured = raw?.trim() ? raw.split(",").map((part) => Number(part.trim())) : undefined;
  return configured?.every((seconds) => Number.isFinite(seconds) && seconds >= 0)
    ? Object.freeze(configured)
    : DEFAULT_RETRY_SCHEDULE;
}

function parseLocationHint(raw: string | undefined): DurableObjectLocationHint | undefined {
  const hint = raw?.trim().toLowerCase();
  if (!hint) return undefined;
  if ((LOCATION_HINTS as readonly string[]).includes(hint)) return hint as DurableObjectLocationHint;
  throw new Error(
    `invalid Worker configuration: COORDINATOR_LOCATION_HINT must be one of ${LOCATION_HINTS.join(", ")} (the D1 primary's region), not '${raw}'`,
  );
}

/**
 * The latency simulation, in development only: any other ENVIRONMENT — production's above all —
 * gets `undefined` however the SIMULATE_* variables are set, and its bindings are never wrapped.
 * Empty variables are unset; with none set there is no simulation either.
 */
function parseLatencyLab(vars: z.infer<typeof EnvSchema>): LatencyLab | undefined {
  if (vars.ENVIRONMENT !== "development") return undefined;
  const ms = (raw: string | undefined) => {
    const value = raw?.trim() ? Number(raw) : Number.NaN;
    return Number.isFinite(value) && value >= 0 ? value : undefined;
  };
  const d1 = ms(vars.SIMULATE_D1_RTT_MS);
  const d1Replica = ms(vars.SIMULATE_D1_REPLICA_RTT_MS);
  const coordinator = ms(vars.SIMULATE_DO_RTT_MS);
  const coordinatorD1 = ms(vars.SIMULATE_DO_D1_RTT_MS);
  if ([d1, d1Replica, coordinator, coordinatorD1].every((value) => value === undefined)) return undefined;
  return Object.freeze({
    roundTrips: Object.freeze({
      d1: d1 ?? 0,
      // No replica nearer than the primary unless said: what a database without read replication has.
      d1Replica: d1Replica ?? d1 ?? 0,
      coordinator: coordinator ?? 0,
      coordinatorD1: coordinatorD1 ?? 0,
    }),
  });
}

function alertSecrets(env: object): Readonly<Record<string, string>> {
  return Object.freeze(
    Object.fromEntries(
      Object.entries(env)
        .filter(([name]) => name.startsWith("ALERT_SECRET_"))
        .map(([name, value]) => [name, String(value ?? "")]),
    ),
  );
}

function parseConfig(env: Partial<Cloudflare.Env>): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    // Names the variable and what is expected; zod's messages don't repeat the value.
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid Worker configuration: ${issue.path.join(".")}: ${issue.message}`);
  }
  const vars = parsed.data;
  const production = vars.ENVIRONMENT === "production";
  return Object.freeze({
    environment: vars.ENVIRONMENT ?? "",
    production,
    authMode: parseAuthMode(vars.AUTH_MODE),
    jwtSecret: parseJwtSecret(vars.JWT_SECRET ?? "", production),
    encryptionKey: parseEncryptionKey(vars.ENCRYPTION_KEY ?? "", production),
    admin:
      vars.ADMIN_USERNAME && vars.ADMIN_PASSWORD
        ? Object.freeze({ username: vars.ADMIN_USERNAME, password: vars.ADMIN_PASSWORD })
        : undefined,
    runner: Object.freeze({
      url: vars.RUNNER_URL || undefined,
      secret: vars.RUNNER_SECRET ?? "",
      instances: vars.RUNNER_INSTANCES,
    }),
    alerts: Object.freeze({
      publicUrl: (vars.PUBLIC_URL ?? "").replace(/\/+$/, ""),
      deploymentName: vars.DEPLOYMENT_NAME ?? "",
      timeoutMs: vars.ALERTS_TIMEOUT_MS,
      retrySchedule: parseRetrySchedule(vars.ALERTS_RETRY_SCHEDULE),
      allowLocalHttp: vars.ALERTS_ALLOW_LOCAL_HTTP === "true",
      secrets: alertSecrets(env),
    }),
    steps: Object.freeze({ queueIsSerial: vars.STEPS_QUEUE_SERIAL === "true" }),
    devSetupSecret: vars.ENVIRONMENT === "development" ? (vars.DEV_SETUP_SECRET ?? "") : "",
    webhookLog: Object.freeze({
      maxPerDag: Math.max(1, Math.floor(vars.WEBHOOK_LOG_MAX_PER_DAG)),
      days: Math.max(1, vars.WEBHOOK_LOG_DAYS),
    }),
    coordinatorLocationHint: parseLocationHint(vars.COORDINATOR_LOCATION_HINT),
    latencyLab: parseLatencyLab(vars),
  });
}

// Per env object, not per isolate: tests (and nothing else) pass modified copies of env.
const parsedConfigs = new WeakMap<object, Config>();

/** The configuration of this env object, parsed on first use. */
export function config(env: Partial<Cloudflare.Env>): Config {
  let parsed = parsedConfigs.get(env);
  if (!parsed) {
    parsed = parseConfig(env);
    parsedConfigs.set(env, parsed);
  }
  return parsed;
}

/** The setting's value, or a 503 that says how to fix the deployment. */
export function usable<T>(setting: Setting<T>): T {
  if (setting.ok) return setting.value;
  throw new ApiError("service_unavailable", setting.problem);
}
