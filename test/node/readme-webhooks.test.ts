/**
 * The README's Webhooks section, run as written: its shell blocks go through bash and curl
 * against a real `npm run dev` (only the port differs), and its YAML is the example DAG's.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { killLeftovers, root, startDev, stopDev } from "./dev-server.ts";

afterAll(killLeftovers);

const PASSWORD = "readme-password-1";
const readme = readFileSync(join(root, "README.md"), "utf8");
const section = readme.slice(readme.indexOf("## Webhooks"), readme.indexOf("\n## ", readme.indexOf("## Webhooks") + 1));
const blocks = (language: string) =>
  [...section.matchAll(new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``, "g"))].map((match) => match[1]!);

it("the README's webhook examples work as written against npm run dev", async () => {
  const sh = blocks("sh");
  const [create, triggers, manage] = sh;
  const named = (marker: string) => sh.find((block) => block.includes(marker));
  const [hmac, allowedIps, inboundLog] = ["/webhook/hmac/enable", "/webhook/allowed-ips", "/webhook/requests"].map(
    named,
  );
  expect([hmac, allowedIps, inboundLog]).not.toContain(undefined);
  const dev = await startDev({ STATE_DIR: mkdtempSync(join(tmpdir(), "dagflare-state-")), ADMIN_PASSWORD: PASSWORD });
  try {
    const port = new URL(dev.url).port;
    const bash = (script: string) =>
      execFileSync("bash", ["-euo", "pipefail", "-c", script.replaceAll("127.0.0.1:8787", `127.0.0.1:${port}`)], {
        env: { ...process.env, PASSWORD },
        encoding: "utf8",
      });
    // The login lines of the first block are the prelude of the others (a reader's shell keeps them).
    const prelude = create!.slice(0, create!.indexOf("# Create the webhook"));

    const created = JSON.parse(bash(create!));
    expect(created.webhook).toMatchObject({
      dagName: "example-process-webhook",
      enabled: true,
      tokenPrefix: created.token.slice(0, 12),
    });

    const withToken = (block: string) =>
      `${prelude}\nWEBHOOK_TOKEN=${created.token}\n${block.replace(/^WEBHOOK_TOKEN=.*$/m, "")}`;
    const answers = bash(withToken(triggers!))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(answers).toEqual([
      { dagRunId: expect.any(String), dagName: "example-process-webhook" },
      { dagRunId: expect.any(String), dagName: "example-process-webhook" },
      { dagRunId: "deploy-abc123", dagName: "example-process-webhook" },
    ]);
    // The payload run's command steps ran on the local step runner and printed the seed's lines.
    const admin = (await (
      await fetch(`${dev.url}/api/v2/auth/login`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: "admin", password: PASSWORD }),
      })
    ).json()) as { token: string };
    const stepLog = async (step: string) => {
      const path = `${dev.url}/api/v2/dag-runs/example-process-webhook/${answers[1].dagRunId}`;
      for (let i = 0; i < 100; i++) {
        const run = (await (await fetch(path, { headers: { Authorization: `Bearer ${admin.token}` } })).json()) as {
          dagRunDetails: { status: number };
        };
        if ([2, 3, 4, 6].includes(run.dagRunDetails.status)) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return (
        (await (
          await fetch(`${path}/steps/${step}/log`, { headers: { Authorization: `Bearer ${admin.token}` } })
        ).json()) as { content: string }
      ).content;
    };
    expect(await stepLog("process-webhook")).toBe("Building branch main at commit abc123\n");
    expect(await stepLog("show-details")).toBe("Repository: dagflare\nAuthor: Ada\n");

    // Sent again, the idempotent request is refused.
    const again = bash(withToken(triggers!.slice(triggers!.indexOf("# Idempotent")))).trim();
    expect(JSON.parse(again)).toMatchObject({ code: "already_exists" });

    // The inbound log: the idempotent request's 409 is a refusal; the latest accepted one replays as a new run.
    const [refused, details, replayed] = bash(`${prelude}\n${inboundLog!}`)
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(refused.requests[0]).toMatchObject({ outcome: "refused", statusCode: 409, errorCode: "already_exists" });
    expect(details).toMatchObject({
      outcome: "accepted",
      dagRunId: "deploy-abc123",
      body: '{"dagRunId": "deploy-abc123"}',
    });
    expect(details.headers.authorization).toBe("[redacted]");
    expect(JSON.stringify(details)).not.toContain(created.token.slice(12));
    expect(replayed).toMatchObject({ dagName: "example-process-webhook", request: { replayOf: details.id } });
    expect(replayed.dagRunId).not.toBe("deploy-abc123");

    // Dagu 2.x's HMAC: enabled, a request signed as the README signs it starts a run, then disabled.
    const [signed, disabled] = bash(withToken(hmac!))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(signed).toMatchObject({ dagRunId: expect.any(String), dagName: "example-process-webhook" });
    expect(disabled).toMatchObject({ authMode: "token", hmac: { enabled: false } });

    // The IP allowlist, set and emptied again.
    const [limited, open] = bash(withToken(allowedIps!))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(limited.allowedIps).toEqual(["192.30.252.0/22", "2606:50c0::/32"]);
    expect(open.allowedIps).toEqual([]);

    const managed = bash(withToken(manage!));
    expect(managed).toContain('"webhooks"');
    expect(managed).toContain('"enabled":false');
    expect(managed).not.toContain(created.token.slice(12));
    const after = bash(
      `${prelude}\ncurl -s -H "Authorization: Bearer $TOKEN" $BASE/dags/example-process-webhook/webhook`,
    );
    expect(JSON.parse(after)).toMatchObject({ code: "not_found" });
  } finally {
    await stopDev(dev, "SIGTERM");
  }
}, 300_000);

it("the README's YAML is the example DAG's steps", () => {
  const [yaml] = blocks("yaml");
  const file = readFileSync(join(root, "dags", "example-process-webhook.yaml"), "utf8");
  expect(file).toContain(yaml!.trim());
});
