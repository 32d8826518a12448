import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { type Principal, principalAsUser } from "../auth/principal.ts";
import type { ControlResult, RunView } from "../coordinator/dag-coordinator.ts";
import { coordinatorFor, startRun } from "../coordinator/index.ts";
import { findDag, insertDag } from "../db/dags.ts";
import { findLatestRun, findRun, listRuns, type RunRow } from "../db/runs.ts";
import { now } from "../db/time.ts";
import { parseDagSpec } from "../domain/dag-spec.ts";
import { formatParams } from "../domain/params.ts";
import { RUN_ID_PATTERN, RUN_ID_RULE, type RunTrigger } from "../domain/run.ts";
import { NODE_STATUS_LABELS, type NodeStatus, nodeStatusLabel, RUN_STATUS, runStatusLabel } from "../domain/status.ts";
import { MAX_SUB_DAG_DEPTH } from "../domain/sub-dag.ts";
import type { AppEnv } from "../env.ts";
import { ApiError, notFound } from "../errors.ts";
import { checkedDagRecord } from "./dags.ts";
import { createRouter, errorResponse, jsonBody, jsonResponse, roleRoute } from "./router.ts";
import {
  DagNameSchema,
  FileNameParam,
  PaginationSchema,
  pagination,
  RunDetailsSchema,
  RunSummarySchema,
  RunTriggerSchema,
  SubRunSchema,
} from "./schemas.ts";
import { logPage, textLines } from "./views/log.ts";
import { historyGrid, runDetails, runOutputs, runSummary, specLookup, subRunView } from "./views/run.ts";

const RUNS_PER_RPC = 100;

const RunIdSchema = z.string().regex(RUN_ID_PATTERN, RUN_ID_RULE).openapi("DAGRunId");
const RunPath = z.object({
  name: DagNameSchema.openapi({ param: { name: "name", in: "path" } }),
  dagRunId: RunIdSchema.openapi({ param: { name: "dagRunId", in: "path" } }),
});

const StartBody = z.strictObject({
  params: z
    .union([z.string(), z.record(z.string(), z.unknown())])
    .optional()
    .openapi({ description: '`K=V K2="a b"`, JSON text of an object, or an object' }),
  dagRunId: RunIdSchema.optional(),
  dagName: z.string().optional().openapi({ description: "Accepted for Dagu compatibility; the path names the DAG" }),
  singleton: z
    .boolean()
    .optional()
    .openapi({ description: "Refuse (409) while a run of this DAG is running or queued" }),
  queue: z.string().optional().openapi({ description: "Accepted for Dagu compatibility; each DAG has its own queue" }),
});

const startRoute = (path: "/dags/{fileName}/start" | "/dags/{fileName}/enqueue", summary: string) =>
  roleRoute("operator", {
    method: "post",
    path,
    tags: ["dags"],
    summary,
    request: { params: FileNameParam, body: jsonBody(StartBody) },
    responses: {
      200: jsonResponse("Started or queued", z.object({ dagRunId: RunIdSchema })),
      404: errorResponse("No such DAG"),
      409: errorResponse("The dagRunId was used before, or a singleton run is active"),
    },
  });

const start = startRoute("/dags/{fileName}/start", "Start a run; beyond the DAG's maxActiveRuns it waits as queued");
const enqueue = startRoute(
  "/dags/{fileName}/enqueue",
  "Queue a run; it starts when the DAG has a free slot (same as start)",
);

const SpecRunBody = z.strictObject({
  spec: z.string().openapi({ description: "The DAG spec in YAML" }),
  name: DagNameSchema.optional().openapi({ description: "The DAG's name when the spec has no `name:`" }),
  params: StartBody.shape.params,
  dagRunId: RunIdSchema.optional(),
  singleton: StartBody.shape.singleton,
  queue: StartBody.shape.queue,
});

const specRunRoute = (path: "/dag-runs" | "/dag-runs/enqueue", summary: string) =>
  roleRoute("manager", {
    method: "post",
    path,
    tags: ["dag-runs"],
    summary,
    description:
      "Every run belongs to a stored DAG: a spec whose name is stored runs under that DAG (its history, its queue) without replacing the stored spec; a new name is stored first, as POST /dags would. Manager role, since the spec is code the caller supplies.",
    request: { body: jsonBody(SpecRunBody) },
    responses: {
      200: jsonResponse("Started or queued", z.object({ dagRunId: RunIdSchema })),
      409: errorResponse("The dagRunId was used before, or a singleton run is active"),
    },
  });

const specRun = specRunRoute("/dag-runs", "Run a DAG from a spec sent in the request");
const specEnqueue = specRunRoute("/dag-runs/enqueue", "Queue a run of a DAG from a spec sent in the request");

const runSpec = roleRoute("viewer", {
  method: "get",
  path: "/dag-runs/{name}/{dagRunId}/spec",
  tags: ["dag-runs"],
  summary: "The YAML spec the run started with (later edits of the DAG don't change it)",
  request: { params: RunPath },
  responses: { 200: jsonResponse("The spec", z.object({ spec: z.string() })), 404: errorResponse("No such run") },
});

const reschedule = roleRoute("operator", {
  method: "post",
  path: "/dag-runs/{name}/{dagRunId}/reschedule",
  tags: ["dag-runs"],
  summary: "Start a new run with a past run's spec and params",
  request: {
    params: RunPath,
    body: {
      required: false,
      content: {
        "application/json": {
          schema: z.strictObject({
            dagRunId: RunIdSchema.optional().openapi({ description: "The new run's id; generated when absent" }),
            dagName: z
              .string()
              .optional()
              .openapi({ description: "Accepted for Dagu compatibility; must be the path's" }),
          }),
        },
      },
    },
  },
  responses: {
    200: jsonResponse("Started or queued", z.object({ dagRunId: RunIdSchema, queued: z.boolean() })),
    404: errorResponse("No such run"),
    409: errorResponse("The dagRunId was used before"),
  },
});

const dequeue = roleRoute("operator", {
  method: "get",
  path: "/dag-runs/{name}/{dagRunId}/dequeue",
  tags: ["dag-runs"],
  summary: "Take a queued run off its queue: it ends as aborted without running (GET, as in Dagu's API)",
  request: { params: RunPath },
  responses: {
    200: { description: "Dequeued" },
    400: errorResponse("The run is not queued"),
    404: errorResponse("No such run"),
  },
});

const ListQuery = z.object({
  status: z.coerce.number().int().min(0).max(6).optional(),
  fromDate: z.coerce.number().int().optional().openapi({ description: "Unix seconds: runs queued at or after" }),
  toDate: z.coerce.number().int().optional().openapi({ description: "Unix seconds: runs queued at or before" }),
  dagRunId: z.string().max(64).optional(),
  name: z.string().max(200).optional(),
  trigger: RunTriggerSchema.optional().openapi({
    description: "Only runs started this way (dagflare extension): manual, api, webhook, schedule, retry or parent",
  }),
  page: z.coerce.number().int().min(1).default(1),
  perPage: z.coerce.number().int().min(1).max(1000).default(50),
  remoteNode: z.string().optional(),
});

const listAll = roleRoute("viewer", {
  method: "get",
  path: "/dag-runs",
  tags: ["dag-runs"],
  summary: "List runs of all DAGs, newest first",
  request: { query: ListQuery },
  responses: {
    200: jsonResponse("Runs", z.object({ dagRuns: z.array(RunSummarySchema), pagination: PaginationSchema })),
  },
});

const listByName = roleRoute("viewer", {
  method: "get",
  path: "/dag-runs/{name}",
  tags: ["dag-runs"],
  summary: "List the runs of one DAG, newest first",
  request: { params: RunPath.pick({ name: true }), query: ListQuery.omit({ name: true }) },
  responses: {
    200: jsonResponse("Runs", z.object({ dagRuns: z.array(RunSummarySchema), pagination: PaginationSchema })),
  },
});

const GridItemSchema = z
  .object({
    name: z.string().openapi({ description: "Step name" }),
    history: z
      .array(z.number().int())
      .openapi({ description: "The step's node status in each listed run, oldest run first" }),
  })
  .openapi("DAGGridItem");

const listOfDag = roleRoute("viewer", {
  method: "get",
  path: "/dags/{fileName}/dag-runs",
  tags: ["dags"],
  summary: "Run history of one DAG with each run's nodes, newest first, and a step × run status grid",
  request: {
    params: FileNameParam,
    query: ListQuery.omit({ name: true }).extend({ perPage: z.coerce.number().int().min(1).max(1000).default(30) }),
  },
  responses: {
    200: jsonResponse(
      "Runs",
      z.object({ dagRuns: z.array(RunDetailsSchema), gridData: z.array(GridItemSchema), pagination: PaginationSchema }),
    ),
    404: errorResponse("No such DAG"),
  },
});

const detailsOfDag = roleRoute("viewer", {
  method: "get",
  path: "/dags/{fileName}/dag-runs/{dagRunId}",
  tags: ["dags"],
  summary: "A run with its nodes (`latest` for the most recent)",
  request: { params: z.object({ fileName: FileNameParam.shape.fileName, dagRunId: RunPath.shape.dagRunId }) },
  responses: {
    200: jsonResponse("The run", z.object({ dagRun: RunDetailsSchema })),
    404: errorResponse("No such run"),
  },
});

const details = roleRoute("viewer", {
  method: "get",
  path: "/dag-runs/{name}/{dagRunId}",
  tags: ["dag-runs"],
  summary: "A run with its nodes (`latest` for the most recent)",
  request: { params: RunPath },
  responses: {
    200: jsonResponse("The run", z.object({ dagRunDetails: RunDetailsSchema })),
    404: errorResponse("No such run"),
  },
});

const stop = roleRoute("operator", {
  method: "post",
  path: "/dag-runs/{name}/{dagRunId}/stop",
  tags: ["dag-runs"],
  summary: "Stop a running or queued run: in-flight steps are cancelled, then the abort and exit handlers run",
  request: { params: RunPath },
  responses: { 200: { description: "Stopping" }, 400: errorResponse("Not running"), 404: errorResponse("No such run") },
});

const retry = roleRoute("operator", {
  method: "post",
  path: "/dag-runs/{name}/{dagRunId}/retry",
  tags: ["dag-runs"],
  summary:
    "Run a finished run again: steps that succeeded keep their results, the others run anew; with stepName only that step",
  request: {
    params: RunPath,
    body: jsonBody(
      z.strictObject({
        dagRunId: RunIdSchema.openapi({ description: "The run to retry: must be the path's dagRunId" }),
        stepName: z
          .string()
          .min(1)
          .optional()
          .openapi({ description: "Re-run only this step; its dependencies must have succeeded" }),
      }),
    ),
  },
  responses: {
    200: { description: "Retrying" },
    400: errorResponse("Still running, the body names another run, or the step's dependencies did not succeed"),
    404: errorResponse("No such run or step"),
  },
});

const LogQuery = z.object({
  tail: z.coerce.number().int().min(1).optional(),
  head: z.coerce.number().int().min(1).optional(),
  offset: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(10000).optional(),
});
const LogSchema = z
  .object({ content: z.string(), lineCount: z.number().int(), totalLines: z.number().int(), hasMore: z.boolean() })
  .openapi("Log");

const StepNameParam = z
  .string()
  .min(1)
  .openapi({ param: { name: "stepName", in: "path" } });
const StepLogQuery = LogQuery.extend({ stream: z.enum(["stdout", "stderr"]).default("stdout") });

const runLog = roleRoute("viewer", {
  method: "get",
  path: "/dag-runs/{name}/{dagRunId}/log",
  tags: ["dag-runs"],
  summary: "The run's event log",
  request: { params: RunPath, query: LogQuery },
  responses: { 200: jsonResponse("Log", LogSchema), 404: errorResponse("No such run") },
});

const stepLog = roleRoute("viewer", {
  method: "get",
  path: "/dag-runs/{name}/{dagRunId}/steps/{stepName}/log",
  tags: ["dag-runs"],
  summary: "A step's stdout or stderr (the last 256 KiB of each)",
  request: { params: RunPath.extend({ stepName: StepNameParam }), query: StepLogQuery },
  responses: { 200: jsonResponse("Log", LogSchema), 404: errorResponse("No such run or step") },
});

const outputs = roleRoute("viewer", {
  method: "get",
  path: "/dag-runs/{name}/{dagRunId}/outputs",
  tags: ["dag-runs"],
  summary: "The outputs (`output: VAR`) the run's steps produced",
  request: { params: RunPath },
  responses: {
    200: jsonResponse(
      "Outputs",
      z.object({
        metadata: z.object({
          dagName: z.string(),
          dagRunId: z.string(),
          attemptId: z.string(),
          status: z.string(),
          completedAt: z.string(),
          params: z.string(),
        }),
        outputs: z.record(z.string(), z.string()),
      }),
    ),
    404: errorResponse("No such run"),
  },
});

const SubRunPath = RunPath.extend({
  subDAGRunId: RunIdSchema.openapi({ param: { name: "subDAGRunId", in: "path" } }),
});

const subRunList = roleRoute("viewer", {
  method: "get",
  path: "/dag-runs/{name}/{dagRunId}/sub-dag-runs",
  tags: ["dag-runs"],
  summary: "The runs the run's steps called (with parentSubDAGRunId: the runs that sub-DAG run's steps called)",
  request: { params: RunPath, query: z.object({ parentSubDAGRunId: RunIdSchema.optional() }) },
  responses: {
    200: jsonResponse("Sub-DAG runs", z.object({ subRuns: z.array(SubRunSchema) })),
    404: errorResponse("No such run"),
  },
});

const subRunDetails = roleRoute("viewer", {
  method: "get",
  path: "/dag-runs/{name}/{dagRunId}/sub-dag-runs/{subDAGRunId}",
  tags: ["dag-runs"],
  summary: "A sub-DAG run (at any depth under the run) with its nodes",
  request: { params: SubRunPath },
  responses: {
    200: jsonResponse("The sub-DAG run", z.object({ dagRunDetails: RunDetailsSchema })),
    404: errorResponse("No such run or sub-DAG run"),
  },
});

const subRunLog = roleRoute("viewer", {
  method: "get",
  path: "/dag-runs/{name}/{dagRunId}/sub-dag-runs/{subDAGRunId}/log",
  tags: ["dag-runs"],
  summary: "A sub-DAG run's event log",
  request: { params: SubRunPath, query: LogQuery },
  responses: { 200: jsonResponse("Log", LogSchema), 404: errorResponse("No such run or sub-DAG run") },
});

const subRunStepLog = roleRoute("viewer", {
  method: "get",
  path: "/dag-runs/{name}/{dagRunId}/sub-dag-runs/{subDAGRunId}/steps/{stepName}/log",
  tags: ["dag-runs"],
  summary: "A step's stdout or stderr in a sub-DAG run",
  request: { params: SubRunPath.extend({ stepName: StepNameParam }), query: StepLogQuery },
  responses: { 200: jsonResponse("Log", LogSchema), 404: errorResponse("No such run, sub-DAG run or step") },
});

const StepStatusBody = z.strictObject({
  status: z
    .number()
    .int()
    .min(0)
    .max(
      NODE_STATUS_LABELS.length - 1,
      "a step's status is 0 (not_started) to 5 (skipped): dagflare steps are never partially succeeded (6), waiting (7) or rejected (8)",
    )
    .openapi({
      description: "The step's new status: 0 not_started, 1 running, 2 failed, 3 aborted, 4 succeeded, 5 skipped",
    }),
});

const STEP_STATUS_DESCRIPTION =
  "Only the status changes (the step keeps its times, exit code, error and logs) and nothing runs. Once every step has ended, the run's status becomes what its steps now say, as when a run ends (Dagu 2.x; Dagu 1.30 left it unchanged); a stopped run stays aborted while a step it aborted does. Handlers don't run again and no alert is sent. A later retry runs again every step that is not succeeded.";

const stepStatus = roleRoute("operator", {
  method: "patch",
  path: "/dag-runs/{name}/{dagRunId}/steps/{stepName}/status",
  tags: ["dag-runs"],
  summary: "Set a step's status by hand in a run that is neither running nor queued",
  description: STEP_STATUS_DESCRIPTION,
  request: { params: RunPath.extend({ stepName: StepNameParam }), body: jsonBody(StepStatusBody) },
  responses: {
    200: { description: "Set" },
    400: errorResponse("The run is running or queued, or the status is not 0-5"),
    404: errorResponse("No such run or step"),
  },
});

const subRunStepStatus = roleRoute("operator", {
  method: "patch",
  path: "/dag-runs/{name}/{dagRunId}/sub-dag-runs/{subDAGRunId}/steps/{stepName}/status",
  tags: ["dag-runs"],
  summary: "Set a step's status by hand in a sub-DAG run that is neither running nor queued",
  description: `${STEP_STATUS_DESCRIPTION} The calling step's list of sub-DAG runs shows the new status; the calling step's own status stays.`,
  request: { params: SubRunPath.extend({ stepName: StepNameParam }), body: jsonBody(StepStatusBody) },
  responses: {
    200: { description: "Set" },
    400: errorResponse("The sub-DAG run is running or queued, or the status is not 0-5"),
    404: errorResponse("No such run, sub-DAG run or step"),
  },
});

export const dagRunRoutes = createRouter()
  .openapi(specRun, async (c) => c.json({ dagRunId: await startFromSpec(c, c.req.valid("json")) }, 200))
  .openapi(specEnqueue, async (c) => c.json({ dagRunId: await startFromSpec(c, c.req.valid("json")) }, 200))
  .openapi(runSpec, async (c) => {
    const { name, dagRunId } = c.req.valid("param");
    return c.json({ spec: (await requireRun(c.env, name, dagRunId)).spec }, 200);
  })
  .openapi(reschedule, async (c) => {
    const { name, dagRunId } = c.req.valid("param");
    const body = c.req.valid("json") ?? {};
    if (body.dagName !== undefined && body.dagName !== name)
      throw new ApiError("bad_request", `dagName '${body.dagName}' is not the path's DAG ('${name}')`);
    const row = await requireRunRow(c.env, name, dagRunId);
    const past = await coordinatorFor(c.env, row.dag_id).getRun(row.run_id);
    if (!past) throw notFound(`DAG run '${dagRunId}' of '${name}'`);
    const principal = c.get("principal");
    const result = await coordinatorFor(c.env, row.dag_id).start({
      dagId: row.dag_id,
      dagName: row.dag_name,
      spec: past.spec,
      runId: body.dagRunId,
      params: formatParams(past.params),
      trigger: triggerOf(principal),
      triggeredBy: principalAsUser(principal).username,
    });
    if (!result.ok) throw new ApiError(result.code, result.message);
    return c.json({ dagRunId: result.runId, queued: result.status === "queued" }, 200);
  })
  .openapi(dequeue, async (c) => {
    const { name, dagRunId } = c.req.valid("param");
    const row = await requireRunRow(c.env, name, dagRunId);
    if (row.status !== RUN_STATUS.queued)
      throw new ApiError("bad_request", `DAG run '${row.run_id}' is not queued (${runStatusLabel(row.status)})`);
    throwUnlessOk(await coordinatorFor(c.env, row.dag_id).stop(row.run_id));
    return c.body(null, 200);
  })
  .openapi(start, async (c) => {
    const { fileName } = c.req.valid("param");
    return c.json({ dagRunId: await startFor(c.env, fileName, c.req.valid("json"), c.get("principal")) }, 200);
  })
  .openapi(enqueue, async (c) => {
    const { fileName } = c.req.valid("param");
    return c.json({ dagRunId: await startFor(c.env, fileName, c.req.valid("json"), c.get("principal")) }, 200);
  })
  .openapi(listAll, async (c) => {
    const query = c.req.valid("query");
    return c.json(await runList(c.env.DB, { ...query, nameContains: query.name }), 200);
  })
  .openapi(listByName, async (c) => {
    const { name } = c.req.valid("param");
    return c.json(await runList(c.env.DB, { ...c.req.valid("query"), dagName: name }), 200);
  })
  .openapi(listOfDag, async (c) => {
    const { fileName } = c.req.valid("param");
    const dag = await findDag(c.env.DB, fileName);
    if (!dag) throw notFound(`DAG '${fileName}'`);
    const { rows, pagination } = await runPage(c.env.DB, { ...c.req.valid("query"), dagName: fileName });
    // Up to 1,000 runs (Dagu's limit), asked for 100 at a time so one RPC answer stays small.
    const coordinator = coordinatorFor(c.env, dag.id);
    const runs: RunView[] = [];
    for (let i = 0; i < rows.length; i += RUNS_PER_RPC)
      runs.push(...(await coordinator.getRuns(rows.slice(i, i + RUNS_PER_RPC).map((row) => row.run_id))));
    const specOf = specLookup();
    const dagRuns = runs.map((run) => runDetails(run, specOf(run)));
    return c.json({ dagRuns, gridData: historyGrid(runs), pagination }, 200);
  })
  .openapi(detailsOfDag, async (c) => {
    const { fileName, dagRunId } = c.req.valid("param");
    return c.json({ dagRun: detailsOf(await requireRun(c.env, fileName, dagRunId)) }, 200);
  })
  .openapi(details, async (c) => {
    const { name, dagRunId } = c.req.valid("param");
    return c.json({ dagRunDetails: detailsOf(await requireRun(c.env, name, dagRunId)) }, 200);
  })
  .openapi(stop, async (c) => {
    const { name, dagRunId } = c.req.valid("param");
    const row = await requireRunRow(c.env, name, dagRunId);
    throwUnlessOk(await coordinatorFor(c.env, row.dag_id).stop(row.run_id));
    return c.body(null, 200);
  })
  .openapi(retry, async (c) => {
    const { name, dagRunId } = c.req.valid("param");
    const body = c.req.valid("json");
    const row = await requireRunRow(c.env, name, dagRunId);
    if (body.dagRunId !== row.run_id)
      throw new ApiError(
        "bad_request",
        `the body's dagRunId '${body.dagRunId}' is not the run in the path ('${row.run_id}')`,
      );
    throwUnlessOk(await coordinatorFor(c.env, row.dag_id).retry(row.run_id, body.stepName));
    return c.body(null, 200);
  })
  .openapi(stepStatus, async (c) => {
    const { name, dagRunId, stepName } = c.req.valid("param");
    const row = await requireRunRow(c.env, name, dagRunId);
    const { status } = c.req.valid("json");
    throwUnlessOk(
      await coordinatorFor(c.env, row.dag_id).setStepStatus(row.run_id, stepName, nodeStatus(status), by(c)),
    );
    return c.body(null, 200);
  })
  .openapi(subRunStepStatus, async (c) => {
    const { name, dagRunId, subDAGRunId, stepName } = c.req.valid("param");
    const { key } = await requireSubRun(c.env, await requireRunRow(c.env, name, dagRunId), subDAGRunId);
    const { status } = c.req.valid("json");
    throwUnlessOk(await coordinatorFor(c.env, key).setStepStatus(subDAGRunId, stepName, nodeStatus(status), by(c)));
    return c.body(null, 200);
  })
  .openapi(runLog, async (c) => {
    const { name, dagRunId } = c.req.valid("param");
    const row = await requireRunRow(c.env, name, dagRunId);
    const lines = await coordinatorFor(c.env, row.dag_id).runLog(row.run_id);
    if (!lines) throw notFound(`DAG run '${dagRunId}' of '${name}'`);
    return c.json(logPage(lines, c.req.valid("query")), 200);
  })
  .openapi(stepLog, async (c) => {
    const { name, dagRunId, stepName } = c.req.valid("param");
    return c.json(stepLogPage(await requireRun(c.env, name, dagRunId), stepName, c.req.valid("query")), 200);
  })
  .openapi(subRunList, async (c) => {
    const { name, dagRunId } = c.req.valid("param");
    const { parentSubDAGRunId } = c.req.valid("query");
    const root = await requireRunRow(c.env, name, dagRunId);
    const caller =
      parentSubDAGRunId === undefined
        ? { key: root.dag_id, runId: root.run_id }
        : { key: (await requireSubRun(c.env, root, parentSubDAGRunId)).key, runId: parentSubDAGRunId };
    const rows = await coordinatorFor(c.env, caller.key).subRuns(caller.runId);
    return c.json({ subRuns: rows.map(subRunView) }, 200);
  })
  .openapi(subRunDetails, async (c) => {
    const { name, dagRunId, subDAGRunId } = c.req.valid("param");
    const { run } = await requireSubRun(c.env, await requireRunRow(c.env, name, dagRunId), subDAGRunId);
    return c.json({ dagRunDetails: detailsOf(run) }, 200);
  })
  .openapi(subRunLog, async (c) => {
    const { name, dagRunId, subDAGRunId } = c.req.valid("param");
    const { key } = await requireSubRun(c.env, await requireRunRow(c.env, name, dagRunId), subDAGRunId);
    const lines = await coordinatorFor(c.env, key).runLog(subDAGRunId);
    if (!lines) throw notFound(`sub-DAG run '${subDAGRunId}'`);
    return c.json(logPage(lines, c.req.valid("query")), 200);
  })
  .openapi(subRunStepLog, async (c) => {
    const { name, dagRunId, subDAGRunId, stepName } = c.req.valid("param");
    const { run } = await requireSubRun(c.env, await requireRunRow(c.env, name, dagRunId), subDAGRunId);
    return c.json(stepLogPage(run, stepName, c.req.valid("query")), 200);
  })
  .openapi(outputs, async (c) => {
    const { name, dagRunId } = c.req.valid("param");
    const run = await requireRun(c.env, name, dagRunId);
    return c.json(runOutputs(run, specLookup()(run)), 200);
  });

// ---------------------------------------------------------------------------------------------

/**
 * Starts a run of a stored DAG for an API caller. Start and enqueue behave alike here: a run
 * beyond the DAG's maxActiveRuns waits as `queued` and starts when a slot frees.
 */
async function startFor(
  env: Cloudflare.Env,
  dagName: string,
  body: z.infer<typeof StartBody>,
  principal: Principal,
): Promise<string> {
  const dag = await findDag(env.DB, dagName);
  if (!dag) throw notFound(`DAG '${dagName}'`);
  return startRun(env, dag, {
    runId: body.dagRunId,
    params: body.params,
    trigger: triggerOf(principal),
    triggeredBy: principalAsUser(principal).username,
    singleton: body.singleton ?? false,
  });
}

/**
 * A run of a spec sent with the request, under the stored DAG of its name (stored first when
 * new): dagflare keeps every run with a stored DAG, its history and its queue.
 */
async function startFromSpec(c: Context<AppEnv>, body: z.infer<typeof SpecRunBody>): Promise<string> {
  const parsed = parseDagSpec(body.spec);
  const name = (parsed.ok ? parsed.spec.name : undefined) ?? body.name;
  if (!name) throw new ApiError("bad_request", "the spec has no name: send `name` or set `name:` in the spec");
  const record = await checkedDagRecord(c, name, body.spec);
  const dag =
    (await findDag(c.env.DB, name)) ?? ((await insertDag(c.env.DB, record, now())) && (await findDag(c.env.DB, name)));
  if (!dag) throw new ApiError("already_exists", `a DAG named '${name}' was created meanwhile; try again`);
  const principal = c.get("principal");
  return startRun(
    c.env,
    { id: dag.id, name, spec: body.spec },
    {
      runId: body.dagRunId,
      params: body.params,
      trigger: triggerOf(principal),
      triggeredBy: principalAsUser(principal).username,
      singleton: body.singleton ?? false,
    },
  );
}

/** A status number the body's schema let through (0-5) as its label. */
function nodeStatus(code: number): NodeStatus {
  const label = nodeStatusLabel(code);
  if (!label) throw new ApiError("bad_request", `status ${code} is not a step status`);
  return label;
}

/** Who made a change by hand, for the run's log. */
function by(c: Context<AppEnv>): string {
  return principalAsUser(c.get("principal")).username;
}

function triggerOf(principal: Principal): RunTrigger {
  return principal.kind === "api-key" ? "api" : "manual";
}

/**
 * The run's D1 row first: it exists once a start has returned, and an unknown DAG or run is
 * answered without waking (or creating) a Durable Object.
 */
async function requireRunRow(env: Cloudflare.Env, dagName: string, runId: string): Promise<RunRow> {
  const row = runId === "latest" ? await findLatestRun(env.DB, dagName) : await findRun(env.DB, dagName, runId);
  if (!row) throw notFound(`DAG run '${runId}' of '${dagName}'`);
  return row;
}

async function requireRun(env: Cloudflare.Env, dagName: string, runId: string): Promise<RunView> {
  const row = await requireRunRow(env, dagName, runId);
  const run = await coordinatorFor(env, row.dag_id).getRun(row.run_id);
  if (!run) throw notFound(`DAG run '${runId}' of '${dagName}'`);
  return run;
}

/**
 * A run anywhere under a root run, found through the calling steps' records level by level
 * (a level's runs are asked at once), with the coordinator that holds it.
 */
async function requireSubRun(
  env: Cloudflare.Env,
  root: RunRow,
  subRunId: string,
): Promise<{ key: string; run: RunView }> {
  let callers = [{ key: root.dag_id, runId: root.run_id }];
  for (let depth = 0; depth < MAX_SUB_DAG_DEPTH && callers.length > 0; depth++) {
    const rows = (
      await Promise.all(callers.map((caller) => coordinatorFor(env, caller.key).subRuns(caller.runId)))
    ).flat();
    const found = rows.find((row) => row.child_run_id === subRunId);
    if (found?.child_key) {
      const run = await coordinatorFor(env, found.child_key).getRun(subRunId);
      if (run) return { key: found.child_key, run };
      break;
    }
    callers = rows.flatMap((row) => (row.child_key ? [{ key: row.child_key, runId: row.child_run_id }] : []));
  }
  throw notFound(`sub-DAG run '${subRunId}' under run '${root.run_id}' of '${root.dag_name}'`);
}

/** A page of a step's stdout or stderr. */
function stepLogPage(run: RunView, stepName: string, query: z.infer<typeof StepLogQuery>) {
  const { stream, ...range } = query;
  const node = [...run.nodes, ...run.handlerNodes].find((candidate) => candidate.name === stepName);
  if (!node) throw notFound(`step '${stepName}' in run '${run.id}'`);
  const { lines, endsWithNewline } = textLines(node[stream]);
  return logPage(lines, range, endsWithNewline);
}

function throwUnlessOk(result: ControlResult): void {
  if (!result.ok) throw new ApiError(result.code, result.message);
}

type ListOptions = Omit<z.infer<typeof ListQuery>, "name" | "remoteNode"> & {
  dagName?: string | undefined;
  nameContains?: string | undefined;
};

async function runList(db: D1Database, options: ListOptions) {
  const { rows, pagination } = await runPage(db, options);
  return { dagRuns: rows.map(runSummary), pagination };
}

async function runPage(db: D1Database, options: ListOptions) {
  const { rows, total } = await listRuns(
    db,
    {
      dagName: options.dagName,
      nameContains: options.nameContains,
      runId: options.dagRunId,
      status: options.status,
      trigger: options.trigger,
      from: options.fromDate === undefined ? undefined : new Date(options.fromDate * 1000).toISOString(),
      to: options.toDate === undefined ? undefined : new Date(options.toDate * 1000).toISOString(),
    },
    { limit: options.perPage, offset: (options.page - 1) * options.perPage },
  );
  return { rows, pagination: pagination(total, options.page, options.perPage) };
}

/** One run's details (its own step lookup: one parse). */
function detailsOf(run: RunView) {
  return runDetails(run, specLookup()(run));
}
