import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => ({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          // Tests run as a development instance with a fixed signing secret; production checks
          // are exercised by overriding ENVIRONMENT per request (test/api/auth.test.ts).
          ENVIRONMENT: "development",
          AUTH_MODE: "builtin",
          JWT_SECRET: "test-only-secret-0123456789abcdef0123456789",
          TEST_MIGRATIONS: await readD1Migrations("./migrations"),
        },
      },
    }),
  ],
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["./test/apply-migrations.ts"],
  },
}));
