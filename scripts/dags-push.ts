/**
 * `npm run dags:push`: uploads the DAG files of a folder (default: dags/) to a running dagflare,
 * through its API: new DAGs are created, changed ones replaced, identical ones left alone.
 * Every file is validated locally first, with the Worker's own parser, and the server
 * validates again; nothing is deleted.
 *
 *   DAGFLARE_URL=https://dagflare.example.workers.dev DAGFLARE_API_KEY=dagu_… npm run dags:push [-- folder]
 *
 * The API key needs the manager role or higher.
 */
import { resolve } from "node:path";
import { readDagFiles } from "./lib/dag-files.ts";

const baseUrl = (process.env.DAGFLARE_URL ?? "").replace(/\/+$/, "");
const apiKey = process.env.DAGFLARE_API_KEY ?? "";
const folder = resolve(process.argv[2] ?? "dags");

if (!baseUrl || !apiKey) {
  console.error("Set DAGFLARE_URL (e.g. https://dagflare.<you>.workers.dev) and DAGFLARE_API_KEY (a manager API key).");
  process.exit(2);
}

type Answer = { status: number; body: unknown };

/** A field of a JSON answer, if the answer is an object that has it. */
const field = (body: unknown, name: string): unknown =>
  typeof body === "object" && body !== null ? Reflect.get(body, name) : undefined;

async function api(method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${baseUrl}/api/v2${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${apiKey}`,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep the text: a proxy or an outage may answer in HTML
  }
  return { status: response.status, body: parsed };
}

let failures = 0;
const files = await readDagFiles(folder);
if (files.length === 0) console.log(`no DAG files (*.yaml, *.yml) in ${folder}`);

for (const dag of files) {
  if (!dag.ok) {
    failures += 1;
    console.error(`✗ ${dag.file}\n    ${dag.errors.join("\n    ")}`);
    continue;
  }
  const { name, spec } = dag.record;
  const current = await api("GET", `/dags/${name}/spec`);
  let result: Answer;
  let action: string;
  if (current.status === 404) {
    action = "created";
    result = await api("POST", "/dags", { name, spec });
  } else if (current.status === 200 && field(current.body, "spec") === spec) {
    console.log(`= ${name} (unchanged)`);
    continue;
  } else if (current.status === 200) {
    action = "updated";
    result = await api("PUT", `/dags/${name}/spec`, { spec });
  } else {
    result = current;
    action = "";
  }
  if (result.status === 200 || result.status === 201) {
    console.log(`✓ ${name} (${action})`);
  } else {
    failures += 1;
    const message = field(result.body, "message") ?? String(result.body).slice(0, 200);
    console.error(`✗ ${name}: ${result.status} ${message}`);
  }
}

if (failures > 0) {
  console.error(`${failures} of ${files.length} DAG files were not pushed`);
  process.exit(1);
}
