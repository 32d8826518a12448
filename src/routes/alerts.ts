/**
 * Alert policies (manager or admin to write, viewer to read), their deliveries, the token
 * reference and the presets.
 */
import { z } from "@hono/zod-openapi";
import { renderDelivery, send } from "../alerts/deliver.ts";
import type { EventFacts } from "../alerts/events.ts";
import { isOverdue, OVERDUE_GRACE_MS, overdueBefore } from "../alerts/overdue.ts";
import { PolicyInput, PolicySchema, toPolicyWrite, validatePolicy } from "../alerts/policies.ts";
import { PRESETS } from "../alerts/presets.ts";
import { ASSET_TOKENS, EVENT_TYPES, type EventType, tokenReference, tokensFor } from "../alerts/tokens.ts";
import { config } from "../config.ts";
import {
  type DeliveryRow,
  deletePolicy,
  findDelivery,
  findPolicy,
  insertPolicy,
  listDeliveries,
  listPolicies,
  type PolicyRow,
  scheduleReplay,
  unscheduleReplay,
  updatePolicy,
} from "../db/alerts.ts";
import { now } from "../db/time.ts";
import { newRunId } from "../domain/run.ts";
import { ApiError, notFound } from "../errors.ts";
import { createRouter, errorResponse, jsonBody, jsonResponse, roleRoute } from "./router.ts";
import { alertDeliveryView } from "./views/alert-delivery.ts";
import { alertPolicyView } from "./views/alert-policy.ts";

const IdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(200)
    .openapi({ param: { name: "id", in: "path" } }),
});
const WithPolicy = z.object({ alertPolicy: PolicySchema, warnings: z.array(z.string()).optional() });
const SampleRequest = z.strictObject({ eventType: z.enum(EVENT_TYPES).optional() });

const AttemptSchema = z.object({
  at: z.string(),
  statusCode: z.number().int().nullable(),
  durationMs: z.number(),
  error: z.string().optional(),
  responseBody: z.string().optional(),
});
const DeliverySchema = z
  .object({
    id: z.string(),
    policyId: z.string(),
    eventType: z.string(),
    dagName: z.string().nullable(),
    dagRunId: z.string().nullable(),
    status: z.enum(["pending", "delivered", "failed"]),
    attempts: z.array(AttemptSchema),
    nextAttemptAt: z.string().nullable().openapi({
      description:
        "While pending: when the next attempt is due. Once it is more than 60 s late its message is taken for lost: the every-minute tick queues it again, and it may be replayed",
    }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("AlertDelivery");
const TestResult = z
  .object({
    statusCode: z.number().int().nullable(),
    headers: z.record(z.string(), z.string()),
    body: z.string(),
    error: z.string().optional(),
  })
  .openapi("AlertTestResult");

const tags = ["alerts"];
const list = roleRoute("viewer", {
  method: "get",
  path: "/alert-policies",
  tags,
  summary: "List alert policies (header values and secrets redacted)",
  responses: { 200: jsonResponse("Policies", z.object({ alertPolicies: z.array(PolicySchema) })) },
});
const create = roleRoute("manager", {
  method: "post",
  path: "/alert-policies",
  tags,
  summary: "Create an alert policy",
  request: { body: jsonBody(PolicyInput) },
  responses: { 201: jsonResponse("Created", WithPolicy), 409: errorResponse("Name taken") },
});
const get = roleRoute("viewer", {
  method: "get",
  path: "/alert-policies/{id}",
  tags,
  summary: "An alert policy",
  request: { params: IdParam },
  responses: { 200: jsonResponse("The policy", WithPolicy), 404: errorResponse("No such policy") },
});
const replace = roleRoute("manager", {
  method: "put",
  path: "/alert-policies/{id}",
  tags,
  summary: `Replace an alert policy; a header value or secret sent back redacted keeps its stored value`,
  request: { params: IdParam, body: jsonBody(PolicyInput) },
  responses: {
    200: jsonResponse("Saved", WithPolicy),
    404: errorResponse("No such policy"),
    409: errorResponse("Name taken"),
  },
});
const remove = roleRoute("manager", {
  method: "delete",
  path: "/alert-policies/{id}",
  tags,
  summary: "Delete an alert policy and its delivery log",
  request: { params: IdParam },
  responses: { 204: { description: "Deleted" }, 404: errorResponse("No such policy") },
});
const preview = roleRoute("viewer", {
  method: "post",
  path: "/alert-policies/{id}/preview",
  tags,
  summary: "Render the policy for a sample event, without sending",
  request: { params: IdParam, body: jsonBody(SampleRequest) },
  responses: {
    200: jsonResponse("Rendered", z.object({ url: z.string(), body: z.string() })),
    404: errorResponse("No such policy"),
  },
});
const test = roleRoute("manager", {
  method: "post",
  path: "/alert-policies/{id}/test",
  tags,
  summary: "Send the policy's request for a sample event (is_sample = true) and return the destination's answer",
  request: { params: IdParam, body: jsonBody(SampleRequest) },
  responses: { 200: jsonResponse("The destination's answer", TestResult), 404: errorResponse("No such policy") },
});
const testDraft = roleRoute("manager", {
  method: "post",
  path: "/alert-policies/test",
  tags,
  summary: "Send an unsaved policy's request for a sample event and return the destination's answer",
  request: {
    body: jsonBody(
      PolicyInput.extend({
        eventType: z.enum(EVENT_TYPES).optional(),
        policyId: z.string().optional().openapi({
          description:
            "Unsaved edits of this saved policy: redacted header values and secret are its stored ones (same host only, as with PUT)",
        }),
      }),
    ),
  },
  responses: {
    200: jsonResponse("The destination's answer", TestResult),
    404: errorResponse("No such policy (policyId)"),
  },
});
const deliveries = roleRoute("viewer", {
  method: "get",
  path: "/alert-policies/{id}/deliveries",
  tags,
  summary: "The policy's deliveries, newest first, with every attempt",
  request: { params: IdParam, query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }) },
  responses: {
    200: jsonResponse("Deliveries", z.object({ deliveries: z.array(DeliverySchema) })),
    404: errorResponse("No such policy"),
  },
});
const delivery = roleRoute("viewer", {
  method: "get",
  path: "/alert-deliveries/{id}",
  tags,
  summary: "One delivery with its attempts",
  request: { params: IdParam },
  responses: {
    200: jsonResponse("The delivery", z.object({ delivery: DeliverySchema })),
    404: errorResponse("No such delivery"),
  },
});
const replay = roleRoute("manager", {
  method: "post",
  path: "/alert-deliveries/{id}/replay",
  tags,
  summary:
    "Send a delivery again (on a fresh retry schedule); its attempts are added to the log. A pending one only once its next attempt is overdue",
  request: { params: IdParam },
  responses: {
    200: jsonResponse("Queued", z.object({ delivery: DeliverySchema })),
    400: errorResponse("Still being sent: its next attempt is not overdue, or is being made"),
    404: errorResponse("No such delivery"),
  },
});
const tokens = roleRoute("viewer", {
  method: "get",
  path: "/alert-tokens",
  tags,
  summary:
    "The template tokens, per event type, with examples; the deployment's tokens and links show this deployment's values (PUBLIC_URL, DEPLOYMENT_NAME)",
  responses: {
    200: jsonResponse(
      "Tokens",
      z.object({
        eventTypes: z.array(z.object({ eventType: z.string(), tokens: z.array(z.string()) })),
        tokens: z.array(
          z.object({ name: z.string(), group: z.string(), description: z.string(), example: z.string() }),
        ),
        ignored: z.array(z.string()),
      }),
    ),
  },
});
const presets = roleRoute("viewer", {
  method: "get",
  path: "/alert-presets",
  tags,
  summary: "Ready body templates: Discord, Slack, Jira v2/v3, Linear, PagerDuty, Teams, generic",
  responses: {
    200: jsonResponse(
      "Presets",
      z.object({
        presets: z.array(
          z.object({
            id: z.string(),
            name: z.string(),
            url: z.string(),
            headers: z.record(z.string(), z.string()),
            body: z.string(),
            notes: z.string(),
          }),
        ),
      }),
    ),
  },
});

export const alertRoutes = createRouter()
  .openapi(list, async (c) => c.json({ alertPolicies: (await listPolicies(c.env.DB)).map(alertPolicyView) }, 200))
  .openapi(create, async (c) => {
    const input = c.req.valid("json");
    const { warnings } = validatePolicy(c.env, input);
    const write = await toPolicyWrite(c.env, newRunId(), input);
    if (!(await insertPolicy(c.env.DB, write, c.get("principal").id, now())))
      throw new ApiError("already_exists", `an alert policy named '${input.name}' already exists`);
    return c.json({ alertPolicy: alertPolicyView((await findPolicy(c.env.DB, write.id))!), warnings }, 201);
  })
  .openapi(get, async (c) =>
    c.json({ alertPolicy: alertPolicyView(await requirePolicy(c.env.DB, c.req.valid("param").id)) }, 200),
  )
  .openapi(replace, async (c) => {
    const previous = await requirePolicy(c.env.DB, c.req.valid("param").id);
    const input = c.req.valid("json");
    const { warnings } = validatePolicy(c.env, input);
    if (!(await updatePolicy(c.env.DB, await toPolicyWrite(c.env, previous.id, input, previous), now()))) {
      throw new ApiError("already_exists", `an alert policy named '${input.name}' already exists`);
    }
    return c.json({ alertPolicy: alertPolicyView((await findPolicy(c.env.DB, previous.id))!), warnings }, 200);
  })
  .openapi(remove, async (c) => {
    if (!(await deletePolicy(c.env.DB, c.req.valid("param").id)))
      throw notFound(`alert policy '${c.req.valid("param").id}'`);
    return c.body(null, 204);
  })
  .openapi(preview, async (c) => {
    const policy = await requirePolicy(c.env.DB, c.req.valid("param").id);
    const type = sampleType(policy, c.req.valid("json").eventType);
    const rendered = await renderDelivery(
      c.env,
      policy,
      type,
      sampleFacts(type),
      `sample-${crypto.randomUUID()}`,
      true,
    );
    return c.json({ url: rendered.url, body: rendered.body }, 200);
  })
  .openapi(test, async (c) => {
    const policy = await requirePolicy(c.env.DB, c.req.valid("param").id);
    return c.json(await sendSample(c.env, policy, c.req.valid("json").eventType), 200);
  })
  .openapi(testDraft, async (c) => {
    const { eventType, policyId, ...input } = c.req.valid("json");
    validatePolicy(c.env, input);
    const saved = policyId === undefined ? undefined : await requirePolicy(c.env.DB, policyId);
    const write = await toPolicyWrite(c.env, "draft", input, saved);
    return c.json(
      await sendSample(c.env, { ...write, created_by: "", created_at: "", updated_at: "" }, eventType),
      200,
    );
  })
  .openapi(deliveries, async (c) => {
    const policy = await requirePolicy(c.env.DB, c.req.valid("param").id);
    return c.json(
      { deliveries: (await listDeliveries(c.env.DB, policy.id, c.req.valid("query").limit)).map(alertDeliveryView) },
      200,
    );
  })
  .openapi(delivery, async (c) =>
    c.json({ delivery: alertDeliveryView(await requireDelivery(c.env.DB, c.req.valid("param").id)) }, 200),
  )
  .openapi(replay, async (c) => {
    const row = await requireDelivery(c.env.DB, c.req.valid("param").id);
    const at = Date.now();
    if (row.status === "pending") refuseUnlessStuck(row, at);
    const attempts = row.attempts.length;
    // A stuck delivery's lost message may turn up after all: it then finds this attempt claimed.
    if (!(await scheduleReplay(c.env.DB, row.id, attempts, new Date(at).toISOString(), overdueBefore(at))))
      throw new ApiError("bad_request", `delivery '${row.id}' has just been sent or replayed: look at it again`);
    try {
      await c.env.ALERTS.send(
        { kind: "deliver", deliveryId: row.id, from: attempts, attempts },
        { contentType: "json" },
      );
    } catch (error) {
      // Not queued: an ended one is not pending either; a stuck one stays overdue, for the tick.
      if (row.status !== "pending") await unscheduleReplay(c.env.DB, row.id, row.status, now());
      throw error;
    }
    return c.json({ delivery: alertDeliveryView((await findDelivery(c.env.DB, row.id))!) }, 200);
  })
  .openapi(tokens, (c) =>
    c.json(
      {
        eventTypes: EVENT_TYPES.map((eventType) => ({
          eventType,
          tokens: tokensFor(eventType).map((token) => token.name),
        })),
        tokens: tokenReference(config(c.env).alerts),
        ignored: ASSET_TOKENS,
      },
      200,
    ),
  )
  .openapi(presets, (c) => c.json({ presets: PRESETS.map((preset) => ({ ...preset })) }, 200));

async function requirePolicy(db: D1Database, id: string): Promise<PolicyRow> {
  const row = await findPolicy(db, id);
  if (!row) throw notFound(`alert policy '${id}'`);
  return row;
}

async function requireDelivery(db: D1Database, id: string): Promise<DeliveryRow> {
  const row = await findDelivery(db, id);
  if (!row) throw notFound(`alert delivery '${id}'`);
  return row;
}

/** A pending delivery may be replayed only when it is stuck: its next attempt overdue, nobody making it. */
function refuseUnlessStuck(row: DeliveryRow, at: number): void {
  if (row.claimed_until !== null && Date.parse(row.claimed_until) > at)
    throw new ApiError("bad_request", `delivery '${row.id}' is still being sent: an attempt is being made now`);
  if (row.next_attempt_at !== null && !isOverdue(row.next_attempt_at, at)) {
    const replayable = new Date(Date.parse(row.next_attempt_at) + OVERDUE_GRACE_MS).toISOString();
    throw new ApiError(
      "bad_request",
      `delivery '${row.id}' is still being sent: its next attempt is due at ${row.next_attempt_at}; it can be replayed if that attempt has not been made by ${replayable}`,
    );
  }
}

function sampleType(policy: Pick<PolicyRow, "event_types">, asked: EventType | undefined): EventType {
  return asked ?? policy.event_types[0] ?? "JOB_FAILURE";
}

async function sendSample(env: Cloudflare.Env, policy: PolicyRow, asked: EventType | undefined) {
  const type = sampleType(policy, asked);
  const rendered = await renderDelivery(env, policy, type, sampleFacts(type), `sample-${crypto.randomUUID()}`, true);
  const result = await send(env, rendered);
  return {
    statusCode: result.attempt.statusCode,
    headers: result.responseHeaders,
    body: result.responseBody,
    ...(result.attempt.error ? { error: result.attempt.error } : {}),
  };
}

/** A realistic event, with the characters that break naive templates (quotes, newlines, a mention). */
function sampleFacts(type: EventType): EventFacts {
  const finished = new Date();
  const started = new Date(finished.getTime() - 5 * 60_000);
  return {
    dagName: "example-deploy",
    runId: "01938f4e-sample-run",
    runStatus:
      type === "JOB_SUCCESS" || type === "JOB_RECOVERED"
        ? "succeeded"
        : type === "JOB_LONG_RUNNING"
          ? "running"
          : "failed",
    trigger: "webhook",
    triggeredBy: "webhook:dagu_wh_7Kq9",
    params: 'ENV=prod BRANCH="main"',
    startedAt: started.toISOString(),
    finishedAt: type === "JOB_LONG_RUNNING" ? null : finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    failedSteps: type === "JOB_FAILURE" ? ["build"] : [],
    ...(type === "JOB_RECOVERED" && { recoveredFrom: "01938f4d-sample-failed-run" }),
    // The shape of a real failure: the step, its reason, its output's end.
    ...(type === "JOB_FAILURE" && {
      failedStep: "build",
      failureOutput:
        'npm ERR! missing script: "build" (@everyone this is sample text)\nnpm ERR! A complete log of this run can be found in: /tmp/npm.log',
    }),
    error:
      type === "JOB_SUCCESS" || type === "JOB_RECOVERED" || type === "JOB_LONG_RUNNING"
        ? undefined
        : type === "JOB_FAILURE"
          ? "exit code 2"
          : 'sample error: "quoted"\nsecond line (@everyone this is sample text)',
    scheduledFor: finished.toISOString(),
    errors: ["steps[2].depends: unknown step 'buidl' (line 14, col 9)"],
    agentUrl: "http://runner",
    metric: "failed_runs",
    threshold: 3,
    value: 5,
  };
}
