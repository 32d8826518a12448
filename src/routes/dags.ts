import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { emitEvent } from "../alerts/events.ts";
import { coordinatorFor } from "../coordinator/index.ts";
import {
  type DagRow,
  deleteDag,
  findDag,
  insertDag,
  listAllDags,
  listDags,
  listTags,
  renameDag,
  searchDagSpecs,
  setSuspended,
  updateDag,
} from "../db/dags.ts";
import { findLatestRun, latestRuns, listActiveRuns } from "../db/runs.ts";
import { now } from "../db/time.ts";
import {
  calledDagNames,
  type DagRecord,
  type DagSpec,
  defaultSpec,
  formatSpecError,
  nextScheduledRun,
  parseDagSpec,
  renameInSpec,
  type SpecError,
  toDagRecord,
} from "../domain/dag-spec.ts";
import { RUN_STATUS } from "../domain/status.ts";
import { MAX_SUB_DAG_DEPTH } from "../domain/sub-dag.ts";
import type { AppEnv } from "../env.ts";
import { ApiError, notFound } from "../errors.ts";
import { logger } from "../log.ts";
import { createRouter, errorResponse, jsonBody, jsonResponse, roleRoute } from "./router.ts";
import {
  DagDetailsSchema,
  DagFileSchema,
  DagNameSchema,
  DagSchema,
  FileNameParam,
  LocalDagSchema,
  PaginationSchema,
  pagination,
  RunDetailsSchema,
  SpecErrorSchema,
} from "./schemas.ts";
import { dagDetailsView, dagListItemView, localDagsView } from "./views/dag.ts";
import { neverRunDetails, runDetails, specLookup } from "./views/run.ts";

const SpecText = z.string().openapi({ description: "The DAG spec in YAML" });

const list = roleRoute("viewer", {
  method: "get",
  path: "/dags",
  tags: ["dags"],
  summary: "List DAGs, filtered by name (substring) and tag, paginated",
  request: {
    query: z.object({
      page: z.coerce.number().int().min(1).default(1),
      perPage: z.coerce.number().int().min(1).max(1000).default(50),
      name: z.string().max(200).optional(),
      tag: z.string().max(200).optional(),
      sort: z.enum(["name", "nextRun"]).default("name"),
      order: z.enum(["asc", "desc"]).default("asc"),
      remoteNode: z.string().optional().openapi({ description: "Accepted for Dagu compatibility; ignored" }),
    }),
  },
  responses: {
    200: jsonResponse(
      "DAGs",
      z.object({ dags: z.array(DagFileSchema), errors: z.array(z.string()), pagination: PaginationSchema }),
    ),
  },
});

const create = roleRoute("manager", {
  method: "post",
  path: "/dags",
  tags: ["dags"],
  summary: "Create a DAG from a spec (or a starter spec); an invalid spec is rejected and nothing is stored",
  request: { body: jsonBody(z.strictObject({ name: DagNameSchema, spec: SpecText.optional() })) },
  responses: {
    201: jsonResponse("Created", z.object({ name: z.string() })),
    409: errorResponse("A DAG with this name exists"),
  },
});

const validate = roleRoute("viewer", {
  method: "post",
  path: "/dags/validate",
  tags: ["dags"],
  summary: "Validate a spec without storing anything",
  request: { body: jsonBody(z.strictObject({ spec: SpecText, name: DagNameSchema.optional() })) },
  responses: {
    200: jsonResponse(
      "Validation result",
      z.object({
        valid: z.boolean(),
        dag: DagDetailsSchema.optional(),
        errors: z.array(z.string()),
        specErrors: z.array(SpecErrorSchema),
      }),
    ),
  },
});

const details = roleRoute("viewer", {
  method: "get",
  path: "/dags/{fileName}",
  tags: ["dags"],
  summary: "A DAG's definition and latest run",
  request: { params: FileNameParam },
  responses: {
    200: jsonResponse(
      "The DAG",
      z.object({
        dag: DagDetailsSchema.optional(),
        localDags: z.array(LocalDagSchema),
        latestDAGRun: RunDetailsSchema.partial({
          params: true,
          type: true,
          trigger: true,
          triggeredBy: true,
          webhookPayload: true,
          webhookHeaders: true,
        }).openapi({
          description: "The latest run with its nodes; a DAG that never ran shows its steps as not_started (as Dagu)",
        }),
        suspended: z.boolean(),
        errors: z.array(z.string()),
      }),
    ),
    404: errorResponse("No such DAG"),
  },
});

const remove = roleRoute("manager", {
  method: "delete",
  path: "/dags/{fileName}",
  tags: ["dags"],
  summary: "Delete a DAG",
  request: { params: FileNameParam },
  responses: { 204: { description: "Deleted" }, 404: errorResponse("No such DAG") },
});

const getSpec = roleRoute("viewer", {
  method: "get",
  path: "/dags/{fileName}/spec",
  tags: ["dags"],
  summary: "A DAG's YAML spec",
  request: { params: FileNameParam },
  responses: {
    200: jsonResponse(
      "The spec",
      z.object({ dag: DagDetailsSchema.optional(), spec: z.string(), errors: z.array(z.string()) }),
    ),
    404: errorResponse("No such DAG"),
  },
});

const putSpec = roleRoute("manager", {
  method: "put",
  path: "/dags/{fileName}/spec",
  tags: ["dags"],
  summary: "Replace a DAG's spec; an invalid spec is rejected (400, with every error and its line) and nothing changes",
  request: { params: FileNameParam, body: jsonBody(z.strictObject({ spec: SpecText })) },
  responses: {
    200: jsonResponse("Saved", z.object({ errors: z.array(z.string()) })),
    404: errorResponse("No such DAG"),
  },
});

const rename = roleRoute("manager", {
  method: "post",
  path: "/dags/{fileName}/rename",
  tags: ["dags"],
  summary: "Rename a DAG",
  request: { params: FileNameParam, body: jsonBody(z.strictObject({ newFileName: DagNameSchema })) },
  responses: {
    200: { description: "Renamed" },
    404: errorResponse("No such DAG"),
    409: errorResponse("The new name is taken"),
  },
});

const suspend = roleRoute("operator", {
  method: "post",
  path: "/dags/{fileName}/suspend",
  tags: ["dags"],
  summary: "Suspend or resume the DAG's schedule (runs started by hand or webhook are not affected)",
  request: { params: FileNameParam, body: jsonBody(z.strictObject({ suspend: z.boolean() })) },
  responses: { 200: { description: "Done" }, 404: errorResponse("No such DAG") },
});

const SEARCH_CONTEXT_LINES = 2;

const search = roleRoute("viewer", {
  method: "get",
  path: "/dags/search",
  tags: ["dags"],
  summary: "DAGs whose YAML contains the text (case-insensitive), with each matching line and the lines around it",
  request: { query: z.object({ q: z.string().min(1).max(200), remoteNode: z.string().optional() }) },
  responses: {
    200: jsonResponse(
      "Matches",
      z.object({
        results: z.array(
          z
            .object({
              name: z.string(),
              dag: DagSchema,
              matches: z.array(
                z
                  .object({
                    line: z.string().openapi({ description: "The matching line with up to 2 lines either side" }),
                    lineNumber: z.number().int().openapi({ description: "The matching line (from 1)" }),
                    startLine: z.number().int().openapi({ description: "The first line of `line` (from 1)" }),
                  })
                  .openapi("SearchDAGsMatchItem"),
              ),
            })
            .openapi("SearchResultItem"),
        ),
        errors: z.array(z.string()),
      }),
    ),
  },
});

const tags = roleRoute("viewer", {
  method: "get",
  path: "/dags/tags",
  tags: ["dags"],
  summary: "Every tag any DAG has, sorted",
  request: { query: z.object({ remoteNode: z.string().optional() }) },
  responses: {
    200: jsonResponse(
      "Tags",
      z.object({ tags: z.array(z.string()), errors: z.array(z.string()) }).openapi("ListTagResponse"),
    ),
  },
});

const stopAll = roleRoute("operator", {
  method: "post",
  path: "/dags/{fileName}/stop-all",
  tags: ["dags"],
  summary: "Stop every running run of the DAG (queued runs stay queued, as in Dagu; dequeue them one by one)",
  request: { params: FileNameParam },
  responses: {
    200: jsonResponse("Stopped", z.object({ errors: z.array(z.string()) })),
    404: errorResponse("No such DAG"),
  },
});

export const dagRoutes = createRouter()
  // Before /dags/{fileName}, which would take "search" and "tags" for DAG names.
  .openapi(search, async (c) => {
    const { q } = c.req.valid("query");
    const needle = q.toLowerCase();
    const results = (await searchDagSpecs(c.env.DB, q)).map((row) => {
      const lines = row.spec.split("\n");
      const matches = lines.flatMap((text, index) => {
        if (!text.toLowerCase().includes(needle)) return [];
        const start = Math.max(0, index - SEARCH_CONTEXT_LINES);
        const context = lines.slice(start, index + SEARCH_CONTEXT_LINES + 1).join("\n");
        return [{ line: context, lineNumber: index + 1, startLine: start + 1 }];
      });
      return { name: row.name, dag: dagListItemView(row, undefined, undefined).dag, matches };
    });
    return c.json({ results, errors: [] as string[] }, 200);
  })
  .openapi(tags, async (c) => c.json({ tags: await listTags(c.env.DB), errors: [] as string[] }, 200))
  .openapi(stopAll, async (c) => {
    const { fileName } = c.req.valid("param");
    const dag = await requireDag(c.env.DB, fileName);
    const running = (await listActiveRuns(c.env.DB, fileName)).filter((run) => run.status === RUN_STATUS.running);
    const coordinator = coordinatorFor(c.env, dag.id);
    const errors: string[] = [];
    for (const run of running) {
      const result = await coordinator.stop(run.run_id);
      // A run that ended meanwhile is what the caller wanted; anything else is reported.
      if (!result.ok && result.code !== "not_running") errors.push(`${run.run_id}: ${result.message}`);
    }
    return c.json({ errors }, 200);
  })
  .openapi(suspend, async (c) => {
    const { fileName } = c.req.valid("param");
    if (!(await setSuspended(c.env.DB, fileName, c.req.valid("json").suspend, now())))
      throw notFound(`DAG '${fileName}'`);
    return c.body(null, 200);
  })
  .openapi(list, async (c) => {
    const query = c.req.valid("query");
    const filter = { name: query.name, tag: query.tag };
    const offset = (query.page - 1) * query.perPage;
    const at = new Date();
    let page: { row: DagRow; next: Date | undefined }[];
    let total: number;
    if (query.sort === "nextRun") {
      // The next run depends on the clock, so this ordering is computed here, not by SQL.
      const all = (await listAllDags(c.env.DB, filter)).map((row) => ({ row, next: nextRun(row, at) }));
      all.sort(
        (a, b) =>
          compareNextRuns(a.next, b.next) * (query.order === "desc" ? -1 : 1) || a.row.name.localeCompare(b.row.name),
      );
      page = all.slice(offset, offset + query.perPage);
      total = all.length;
    } else {
      const listed = await listDags(c.env.DB, filter, {
        limit: query.perPage,
        offset,
        descending: query.order === "desc",
      });
      page = listed.rows.map((row) => ({ row, next: nextRun(row, at) }));
      total = listed.total;
    }
    const latest = await latestRuns(
      c.env.DB,
      page.map(({ row }) => row.name),
    );
    return c.json(
      {
        dags: page.map(({ row, next }) => dagListItemView(row, next, latest.get(row.name))),
        errors: [] as string[],
        pagination: pagination(total, query.page, query.perPage),
      },
      200,
    );
  })
  .openapi(create, async (c) => {
    const { name, spec = defaultSpec(name) } = c.req.valid("json");
    const result = toDagRecord(name, spec);
    if (!result.ok) throw reportInvalid(c, name, result.errors);
    await refuseCallCycle(c.env.DB, name, result.spec);
    if (!(await insertDag(c.env.DB, result.record, now()))) {
      throw new ApiError("already_exists", `a DAG named '${name}' already exists`);
    }
    return c.json({ name }, 201);
  })
  .openapi(validate, (c) => {
    const { spec, name } = c.req.valid("json");
    const parsed = parseDagSpec(spec, { fileName: name });
    if (!parsed.ok) {
      return c.json({ valid: false, errors: parsed.errors.map(formatSpecError), specErrors: parsed.errors }, 200);
    }
    return c.json(
      { valid: true, dag: dagDetailsView(name ?? parsed.spec.name ?? "", parsed.spec), errors: [], specErrors: [] },
      200,
    );
  })
  .openapi(details, async (c) => {
    const row = await requireDag(c.env.DB, c.req.valid("param").fileName);
    const parsed = parseDagSpec(row.spec, { fileName: row.name });
    const latest = await findLatestRun(c.env.DB, row.name);
    const run = latest && (await coordinatorFor(c.env, row.id).getRun(latest.run_id));
    return c.json(
      {
        ...(parsed.ok ? { dag: dagDetailsView(row.name, parsed.spec) } : {}),
        localDags: parsed.ok ? localDagsView(parsed.spec) : [],
        latestDAGRun: run
          ? runDetails(run, specLookup()(run))
          : neverRunDetails(row.name, parsed.ok ? parsed.spec.steps : []),
        suspended: row.suspended === 1,
        errors: parsed.ok ? [] : parsed.errors.map(formatSpecError),
      },
      200,
    );
  })
  .openapi(remove, async (c) => {
    const { fileName } = c.req.valid("param");
    const deleted = await deleteDag(c.env.DB, fileName);
    if (!deleted) throw notFound(`DAG '${fileName}'`);
    // The D1 delete took the runs' copies along; now the coordinator drops the runs themselves.
    // Should it fail, its leftover runs can no longer reach D1 or be addressed: the DAG is gone.
    await coordinatorFor(c.env, deleted.id)
      .destroy()
      .catch((error: unknown) =>
        logger(c).error("deleting the runs of a deleted DAG failed", { dag: fileName, dagId: deleted.id, error }),
      );
    return c.body(null, 204);
  })
  .openapi(getSpec, async (c) => {
    const row = await requireDag(c.env.DB, c.req.valid("param").fileName);
    const parsed = parseDagSpec(row.spec, { fileName: row.name });
    return c.json(
      {
        ...(parsed.ok ? { dag: dagDetailsView(row.name, parsed.spec) } : {}),
        spec: row.spec,
        errors: parsed.ok ? [] : parsed.errors.map(formatSpecError),
      },
      200,
    );
  })
  .openapi(putSpec, async (c) => {
    const { fileName } = c.req.valid("param");
    const result = toDagRecord(fileName, c.req.valid("json").spec);
    if (!result.ok) {
      await requireDag(c.env.DB, fileName);
      throw reportInvalid(c, fileName, result.errors);
    }
    await refuseCallCycle(c.env.DB, fileName, result.spec);
    if (!(await updateDag(c.env.DB, result.record, now()))) throw notFound(`DAG '${fileName}'`);
    return c.json({ errors: [] }, 200);
  })
  .openapi(rename, async (c) => {
    const { fileName } = c.req.valid("param");
    const { newFileName } = c.req.valid("json");
    const row = await requireDag(c.env.DB, fileName);
    if (newFileName === fileName) return c.body(null, 200);
    if (!(await renameDag(c.env.DB, fileName, newFileName, renameInSpec(row.spec, newFileName), now()))) {
      await requireDag(c.env.DB, fileName);
      throw new ApiError("already_exists", `a DAG named '${newFileName}' already exists`);
    }
    // The runs stay with the DAG (they are keyed by its id); the coordinator learns the new name.
    await coordinatorFor(c.env, row.id).renamed(newFileName);
    return c.body(null, 200);
  });

/**
 * A spec checked as a stored DAG is (every error with its line, no call cycle through stored
 * DAGs), ready to store; an invalid one is the 400 and a CODE_LOCATION_ERROR alert.
 */
export async function checkedDagRecord(c: Context<AppEnv>, name: string, source: string): Promise<DagRecord> {
  const result = toDagRecord(name, source);
  if (!result.ok) throw reportInvalid(c, name, result.errors);
  await refuseCallCycle(c.env.DB, name, result.spec);
  return result.record;
}

async function requireDag(db: D1Database, name: string): Promise<DagRow> {
  const row = await findDag(db, name);
  if (!row) throw notFound(`DAG '${name}'`);
  return row;
}

/**
 * A DAG definition that failed to load (a POST or PUT of it, e.g. by `dags:push`): the 400 for
 * the caller, and a CODE_LOCATION_ERROR for the alert policies, sent after the response.
 */
/** The stored DAGs a spec calls by a fixed name (its `---` documents are its own). */
function storedCallees(spec: DagSpec): string[] {
  const local = new Set(spec.localDags.map((document) => document.name));
  const names = [spec, ...spec.localDags].flatMap(calledDagNames).filter((callee) => !local.has(callee));
  return [...new Set(names)];
}

/**
 * Refuses a DAG whose calls, through the stored DAGs they name, come back to it: its runs would
 * call each other until the depth limit. Names computed at run time are left to that limit.
 */
async function refuseCallCycle(db: D1Database, name: string, spec: DagSpec): Promise<void> {
  const specs = new Map<string, DagSpec | null>();
  const calleesOf = async (dag: string): Promise<string[]> => {
    if (!specs.has(dag)) {
      const row = await findDag(db, dag);
      const parsed = row && parseDagSpec(row.spec, { fileName: row.name });
      specs.set(dag, parsed?.ok ? parsed.spec : null);
    }
    const stored = specs.get(dag);
    return stored ? storedCallees(stored) : [];
  };
  // Breadth-first from the new spec's callees; each path remembers how it got there.
  let paths = storedCallees(spec).map((callee) => [name, callee]);
  const seen = new Set<string>();
  for (let depth = 0; depth < MAX_SUB_DAG_DEPTH && paths.length > 0; depth++) {
    const cycle = paths.find((path) => path.at(-1) === name);
    if (cycle) {
      throw new ApiError(
        "bad_request",
        `invalid DAG spec: sub-DAG call cycle ${cycle.join(" -> ")}: a DAG may not call itself`,
      );
    }
    const next: string[][] = [];
    for (const path of paths) {
      const last = path.at(-1)!;
      if (seen.has(last)) continue;
      seen.add(last);
      for (const callee of await calleesOf(last)) next.push([...path, callee]);
    }
    paths = next;
  }
}

function reportInvalid(c: Context<AppEnv>, name: string, errors: SpecError[]): ApiError {
  const event = {
    id: `code.${name}.${crypto.randomUUID()}`,
    type: "CODE_LOCATION_ERROR" as const,
    facts: { dagName: name, errors: errors.map(formatSpecError) },
  };
  c.executionCtx.waitUntil(
    emitEvent(c.env, event).catch((error: unknown) =>
      logger(c).error("alert for an invalid DAG not sent", { dag: name, error }),
    ),
  );
  return invalidSpec(errors);
}

function invalidSpec(errors: SpecError[]): ApiError {
  const messages = errors.map(formatSpecError);
  const more = messages.length > 1 ? ` (and ${messages.length - 1} more)` : "";
  return new ApiError("bad_request", `invalid DAG spec: ${messages[0]}${more}`, {
    errors: messages,
    specErrors: errors,
  });
}

/** When the schedule next starts the DAG: never while it is suspended. */
function nextRun(row: DagRow, after: Date): Date | undefined {
  if (row.suspended === 1) return undefined;
  const upcoming = row.schedules
    .map((expression) => nextScheduledRun(expression, after))
    .filter((date): date is Date => date !== undefined);
  return upcoming.length ? new Date(Math.min(...upcoming.map(Number))) : undefined;
}

/** Earlier first; DAGs without a schedule last. */
function compareNextRuns(a: Date | undefined, b: Date | undefined): number {
  if (a && b) return a.getTime() - b.getTime();
  return a ? -1 : b ? 1 : 0;
}
