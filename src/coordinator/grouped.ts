/**
 * One call shared by everyone who asks while it is still to start: a caller never joins a call
 * already in flight (it may have read D1 before the caller arrived, or written before the
 * caller's change was in storage), but the next one, which all callers arriving meanwhile share.
 * A burst of N callers costs two calls, not N. A caller sees its own call's failure.
 *
 * A call starts one task after it is asked for, not one microtask: each trigger reaches the
 * object as an event of its own, and the triggers already waiting at the object then join the
 * call rather than the next. Measured on the local stack (`npm run bench:webhooks`, concurrency
 * 8): D1 batches of mostly 8 triggers where the first of each burst used to go alone (batches of
 * 1 and 3–6 in turn), about 15% more triggers a second, the same p50 one trigger at a time.
 *
 * Within a Durable Object only: every caller is the object's, so sharing a promise between its
 * requests is sound (a stateless Worker may not await another request's I/O).
 */
export class Grouped<T> {
  readonly #call: () => Promise<T>;
  #current: Promise<T> | undefined;
  #next: Promise<T> | undefined;

  constructor(call: () => Promise<T>) {
    this.#call = call;
  }

  run(): Promise<T> {
    this.#next ??= (async () => {
      await this.#current?.catch(() => undefined); // its own callers see its failure
      await new Promise((nextTask) => setTimeout(nextTask, 0));
      this.#next = undefined;
      this.#current = this.#call();
      return this.#current;
    })();
    return this.#next;
  }
}
