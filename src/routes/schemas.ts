/**
 * Wire schemas: they validate requests and describe the API in /api/v2/openapi.json, so the
 * document can't drift from what the Worker accepts. Names and shapes follow Dagu's /api/v2.
 */
import { z } from "@hono/zod-openapi";
import { MAX_PASSWORD_BYTES, MIN_PASSWORD_LENGTH } from "../auth/passwords.ts";
import { DAG_NAME_MAX_LENGTH, DAG_NAME_PATTERN } from "../domain/dag-spec.ts";
import { ROLES } from "../domain/roles.ts";
import { RUN_TRIGGERS } from "../domain/run.ts";
import { NODE_STATUS_LABELS, RUN_STATUS_LABELS } from "../domain/status.ts";
import { ErrorCodeSchema } from "../errors.ts";

export const ErrorSchema = z
  .object({
    code: ErrorCodeSchema,
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
    requestId: z.string().optional().openapi({ description: "The request's X-Request-Id, also in its log lines" }),
  })
  .openapi("Error");

export const RoleSchema = z.enum(ROLES).openapi("UserRole");

export const Timestamp = z.string().openapi({ format: "date-time", example: "2026-11-24T12:00:00.000Z" });

export const PasswordSchema = z
  .string()
  .min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`)
  .refine((password) => new TextEncoder().encode(password).byteLength <= MAX_PASSWORD_BYTES, {
    message: `must be at most ${MAX_PASSWORD_BYTES} bytes`,
  });

export const UsernameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._@-]+$/, "may contain letters, digits and . _ @ - only");

export const SuccessSchema = z.object({ message: z.string() }).openapi("SuccessResponse");

// --- users -----------------------------------------------------------------------------------

export const UserSchema = z
  .object({ id: z.string(), username: z.string(), role: RoleSchema, createdAt: Timestamp, updatedAt: Timestamp })
  .openapi("User");

export const UserResponseSchema = z.object({ user: UserSchema }).openapi("UserResponse");

export const UserIdParam = z.object({
  userId: z
    .string()
    .min(1)
    .openapi({ param: { name: "userId", in: "path" } }),
});

// --- API keys --------------------------------------------------------------------------------

export const ApiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    role: RoleSchema,
    keyPrefix: z.string().openapi({ description: "First 12 characters of the key, for identification" }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    createdBy: z.string(),
    lastUsedAt: Timestamp.nullable(),
  })
  .openapi("APIKey");

export const ApiKeyIdParam = z.object({
  keyId: z
    .string()
    .min(1)
    .openapi({ param: { name: "keyId", in: "path" } }),
});

// --- DAGs ------------------------------------------------------------------------------------

export const DagNameSchema = z
  .string()
  .max(DAG_NAME_MAX_LENGTH, `must be at most ${DAG_NAME_MAX_LENGTH} characters`)
  .regex(DAG_NAME_PATTERN, "may contain letters, digits, _ and - only")
  .openapi("DAGName");

export const FileNameParam = z.object({
  fileName: DagNameSchema.openapi({ param: { name: "fileName", in: "path" } }),
});

export const ScheduleSchema = z.object({ expression: z.string() }).openapi("Schedule");

export const DagSchema = z
  .object({
    name: z.string(),
    group: z.string().optional(),
    description: z.string(),
    schedule: z.array(ScheduleSchema),
    tags: z.array(z.string()),
    params: z.array(z.string()).optional(),
    defaultParams: z.string().optional(),
    maxActiveRuns: z.number().int().optional(),
  })
  .openapi("DAG");

export const ConditionSchema = z
  .object({ condition: z.string(), expected: z.string().optional(), negate: z.boolean().optional() })
  .openapi("Condition");

export const StepSchema = z
  .object({
    name: z.string(),
    id: z.string().optional(),
    description: z.string().optional(),
    command: z.string().optional(),
    script: z.string().optional(),
    dir: z.string().optional(),
    depends: z.array(z.string()),
    output: z.string().optional(),
    preconditions: z.array(ConditionSchema),
    timeoutSec: z.number().optional(),
    executorConfig: z.object({ type: z.string(), config: z.record(z.string(), z.unknown()) }).optional(),
  })
  .openapi("Step");

export const DagDetailsSchema = DagSchema.extend({
  type: z.enum(["chain", "graph"]),
  env: z.array(z.string()),
  timeoutSec: z.number().optional(),
  steps: z.array(StepSchema),
  handlerOn: z.record(z.string(), StepSchema),
}).openapi("DAGDetails");

export const LocalDagSchema = z
  .object({ name: z.string(), dag: DagDetailsSchema.optional(), errors: z.array(z.string()) })
  .openapi("LocalDag", { description: "A sub-DAG written in the same file, after a `---`" });

export const RunStatusLabelSchema = z
  .enum(RUN_STATUS_LABELS)
  .openapi("RunStatusLabel", { description: "A run's status; `status` is its number (Dagu's)" });

export const NodeStatusLabelSchema = z
  .enum(NODE_STATUS_LABELS)
  .openapi("NodeStatusLabel", { description: "A step's status in a run; `status` is its number (Dagu's)" });

export const RunTriggerSchema = z.enum(RUN_TRIGGERS).openapi("RunTrigger", {
  description:
    "How a run was started: by a person (manual), an API key (api), a webhook, a schedule, a retry, or another DAG's step (parent)",
});

export const RunSummarySchema = z
  .object({
    rootDAGRunName: z.string(),
    rootDAGRunId: z.string(),
    dagRunId: z.string(),
    name: z.string(),
    status: z.number().int(),
    statusLabel: RunStatusLabelSchema,
    queuedAt: z.string().optional(),
    startedAt: z.string(),
    finishedAt: z.string(),
    log: z.string(),
    artifactsAvailable: z
      .boolean()
      .openapi({ description: "Dagu 2.x's field: always false (dagflare keeps no artifact files)" }),
    autoRetryCount: z
      .number()
      .int()
      .openapi({ description: "Dagu 2.x's field: always 0 (dagflare has no DAG-level automatic retries)" }),
    trigger: RunTriggerSchema.optional().openapi({
      description: "How the run was started; absent only for a DAG that never ran (dagflare extension)",
    }),
    triggeredBy: z
      .string()
      .optional()
      .openapi({ description: "Who or what started the run; absent with `trigger` (dagflare extension)" }),
  })
  .openapi("DAGRunSummary");

export const SubRunSchema = z
  .object({
    dagRunId: z.string(),
    dagName: z.string().openapi({ description: "The called DAG (dagflare extension)" }),
    params: z.string(),
    status: z.number().int(),
    statusLabel: RunStatusLabelSchema,
    startedAt: z.string(),
    finishedAt: z.string(),
    error: z.string().optional().openapi({ description: "Why it failed to start or was stopped (dagflare extension)" }),
  })
  .openapi("SubDAGRunDetail");

export const NodeSchema = z
  .object({
    step: StepSchema,
    stdout: z.string().openapi({ description: "API path of the step's stdout" }),
    stderr: z.string().openapi({ description: "API path of the step's stderr" }),
    startedAt: z.string(),
    finishedAt: z.string(),
    status: z.number().int(),
    statusLabel: NodeStatusLabelSchema,
    retryCount: z.number().int(),
    doneCount: z.number().int(),
    error: z.string().optional(),
    exitCode: z.number().int().nullable(),
    output: z.string().nullable(),
    subRuns: z
      .array(SubRunSchema)
      .optional()
      .openapi({ description: "The runs this step called (its latest attempt)" }),
    subRunsRepeated: z
      .array(SubRunSchema)
      .optional()
      .openapi({ description: "The runs earlier attempts called (retries and repeats)" }),
  })
  .openapi("Node");

export const RunDetailsSchema = RunSummarySchema.extend({
  parentDAGRunName: z.string().optional().openapi({ description: "A sub-DAG run: the DAG whose step called it" }),
  parentDAGRunId: z.string().optional().openapi({ description: "A sub-DAG run: the run whose step called it" }),
  parentStep: z
    .string()
    .optional()
    .openapi({ description: "A sub-DAG run: the step that called it (dagflare extension)" }),
  params: z.string(),
  type: z.enum(["chain", "graph"]).openapi({ description: "The DAG's type when the run started (dagflare extension)" }),
  trigger: RunTriggerSchema.openapi({ description: "How the run was started (dagflare extension)" }),
  triggeredBy: z.string().openapi({ description: "Who or what started the run (dagflare extension)" }),
  webhookPayload: z.string().nullable().openapi({
    description:
      "The webhook's payload as the steps see it (WEBHOOK_PAYLOAD, exact JSON text); null when not started by a webhook (dagflare extension)",
  }),
  webhookHeaders: z.string().nullable().openapi({
    description: "The request headers the DAG forwards (WEBHOOK_HEADERS, JSON text), or null (dagflare extension)",
  }),
  nodes: z.array(NodeSchema),
  onSuccess: NodeSchema.optional(),
  onFailure: NodeSchema.optional(),
  onCancel: NodeSchema.optional(),
  onExit: NodeSchema.optional(),
}).openapi("DAGRunDetails");

export const DagFileSchema = z
  .object({
    fileName: z.string(),
    dag: DagSchema,
    latestDAGRun: RunSummarySchema,
    suspended: z.boolean(),
    nextRun: Timestamp.optional().openapi({
      description: "Next scheduled run; absent when none (as Dagu 2.x; a dagflare extension of 1.x)",
    }),
    errors: z.array(z.string()),
  })
  .openapi("DAGFile");

export const PaginationSchema = z
  .object({
    totalRecords: z.number().int(),
    currentPage: z.number().int(),
    totalPages: z.number().int(),
    nextPage: z.number().int(),
    prevPage: z.number().int(),
  })
  .openapi("Pagination");

/** Dagu's pagination block: pages count from 1; 0 means "no next/previous page". */
export function pagination(total: number, page: number, perPage: number): z.infer<typeof PaginationSchema> {
  const totalPages = Math.max(1, Math.ceil(total / perPage));
  return {
    totalRecords: total,
    currentPage: page,
    totalPages,
    nextPage: page < totalPages ? page + 1 : 0,
    prevPage: page > 1 ? page - 1 : 0,
  };
}

export const SpecErrorSchema = z
  .object({
    field: z.string(),
    message: z.string(),
    line: z.number().int().optional(),
    column: z.number().int().optional(),
  })
  .openapi("SpecError", { description: "A DAG spec error with its place in the YAML (dagflare extension)" });
