/** The wire shape of an alert delivery, with every attempt. */
import type { DeliveryRow } from "../../db/alerts.ts";

export function alertDeliveryView(row: DeliveryRow) {
  return {
    id: row.id,
    policyId: row.policy_id,
    eventType: row.event_type,
    dagName: row.dag_name,
    dagRunId: row.run_id,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
