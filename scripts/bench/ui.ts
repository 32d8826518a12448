/**
 * `npm run bench:ui`: how fast the admin UI shows its pages, in Chromium, on a local
 * `npm run dev` (the production build of the UI, served by wrangler with the API).
 *
 * Baseline: one GET /api/v2/dags issued from the page (what the DAG list needs from the API).
 * Measured: a full load of /dags until the DAG names show (HTML, app bundle, session check,
 * the list), a full load of a DAG's spec page until the editor is ready (plus CodeMirror, loaded
 * on demand), and moving from the list to a DAG page inside the app (no reload).
 *
 * Prints medians and p90s in milliseconds and the ratio to the baseline; the machine is shared
 * and noisy, so compare ratios, not absolute numbers.
 */
import { launchBrowser, logIn } from "../../test/node/browser.ts";
import { ADMIN, median, percentile, startLocalInstance } from "../lib/local-instance.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 15);
const DAG = "example-http-check";

const instance = await startLocalInstance();
const origin = new URL(instance.api).origin;
const browser = await launchBrowser();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  await logIn(page, origin, ADMIN.username, ADMIN.password);
  const samples = { api: [] as number[], list: [] as number[], spec: [] as number[], inApp: [] as number[] };
  const time = async (into: number[], action: () => Promise<unknown>) => {
    const start = performance.now();
    await action();
    into.push(performance.now() - start);
  };
  for (let round = 0; round < ROUNDS + 2; round++) {
    await page.goto("about:blank");
    await time(samples.list, async () => {
      await page.goto(`${origin}/dags`);
      await page.getByRole("link", { name: DAG }).waitFor();
    });
    await time(samples.api, () =>
      page.evaluate(
        `fetch("/api/v2/dags", { headers: { Authorization: "Bearer " + localStorage.getItem("dagflare.session") } }).then((r) => r.json())`,
      ),
    );
    await time(samples.inApp, async () => {
      await page.getByRole("link", { name: DAG }).click();
      await page.locator(".dag-graph").waitFor();
    });
    await page.goto("about:blank");
    await time(samples.spec, async () => {
      await page.goto(`${origin}/dags/${DAG}/spec`);
      await page.locator(".cm-content").waitFor();
    });
  }
  // The first two rounds warm caches and the Worker; they are not counted.
  const rows = [
    ["GET /api/v2/dags from the page — baseline", samples.api],
    ["load /dags until the DAG names show", samples.list],
    ["load a spec page until the editor is ready", samples.spec],
    ["DAG list → DAG page, in the app", samples.inApp],
  ] as const;
  const baseline = median(samples.api.slice(2));
  console.log(`\n${"measure".padEnd(46)} ${"median".padStart(8)} ${"p90".padStart(8)} ${"vs baseline".padStart(12)}`);
  for (const [label, values] of rows) {
    const counted = values.slice(2);
    console.log(
      `${label.padEnd(46)} ${median(counted).toFixed(1).padStart(8)} ${percentile(counted, 90).toFixed(1).padStart(8)} ${(median(counted) / baseline).toFixed(2).padStart(12)}`,
    );
  }
} finally {
  await browser.close();
  await instance.stop();
}
