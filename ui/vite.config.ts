import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

// The admin app: built into ui/dist, which `npm run dev` serves next to the API (Workers static
// assets, wrangler.toml [env.dev.assets]) and `npm run deploy` uploads to Cloudflare Pages.
export default defineConfig(({ command }) => ({
  root: import.meta.dirname,
  // Preact's devtools hook only while serving (`npm run ui:dev`); builds stay lean and quiet.
  plugins: [preact({ devToolsEnabled: command === "serve" })],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: true,
    target: "es2022",
    // Rolldown's note that plugins took a while (a loaded machine, not a problem of the build).
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
  // `npm run ui:dev`: live reloading while editing the UI, against the API of `npm run dev`.
  server: {
    host: "127.0.0.1",
    proxy: { "/api": process.env.API_URL ?? "http://127.0.0.1:8787" },
  },
}));
