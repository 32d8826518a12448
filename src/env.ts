import type { Principal } from "./auth/principal.ts";

declare global {
  namespace Cloudflare {
    // Optional secrets that `wrangler types` can't infer: they create the first admin on a
    // deployment whose users table is empty.
    interface Env {
      ADMIN_USERNAME?: string;
      ADMIN_PASSWORD?: string;
    }
  }
}

/** The Hono environment every route and middleware shares. */
export type AppEnv = {
  Bindings: Cloudflare.Env;
  Variables: {
    principal: Principal;
  };
};
