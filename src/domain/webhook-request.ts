/** A webhook trigger attempt as the inbound log records it (src/webhooks/inbound-log.ts, src/db/webhook-requests.ts). */

export const WEBHOOK_OUTCOMES = ["accepted", "refused", "rate_limited", "failed"] as const;
export type WebhookOutcome = (typeof WEBHOOK_OUTCOMES)[number];

export type WebhookRequestRow = {
  id: string;
  dag_id: string;
  received_at: string;
  client_ip: string;
  method: string;
  outcome: WebhookOutcome;
  status_code: number;
  error_code: string | null;
  message: string;
  run_id: string | null;
  /** JSON object, credentials already redacted. */
  headers: string;
  content_type: string;
  body: string | null;
  body_bytes: number;
  body_truncated: number;
  replay_of: string | null;
  replayed_by: string | null;
};

/**
 * What is recorded. The DAG is named, and nothing is recorded when no DAG has that name; or, from
 * its coordinator, given by id (`dag_id`), which a rename meanwhile doesn't change.
 */
export type NewWebhookRequest = Omit<WebhookRequestRow, "dag_id" | "body_truncated"> & {
  dag_name: string;
  dag_id?: string | undefined;
  body_truncated: boolean;
};
