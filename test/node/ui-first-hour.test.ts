/**
 * Issue 19, "the first hour": what a new user ran into in the admin UI, each checked in Chromium
 * against `npm run dev`. Every page visited must leave a clean console: no script or console
 * error and no failed request (a 401 or 404 the UI asked for counts too).
 * Screenshots land in test-artifacts/ui-first-hour/.
 */
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { until } from "../until.ts";
import { CHROMIUM, chromiumInstalled, launchBrowser, logIn } from "./browser.ts";
import { type Dev, killLeftovers, root, startDev, stopDev } from "./dev-server.ts";

const PASSWORD = "first-hour-password-1";
const ARTIFACTS = join(root, "test-artifacts", "ui-first-hour");
const WIDE = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };
/** No schedule: schedule controls have nothing to act on. */
const PLAIN = "fh-plain";
const SCHEDULED = "fh-scheduled";
/** Its second step writes a line to stdout, the reason to stderr, and fails. */
const FAILING = "fh-failing";

const browserTests = chromiumInstalled() || process.env.CI ? describe : describe.skip;
if (!chromiumInstalled())
  console.warn(
    `browser tests ${process.env.CI ? "will fail" : "skipped"}: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`,
  );

browserTests("the first hour in the admin UI", () => {
  let dev: Dev;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let adminToken = "";
  /** What the pages of this test did wrong; each test must leave it empty. */
  const problems: string[] = [];

  const apiAs = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${dev.url}/api/v2${path}`, {
      method,
      headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(response.status, `${method} ${path}`).toBeLessThan(300);
    return (await response.json().catch(() => null)) as Record<string, unknown>;
  };
  const watch = (target: Page) => {
    target.on("pageerror", (error) => problems.push(`script error: ${error.message}`));
    // Chromium logs every 4xx/5xx answer as "Failed to load resource": those count as errors too.
    target.on("console", (message) => {
      if (message.type() === "error") problems.push(`console error on ${target.url()}: ${message.text()}`);
    });
    target.on("response", (response) => {
      if (response.status() >= 400)
        problems.push(`${response.request().method()} ${new URL(response.url()).pathname} → ${response.status()}`);
    });
    target.on("requestfailed", (request) => {
      // Leaving a page cancels its polls: not a failure.
      if (request.failure()?.errorText !== "net::ERR_ABORTED")
        problems.push(`${request.method()} ${request.url()} failed: ${request.failure()?.errorText}`);
    });
  };
  const shot = (name: string, target: Page = page) =>
    target.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const clipboard = (target: Page = page) => target.evaluate<string>("navigator.clipboard.readText()");
  const waitForRun = (dag: string, runId: string, status: string) =>
    until(async () => {
      const { dagRunDetails } = (await apiAs("GET", `/dag-runs/${dag}/${runId}`)) as {
        dagRunDetails: { statusLabel: string };
      };
      return dagRunDetails.statusLabel === status ? true : undefined;
    }, 30_000);

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    [dev, browser] = await Promise.all([
      startDev({
        STATE_DIR: mkdtempSync(join(tmpdir(), "dagflare-state-")),
        ADMIN_USERNAME: "admin",
        ADMIN_PASSWORD: PASSWORD,
      }),
      launchBrowser(),
    ]);
    const login = await fetch(`${dev.url}/api/v2/auth/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: "admin", password: PASSWORD }),
    });
    adminToken = ((await login.json()) as { token: string }).token;
    await apiAs("POST", "/dags", { name: PLAIN, spec: "steps:\n  - name: hello\n    command: echo hello\n" });
    await apiAs("POST", "/dags", {
      name: SCHEDULED,
      spec: 'schedule: "0 3 * * *"\nsteps:\n  - name: nightly\n    command: echo nightly\n',
    });
    await apiAs("POST", "/dags", {
      name: FAILING,
      spec: `steps:
  - name: prepare
    command: echo ready
  - name: deploy
    depends: prepare
    command: 'echo "deploy starting"; echo "boom: the config is missing" >&2; exit 3'
`,
    });
    // The copy buttons write to the clipboard, which the test reads back.
    context = await browser.newContext({ viewport: WIDE });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: dev.url });
    page = await context.newPage();
    watch(page);
  });

  afterEach(() => {
    const seen = problems.splice(0);
    expect(seen, seen.join("\n")).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    if (dev) await stopDev(dev, "SIGTERM");
    killLeftovers();
  });

  it("the login page asks nothing that fails: no 401 before anyone signs in (item 9)", async () => {
    await page.goto(`${dev.url}/dags`);
    await page.getByRole("button", { name: "Log in" }).waitFor();
    await page.waitForLoadState("networkidle");
    await shot("login");
    // The afterEach hook judges the console (a 401 from /auth/me was there before issue 19).
    await logIn(page, dev.url, "admin", PASSWORD);
  });

  it("offers schedule controls only on a DAG with a schedule (item 3)", async () => {
    await page.goto(`${dev.url}/dags/${PLAIN}`);
    const actions = page.locator(".page-header");
    await actions.getByRole("button", { name: "Run", exact: true }).waitFor();
    await expect(actions.getByRole("button", { name: /schedule/i }).count()).resolves.toBe(0);
    const definition = page.locator('section[aria-labelledby="about-title"]');
    await definition.getByText("Schedule").waitFor();
    await expect(
      definition
        .locator("dt")
        .filter({ hasText: /^State$/ })
        .count(),
    ).resolves.toBe(0);
    await page.waitForLoadState("networkidle");
    await shot("dag-without-schedule");

    await page.goto(`${dev.url}/dags/${SCHEDULED}`);
    await actions.getByRole("button", { name: "Run", exact: true }).waitFor();
    await actions.getByRole("button", { name: "Suspend schedule" }).click();
    await actions.getByRole("button", { name: "Resume schedule" }).waitFor();
    expect(await apiAs("GET", `/dags/${SCHEDULED}`)).toMatchObject({ suspended: true });
    await actions.getByRole("button", { name: "Resume schedule" }).click();
    await actions.getByRole("button", { name: "Suspend schedule" }).waitFor();
    // A DAG without a webhook: the panel asked without a 404 (the afterEach hook checks).
    await page.locator(".webhook-panel").getByRole("button", { name: "Create Webhook" }).waitFor();
    await page.waitForLoadState("networkidle");
  });

  let webhookToken = "";
  it("webhook panel: one control for the enabled state, copy buttons on the curl and the URL (items 4, 5)", async () => {
    await page.goto(`${dev.url}/dags/${PLAIN}`);
    const panel = page.locator(".webhook-panel");
    await panel.getByRole("button", { name: "Create Webhook" }).click();
    await panel.getByText("won't be shown again").waitFor();
    webhookToken = (await panel.locator(".secret code").first().textContent())!.trim();

    const curl = (await panel.locator("pre.curl").textContent())!;
    expect(curl).toContain(`Authorization: Bearer ${webhookToken}`);
    await panel.getByRole("button", { name: "Copy command" }).click();
    await panel.getByRole("button", { name: "Copied" }).waitFor();
    expect(await clipboard()).toBe(curl);
    await shot("dag-webhook-created");

    // The state has one control, the switch; no Disable/Enable button beside it.
    const enabled = panel.getByRole("switch", { name: "Enabled" });
    await expect(enabled.isChecked()).resolves.toBe(true);
    await expect(panel.getByRole("button", { name: /^(Disable|Enable)$/ }).count()).resolves.toBe(0);
    await enabled.click();
    await panel.getByText("Triggers are refused").waitFor();
    await expect(enabled.isChecked()).resolves.toBe(false);
    expect(await apiAs("GET", `/dags/${PLAIN}/webhook`)).toMatchObject({ enabled: false });
    await enabled.click();
    await panel.getByText("Triggers are refused").waitFor({ state: "detached" });
    expect(await apiAs("GET", `/dags/${PLAIN}/webhook`)).toMatchObject({ enabled: true });

    await panel.getByRole("button", { name: "Copy URL" }).click();
    expect(await clipboard()).toBe(`${dev.url}/api/v2/webhooks/${PLAIN}`);
    await page.waitForLoadState("networkidle");
    await shot("dag-webhook");
  });

  it("the runs list tells webhook runs from manual ones, and filters by trigger on the server (item 2)", async () => {
    const trigger = await fetch(`${dev.url}/api/v2/webhooks/${PLAIN}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${webhookToken}`, "Content-Type": "application/json" },
      body: "{}",
    });
    expect(trigger.status).toBe(200);
    const byWebhook = ((await trigger.json()) as { dagRunId: string }).dagRunId;
    const byHand = (await apiAs("POST", `/dags/${PLAIN}/start`, {})).dagRunId as string;
    await waitForRun(PLAIN, byWebhook, "succeeded");
    await waitForRun(PLAIN, byHand, "succeeded");

    await page.goto(`${dev.url}/runs`);
    const table = page.locator("table.runs-table");
    await table.locator(`tr[data-run-id="${byWebhook}"]`).waitFor();
    await expect(table.locator("thead th").allTextContents()).resolves.toEqual(
      expect.arrayContaining(["Trigger", "By"]),
    );
    const cells = async (runId: string) => {
      const row = table.locator(`tr[data-run-id="${runId}"]`);
      return [
        await row.locator('td[data-label="Trigger"]').textContent(),
        await row.locator('td[data-label="By"]').textContent(),
      ];
    };
    expect(await cells(byWebhook)).toEqual(["webhook", `webhook:${webhookToken.slice(0, 12)}`]);
    expect(await cells(byHand)).toEqual(["manual", "admin"]);
    await shot("runs");

    const asked = page.waitForRequest(
      (request) =>
        new URL(request.url()).pathname === "/api/v2/dag-runs" &&
        new URL(request.url()).searchParams.get("trigger") === "webhook",
    );
    await page.getByRole("combobox", { name: /^Trigger/ }).selectOption("webhook");
    await asked;
    await table.locator(`tr[data-run-id="${byHand}"]`).waitFor({ state: "detached" });
    await table.locator(`tr[data-run-id="${byWebhook}"]`).waitFor();
    expect(new URL(page.url()).searchParams.get("trigger")).toBe("webhook");
    await expect(
      table.locator("tbody tr").evaluateAll((rows) => rows.map((row) => row.dataset.trigger)),
    ).resolves.toEqual(["webhook"]);
    await page.getByRole("heading", { name: "Runs" }).waitFor();
    await page.getByText(/^1 run$/).waitFor();
    await page.waitForLoadState("networkidle");
    await shot("runs-webhook-only");

    // The DAG page's recent runs say it too, and still fit their half-width card.
    await page.goto(`${dev.url}/dags/${PLAIN}`);
    const recent = page.getByRole("table", { name: `Recent runs of ${PLAIN}` });
    await expect(recent.locator(`tr[data-run-id="${byWebhook}"] td[data-label="Trigger"]`).textContent()).resolves.toBe(
      "webhook",
    );
    await expect(recent.locator(`tr[data-run-id="${byHand}"] td[data-label="Trigger"]`).textContent()).resolves.toBe(
      "manual",
    );
    const sideways = await recent.evaluate(
      (table) => table.parentElement!.scrollWidth - table.parentElement!.clientWidth,
    );
    expect(sideways, "the recent runs scroll sideways").toBeLessThanOrEqual(0);
    await page.waitForLoadState("networkidle");
    await shot("dag-recent-runs");
  });

  it("a failed step opens on its error and its stderr, not on stdout (item 1)", async () => {
    const runId = (await apiAs("POST", `/dags/${FAILING}/start`, {})).dagRunId as string;
    await waitForRun(FAILING, runId, "failed");
    const { dagRunDetails } = (await apiAs("GET", `/dag-runs/${FAILING}/${runId}`)) as {
      dagRunDetails: { nodes: { step: { name: string }; error?: string }[] };
    };
    const error = dagRunDetails.nodes.find((node) => node.step.name === "deploy")?.error;
    expect(error).toBeTruthy();

    await page.goto(`${dev.url}/runs/${FAILING}/${runId}`);
    const log = page.locator("#step-log");
    await log.getByRole("heading", { name: "Output of deploy" }).waitFor();
    // stderr, where the reason is…
    await log.getByRole("link", { name: "stderr", exact: true }).and(log.locator('[aria-current="page"]')).waitFor();
    await log.getByLabel("stderr of deploy").getByText("boom: the config is missing").waitFor();
    // …under the step's error, above the tabs.
    const errorLine = log.locator(".step-error-line");
    await expect(errorLine.textContent()).resolves.toBe(`Error: ${error}`);
    const tabs = log.getByRole("navigation", { name: "Output of deploy" });
    expect((await errorLine.boundingBox())!.y).toBeLessThan((await tabs.boundingBox())!.y);
    await page.waitForLoadState("networkidle");
    await shot("run-failed-step");

    // stdout stays one click away, and stays chosen.
    await log.getByRole("link", { name: "stdout", exact: true }).click();
    await log.getByLabel("stdout of deploy").getByText("deploy starting").waitFor();
    expect(new URL(page.url()).searchParams.get("stream")).toBe("stdout");
    // A step that succeeded opens on stdout, as before.
    await page.goto(`${dev.url}/runs/${FAILING}/${runId}?step=prepare`);
    await log.getByLabel("stdout of prepare").getByText("ready").waitFor();
    await expect(log.locator(".step-error-line").count()).resolves.toBe(0);
    await page.waitForLoadState("networkidle");
  });

  it("the alert editor: the body uses the width, the preview this deployment's values, a copy button (items 5, 6, 7)", async () => {
    await page.goto(`${dev.url}/alerts/new`);
    await page.getByLabel("Preset").selectOption({ label: "Discord" });
    const preview = page.getByLabel("Rendered request");
    // Wait for the Discord preset's own body: the default body's preview (shown first) has
    // "allowed_mentions" too, so that alone would race the preset's render.
    await preview.filter({ hasText: '"embeds"' }).waitFor();

    const body = page.locator("section.card", { has: page.getByRole("heading", { name: "Body", level: 2 }) });
    await body.locator(".cm-content").waitFor();
    const card = await body.boundingBox();
    const editor = await body.locator(".code-editor").boundingBox();
    expect(editor!.width, "the body editor spans the card").toBeGreaterThan(card!.width * 0.9);

    // This deployment's name (npm run dev: "local") and URL, never the examples' ones.
    const shown = (await preview.textContent())!;
    expect(shown).toContain(`"text": "dagflare • ${dev.url}"`);
    expect(shown).toContain('"value": "local"');
    expect(shown).not.toContain("example.com");
    expect(shown).not.toContain('"prod"');
    await page.locator(".token-picker").getByText(`e.g. ${dev.url}`, { exact: false }).first().waitFor();

    await page.getByRole("button", { name: "Copy body" }).click();
    const copied = JSON.parse(await clipboard()) as { embeds: { footer: { text: string } }[] };
    expect(copied.embeds[0]!.footer.text).toBe(`dagflare • ${dev.url}`);
    await page.waitForLoadState("networkidle");
    await shot("alert-editor");
  });

  it("at 390 px: no sideways scrolling and every section of the navigation in view (item 8)", async () => {
    const phone = await context.newPage();
    await phone.setViewportSize(PHONE);
    watch(phone);
    for (const [name, path] of [
      ["dags", "/dags"],
      ["dag", `/dags/${PLAIN}`],
      ["runs", "/runs"],
      ["alert-editor", "/alerts/new"],
      ["api-keys", "/api-keys"],
    ] as const) {
      await phone.goto(`${dev.url}${path}`);
      await phone.locator("main h1").first().waitFor();
      await phone.waitForLoadState("networkidle");
      await shot(`page-${name}-390`, phone);
      const scrollWidth = await phone.evaluate<number>("document.documentElement.scrollWidth");
      expect(scrollWidth, `${path} scrolls sideways`).toBeLessThanOrEqual(PHONE.width);
      const links = phone.getByRole("navigation", { name: "Sections" }).getByRole("link");
      expect(await links.count()).toBe(6);
      for (const link of await links.all()) {
        const box = (await link.boundingBox())!;
        expect(box.x, `${await link.textContent()} on ${path}`).toBeGreaterThanOrEqual(0);
        expect(box.x + box.width, `${await link.textContent()} on ${path}`).toBeLessThanOrEqual(PHONE.width);
      }
    }
    // The last section is reachable with a tap, without scrolling the bar.
    await phone.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "API keys" }).click();
    await phone.waitForURL(`${dev.url}/api-keys`);
    await phone.waitForLoadState("networkidle");
    await phone.close();
  });

  it("every page, visited in turn, leaves a clean console (item 9)", async () => {
    const run = (await apiAs("GET", `/dag-runs?name=${PLAIN}`)) as { dagRuns: { dagRunId: string }[] };
    for (const path of [
      "/dags",
      `/dags/${PLAIN}`,
      `/dags/${SCHEDULED}`,
      `/dags/${FAILING}`,
      `/dags/${SCHEDULED}/spec`,
      "/runs",
      `/runs/${PLAIN}/${run.dagRuns[0]!.dagRunId}`,
      "/webhooks",
      "/alerts",
      "/alerts/new",
      "/users",
      "/api-keys",
      "/account",
    ]) {
      await page.goto(`${dev.url}${path}`);
      await page.locator("main h1").first().waitFor();
      await page.waitForLoadState("networkidle");
      await shot(`tour${path.replaceAll("/", "-")}`);
      expect(problems, `${path}:\n${problems.join("\n")}`).toEqual([]);
    }
    // Logged out and back: the login page again asks nothing that fails.
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByRole("button", { name: "Log in" }).waitFor();
    await page.reload();
    await page.getByRole("button", { name: "Log in" }).waitFor();
    await page.waitForLoadState("networkidle");
  });
});
