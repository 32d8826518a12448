/** The wire shape of an alert policy: every header value and the signing secret redacted. */
import { type Policy, REDACTED } from "../../alerts/policies.ts";
import type { EventType } from "../../alerts/tokens.ts";
import type { PolicyRow } from "../../db/alerts.ts";

export function alertPolicyView(row: PolicyRow): Policy {
  const headerNames = JSON.parse(row.header_names) as string[];
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    enabled: row.enabled === 1,
    eventTypes: JSON.parse(row.event_types) as EventType[],
    dagNames: JSON.parse(row.dag_names) as string[],
    tags: JSON.parse(row.tags) as string[],
    options: JSON.parse(row.options) as Policy["options"],
    webhook: {
      url: row.url,
      headers: Object.fromEntries(headerNames.map((name) => [name, REDACTED])),
      body: row.body,
      ...(row.signing_secret ? { signingSecret: REDACTED } : {}),
    },
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
