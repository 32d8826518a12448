import type { Principal } from "./auth/principal.ts";

declare global {
  namespace Cloudflare {
    // Optional secrets and vars that `wrangler types` can't infer; src/config.ts parses them all.
    // ADMIN_USERNAME / ADMIN_PASSWORD create the first admin on a deployment whose users table is empty.
    interface Env {
      ADMIN_USERNAME?: string;
      ADMIN_PASSWORD?: string;
      // Encrypts alert header values and signing secrets (src/auth/encryption.ts); production needs it.
      ENCRYPTION_KEY?: string;
      // Alert delivery tuning: retry schedule in seconds ("0,5,300,…")
      // and the per-request timeout. Defaults suit production; the tests shorten both.
      ALERTS_RETRY_SCHEDULE?: string;
      ALERTS_TIMEOUT_MS?: string;
      // Retention of the webhook inbound log: requests kept per DAG (per kind) and days.
      WEBHOOK_LOG_MAX_PER_DAG?: string;
      WEBHOOK_LOG_DAYS?: string;
      // Set only by `npm run dev`, per start: opens its start-up route (src/dev/setup.ts).
      DEV_SETUP_SECRET?: string;
    }
  }
}

/** The Hono environment every route and middleware shares. */
export type AppEnv = {
  Bindings: Cloudflare.Env;
  Variables: {
    principal: Principal;
    /** The request's X-Request-Id (src/app.ts): on its response, in its error body and log lines. */
    requestId: string;
    /** A webhook trigger's inbound log record in the making (src/webhooks/inbound-log.ts). */
    inboundLog?: { id: string; receivedAt: string; handedOn: boolean };
  };
};
