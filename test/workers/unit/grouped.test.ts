/** Calls shared by callers that arrive together (src/coordinator/grouped.ts): group commits and reads. */
import { describe, expect, it } from "vitest";
import { Grouped } from "../../../src/coordinator/grouped.ts";

/** A call whose every invocation is recorded and waits for `release`. */
function gatedCall() {
  const calls: { startedAt: number; release: (value: number) => void; fail: (error: Error) => void }[] = [];
  let clock = 0;
  const grouped = new Grouped(
    () =>
      new Promise<number>((release, fail) => {
        calls.push({ startedAt: ++clock, release, fail });
      }),
  );
  const tick = () => ++clock;
  return { grouped, calls, tick };
}

/** Past the task a call waits before it starts. */
const settle = async () => {
  for (let task = 0; task < 3; task++) await new Promise((resolve) => setTimeout(resolve, 0));
};

describe("Grouped", () => {
  it("callers that arrive together share one call", async () => {
    const { grouped, calls } = gatedCall();
    const answers = [grouped.run(), grouped.run(), grouped.run()];
    await settle();
    expect(calls).toHaveLength(1);
    calls[0]!.release(7);
    expect(await Promise.all(answers)).toEqual([7, 7, 7]);
  });

  it("callers arriving in later events, before the call has started, share it", async () => {
    const { grouped, calls } = gatedCall();
    // A second request already waiting as the first asks: its event runs after the first's
    // stretch of work and its microtasks.
    const waiting = new Promise<{ answer: Promise<number> }>((arrived) =>
      setTimeout(() => arrived({ answer: grouped.run() }), 0),
    );
    const first = grouped.run();
    const second = await waiting;
    await settle();
    calls[0]!.release(5);
    expect(await first).toBe(5);
    await settle();
    expect(calls).toHaveLength(1); // no second call: the later caller had joined the first
    expect(await second.answer).toBe(5);
  });

  it("a caller never joins a call already in flight, but the next one, shared by all who arrive meanwhile", async () => {
    const { grouped, calls, tick } = gatedCall();
    const first = grouped.run();
    await settle();
    const arrivedAt = tick();
    const late = [grouped.run(), grouped.run()];
    await settle();
    expect(calls).toHaveLength(1); // the next call waits for the one in flight
    calls[0]!.release(1);
    expect(await first).toBe(1);
    await settle();
    expect(calls).toHaveLength(2);
    expect(calls[1]!.startedAt).toBeGreaterThan(arrivedAt);
    calls[1]!.release(2);
    expect(await Promise.all(late)).toEqual([2, 2]);
  });

  it("a caller sees its own call's failure, and the next call runs as usual", async () => {
    const { grouped, calls } = gatedCall();
    const failing = grouped.run();
    await settle();
    calls[0]!.fail(new Error("D1 is down"));
    await expect(failing).rejects.toThrow("D1 is down");
    const next = grouped.run();
    await settle();
    calls[1]!.release(3);
    expect(await next).toBe(3);
  });
});
