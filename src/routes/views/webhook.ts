/** The wire shape of a DAG's webhook (Dagu's `WebhookDetails`): never the token's hash or digest, nor the signing secret. */
import type { SignatureScheme } from "../../auth/webhook-signatures.ts";
import type { WebhookAuthMode, WebhookWithDag } from "../../db/webhooks.ts";

export type Webhook = {
  id: string;
  dagName: string;
  tokenPrefix: string;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
  createdBy: string;
  lastUsedAt?: string;
  /** dagflare: how triggers authenticate, and the signature's scheme (never its secret). */
  authMode: WebhookAuthMode;
  signature: { scheme: SignatureScheme; updatedAt: string } | null;
};

export const webhookView = (row: WebhookWithDag): Webhook => ({
  id: row.id,
  dagName: row.dag_name,
  tokenPrefix: row.token_prefix,
  enabled: row.enabled === 1,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  createdBy: row.created_by,
  ...(row.last_used_at ? { lastUsedAt: row.last_used_at } : {}),
  authMode: row.auth_mode,
  signature: row.signature_scheme
    ? { scheme: row.signature_scheme, updatedAt: row.signature_updated_at ?? row.updated_at }
    : null,
});
