import type { StepInvocation } from "../domain/run.ts";
import { capLog, capStdout, type Executor } from "./executor.ts";

/**
 * Dagu's http executor: `command: "METHOD URL"`, `config: {headers, query, body, timeout, json,
 * silent}`. A non-2xx answer fails the step. stdout is the response body; with `json: true` it
 * is `{status_code, headers, body}` as JSON. Without `silent`, the status line and headers go to
 * stderr so the body stays usable as an `output`.
 */
export const httpExecutor: Executor = {
  async run(invocation, signal) {
    const request = buildRequest(invocation);
    if ("error" in request) return { exitCode: 1, stdout: "", stderr: request.error, error: request.error };
    let response: Response;
    try {
      response = await fetch(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal,
        redirect: "follow",
      });
    } catch (error) {
      const message = signal.aborted
        ? `timed out after ${Math.round(invocation.timeoutMs / 1000)} s`
        : `request failed: ${describe(error)}`;
      return { exitCode: 1, stdout: "", stderr: message, error: message };
    }
    const body = await response.text();
    const headers = Object.fromEntries(response.headers);
    const config = invocation.config;
    const stdout = config.json === true ? JSON.stringify({ status_code: response.status, headers, body }) : body;
    const head = `${response.status} ${response.statusText}\n${Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}`)
      .join("\n")}\n`;
    const stderr = config.silent === true ? "" : head;
    const ok = response.status >= 200 && response.status < 300;
    return {
      exitCode: ok ? 0 : 1,
      stdout: capStdout(stdout, invocation.stdoutCapture),
      stderr: capLog(stderr),
      error: ok ? undefined : `HTTP ${response.status} ${response.statusText}`.trim(),
    };
  },
};

type BuiltRequest = { method: string; url: string; headers: Headers; body: string | undefined } | { error: string };

function buildRequest(invocation: StepInvocation): BuiltRequest {
  const match = /^\s*([A-Za-z]+)\s+(\S+)\s*$/.exec(invocation.command);
  if (!match) return { error: `http step: command must be "METHOD URL", got '${invocation.command}'` };
  const method = match[1]!.toUpperCase();
  let url: URL;
  try {
    url = new URL(match[2]!);
  } catch {
    return { error: `http step: '${match[2]}' is not a URL` };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    return { error: `http step: only http and https URLs, not '${url.protocol}'` };
  const config = invocation.config;
  for (const [name, value] of Object.entries(asRecord(config.query))) url.searchParams.append(name, String(value));
  const headers = new Headers();
  for (const [name, value] of Object.entries(asRecord(config.headers))) headers.set(name, String(value));
  let body: string | undefined;
  if (config.body !== undefined && config.body !== null) {
    body = typeof config.body === "string" ? config.body : JSON.stringify(config.body);
    if (typeof config.body !== "string" && !headers.has("content-type"))
      headers.set("content-type", "application/json");
  }
  if (body !== undefined && (method === "GET" || method === "HEAD"))
    return { error: `http step: a ${method} request cannot have a body` };
  return { method, url: url.toString(), headers, body };
}

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
