/**
 * The webhook inbound log of a DAG (src/webhooks/inbound-log.ts records it): list, one request
 * with its headers and body, and replay of an accepted request as a new run. Operators and up:
 * the log holds senders' addresses and bodies that never became a run, and replay starts runs.
 */
import { z } from "@hono/zod-openapi";
import { principalAsUser } from "../auth/principal.ts";
import { startRun } from "../coordinator/index.ts";
import { type DagRow, findDag } from "../db/dags.ts";
import { now } from "../db/time.ts";
import {
  findWebhookRequest,
  insertWebhookRequest,
  listWebhookRequests,
  WEBHOOK_OUTCOMES,
  type WebhookRequestRow,
} from "../db/webhook-requests.ts";
import { JsonTextError } from "../domain/json-text.ts";
import { readWebhookBody } from "../domain/webhook-body.ts";
import { ApiError, notFound } from "../errors.ts";
import { forwardedFromStored } from "../webhooks/inbound-log.ts";
import { createRouter, errorResponse, jsonResponse, roleRoute } from "./router.ts";
import { FileNameParam, Timestamp } from "./schemas.ts";

const tags = ["webhooks"];

const WebhookRequestSummary = z
  .object({
    id: z.string(),
    receivedAt: Timestamp,
    clientIp: z.string().openapi({ description: "CF-Connecting-IP; empty when the request had none" }),
    method: z.string(),
    outcome: z.enum(WEBHOOK_OUTCOMES).openapi({
      description: "accepted (a run was started), refused (4xx), rate_limited (429), failed (5xx)",
    }),
    statusCode: z.number().int(),
    errorCode: z.string().nullable().openapi({ description: "The error envelope's code the sender got" }),
    message: z.string().openapi({ description: "The error message the sender got; for a replay, who replayed it" }),
    dagRunId: z.string().nullable().openapi({ description: "The run it started" }),
    contentType: z.string(),
    bodyBytes: z.number().int().openapi({ description: "The size of the body as received" }),
    bodyStored: z
      .boolean()
      .openapi({ description: "false: the DAG opts out (webhook.storeBodies) or it was never read" }),
    bodyTruncated: z.boolean(),
    replayOf: z.string().nullable().openapi({ description: "This request is a replay of that one" }),
  })
  .openapi("WebhookRequestSummary");

const WebhookRequestDetails = WebhookRequestSummary.extend({
  headers: z.record(z.string(), z.string()).openapi({ description: "Lower-cased; credentials are [redacted]" }),
  body: z
    .string()
    .nullable()
    .openapi({ description: "At most 64 KiB (4 KiB if refused); credential fields [redacted]" }),
}).openapi("WebhookRequestDetails");

const RequestParams = FileNameParam.extend({
  id: z
    .string()
    .uuid()
    .openapi({ param: { name: "id", in: "path" } }),
});

const CURSOR = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)_([0-9a-f-]{36})$/;

/** ISO 8601 with a zone, or Unix seconds (as the run filters take them). */
const parseSince = (value: string): string | undefined => {
  const ms = /^\d{1,12}$/.test(value)
    ? Number(value) * 1000
    : /[zZ]|[+-]\d\d:?\d\d$/.test(value)
      ? Date.parse(value)
      : NaN;
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
};

const list = roleRoute(
  "operator",
  {
    method: "get",
    path: "/dags/{fileName}/webhook/requests",
    tags,
    summary: "The DAG's webhook inbound log, newest first: every trigger attempt, accepted or not",
    request: {
      params: FileNameParam,
      query: z.object({
        outcome: z.enum(WEBHOOK_OUTCOMES).optional(),
        since: z
          .string()
          .refine((value) => parseSince(value) !== undefined, "an ISO 8601 time with a zone, or Unix seconds")
          .optional()
          .openapi({ description: "Only requests received at or after this time (ISO 8601 or Unix seconds)" }),
        limit: z.coerce.number().int().min(1).max(200).default(50),
        cursor: z
          .string()
          .regex(CURSOR, "not a cursor this API gave")
          .optional()
          .openapi({ description: "The previous page's nextCursor" }),
      }),
    },
    responses: {
      200: jsonResponse(
        "Requests",
        z
          .object({ requests: z.array(WebhookRequestSummary), nextCursor: z.string().nullable() })
          .openapi("WebhookRequestList"),
      ),
      404: errorResponse("No such DAG"),
    },
  },
  { builtinAuthOnly: true },
);

const get = roleRoute(
  "operator",
  {
    method: "get",
    path: "/dags/{fileName}/webhook/requests/{id}",
    tags,
    summary: "One recorded request with its headers and body (credentials redacted)",
    request: { params: RequestParams },
    responses: {
      200: jsonResponse("The request", WebhookRequestDetails),
      404: errorResponse("No such DAG, or no such request of it"),
    },
  },
  { builtinAuthOnly: true },
);

const replay = roleRoute(
  "operator",
  {
    method: "post",
    path: "/dags/{fileName}/webhook/requests/{id}/replay",
    tags,
    summary: "Start a new run with an accepted request's payload and forwarded headers",
    description:
      "A new run id (the body's dagRunId and runIdHeader are not reused), the DAG's current spec, triggeredBy `replay:<request id>`; the replay is recorded in the log with replayOf.",
    request: { params: RequestParams },
    responses: {
      200: jsonResponse(
        "Started or queued",
        z
          .object({ dagRunId: z.string(), dagName: z.string(), request: WebhookRequestSummary })
          .openapi("WebhookReplayResponse"),
      ),
      400: errorResponse("The request was not accepted, or its body was not stored in full"),
      404: errorResponse("No such DAG, or no such request of it"),
    },
  },
  { builtinAuthOnly: true },
);

export const webhookRequestRoutes = createRouter()
  .openapi(list, async (c) => {
    const dag = await requireDag(c.env.DB, c.req.valid("param").fileName);
    const { outcome, since, limit, cursor } = c.req.valid("query");
    const position = cursor ? CURSOR.exec(cursor) : null;
    const rows = await listWebhookRequests(
      c.env.DB,
      dag.id,
      {
        outcome,
        since: since === undefined ? undefined : parseSince(since),
        before: position ? { receivedAt: position[1]!, id: position[2]! } : undefined,
      },
      limit + 1,
    );
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return c.json(
      {
        requests: page.map(summaryView),
        nextCursor: rows.length > limit && last ? `${last.received_at}_${last.id}` : null,
      },
      200,
    );
  })
  .openapi(get, async (c) => {
    const { fileName, id } = c.req.valid("param");
    return c.json(detailsView(await requireRequest(c.env.DB, await requireDag(c.env.DB, fileName), id)), 200);
  })
  .openapi(replay, async (c) => {
    const { fileName, id } = c.req.valid("param");
    const dag = await requireDag(c.env.DB, fileName);
    const original = await requireRequest(c.env.DB, dag, id);
    if (original.outcome !== "accepted")
      throw new ApiError(
        "bad_request",
        `only an accepted request can be replayed; this one was ${original.outcome.replace("_", "-")} (${original.status_code}${original.error_code ? ` ${original.error_code}` : ""})`,
        { reason: "not_accepted", outcome: original.outcome },
      );
    if (original.body === null)
      throw new ApiError(
        "bad_request",
        "this request's body was not stored (the DAG sets webhook.storeBodies: false)",
        {
          reason: "body_not_stored",
        },
      );
    if (original.body_truncated)
      throw new ApiError(
        "bad_request",
        `this request's body was stored cut at its bound (${original.body_bytes} bytes received)`,
        {
          reason: "body_truncated",
        },
      );
    const headers = JSON.parse(original.headers) as Record<string, string>;
    let payload: string;
    try {
      payload = readWebhookBody(original.body, original.content_type).payload;
    } catch (error) {
      if (error instanceof JsonTextError)
        throw new ApiError("bad_request", `the stored body is not JSON: ${error.message}`, {
          reason: "body_unreadable",
        });
      throw error;
    }
    const dagRunId = await startRun(c.env, dag, {
      payload,
      headers: forwardedFromStored(headers, dag.webhook_options.forwardHeaders ?? []),
      trigger: "webhook",
      triggeredBy: `replay:${original.id}`,
    });
    const replayedBy = principalAsUser(c.get("principal")).username;
    const recorded: WebhookRequestRow = {
      ...original,
      id: crypto.randomUUID(),
      received_at: now(),
      client_ip: (c.req.header("CF-Connecting-IP") ?? "").slice(0, 100),
      status_code: 200,
      error_code: null,
      message: `replayed by ${replayedBy}`,
      run_id: dagRunId,
      replay_of: original.id,
      replayed_by: replayedBy,
    };
    await insertWebhookRequest(c.env.DB, { ...recorded, dag_name: dag.name, body_truncated: false });
    return c.json({ dagRunId, dagName: dag.name, request: summaryView(recorded) }, 200);
  });

async function requireDag(db: D1Database, name: string): Promise<DagRow> {
  const dag = await findDag(db, name);
  if (!dag) throw notFound(`DAG '${name}'`);
  return dag;
}

async function requireRequest(db: D1Database, dag: DagRow, id: string): Promise<WebhookRequestRow> {
  const row = await findWebhookRequest(db, dag.id, id);
  if (!row) throw notFound(`webhook request '${id}' of DAG '${dag.name}'`);
  return row;
}

function summaryView(row: WebhookRequestRow): z.infer<typeof WebhookRequestSummary> {
  return {
    id: row.id,
    receivedAt: row.received_at,
    clientIp: row.client_ip,
    method: row.method,
    outcome: row.outcome,
    statusCode: row.status_code,
    errorCode: row.error_code,
    message: row.message,
    dagRunId: row.run_id,
    contentType: row.content_type,
    bodyBytes: row.body_bytes,
    bodyStored: row.body !== null,
    bodyTruncated: row.body_truncated === 1,
    replayOf: row.replay_of,
  };
}

function detailsView(row: WebhookRequestRow): z.infer<typeof WebhookRequestDetails> {
  return { ...summaryView(row), headers: JSON.parse(row.headers) as Record<string, string>, body: row.body };
}
