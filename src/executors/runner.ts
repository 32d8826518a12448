/**
 * How the Worker (queue consumers and coordinators) reaches the step runner (container/runner):
 * through RUNNER_URL in `npm run dev` and the tests, where it is a local process, or through the
 * StepRunner container binding in production. Same protocol either way.
 */
import { Container } from "@cloudflare/containers";
import type { Snapshot } from "../../container/runner/execution.ts";
import { config } from "../config.ts";
import { toHex } from "../domain/bytes.ts";
import type { StepMessage } from "../domain/run.ts";

export type { ExecutionRequest, ExecutionResult, Snapshot } from "../../container/runner/execution.ts";

/** The production runner: a Cloudflare Container built from container/Dockerfile. */
export class StepRunner extends Container<Cloudflare.Env> {
  override defaultPort = 8080;
  // Kept alive by the consumers' polls while steps run; stopped after 10 idle minutes.
  override sleepAfter = "10m";

  constructor(ctx: DurableObjectState<Record<string, never>>, env: Cloudflare.Env) {
    super(ctx, env);
    this.envVars = { RUNNER_SECRET: config(env).runner.secret };
  }
}

export class RunnerUnavailable extends Error {}
/** The runner answers, but has no execution by this key: it restarted since the attempt started there. */
export class ExecutionUnknown extends Error {}

/** The runner's key for one attempt: stable, so a resumed poll or a kill finds the same process. */
export async function executionKey(
  message: Pick<StepMessage, "dagId" | "runId" | "step" | "attempt">,
): Promise<string> {
  const text = `${message.dagId}\n${message.runId}\n${message.step}\n${message.attempt}`;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return toHex(digest);
}

/** One call to the runner about an execution; throws RunnerUnavailable when none is configured or reachable. */
export async function callRunner(
  env: Cloudflare.Env,
  key: string,
  method: "PUT" | "GET" | "DELETE",
  query: Record<string, number> = {},
  body?: unknown,
  signal?: AbortSignal,
): Promise<Snapshot> {
  const search = new URLSearchParams(Object.entries(query).map(([name, value]) => [name, String(value)])).toString();
  const path = `/executions/${key}${search ? `?${search}` : ""}`;
  const { runner } = config(env);
  const init: RequestInit = {
    method,
    headers: { Authorization: `Bearer ${runner.secret}`, "Content-Type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(signal ? { signal } : {}),
  };
  let response: Response;
  try {
    if (runner.url) response = await fetch(`${runner.url}${path}`, init);
    else if (env.RUNNER)
      response = await env.RUNNER.getByName(instanceFor(key, env)).fetch(new Request(`http://runner${path}`, init));
    else
      throw new RunnerUnavailable(
        "no step runner configured (set RUNNER_URL, or bind the StepRunner container as RUNNER)",
      );
  } catch (error) {
    if (error instanceof RunnerUnavailable || signal?.aborted) throw error;
    throw new RunnerUnavailable(
      `the step runner is unreachable: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (response.status === 404 && method !== "PUT")
    throw new ExecutionUnknown(`the step runner has no process for this attempt: ${await response.text()}`);
  if (!response.ok)
    throw new RunnerUnavailable(
      `the step runner answered ${response.status}: ${(await response.text()).slice(0, 200)}`,
    );
  return (await response.json()) as Snapshot;
}

function instanceFor(key: string, env: Cloudflare.Env): string {
  return `runner-${Number.parseInt(key.slice(0, 8), 16) % config(env).runner.instances}`;
}
