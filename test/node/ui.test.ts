/**
 * The admin UI in a real browser (Debian's Chromium via playwright-core) against `npm run dev`:
 * what an admin does on a first visit, read back through the API and the webhook endpoint.
 * Screenshots of every page land in test-artifacts/ui/ (1280 px, and 390 px for phones).
 */
import { mkdirSync, mkdtempSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until } from "../until.ts";
import { CHROMIUM, chromiumInstalled, launchBrowser, logIn } from "./browser.ts";
import { type Dev, killLeftovers, root, startDev, stopDev } from "./dev-server.ts";

const PASSWORD = "ui-test-password-1";
const DAG = "ui-test-dag";
const ARTIFACTS = join(root, "test-artifacts", "ui");
const WIDE = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };

// CI installs Chromium (.ci/run); elsewhere a missing browser is said loudly, not hidden.
const browserTests = chromiumInstalled() || process.env.CI ? describe : describe.skip;
if (!chromiumInstalled())
  console.warn(
    `browser tests ${process.env.CI ? "will fail" : "skipped"}: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`,
  );

type Received = { path: string; headers: IncomingMessage["headers"]; body: string };

browserTests("admin UI in Chromium", () => {
  let dev: Dev;
  let browser: Browser;
  let page: Page;
  let receiver: Server;
  let receiverUrl: string;
  const received: Received[] = [];
  const pageErrors: string[] = [];
  const failedCalls = new Set<string>();

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    receiver = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => (body += chunk));
      request.on("end", () => {
        received.push({ path: request.url ?? "", headers: request.headers, body });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const address = receiver.address();
    receiverUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/discord`;
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
    page = await browser.newPage({ viewport: WIDE });
    watch(page);
  });

  afterAll(async () => {
    await browser?.close();
    receiver?.close();
    if (dev) await stopDev(dev, "SIGTERM");
    killLeftovers();
  });

  let adminToken = "";
  const apiAs = async (token: string, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${dev.url}/api/v2${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json().catch(() => null)) as unknown };
  };
  /** Script errors, console errors and failed API calls of a page, for the last test to judge. */
  const watch = (target: Page) => {
    target.on("pageerror", (error) => pageErrors.push(error.message));
    target.on("console", (message) => {
      if (message.type() === "error" && !message.text().startsWith("Failed to load resource"))
        pageErrors.push(message.text());
    });
    target.on("response", (response) => {
      if (response.status() >= 400)
        failedCalls.add(`${response.request().method()} ${new URL(response.url()).pathname} ${response.status()}`);
    });
  };
  const shot = async (name: string, target: Page = page) => {
    await target.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  };
  const trigger = (token: string, body: unknown = { branch: "main" }) =>
    fetch(`${dev.url}/api/v2/webhooks/${DAG}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  const shownToken = async () => (await page.locator(".secret code").first().textContent())!.trim();

  it("logs in, lists the DAGs by name, and keeps the session across a reload", async () => {
    const served = await page.goto(`${dev.url}/dags`);
    // The app's pages can't be framed and run only this origin's scripts (ui/public/_headers).
    expect(await served!.headerValue("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(await served!.headerValue("content-security-policy")).toContain("script-src 'self';");
    await page.getByRole("button", { name: "Log in" }).waitFor();
    await shot("login");
    await logIn(page, dev.url, "admin", PASSWORD);
    await page.getByRole("link", { name: "example-process-webhook" }).waitFor();
    await page.reload();
    await page.getByRole("link", { name: "example-process-webhook" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/dags");
    await shot("dags");
  });

  it("creates a DAG, shows spec errors at their line, and saves a valid spec", async () => {
    await page.getByRole("button", { name: "New DAG" }).click();
    await page.getByRole("dialog").getByLabel("Name").fill(DAG);
    await page.getByRole("button", { name: "Create DAG" }).click();
    await page.waitForURL(`**/dags/${DAG}/spec`);
    const editor = page.locator(".cm-content");
    await editor.waitFor();

    await editor.click();
    await page.keyboard.press("ControlOrMeta+a");
    await page.keyboard.insertText(
      "steps:\n  - name: build\n    command: echo building ${WEBHOOK_PAYLOAD.branch}\n  - name: notify\n    depends: missing-step\n    command: echo done\n",
    );
    const errors = page.getByRole("list", { name: "Spec errors" });
    await errors.getByText("Line 5", { exact: false }).waitFor();
    await expect(errors.textContent()).resolves.toContain("missing-step");
    await page.locator(".cm-lintRange-error").first().waitFor();
    await shot("dag-spec-error");

    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("alert").filter({ hasText: "invalid DAG spec" }).waitFor();

    await editor.click();
    await page.keyboard.press("ControlOrMeta+a");
    await page.keyboard.insertText(
      "steps:\n  - name: build\n    command: echo building ${WEBHOOK_PAYLOAD.branch}\n  - name: notify\n    depends: build\n    command: echo done\n",
    );
    // Typed key by key, as fast as the browser takes them: nothing may be lost.
    await page.keyboard.press("ControlOrMeta+End");
    await page.keyboard.type("# saved from the browser test");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    await expect(errors.count()).resolves.toBe(0);
    const stored = await apiAs(adminToken, "GET", `/dags/${DAG}/spec`);
    expect((stored.body as { spec: string }).spec).toMatch(/command: echo done\n# saved from the browser test$/);
  });

  // Handed between the ordered steps of this file.
  let runId = "";
  let webhookToken = "";
  it("creates a webhook on the DAG page, shows its token once, and the token starts a run the page shows", async () => {
    await page.getByRole("link", { name: "Overview" }).click();
    const panel = page.locator(".webhook-panel");
    await panel.getByRole("button", { name: "Create Webhook" }).click();
    await panel.getByText("won't be shown again").waitFor();
    const token = await shownToken();
    expect(token).toMatch(/^dagu_wh_[1-9A-HJ-NP-Za-km-z]{40,}$/);
    await expect(panel.getByRole("button", { name: "Copy token" }).isVisible()).resolves.toBe(true);
    await expect(panel.getByRole("button", { name: "Copy command" }).isVisible()).resolves.toBe(true);
    await expect(panel.locator("pre.curl").textContent()).resolves.toContain(`/api/v2/webhooks/${DAG}`);
    await shot("dag-webhook-created");

    const response = await trigger(token);
    expect(response.status).toBe(200);
    runId = ((await response.json()) as { dagRunId: string }).dagRunId;
    // The page notices the new run by itself and follows it to success.
    const row = page.locator(`tr[data-run-id="${runId}"]`);
    await row.locator('[data-status="succeeded"]').waitFor({ timeout: 30_000 });
    await page.locator('.dag-graph [data-step="notify"][data-status="succeeded"]').waitFor();
    await shot("dag-overview");

    // A reload forgets the token: only the prefix remains.
    await page.reload();
    await panel.getByRole("button", { name: "Regenerate" }).waitFor();
    await expect(page.getByText(token).count()).resolves.toBe(0);
    await expect(panel.getByText(token.slice(0, 12)).count()).resolves.toBeGreaterThan(0);
    webhookToken = token;
  });

  it("regenerates after an in-page confirmation: the old token is refused, the new one works", async () => {
    const oldToken = webhookToken;
    const panel = page.locator(".webhook-panel");
    await panel.getByRole("button", { name: "Regenerate" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("stops working at once").waitFor();
    await shot("dag-webhook-regenerate-confirm");
    await dialog.getByRole("button", { name: "Regenerate" }).click();
    await panel.getByText("won't be shown again").waitFor();
    const newToken = await shownToken();
    expect(newToken).not.toBe(oldToken);
    expect((await trigger(oldToken)).status).toBe(401);
    expect((await trigger(newToken)).status).toBe(200);
    webhookToken = newToken;
  });

  it("disables and enables the webhook with its switch", async () => {
    const token = webhookToken;
    const enabled = page.locator(".webhook-panel").getByRole("switch", { name: "Enabled" });
    await enabled.click();
    await until(async () => ((await enabled.isChecked()) ? undefined : true));
    expect((await trigger(token)).status).toBe(403);
    await enabled.click();
    await until(async () => ((await enabled.isChecked()) ? true : undefined));
    expect((await trigger(token)).status).toBe(200);
  });

  it("logs every request in the webhook panel, headers redacted, and replays an accepted one as a new run", async () => {
    await page.goto(`${dev.url}/dags/${DAG}`);
    const log = page.locator(".webhook-panel .webhook-requests");
    // So far: accepted triggers, the old token refused (401), the disabled webhook refused (403).
    const refused = log.locator('li[data-outcome="refused"]');
    await refused.first().waitFor();
    await expect(refused.first().getByRole("button", { name: "Replay" }).isDisabled()).resolves.toBe(true);
    await expect(log.locator('li[data-outcome="refused"] code').allTextContents()).resolves.toEqual(
      expect.arrayContaining(["401 unauthorized", "403 forbidden"]),
    );
    const accepted = log.locator('li[data-outcome="accepted"]').first();
    await accepted.getByRole("button", { name: "Details" }).click();
    await accepted.locator(".request-headers").getByText("authorization: [redacted]").waitFor();
    await expect(accepted.locator(".request-body").textContent()).resolves.toBe('{"branch":"main"}');
    await expect(page.getByText(webhookToken.slice(12)).count()).resolves.toBe(0);
    const originalRun = await accepted.locator(".delivery-subject a").getAttribute("href");

    await accepted.getByRole("button", { name: "Replay" }).click();
    const note = page.getByRole("status").getByText(/^Replayed as run /);
    await note.waitFor();
    const replayRun = (await note.textContent())!.replace(/^Replayed as run |\.$/g, "");
    const replay = log.locator("li").filter({ hasText: "replayed by" }).first();
    await expect(replay.locator(".delivery-subject a").getAttribute("href")).resolves.toBe(`/runs/${DAG}/${replayRun}`);
    expect(`/runs/${DAG}/${replayRun}`).not.toBe(originalRun);
    await shot("dag-webhook-requests");
    const run = await apiAs(adminToken, "GET", `/dag-runs/${DAG}/${replayRun}`);
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ dagRunDetails: { triggeredBy: expect.stringMatching(/^replay:/) } });
  });

  it("limits the webhook to allowed addresses, naming a bad entry, and accepts any address again when emptied", async () => {
    const panel = page.locator(".webhook-panel");
    const addresses = panel.locator(".webhook-allowed-ips");
    await addresses.locator("summary").click();
    const field = addresses.getByLabel("IP ranges (CIDR, one a line)");
    await field.fill("203.0.113.0/24\n10.0.0.1/8");
    await addresses.getByRole("button", { name: "Save addresses" }).click();
    await panel.getByText("did you mean 10.0.0.0/8?").waitFor();
    await field.fill("203.0.113.0/24\n2001:DB8::/32");
    await addresses.getByRole("button", { name: "Save addresses" }).click();
    await addresses.getByText("(2 ranges)").waitFor();
    await expect(field.inputValue()).resolves.toBe("203.0.113.0/24\n2001:db8::/32");
    await shot("dag-webhook-allowed-ips");
    // This test's requests come from none of those addresses.
    expect((await trigger(webhookToken)).status).toBe(403);
    await field.fill("");
    await addresses.getByRole("button", { name: "Save addresses" }).click();
    await addresses.getByText("(any)").waitFor();
    expect((await trigger(webhookToken)).status).toBe(200);
  });

  it("works from the keyboard: skip link first, dialogs open with Enter and close with Escape", async () => {
    await page.goto(`${dev.url}/dags/${DAG}`);
    const panel = page.locator(".webhook-panel");
    await panel.getByRole("button", { name: "Regenerate" }).waitFor();
    await page.keyboard.press("Tab");
    await expect(page.evaluate("document.activeElement?.textContent")).resolves.toBe("Skip to content");
    await panel.getByRole("button", { name: "Regenerate" }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("dialog").waitFor();
    // Focus moved into the dialog; Escape cancels without regenerating.
    await expect(page.evaluate('document.activeElement?.closest("dialog") !== null')).resolves.toBe(true);
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "hidden" });
    expect((await trigger(webhookToken)).status).toBe(200);
  });

  it("shows a viewer everything read-only and offers no action the role can't take", async () => {
    const created = await apiAs(adminToken, "POST", "/users", {
      username: "watcher",
      password: "watcher-password-1",
      role: "viewer",
    });
    expect(created.status).toBe(201);
    const context = await browser.newContext({ viewport: WIDE });
    const viewer = await context.newPage();
    watch(viewer);
    await logIn(viewer, dev.url, "watcher", "watcher-password-1");
    await viewer.getByRole("link", { name: DAG }).waitFor();
    await expect(viewer.getByRole("button", { name: "New DAG" }).count()).resolves.toBe(0);
    await expect(
      viewer.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Users" }).count(),
    ).resolves.toBe(0);
    await viewer.getByRole("link", { name: DAG }).click();
    await viewer.getByText("Only admins create and manage webhook tokens.").waitFor();
    // The inbound log holds senders' addresses and bodies: operators and up.
    await expect(viewer.getByText("Recent requests").count()).resolves.toBe(0);
    await expect(viewer.getByRole("button", { name: "Run" }).count()).resolves.toBe(0);
    await expect(viewer.getByRole("button", { name: "Create Webhook" }).count()).resolves.toBe(0);
    await viewer.getByRole("link", { name: "Spec" }).click();
    await viewer.getByText("Read-only: editing needs the manager role").waitFor();
    await expect(viewer.getByRole("button", { name: "Save" }).count()).resolves.toBe(0);
    await shot("viewer-dag-spec", viewer);
    await viewer.getByRole("button", { name: "Log out" }).click();
    await viewer.getByRole("button", { name: "Log in" }).waitFor();
    await viewer.reload();
    await viewer.getByRole("button", { name: "Log in" }).waitFor();
    await context.close();
  });

  it("opens a run from its URL (as alert links do) with steps, logs and the webhook payload", async () => {
    await page.goto(`${dev.url}/runs/${DAG}/${runId}`);
    await page.getByText(runId).first().waitFor();
    await page.getByText("building main").first().waitFor({ timeout: 15_000 });
    await expect(page.locator("body").textContent()).resolves.toContain('"branch"');
    await shot("run");
    await page.goto(`${dev.url}/runs?name=${DAG}`);
    await page.locator(`tr[data-run-id="${runId}"]`).waitFor();
    await shot("runs");
  });

  it("shows a fan-out's sub-DAG runs on the caller's page, and each links back to its caller", async () => {
    const spec = `steps:
  - name: fan
    call: region
    parallel: [eu, us]
    params: "REGION=\${ITEM}"
---
name: region
params:
  - REGION: none
steps:
  - name: deploy
    command: echo "deploying \${REGION}"
`;
    expect((await apiAs(adminToken, "POST", "/dags", { name: "ui-fan-out", spec })).status).toBe(201);
    const started = await apiAs(adminToken, "POST", "/dags/ui-fan-out/start", {});
    const fanRunId = (started.body as { dagRunId: string }).dagRunId;
    await page.goto(`${dev.url}/runs/ui-fan-out/${fanRunId}`);
    const table = page.locator(".sub-runs-table");
    await table.waitFor();
    await until(async () => (await table.locator(".status-succeeded").count()) === 2 || undefined, 20_000);
    await shot("run-sub-dags");
    await table.locator("tbody tr").first().getByRole("link").click();
    await page.getByText("Called by").waitFor();
    await page.getByText("deploying eu").first().waitFor({ timeout: 15_000 });
    await shot("sub-dag-run");
    await page.getByRole("link", { name: "ui-fan-out" }).first().click();
    await page.locator(".sub-runs-table").waitFor();
    expect(new URL(page.url()).pathname).toBe(`/runs/ui-fan-out/${fanRunId}`);
  });

  it("creates an alert policy from the Discord preset pointed at a local receiver and sends a test", async () => {
    await page.goto(`${dev.url}/alerts/new`);
    await page.getByLabel("Preset").selectOption({ label: "Discord" });
    await page.getByLabel("Name", { exact: true }).fill("Failures to Discord");
    await page.getByLabel("URL", { exact: true }).fill(receiverUrl);
    // The preset names its destination: a local URL is still rendered and fitted as Discord.
    expect(await page.getByLabel("Destination kind").inputValue()).toBe("discord");
    await page.getByLabel("Rendered request").filter({ hasText: '"allowed_mentions"' }).waitFor();
    await page.getByRole("button", { name: "Send test" }).click();
    await page.getByRole("status").filter({ hasText: "204" }).waitFor({ timeout: 15_000 });
    expect(received).toHaveLength(1);
    // Discord's shape, from the preset: a username, the content line and an embed.
    const sent = JSON.parse(received[0]!.body) as {
      username?: string;
      content?: string;
      embeds?: { title?: string; url?: string }[];
      allowed_mentions?: unknown;
    };
    expect(sent).toMatchObject({
      username: "dagflare",
      // Values are escaped for Discord's markdown: "\[TEST\]" shows as "[TEST]".
      content: expect.stringContaining("**Alert Triggered**: \\[TEST\\] "),
      embeds: [{ title: expect.stringMatching(/^\\\[TEST\\\] /), url: `${dev.url}/sample-run` }],
      allowed_mentions: { parse: [], roles: [], users: [] },
    });
    // A throttle needs both of its fields: with one, the form doesn't save.
    const throttleMax = page.getByLabel("Throttle: at most this many alerts per DAG");
    const throttleWindow = page.getByLabel("Per window of (minutes)");
    await throttleMax.fill("5");
    await page.getByRole("button", { name: "Create policy" }).click();
    await page.locator("#option-throttleWindowMinutes:invalid").waitFor();
    expect(new URL(page.url()).pathname).toBe("/alerts/new");
    await throttleWindow.fill("60");
    await shot("alert-editor");
    await page.getByRole("button", { name: "Create policy" }).click();
    await page.waitForURL((url) => /^\/alerts\/[^/]+$/.test(url.pathname) && url.pathname !== "/alerts/new");
    const policyId = new URL(page.url()).pathname.split("/")[2]!;
    const saved = await apiAs(adminToken, "GET", `/alert-policies/${policyId}`);
    expect(saved.status).toBe(200);
    expect(saved.body).toMatchObject({
      alertPolicy: {
        name: "Failures to Discord",
        webhook: { url: receiverUrl, destination: "discord" },
        options: { throttle: { max: 5, windowMinutes: 60 } },
      },
    });
    expect([await throttleMax.inputValue(), await throttleWindow.inputValue()]).toEqual(["5", "60"]);
    await page.goto(`${dev.url}/alerts`);
    await page.getByRole("link", { name: "Failures to Discord" }).waitFor();
    await shot("alerts");
    // The test send's run link opens a page that says it was a sample.
    await page.goto(sent.embeds![0]!.url!);
    await page.getByRole("heading", { name: "Sample alert" }).waitFor();
    await shot("sample-run");
  });

  it("logs the policy's delivery for a failed run, and Replay sends it again", async () => {
    const failing = "ui-failing-dag";
    expect(
      (
        await apiAs(adminToken, "POST", "/dags", {
          name: failing,
          spec: "steps:\n  - name: boom\n    command: exit 3\n",
        })
      ).status,
    ).toBe(201);
    expect((await apiAs(adminToken, "POST", `/dags/${failing}/start`, {})).status).toBe(200);
    const before = received.length;
    await until(async () => (received.length > before ? true : undefined));
    // The policy page lists it (and refreshed by itself while it was pending).
    await page.goto(`${dev.url}/alerts`);
    await page.getByRole("link", { name: "Failures to Discord" }).click();
    const delivery = page.locator('li.delivery[data-status="delivered"]').filter({ hasText: failing });
    await delivery.waitFor({ timeout: 15_000 });
    await delivery.getByRole("button", { name: "Replay" }).click();
    await until(async () => (received.length > before + 1 ? true : undefined));
    expect(JSON.parse(received.at(-1)!.body)).toEqual(JSON.parse(received.at(-2)!.body));
    await delivery.getByRole("button", { name: "2 attempts" }).waitFor({ timeout: 15_000 });
    await shot("alert-deliveries");
  });

  it("creates an API key that is shown once and works, then deletes it", async () => {
    await page.goto(`${dev.url}/api-keys`);
    await page.getByRole("button", { name: "Create API key" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Name").fill("ci-deploy");
    await dialog.getByRole("button", { name: "Create API key" }).click();
    await dialog.getByText("won't be shown again").waitFor();
    const key = (await dialog.locator(".secret code").textContent())!.trim();
    expect((await apiAs(key, "GET", "/dags")).status).toBe(200);
    await shot("api-key-created");
    await dialog.getByRole("button", { name: "Done" }).click();
    await expect(page.getByText(key).count()).resolves.toBe(0);
    await page.getByRole("button", { name: "Delete API key ci-deploy" }).click();
    await page
      .getByRole("dialog")
      .getByRole("button", { name: /^Delete/ })
      .click();
    await page.getByRole("button", { name: "Delete API key ci-deploy" }).waitFor({ state: "detached" });
    expect((await apiAs(key, "GET", "/dags")).status).toBe(401);
  });

  it("shows every admin page at 1280 px and at 390 px without sideways scrolling", async () => {
    const phone = await browser.newPage({ viewport: PHONE });
    watch(phone);
    await logIn(phone, dev.url, "admin", PASSWORD);
    for (const [name, path] of [
      ["dags", "/dags"],
      ["dag-overview", `/dags/${DAG}`],
      ["dag-spec", `/dags/${DAG}/spec`],
      ["runs", "/runs"],
      ["run", `/runs/${DAG}/${runId}`],
      ["webhooks", "/webhooks"],
      ["alerts", "/alerts"],
      ["alert-editor", "/alerts/new"],
      ["users", "/users"],
      ["api-keys", "/api-keys"],
      ["account", "/account"],
      ["not-found", "/no/such/page"],
    ] as const) {
      for (const [target, suffix] of [
        [page, ""],
        [phone, "-390"],
      ] as const) {
        await target.goto(`${dev.url}${path}`);
        await target.locator("main h1").first().waitFor();
        await target.waitForLoadState("networkidle");
        await shot(`page-${name}${suffix}`, target);
        const overflow = await target.evaluate<number>(
          "document.documentElement.scrollWidth - document.documentElement.clientWidth",
        );
        expect(overflow, `${path} scrolls sideways at ${target.viewportSize()?.width} px`).toBeLessThanOrEqual(0);
      }
    }
    await phone.close();
    expect(pageErrors, pageErrors.join("\n")).toEqual([]);
    // The only refusals are the ones this file asked for: the invalid spec and addresses it saved
    // on purpose. Never a 5xx, and no 401 or 404 the UI asked for itself (issue 19).
    expect([...failedCalls].sort()).toEqual([
      `PUT /api/v2/dags/${DAG}/spec 400`,
      `PUT /api/v2/dags/${DAG}/webhook/allowed-ips 400`,
    ]);
  });
});

browserTests("admin UI with AUTH_MODE=none", () => {
  let dev: Dev;
  let browser: Browser;

  beforeAll(async () => {
    [dev, browser] = await Promise.all([
      startDev({ STATE_DIR: mkdtempSync(join(tmpdir(), "dagflare-state-")), AUTH_MODE: "none" }),
      launchBrowser(),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    if (dev) await stopDev(dev, "SIGTERM");
    killLeftovers();
  });

  it("needs no login, offers no logout, and says why webhooks are off", async () => {
    const page = await browser.newPage({ viewport: WIDE });
    await page.goto(`${dev.url}/dags`);
    await page.getByRole("link", { name: "example-process-webhook" }).waitFor();
    await expect(page.getByRole("button", { name: "Log out" }).count()).resolves.toBe(0);
    await page.getByRole("link", { name: "example-process-webhook" }).click();
    await page.getByText("Webhooks need builtin authentication").waitFor();
    await expect(page.getByRole("button", { name: "Create Webhook" }).count()).resolves.toBe(0);
    await page.goto(`${dev.url}/webhooks`);
    await page.getByText("Webhooks are off").waitFor();
    await page.screenshot({ path: join(ARTIFACTS, "auth-none-webhooks.png"), fullPage: true });
  });
});
