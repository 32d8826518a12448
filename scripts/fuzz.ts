/**
 * `npm run fuzz`: malformed and hostile input to every operation of the OpenAPI document, on the
 * local stack (`npm run dev`: workerd, local D1, Durable Objects, queues and rate limiting).
 * Fails (exit 1) on any 5xx, a request that hangs (no answer in HANG_MS) or a reset connection —
 * except the 501 of an operation documented as not implemented, which is its answer.
 *
 * Phase 1, for every operation in the document (/api/v2/openapi.json, read from the running
 * stack), as an admin unless the case is about auth:
 *   malformed JSON, wrong content types, wrong types for each field, huge strings, deeply nested
 *   JSON, unknown fields, YAML bombs in spec fields (billion laughs, undefined and self aliases,
 *   deep nesting, 10,000 steps, 200 documents), bad path parameters (unicode, '..', 10 KB, NUL,
 *   percent garbage), bad query values, missing and garbage credentials, and bodies streamed
 *   chunked past the 1 MiB limit (3 MiB everywhere, 20 MiB on three operations).
 * Phase 2, until FUZZ_SECONDS have passed since the start: random operations with random
 *   combinations of those mutations.
 *
 * Reproducible: FUZZ_SEED (printed) fixes every choice; CONCURRENCY requests are in flight (the
 * order of the answers is the only thing that varies). Also printed: the time the stack takes to
 * refuse a 10,000-step spec, and to validate a 1,000-step chain (the step limit).
 *
 * Environment: FUZZ_SECONDS (120), FUZZ_SEED (17), CONCURRENCY (4), HANG_MS (15000),
 * SHOW_DEV_LOG=1 for the Worker's log.
 */
import { Agent, request } from "node:http";
import { startLocalInstance } from "./lib/local-instance.ts";

const FUZZ_SECONDS = Number(process.env.FUZZ_SECONDS ?? 120);
const SEED = Number(process.env.FUZZ_SEED ?? 17);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const HANG_MS = Number(process.env.HANG_MS ?? 15_000);
const MiB = 1024 * 1024;

type Schema = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: unknown[];
  format?: string;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  nullable?: boolean;
  minimum?: number;
  pattern?: string;
};
type Parameter = { name: string; in: "path" | "query" | "header"; schema?: Schema };
type Operation = {
  method: string;
  path: string;
  parameters: Parameter[];
  body: Schema | undefined;
  public: boolean;
  /** Documented as 501 not_implemented (a Dagu operation that has no meaning here): its 501 is the answer, not a fault. */
  notImplemented: boolean;
};
type Body = { text: string | Buffer; contentType?: string } | { chunked: number } | undefined;
type Case = { operation: Operation; name: string; path: string; headers: Record<string, string>; body: Body };
type Outcome = { status: number; text: string; ms: number } | { error: string; ms: number };

// ---------------------------------------------------------------------------------------------
// Reproducible choices.

/** mulberry32: small, fast and good enough to pick mutations. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

// ---------------------------------------------------------------------------------------------
// Hostile values.

const nested = (depth: number, open: string, close: string, inner = "1") =>
  `${open.repeat(depth)}${inner}${close.repeat(depth)}`;

const BILLION_LAUGHS = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
steps:
  - name: x
    command: echo
    env: *i
`;
const manySteps = (count: number) =>
  `type: graph\nsteps:\n${Array.from({ length: count }, (_, i) => `  - name: s${i}\n    command: e\n${i ? `    depends: s${i - 1}\n` : ""}`).join("")}`;

const YAML_BOMBS: Record<string, string> = {
  "billion laughs": BILLION_LAUGHS,
  "undefined alias": "steps:\n  - name: a\n    command: *nowhere\n",
  "alias inside its anchor": "steps: &s\n  - name: a\n    command: echo\n  - *s\n",
  "deep flow nesting": `steps:\n  - name: a\n    command: echo\n    env: ${nested(100_000, "[", "]")}\n`,
  "deep block nesting": `env:\n${Array.from({ length: 700 }, (_, depth) => `${" ".repeat(depth + 1)}-`).join("\n")} x\n`,
  "compact nesting": `env:\n  ${"- ".repeat(100_000)}x\n`,
  "10,000 shorthand steps": `steps:\n${"  - echo hi\n".repeat(10_000)}`,
  "10,000-step chain": manySteps(10_000).slice(0, 500_000),
  "1,000 steps in a cycle": `${manySteps(1000)}`.replace(
    "  - name: s0\n    command: e\n",
    "  - name: s0\n    command: e\n    depends: s999\n",
  ),
  "200 documents": Array.from({ length: 200 }, (_, i) => `name: d${i}\nsteps:\n  - call: d${i + 1}\n`).join("---\n"),
  "document call chain": Array.from(
    { length: 99 },
    (_, i) => `${i ? `name: d${i}\n` : ""}steps:\n  - call: d${i + 1}\n`,
  ).join("---\n"),
  "many anchors": `env:\n${Array.from({ length: 5000 }, (_, i) => `  - &a${i} K${i}=v`).join("\n")}\nsteps:\n  - echo\n`,
  "tags and merge keys": "base: &b {command: echo}\nsteps:\n  - <<: *b\n    name: !!binary aGk=\n  - !!set {a, b}\n",
  "huge scalar": `steps:\n  - name: a\n    command: "${"x".repeat(500_000)}"\n`,
  "binary garbage": "\u0000\u0001\u0002\ud800steps:\n\t- \u202e",
  "json spec": JSON.stringify({ steps: [{ name: "a", command: "echo" }] }),
  "duplicate keys": "steps: []\nsteps: []\n",
};

const BAD_PATH_VALUES: Record<string, string> = {
  unicode: encodeURIComponent("dåg-🙂-\u202e"),
  "dot dot": "..",
  "dot dot slash": "../../etc/passwd",
  "encoded dot dot": "%2e%2e%2f%2e%2e",
  "10 KB": "a".repeat(10 * 1024),
  NUL: "%00",
  "bad percent": "%zz%",
  "encoded slash": "a%2Fb",
  empty: "",
  space: "%20",
  number: "-1",
  uuidish: "00000000-0000-0000-0000-000000000000",
};

const WRONG_TYPES: unknown[] = [123, -1.5, true, null, [], {}, "str", [1, "a", null], { a: { b: [] } }, 1e308];

const MALFORMED_BODIES: Record<string, string | Buffer> = {
  "truncated JSON": '{"name": "x", ',
  "trailing garbage": '{"a":1}}',
  "just a brace": "{",
  "JSON null": "null",
  "JSON array": "[]",
  "JSON string": '"text"',
  "JSON number": "12345678901234567890123",
  "invalid UTF-8": Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
  "UTF-8 BOM": `\ufeff{"a":1}`,
  "lone surrogate": '{"name": "\\ud800"}',
  "deep arrays": nested(100_000, "[", "]"),
  "deep objects": nested(50_000, '{"a":', "}"),
  "prototype keys": '{"__proto__": {"admin": true}, "constructor": {"prototype": {}}}',
  "empty body": "",
};

const AUTH_VARIANTS: Record<string, string | undefined> = {
  "no credentials": undefined,
  "garbage bearer": "Bearer garbage",
  "API-key-shaped": `Bearer dagu_${"1".repeat(44)}`,
  "webhook-token-shaped": `Bearer dagu_wh_${"1".repeat(44)}`,
  "alg none JWT": `Bearer ${Buffer.from('{"alg":"none","typ":"JWT"}').toString("base64url")}.${Buffer.from('{"sub":"admin","exp":9999999999}').toString("base64url")}.`,
  "10 KB bearer": `Bearer ${"x".repeat(10 * 1024)}`,
  basic: `Basic ${Buffer.from("admin:admin").toString("base64")}`,
  "empty bearer": "Bearer ",
};

// ---------------------------------------------------------------------------------------------
// The document.

function operationsOf(document: Record<string, unknown>): Operation[] {
  const paths = document.paths as Record<string, Record<string, Record<string, unknown>>>;
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(paths)) {
    for (const [method, spec] of Object.entries(methods)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      const content = (spec.requestBody as { content?: Record<string, { schema: Schema }> } | undefined)?.content;
      operations.push({
        method: method.toUpperCase(),
        path,
        parameters: (spec.parameters as Parameter[] | undefined) ?? [],
        body: content?.["application/json"]?.schema,
        public: Array.isArray(spec.security) && spec.security.length === 0,
        notImplemented: Object.hasOwn((spec.responses as Record<string, unknown> | undefined) ?? {}, "501"),
      });
    }
  }
  return operations;
}

function resolver(document: Record<string, unknown>) {
  const schemas = ((document.components as Record<string, unknown> | undefined)?.schemas ?? {}) as Record<
    string,
    Schema
  >;
  const resolve = (schema: Schema | undefined): Schema => {
    let current = schema ?? {};
    for (let hops = 0; current.$ref && hops < 20; hops++) current = schemas[current.$ref.split("/").at(-1)!] ?? {};
    return current;
  };
  /** A plausible value: the fuzz mutates a body that is otherwise well formed. */
  const sample = (schema: Schema | undefined, depth = 0): unknown => {
    const resolved = resolve(schema);
    const variant = resolved.anyOf ?? resolved.oneOf;
    if (variant) return sample(variant[0], depth);
    if (resolved.allOf) return Object.assign({}, ...resolved.allOf.map((part) => sample(part, depth)));
    if (resolved.enum) return resolved.enum[0];
    const type = Array.isArray(resolved.type) ? resolved.type[0] : resolved.type;
    if (type === "string") return resolved.format === "uuid" ? crypto.randomUUID() : "fuzz";
    if (type === "integer" || type === "number") return resolved.minimum ?? 1;
    if (type === "boolean") return true;
    if (type === "array") return depth > 4 ? [] : [sample(resolved.items, depth + 1)];
    if (type === "object" || resolved.properties) {
      if (depth > 4) return {};
      return Object.fromEntries(
        Object.entries(resolved.properties ?? {}).map(([key, property]) => [key, sample(property, depth + 1)]),
      );
    }
    return "fuzz";
  };
  return { resolve, sample };
}

// ---------------------------------------------------------------------------------------------
// Requests: node's http client, so paths go out as written ('..' included) and bodies can stream.

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });

function send(base: URL, item: Case): Promise<Outcome> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  return new Promise((done) => {
    const headers: Record<string, string> = { ...item.headers };
    const body = item.body;
    if (body && "text" in body) {
      headers["Content-Type"] ??= body.contentType ?? "application/json";
      headers["Content-Length"] = String(Buffer.byteLength(body.text));
    } else if (body) headers["Content-Type"] ??= "application/json";
    const req = request({
      agent,
      host: base.hostname,
      port: base.port,
      method: item.operation.method,
      path: `${base.pathname}${item.path}`,
      headers,
    });
    let settled = false;
    const finish = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      done(outcome);
    };
    const timer = setTimeout(() => {
      req.destroy();
      finish({ error: `hang: no answer in ${HANG_MS} ms`, ms: ms() });
    }, HANG_MS);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => finish({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), ms: ms() }));
      res.on("error", (error) => finish({ error: `response: ${error.message}`, ms: ms() }));
    });
    req.on("error", (error) => finish({ error: `connection: ${error.message}`, ms: ms() }));
    if (body && "chunked" in body) {
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const write = () => {
        while (sent < body.chunked && !settled) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once("drain", write);
        }
        req.end();
      };
      write();
    } else {
      req.end(body?.text);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Cases.

type Fixture = { dag: string; userId: string; runId: string; alertId: string };

function pathFor(operation: Operation, fixture: Fixture, override?: [string, string]): string {
  const known: Record<string, string> = {
    fileName: fixture.dag,
    name: fixture.dag,
    dagRunId: fixture.runId,
    id: fixture.userId,
    policyId: fixture.alertId,
    stepName: "hello",
    subDAGRunId: fixture.runId,
    deliveryId: fixture.alertId,
  };
  return operation.path.replace(/\{(\w+)\}/g, (_, name: string) =>
    override && override[0] === name ? override[1] : encodeURIComponent(known[name] ?? "fuzz"),
  );
}

function casesFor(operation: Operation, fixture: Fixture, admin: string, sample: ReturnType<typeof resolver>): Case[] {
  const asAdmin = { Authorization: `Bearer ${admin}` };
  const path = pathFor(operation, fixture);
  const base = operation.body ? sample.sample(operation.body) : undefined;
  const json = (value: unknown): Body => ({ text: JSON.stringify(value) });
  const cases: Case[] = [];
  const add = (name: string, body: Body, options: { path?: string; headers?: Record<string, string> } = {}) =>
    cases.push({
      operation,
      name,
      path: options.path ?? path,
      headers: options.headers ?? asAdmin,
      body,
    });

  add("plausible body", base === undefined ? undefined : json(base));
  for (const [name, authorization] of Object.entries(AUTH_VARIANTS)) {
    add(`auth: ${name}`, base === undefined ? undefined : json(base), {
      headers: authorization ? { Authorization: authorization } : {},
    });
  }
  for (const [name, value] of Object.entries(BAD_PATH_VALUES)) {
    for (const parameter of operation.path.match(/\{(\w+)\}/g) ?? []) {
      add(`path ${parameter} ${name}`, base === undefined ? undefined : json(base), {
        path: pathFor(operation, fixture, [parameter.slice(1, -1), value]),
      });
    }
  }
  for (const parameter of operation.parameters.filter((each) => each.in === "query")) {
    for (const value of ["-1", "0", "1e309", "NaN", "x".repeat(10_000), "%00", "[]", "true", "9".repeat(400)]) {
      add(`query ${parameter.name}=${value.slice(0, 12)}`, undefined, {
        path: `${path}?${parameter.name}=${value}&${parameter.name}=again`,
      });
    }
  }
  if (base === undefined) {
    // A body where none is expected is ignored or refused, never a 5xx.
    add("unexpected body", { text: MALFORMED_BODIES["deep arrays"]! });
    return cases;
  }
  for (const [name, text] of Object.entries(MALFORMED_BODIES)) add(`body: ${name}`, { text });
  for (const contentType of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""]) {
    add(`content type '${contentType}'`, { text: JSON.stringify(base), contentType });
  }
  if (typeof base === "object" && base !== null && !Array.isArray(base)) {
    const fields = Object.keys(base);
    for (const field of fields) {
      add(`field ${field}: wrong type`, json({ ...base, [field]: pick(WRONG_TYPES) }));
      add(`field ${field}: 200 KB string`, json({ ...base, [field]: "x".repeat(200 * 1024) }));
      add(`field ${field}: deep nesting`, {
        text: JSON.stringify({ ...base, [field]: 0 }).replace(":0", `:${nested(20_000, "[", "]")}`),
      });
      add(`field ${field}: missing`, json(Object.fromEntries(Object.entries(base).filter(([key]) => key !== field))));
      if (/spec|template|body|yaml|params/i.test(field)) {
        for (const [name, yaml] of Object.entries(YAML_BOMBS))
          add(`field ${field}: ${name}`, json({ ...base, [field]: yaml }));
      }
    }
    const rest = JSON.stringify(base).slice(1);
    const extra = '{"__proto__": {"polluted": true}, "constructor": "x", "zzUnknown": 1';
    add("unknown fields", { text: rest === "}" ? `${extra}}` : `${extra},${rest}` });
  }
  add("chunked 3 MiB", { chunked: 3 * MiB });
  return cases;
}

/** A random mutation of a random operation: phase 2. */
function randomCase(
  operations: Operation[],
  fixture: Fixture,
  admin: string,
  sample: ReturnType<typeof resolver>,
): Case {
  const operation = pick(operations);
  const baseline = pathFor(operation, fixture);
  const base = casesFor(operation, fixture, admin, sample).filter(
    (each) => !(each.body && "chunked" in each.body) && !(operation.method === "DELETE" && each.path === baseline),
  );
  if (base.length === 0) return randomCase(operations, fixture, admin, sample);
  const chosen = pick(base);
  if (random() < 0.3 && chosen.body && "text" in chosen.body && typeof chosen.body.text === "string") {
    // Flip bytes of the body: whatever breaks the JSON or the YAML inside it.
    const bytes = Buffer.from(chosen.body.text);
    for (let flips = 1 + Math.floor(random() * 4); flips > 0 && bytes.length > 0; flips--) {
      bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    }
    return { ...chosen, name: `${chosen.name} + flipped bytes`, body: { text: bytes } };
  }
  return chosen;
}

// ---------------------------------------------------------------------------------------------

const started = performance.now();
const elapsed = () => (performance.now() - started) / 1000;
console.log(`fuzz: seed ${SEED} (FUZZ_SEED), ${FUZZ_SECONDS} s (FUZZ_SECONDS), concurrency ${CONCURRENCY}`);
const instance = await startLocalInstance();
const base = new URL(instance.api);
const adminHeaders = { Authorization: `Bearer ${instance.token}`, "Content-Type": "application/json" };
const failures: string[] = [];
const byStatus = new Map<string, number>();
let sent = 0;
let slowest = { ms: 0, what: "" };

try {
  const document = (await (await fetch(`${instance.api}/openapi.json`)).json()) as Record<string, unknown>;
  const operations = operationsOf(document);
  const schemas = resolver(document);

  // Things for the paths to name, so the fuzz reaches past the 404s.
  const dag = "fuzz-dag";
  await fetch(`${instance.api}/dags`, {
    method: "POST",
    headers: adminHeaders,
    body: JSON.stringify({ name: dag, spec: "steps:\n  - name: hello\n    command: echo hi\n" }),
  });
  await fetch(`${instance.api}/dags/${dag}/webhook`, { method: "POST", headers: adminHeaders });
  const run = (await (
    await fetch(`${instance.api}/dags/${dag}/start`, { method: "POST", headers: adminHeaders, body: "{}" })
  ).json()) as { dagRunId?: string };
  const fixture: Fixture = {
    dag,
    runId: run.dagRunId ?? "fuzz-run",
    // Not the admin itself: a lucky body must not take away the fuzz's own access.
    userId: crypto.randomUUID(),
    alertId: crypto.randomUUID(),
  };

  // The step limit's cost as the stack sees it (issue 17: ≤ 1 s), before the load starts.
  const timed = async (spec: string) => {
    const t = performance.now();
    const response = await fetch(`${instance.api}/dags/validate`, {
      method: "POST",
      headers: adminHeaders,
      body: JSON.stringify({ spec }),
    });
    const result = (await response.json()) as { valid?: boolean; errors?: string[] };
    return `${Math.round(performance.now() - t)} ms (${result.valid ? "valid" : (result.errors?.[0] ?? response.status)})`;
  };
  console.log(`10,000-step spec (shorthand, 139 KB): ${await timed(YAML_BOMBS["10,000 shorthand steps"]!)}`);
  console.log(`10,000-step chain, first 500 KB: ${await timed(YAML_BOMBS["10,000-step chain"]!)}`);
  console.log(`1,000-step chain of depends (the limit): ${await timed(manySteps(1000))}`);

  // Deletes last: a plausible DELETE removes what the other cases' paths name.
  const ordered = [...operations].sort((a, b) => Number(a.method === "DELETE") - Number(b.method === "DELETE"));
  const queue: Case[] = ordered.flatMap((operation) => casesFor(operation, fixture, instance.token, schemas));
  // Three whole 20 MiB uploads, chunked: the case the issue saw reset instead of 413.
  for (const [method, path] of [
    ["POST", "/dags"],
    ["POST", "/auth/login"],
    ["POST", "/webhooks/{fileName}"],
  ]) {
    const operation = operations.find((each) => each.method === method && each.path === path);
    if (operation)
      queue.push({
        operation,
        name: "chunked 20 MiB",
        path: pathFor(operation, fixture),
        headers: { Authorization: `Bearer ${instance.token}` },
        body: { chunked: 20 * MiB },
      });
  }
  const planned = queue.length;
  console.log(`${operations.length} operations, ${planned} planned cases, then random mutations`);

  const next = (): Case | undefined => {
    const item = queue.shift();
    if (item) return item;
    return elapsed() < FUZZ_SECONDS ? randomCase(operations, fixture, instance.token, schemas) : undefined;
  };
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let item = next(); item; item = next()) {
        const outcome = await send(base, item);
        sent++;
        const what = `${item.operation.method} ${item.operation.path} [${item.name}]`;
        if (outcome.ms > slowest.ms) slowest = { ms: outcome.ms, what };
        const key = "status" in outcome ? String(outcome.status) : outcome.error.split(":")[0]!;
        byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
        const documented501 = "status" in outcome && outcome.status === 501 && item.operation.notImplemented;
        if ("error" in outcome || (outcome.status >= 500 && !documented501)) {
          const detail = "error" in outcome ? outcome.error : `${outcome.status} ${outcome.text.slice(0, 300)}`;
          failures.push(`${what} → ${detail}`);
        }
        if (sent % 1000 === 0)
          console.log(`  ${sent} requests, ${Math.round(elapsed())} s, ${failures.length} failures`);
      }
    }),
  );
  // Still standing after all that.
  const health = await fetch(`${instance.api}/health`);
  if (!health.ok) failures.push(`GET /health after the fuzz → ${health.status}`);
} finally {
  agent.destroy();
  await instance.stop();
}

const statuses = [...byStatus].sort(([a], [b]) => a.localeCompare(b)).map(([status, count]) => `${status}: ${count}`);
console.log(`\nseed ${SEED}: ${sent} requests in ${elapsed().toFixed(1)} s; by status ${statuses.join(", ")}`);
console.log(`slowest: ${slowest.ms} ms, ${slowest.what}`);
const serverErrors = failures.length;
console.log(`5xx, hangs and resets: ${serverErrors}`);
for (const failure of failures.slice(0, 50)) console.log(`  ${failure}`);
if (serverErrors > 0) process.exit(1);
