import type { Schemas } from "../api/client.ts";

type Webhook = Schemas["WebhookDetails"];
export type SignatureScheme = NonNullable<Webhook["signature"]>["scheme"];

/** How a webhook's triggers authenticate, in words (the DAG page and the webhooks list). */
export const AUTH_MODE_LABELS: Record<Webhook["authMode"], string> = {
  token: "Token only",
  token_or_signature: "Token or signature",
  signature: "Signature only",
  token_and_hmac: "Token and X-Dagu-Signature",
  hmac_only: "X-Dagu-Signature only",
};

export const SIGNATURE_SCHEMES: Record<SignatureScheme, { name: string; header: string; secretGoesIn: string }> = {
  github: { name: "GitHub", header: "X-Hub-Signature-256", secretGoesIn: "GitHub webhook settings → Secret" },
  slack: { name: "Slack", header: "X-Slack-Signature", secretGoesIn: "your Slack app's Signing Secret" },
  standard: { name: "Standard Webhooks", header: "webhook-signature", secretGoesIn: "the sender's whsec_ secret" },
};
