/** The wire shape of an alert policy: every header value and the signing secret redacted. */
import { type Policy, REDACTED } from "../../alerts/policies.ts";
import type { PolicyRow } from "../../db/alerts.ts";

export function alertPolicyView(row: PolicyRow): Policy {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    enabled: row.enabled === 1,
    eventTypes: row.event_types,
    dagNames: row.dag_names,
    tags: row.tags,
    options: row.options,
    webhook: {
      url: row.url,
      destination: row.destination,
      headers: Object.fromEntries(row.header_names.map((name) => [name, REDACTED])),
      body: row.body,
      ...(row.signing_secret ? { signingSecret: REDACTED } : {}),
    },
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
