/**
 * Dagu's system operations: the queues, Prometheus metrics, and the operations that have no
 * meaning on Workers, which answer 501 `not_implemented` saying why (a Dagu client gets a clear
 * refusal, not a 404 that reads like a typo).
 */
import { z } from "@hono/zod-openapi";
import packageJson from "../../package.json" with { type: "json" };
import { listActiveRuns, runMetrics } from "../db/runs.ts";
import { parseDagSpec } from "../domain/dag-spec.ts";
import { RUN_STATUS, runStatusLabel } from "../domain/status.ts";
import { STEP_DURATION_BUCKETS } from "../domain/step-durations.ts";
import { ApiError } from "../errors.ts";
import { createRouter, errorResponse, jsonResponse, roleRoute } from "./router.ts";
import { RunSummarySchema } from "./schemas.ts";
import { runSummary } from "./views/run.ts";

const QueueSchema = z
  .object({
    name: z.string().openapi({ description: "The DAG's name: each DAG is its own queue" }),
    type: z.enum(["global", "dag-based"]),
    maxConcurrency: z
      .number()
      .int()
      .min(1)
      .optional()
      .openapi({ description: "The DAG's maxActiveRuns; absent when unlimited (-1)" }),
    runningCount: z.number().int().openapi({ description: "Dagu 2.x's field: running.length" }),
    queuedCount: z.number().int().openapi({ description: "Dagu 2.x's field: queued.length" }),
    running: z.array(RunSummarySchema),
    queued: z.array(RunSummarySchema),
  })
  .openapi("Queue");

const queues = roleRoute("viewer", {
  method: "get",
  path: "/queues",
  tags: ["system"],
  summary: "The DAGs with running or queued runs: each DAG is a queue bounded by its maxActiveRuns",
  responses: {
    200: jsonResponse(
      "Queues",
      z
        .object({
          queues: z.array(QueueSchema),
          summary: z.object({
            totalQueues: z.number().int(),
            totalRunning: z.number().int(),
            totalQueued: z.number().int(),
            totalCapacity: z.number().int(),
            utilizationPercentage: z.number(),
          }),
        })
        .openapi("QueuesResponse"),
    ),
  },
});

const metrics = roleRoute("viewer", {
  method: "get",
  path: "/metrics",
  tags: ["system"],
  summary:
    "Prometheus metrics (text format) from D1: runs by status, DAG and trigger, run and step durations, alert deliveries",
  responses: {
    200: { description: "Prometheus text exposition format 0.0.4", content: { "text/plain": { schema: z.string() } } },
  },
});

/** Upper bounds (seconds) of the run duration histogram. */
const DURATION_BUCKETS = [1, 5, 15, 60, 300, 900, 3600, 14400, 86400] as const;

/** The operations of Dagu's API that describe machinery dagflare doesn't have, and why. */
const NOT_ON_WORKERS: { method: "get" | "post"; path: string; why: string }[] = [
  {
    method: "get",
    path: "/workers",
    why: "dagflare has no worker processes: steps run on Cloudflare Queues consumers and Containers",
  },
  {
    method: "get",
    path: "/services/resources/history",
    why: "a Worker has no host whose CPU, memory and disk could be sampled; see Workers Observability",
  },
  {
    method: "get",
    path: "/services/scheduler",
    why: "the scheduler is Cloudflare's cron trigger, not a service with instances to report",
  },
  {
    method: "get",
    path: "/services/coordinator",
    why: "there is no coordinator service: each DAG's Durable Object coordinates its runs",
  },
  ...(["approve", "reject"] as const).flatMap((action) =>
    [
      "/dag-runs/{name}/{dagRunId}/steps/{stepName}",
      "/dag-runs/{name}/{dagRunId}/sub-dag-runs/{subDAGRunId}/steps/{stepName}",
    ].map((path) => ({
      method: "post" as const,
      path: `${path}/${action}`,
      why: "dagflare has no approval (human-in-the-loop) steps: a DAG with `approval:` is refused when saved",
    })),
  ),
] as const;

export const systemRoutes = createRouter()
  .openapi(queues, async (c) => {
    type Summary = ReturnType<typeof runSummary>;
    const byDag = new Map<string, { running: Summary[]; queued: Summary[]; limit: number }>();
    for (const row of await listActiveRuns(c.env.DB)) {
      let queue = byDag.get(row.dag_name);
      if (!queue) {
        const parsed = parseDagSpec(row.dag_spec, { fileName: row.dag_name });
        queue = { running: [], queued: [], limit: parsed.ok ? parsed.spec.maxActiveRuns : 1 };
        byDag.set(row.dag_name, queue);
      }
      (row.status === RUN_STATUS.running ? queue.running : queue.queued).push(runSummary(row));
    }
    const list = [...byDag].map(([name, { running, queued, limit }]) => ({
      name,
      type: "dag-based" as const,
      ...(limit > 0 && { maxConcurrency: limit }),
      runningCount: running.length,
      queuedCount: queued.length,
      running,
      queued,
    }));
    const totalRunning = list.reduce((sum, queue) => sum + queue.running.length, 0);
    const totalCapacity = list.reduce((sum, queue) => sum + (queue.maxConcurrency ?? queue.running.length), 0);
    return c.json(
      {
        queues: list,
        summary: {
          totalQueues: list.length,
          totalRunning,
          totalQueued: list.reduce((sum, queue) => sum + queue.queued.length, 0),
          totalCapacity,
          utilizationPercentage: totalCapacity === 0 ? 0 : Math.min(100, (totalRunning / totalCapacity) * 100),
        },
      },
      200,
    );
  })
  .openapi(metrics, async (c) => {
    const text = prometheusText(await runMetrics(c.env.DB, { runs: DURATION_BUCKETS, steps: STEP_DURATION_BUCKETS }));
    return c.text(text, 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
  });

for (const { method, path, why } of NOT_ON_WORKERS) {
  systemRoutes.openapi(
    roleRoute("viewer", {
      method,
      path,
      tags: ["not implemented"],
      summary: `Dagu's ${method.toUpperCase()} ${path}: 501 on dagflare — ${why}`,
      responses: { 501: errorResponse(`Not implemented: ${why}`) },
    }),
    () => {
      throw new ApiError("not_implemented", `${method.toUpperCase()} ${path} is not implemented: ${why}`);
    },
  );
}

type Sample = { labels?: Record<string, string>; value: number };

/** A label value escaped as the text format wants (backslash, quote, newline). */
const labelValue = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** One sample line: `name{labels} value`, without braces when there are no labels. */
function sample(name: string, labels: Record<string, string> | undefined, value: number): string {
  const pairs = Object.entries(labels ?? {}).map(([key, text]) => `${key}="${labelValue(text)}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(",")}}` : ""} ${value}`;
}

function family(name: string, type: "gauge" | "counter", help: string, samples: Sample[]): string {
  return [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} ${type}`,
    ...samples.map(({ labels, value }) => sample(name, labels, value)),
  ].join("\n");
}

/** One series of a histogram: its labels, cumulative counts at each bound, and every observation's count and sum. */
type HistogramSeries = {
  labels?: Record<string, string>;
  buckets: { le: number; n: number }[];
  count: number;
  sum: number;
};

/** A histogram family: per series its `_bucket`s (ending with `+Inf`, which is `_count`), `_sum` and `_count`. */
function histogramFamily(name: string, help: string, series: HistogramSeries[]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
  for (const { labels, buckets, count, sum } of series) {
    for (const { le, n } of buckets) lines.push(sample(`${name}_bucket`, { ...labels, le: String(le) }, n));
    lines.push(
      sample(`${name}_bucket`, { ...labels, le: "+Inf" }, count),
      sample(`${name}_sum`, labels, sum),
      sample(`${name}_count`, labels, count),
    );
  }
  return lines.join("\n");
}

/**
 * The metrics in Prometheus' text format. Dagu's names where Dagu has the metric (a scraper set up
 * for Dagu keeps working); dagflare_* for what only dagflare measures.
 */
export function prometheusText(m: Awaited<ReturnType<typeof runMetrics>>): string {
  const count = (status: number) => m.byStatus.find((row) => row.status === status)?.n ?? 0;
  const label = (status: number) => runStatusLabel(status) ?? String(status);
  return `${[
    family("dagu_info", "gauge", "Build information", [
      { labels: { version: `dagflare ${packageJson.version}` }, value: 1 },
    ]),
    family("dagu_dags_total", "gauge", "Number of DAGs", [{ value: m.dags }]),
    family("dagu_dag_runs_currently_running", "gauge", "Number of currently running DAG runs", [
      { value: count(RUN_STATUS.running) },
    ]),
    family("dagu_dag_runs_queued_total", "gauge", "Number of DAG runs waiting in a queue", [
      { value: count(RUN_STATUS.queued) },
    ]),
    family(
      "dagu_dag_runs_total",
      "counter",
      "DAG runs by status, over the runs D1 keeps (each DAG's histRetentionDays)",
      m.byStatus.map(({ status, n }) => ({ labels: { status: label(status) }, value: n })),
    ),
    family(
      "dagu_dag_runs_total_by_dag",
      "counter",
      "DAG runs by DAG and status, over the runs D1 keeps",
      m.byDagStatus.map(({ dag, status, n }) => ({ labels: { dag, status: label(status) }, value: n })),
    ),
    family(
      "dagflare_dag_runs_by_trigger_total",
      "counter",
      "DAG runs by what started them (manual, api, webhook, schedule, retry, parent)",
      m.byTrigger.map(({ trigger, n }) => ({ labels: { trigger }, value: n })),
    ),
    histogramFamily("dagflare_dag_run_duration_seconds", "Wall time of finished DAG runs, started to finished", [
      { buckets: m.durations, count: m.durationCount, sum: m.durationSum },
    ]),
    histogramFamily(
      "dagflare_step_duration_seconds",
      "Wall time of the steps of finished DAG runs, by DAG: first dispatch to end, retries and repeats included; a retried run adds the steps it ran again",
      m.stepDurations.map(({ dag, ...series }) => ({ labels: { dag }, ...series })),
    ),
    family(
      "dagflare_alert_deliveries_total",
      "counter",
      "Alert deliveries by status (pending, delivered, failed)",
      m.deliveries.map(({ status, n }) => ({ labels: { status }, value: n })),
    ),
  ].join("\n\n")}\n`;
}
