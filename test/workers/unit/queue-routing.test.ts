import { createExecutionContext, createMessageBatch } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import worker from "../../../src/index.ts";

it("routes batches by the exact queue name, and refuses a queue it has no consumer for", async () => {
  for (const queue of ["dagflare-steps", "dagflare-alerts", "dagflare-alerts-dlq"])
    await expect(worker.queue(createMessageBatch(queue, []), env, createExecutionContext())).resolves.toBeUndefined();
  // Names that share a prefix with a real queue used to reach its consumer.
  for (const queue of ["dagflare-steps-v2", "dagflare-alerts-retry", "dagflare-alerts-dlq-old", "other"])
    await expect(worker.queue(createMessageBatch(queue, []), env, createExecutionContext())).rejects.toThrow(
      `no consumer for queue ${queue}`,
    );
});
