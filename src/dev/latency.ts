/**
 * The latency lab: a far sender's trigger, on one machine (issue 20, docs/latency.md). In
 * development only, and only when a SIMULATE_*_RTT_MS variable is set (src/config.ts), the
 * Worker's D1 and coordinator bindings are wrapped so that every round trip through them takes
 * the simulated time and is recorded; production's bindings are never wrapped.
 *
 * One seam: `labEnv` wraps `env.DB` (queries, batches and the sessions of `withSession`) and
 * `env.COORDINATOR` (every call on a stub it hands out). Nothing else in the code sleeps or counts.
 * Half of a round trip's time passes before the call and half after, as a request's and its
 * answer's flight would: a replica read and a concurrent change race as they would over a network.
 *
 * A request's own round trips are summed up on its response (ROUND_TRIPS_HEADER). Its
 * coordinator's D1 round trips are counted in too when the coordinator runs in the same isolate
 * (workerd locally: one isolate per Worker, Durable Objects included) — by time, so they are
 * exact for requests sent one at a time, as bench:latency and the tests send them.
 */
import { config, type LatencyLab } from "../config.ts";

/** On a response in the lab: the round trips its request made, e.g. `sequential=1; d1=0; d1-replica=0; coordinator=1; coordinator-d1=1`. */
export const ROUND_TRIPS_HEADER = "X-Dagflare-Round-Trips";
/**
 * In the lab only: `legacy` takes the trigger's path before issue 20 (the webhook read from the
 * D1 primary, then the coordinator), `replica` skips this isolate's remembered copy (a cold
 * isolate). For bench:latency's comparison within one run.
 */
export const TRIGGER_PATH_HEADER = "X-Dagflare-Trigger-Path";

export type RoundTripKind = "d1" | "d1-replica" | "coordinator" | "coordinator-d1";
export type RoundTrip = { kind: RoundTripKind; began: number; ended: number };

/** The coordinators' own round trips in this isolate, latest last (a request picks out those within its calls). */
const coordinatorTrips: RoundTrip[] = [];
const MAX_COORDINATOR_TRIPS = 1000;

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/** The lab's settings for this env, or `undefined` (production, or nothing simulated). */
export function latencyLab(env: Cloudflare.Env): LatencyLab | undefined {
  try {
    return config(env).latencyLab;
  } catch {
    return undefined; // a misconfiguration: the API reports it in its own envelope
  }
}

type Recorder = (trip: RoundTrip) => void;

/** Runs `call` as one round trip of `ms`: half before, half after, recorded with its kind. */
async function roundTrip<T>(kind: RoundTripKind, ms: number, record: Recorder, call: () => Promise<T>): Promise<T> {
  const began = Date.now();
  try {
    if (ms > 0) await sleep(ms / 2);
    return await call();
  } finally {
    if (ms > 0) await sleep(ms / 2);
    record({ kind, began, ended: Date.now() });
  }
}

/** Prepared statements wrapped by `wrapDatabase`, to their originals (for `batch`). */
const originals = new WeakMap<object, D1PreparedStatement>();
const STATEMENT_ROUND_TRIPS = new Set<PropertyKey>(["first", "all", "run", "raw"]);

function wrapStatement(
  real: D1PreparedStatement,
  trip: <T>(call: () => Promise<T>) => Promise<T>,
): D1PreparedStatement {
  const wrapped = new Proxy(real, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== "function") return value;
      if (property === "bind")
        return (...values: unknown[]) => wrapStatement(value.apply(target, values) as D1PreparedStatement, trip);
      if (STATEMENT_ROUND_TRIPS.has(property))
        return (...args: unknown[]) => trip(() => value.apply(target, args) as Promise<unknown>);
      return value.bind(target);
    },
  });
  originals.set(wrapped, real);
  return wrapped;
}

/** A D1 database or session whose queries and batches are round trips of `kind`. */
function wrapDatabase<D extends D1Database | D1DatabaseSession>(
  db: D,
  kind: RoundTripKind,
  settings: { ms: (kind: RoundTripKind) => number; record: Recorder; sessions: boolean },
): D {
  const trip = <T>(call: () => Promise<T>) => roundTrip(kind, settings.ms(kind), settings.record, call);
  return new Proxy(db, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== "function") return value;
      switch (property) {
        case "prepare":
          return (query: string) => wrapStatement(value.call(target, query) as D1PreparedStatement, trip);
        case "batch":
          return (statements: D1PreparedStatement[]) =>
            trip(() =>
              value.call(
                target,
                statements.map((statement) => originals.get(statement) ?? statement),
              ),
            );
        case "exec":
          return (query: string) => trip(() => value.call(target, query) as Promise<unknown>);
        case "withSession":
          if (!settings.sessions) break;
          // Only "first-primary" is sure to be served by the primary; anything else may be a replica.
          return (constraint?: string) =>
            wrapDatabase(
              value.call(target, constraint) as D1DatabaseSession,
              constraint === "first-primary" ? kind : "d1-replica",
              settings,
            );
      }
      return value.bind(target);
    },
  });
}

/** A coordinator namespace whose stubs make every call a round trip of `kind`. */
function wrapCoordinators(
  namespace: Cloudflare.Env["COORDINATOR"],
  kind: RoundTripKind,
  ms: number,
  record: Recorder,
): Cloudflare.Env["COORDINATOR"] {
  const wrapStub = (stub: object) =>
    new Proxy(stub, {
      get(target, property) {
        // The stub's own fields; `then` so that the stub is never taken for a promise.
        if (typeof property === "symbol" || property === "id" || property === "name" || property === "then")
          return Reflect.get(target, property);
        return (...args: unknown[]) =>
          roundTrip(kind, ms, record, async () =>
            Reflect.apply(Reflect.get(target, property) as (...args: unknown[]) => unknown, target, args),
          );
      },
    });
  return new Proxy(namespace, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== "function") return value;
      if (property === "get" || property === "getByName")
        return (...args: unknown[]) => wrapStub(value.apply(target, args) as object);
      return value.bind(target);
    },
  });
}

/** What the lab made of a request's env: the wrapped env, and the round trips recorded so far. */
export type LabRequest = { env: Cloudflare.Env; trips: RoundTrip[] };

/** The Worker's env for one request, wrapped; `undefined` outside the lab (the env is used as it is). */
export function labRequest(env: Cloudflare.Env): LabRequest | undefined {
  const lab = latencyLab(env);
  if (!lab) return undefined;
  const trips: RoundTrip[] = [];
  const record: Recorder = (trip) => void trips.push(trip);
  const { roundTrips } = lab;
  const ms = (kind: RoundTripKind) => (kind === "d1-replica" ? roundTrips.d1Replica : roundTrips.d1);
  return {
    trips,
    env: {
      ...env,
      DB: wrapDatabase(env.DB, "d1", { ms, record, sessions: true }),
      COORDINATOR: wrapCoordinators(env.COORDINATOR, "coordinator", roundTrips.coordinator, record),
    },
  };
}

/**
 * A coordinator's env in the lab: its D1 queries and its calls to other coordinators are round
 * trips of SIMULATE_DO_D1_RTT_MS (a coordinator placed next to the D1 primary: short).
 */
export function labCoordinatorEnv(env: Cloudflare.Env): Cloudflare.Env {
  const lab = latencyLab(env);
  if (!lab) return env;
  const record: Recorder = (trip) => {
    coordinatorTrips.push(trip);
    if (coordinatorTrips.length > MAX_COORDINATOR_TRIPS) coordinatorTrips.shift();
  };
  const ms = lab.roundTrips.coordinatorD1;
  return {
    ...env,
    DB: wrapDatabase(env.DB, "coordinator-d1", { ms: () => ms, record, sessions: false }),
    COORDINATOR: wrapCoordinators(env.COORDINATOR, "coordinator-d1", ms, record),
  };
}

/** The most round trips of `trips` that follow one another without overlapping: those the request waited for in turn. */
export function sequentialRoundTrips(trips: readonly RoundTrip[]): number {
  let count = 0;
  let free = Number.NEGATIVE_INFINITY;
  for (const trip of [...trips].sort((a, b) => a.ended - b.ended)) {
    if (trip.began < free) continue;
    count++;
    free = trip.ended;
  }
  return count;
}

/** The round trips of a request: its own, and its coordinators' own made during its calls to them. */
export function summarise(trips: readonly RoundTrip[]): Record<RoundTripKind | "sequential", number> {
  const calls = trips.filter((trip) => trip.kind === "coordinator");
  const within = coordinatorTrips.filter((inner) =>
    calls.some((call) => inner.began >= call.began && inner.ended <= call.ended),
  );
  const count = (kind: RoundTripKind) => trips.filter((trip) => trip.kind === kind).length;
  return {
    sequential: sequentialRoundTrips(trips),
    d1: count("d1"),
    "d1-replica": count("d1-replica"),
    coordinator: count("coordinator"),
    "coordinator-d1": within.length,
  };
}

/** The response with ROUND_TRIPS_HEADER: the round trips its request made before it was answered. */
export function withRoundTrips(response: Response, trips: readonly RoundTrip[]): Response {
  const summary = Object.entries(summarise(trips))
    .map(([kind, count]) => `${kind}=${count}`)
    .join("; ");
  const annotated = new Response(response.body, response);
  annotated.headers.set(ROUND_TRIPS_HEADER, summary);
  return annotated;
}

/** Parses ROUND_TRIPS_HEADER (for the tests and bench:latency). */
export function parseRoundTrips(header: string | null): Record<string, number> {
  return Object.fromEntries(
    (header ?? "")
      .split(";")
      .map((part) => part.trim().split("="))
      .filter((pair) => pair.length === 2)
      .map(([kind, count]) => [kind!, Number(count)]),
  );
}
