/**
 * Alert deliveries whose queue message is lost (a killed local queue, a message production lost
 * or holds): the every-minute tick queues them again once overdue, a copy that meets the original
 * sends once, and Replay sends a stuck one. Real D1, queue consumer and receiver on 127.0.0.1;
 * the one thing stubbed is the ALERTS binding where a message must be lost, and kept for the test.
 */
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import type { AlertMessage } from "../../../src/alerts/events.ts";
import { OVERDUE_GRACE_MS } from "../../../src/alerts/overdue.ts";
import { claimDelivery, deliveryId, insertEvent } from "../../../src/db/alerts.ts";
import worker from "../../../src/index.ts";
import { runScheduleTick } from "../../../src/schedules/tick.ts";
import { type ApiClient, api, expectEnvelope, expectLogged, ok, unique, until, userWithRole } from "../helpers.ts";

const echo = inject("echoUrl");
let manager: ApiClient;
beforeAll(async () => {
  manager = api((await userWithRole("manager")).token);
});

const byId = (id: string) => ({ params: { path: { id } } });
const deliveryOf = async (id: string) => (await ok(manager.GET("/alert-deliveries/{id}", byId(id)))).delivery;
const requestsTo = async (receiver: string): Promise<number> =>
  ((await (await fetch(`${echo}/received/${receiver}`)).json()) as unknown[]).length;
const statusCodes = async (id: string) => (await deliveryOf(id)).attempts.map((attempt) => attempt.statusCode);
const delivered = (id: string) =>
  until(async () => {
    const delivery = await deliveryOf(id);
    return delivery.status === "delivered" ? delivery : undefined;
  });

/**
 * The ALERTS binding of a queue that loses every message, as the local one does when its process
 * is killed; what was sent is kept, so the test can let a "lost" message turn up after all.
 */
function losingQueue() {
  const lost: AlertMessage[] = [];
  const queue = {
    send: async (body: AlertMessage) => {
      lost.push(body);
    },
    sendBatch: async (messages: Iterable<MessageSendRequest<AlertMessage>>) => {
      for (const message of messages) lost.push(message.body);
    },
  };
  return { lost, env: { ...env, ALERTS: queue } as unknown as Cloudflare.Env };
}

/** The ALERTS consumer given these messages in one batch (so they are handled at the same time). */
async function consume(messages: AlertMessage[], target: Cloudflare.Env = env): Promise<void> {
  const batch = createMessageBatch<AlertMessage>(
    "dagflare-alerts",
    messages.map((body) => ({ id: unique("message"), timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, target, ctx);
  expect((await getQueueResult(batch, ctx)).explicitAcks).toHaveLength(messages.length);
}

/** The cron handler, on the clock. */
async function tick(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

/**
 * A JOB_FAILURE delivery to a receiver answering `plan` (see global-setup.ts), fanned out and
 * attempted `attempts` times through the real consumer, each next message lost: pending, waiting
 * for a message that will never come. Returns the delivery and its lost message.
 */
async function strandedDelivery(plan: string, attempts: number) {
  const dag = unique("stranded");
  const receiver = unique("stranded");
  const { alertPolicy } = await ok(
    manager.POST("/alert-policies", {
      body: {
        name: unique("policy"),
        eventTypes: ["JOB_FAILURE"],
        dagNames: [dag],
        webhook: { url: `${echo}/receiver/${receiver}/${plan}`, body: '{"text": "{{alert_summary}}"}' },
      },
    }),
    201,
  );
  const eventId = unique("event");
  await insertEvent(env.DB, {
    id: eventId,
    type: "JOB_FAILURE",
    dag_name: dag,
    run_id: eventId,
    context: { dagName: dag, runId: eventId, runStatus: "failed", error: "boom" },
    created_at: new Date().toISOString(),
  });
  const queue = losingQueue();
  await consume([{ kind: "event", eventId }], queue.env);
  for (let made = 0; made < attempts; made++) await consume([queue.lost.at(-1)!], queue.env);
  const id = deliveryId(eventId, alertPolicy.id);
  expect(queue.lost.at(-1)).toMatchObject({ kind: "deliver", deliveryId: id, attempts });
  return { id, receiver, lost: queue.lost.at(-1)! };
}

/**
 * Time passes: the next attempt the consumer scheduled was due a grace and a second ago. (The
 * narrowest seam: the due time it wrote, moved back.)
 */
async function makeOverdue(id: string): Promise<void> {
  const due = new Date(Date.now() - OVERDUE_GRACE_MS - 1000).toISOString();
  await env.DB.prepare("UPDATE alert_deliveries SET next_attempt_at = ?2 WHERE id = ?1").bind(id, due).run();
}

const OVERDUE_LOG = { level: "warn", msg: "alert deliveries were overdue; queued again" } as const;

describe("overdue alert deliveries", () => {
  it("a delivery whose first message was lost (the fan-out's send) is sent by the tick once overdue, not before", async () => {
    const { id, receiver } = await strandedDelivery("200", 0);
    const pending = await deliveryOf(id);
    expect(pending).toMatchObject({ status: "pending", attempts: [] });
    expect(Date.parse(pending.nextAttemptAt!)).toBeLessThanOrEqual(Date.now());
    expect((await runScheduleTick(env, Date.now())).resentDeliveries).not.toContain(id);

    await makeOverdue(id);
    await expectLogged([OVERDUE_LOG], tick);
    const sent = await delivered(id);
    expect(sent.attempts.map((attempt) => attempt.statusCode)).toEqual([200]);
    expect(sent.nextAttemptAt).toBeNull();
    expect(await requestsTo(receiver)).toBe(1);
  });

  it("a delivery whose retry was lost after 500, 500 is sent again by the tick and ends delivered, every attempt logged", async () => {
    const { id, receiver } = await strandedDelivery("500,500,200", 2);
    const stuck = await deliveryOf(id);
    expect(stuck.status).toBe("pending");
    expect(stuck.attempts.map((attempt) => attempt.statusCode)).toEqual([500, 500]);
    // The third delay of the tests' schedule (0,1,1) is a second, ±10 %.
    expect(Date.parse(stuck.nextAttemptAt!) - Date.parse(stuck.attempts[1]!.at)).toBeGreaterThan(500);
    expect(Date.parse(stuck.nextAttemptAt!) - Date.now()).toBeLessThan(1200);

    await makeOverdue(id);
    await expectLogged([OVERDUE_LOG], tick);
    await delivered(id);
    expect(await statusCodes(id)).toEqual([500, 500, 200]);
    expect(await requestsTo(receiver)).toBe(3);
  });

  it("the lost message turning up after all sends nothing twice: at the same time as the tick's copy, or after it", async () => {
    // Both at once: the tick's copy (kept, not queued) and the original, in one batch.
    const together = await strandedDelivery("500,500,200", 2);
    await makeOverdue(together.id);
    const queue = losingQueue();
    const resent = await expectLogged([OVERDUE_LOG], () => runScheduleTick(queue.env, Date.now()));
    expect(resent.resentDeliveries).toContain(together.id);
    const copy = queue.lost.find((message) => message.kind === "deliver" && message.deliveryId === together.id);
    expect(copy).toEqual(together.lost);
    await consume([together.lost, copy!]);
    expect((await deliveryOf(together.id)).status).toBe("delivered");
    expect(await statusCodes(together.id)).toEqual([500, 500, 200]);
    expect(await requestsTo(together.receiver)).toBe(3);

    // The copy first, through the real queue; the original long after.
    const late = await strandedDelivery("500,500,200", 2);
    await makeOverdue(late.id);
    await expectLogged([OVERDUE_LOG], tick);
    await delivered(late.id);
    await consume([late.lost]);
    expect(await statusCodes(late.id)).toEqual([500, 500, 200]);
    expect(await requestsTo(late.receiver)).toBe(3);
  });

  it("replay sends a stuck pending delivery now, once; one whose next attempt isn't overdue, or is being made, is refused", async () => {
    const stuck = await strandedDelivery("500,500,200", 2);
    await makeOverdue(stuck.id);
    await ok(manager.POST("/alert-deliveries/{id}/replay", byId(stuck.id)));
    await delivered(stuck.id);
    await consume([stuck.lost]);
    expect(await statusCodes(stuck.id)).toEqual([500, 500, 200]);
    expect(await requestsTo(stuck.receiver)).toBe(3);

    // A 429 with Retry-After: 600: the next attempt is due in about ten minutes, and that is said.
    const waiting = await strandedDelivery("429:600", 1);
    const { nextAttemptAt } = await deliveryOf(waiting.id);
    expect(Date.parse(nextAttemptAt!) - Date.now()).toBeGreaterThan(500_000);
    const refused = expectEnvelope(
      await manager.POST("/alert-deliveries/{id}/replay", byId(waiting.id)),
      400,
      "bad_request",
    );
    expect(refused.message).toBe(
      `delivery '${waiting.id}' is still being sent: its next attempt is due at ${nextAttemptAt}; it can be replayed if that attempt has not been made by ${new Date(Date.parse(nextAttemptAt!) + OVERDUE_GRACE_MS).toISOString()}`,
    );

    // Overdue, but a consumer holds it: it is being sent right now.
    const sending = await strandedDelivery("500,200", 1);
    await makeOverdue(sending.id);
    expect(
      await claimDelivery(env.DB, sending.id, 1, new Date().toISOString(), new Date(Date.now() + 60_000).toISOString()),
    ).toBe(true);
    const busy = expectEnvelope(
      await manager.POST("/alert-deliveries/{id}/replay", byId(sending.id)),
      400,
      "bad_request",
    );
    expect(busy.message).toBe(`delivery '${sending.id}' is still being sent: an attempt is being made now`);
    expect(await requestsTo(waiting.receiver)).toBe(1);
    expect(await requestsTo(sending.receiver)).toBe(1);
  });

  it("the sweep leaves alone pending deliveries that aren't overdue: due later, due within the grace, being sent", async () => {
    const later = await strandedDelivery("429:600", 1);
    const withinGrace = await strandedDelivery("200", 0);
    const beingSent = await strandedDelivery("500,200", 1);
    await makeOverdue(beingSent.id);
    await claimDelivery(env.DB, beingSent.id, 1, new Date().toISOString(), new Date(Date.now() + 60_000).toISOString());
    const before = await Promise.all([later.id, withinGrace.id, beingSent.id].map(deliveryOf));

    const { resentDeliveries } = await runScheduleTick(env, Date.now());
    expect(resentDeliveries).not.toContain(later.id);
    expect(resentDeliveries).not.toContain(withinGrace.id);
    expect(resentDeliveries).not.toContain(beingSent.id);
    expect(await Promise.all([later.id, withinGrace.id, beingSent.id].map(deliveryOf))).toEqual(before);
  });
});
