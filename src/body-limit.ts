/**
 * Request bodies cut off at a size while they stream in. Hono's bodyLimit stops reading at the
 * limit, but leaves the rest of the body unread: the server then closes a connection the client
 * is still writing to, and the client sees a reset instead of the 413 (a 20 MiB chunked upload
 * to `npm run dev` did). Here nothing past the limit is kept, but the rest is read and thrown
 * away (up to DRAIN_LIMIT_BYTES) before the 413 envelope is sent, so the client reads it.
 *
 * The same for a body the answer doesn't need — a GET sent with one, a 401 or a 404 given before
 * the body is looked at: whatever the handler left unread is drained before the answer goes out
 * (the fuzz saw a GET with a 200 KB body reset under load).
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./env.ts";
import { ApiError } from "./errors.ts";

/** How much of a refused body is read and discarded so the client can read its 413; beyond, the connection is cut. */
export const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;

export function bodyLimit(maxBytes: number): MiddlewareHandler<AppEnv> {
  const tooLarge = () => new ApiError("payload_too_large", `request body is larger than ${maxBytes} bytes`);
  return async function bodyLimit(c, next) {
    const body = c.req.raw.body;
    if (!body) return next();
    const declared = c.req.header("Content-Length");
    if (declared !== undefined && !c.req.header("Transfer-Encoding")) {
      const length = Number(declared);
      if (!Number.isSafeInteger(length) || length < 0)
        throw new ApiError("bad_request", "Content-Length is not a byte count");
      if (length > maxBytes) {
        await drain(body.getReader(), 0);
        throw tooLarge();
      }
      await next();
      // Hono has turned a handler's error into its answer by now: drain before that goes out too.
      if (!body.locked) await drain(body.getReader(), 0);
      return;
    }
    // No length announced (chunked): read it here, counting, and refuse at the first byte too many.
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await drain(reader, size);
        throw tooLarge();
      }
      chunks.push(value);
    }
    const whole = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      whole.set(chunk, offset);
      offset += chunk.byteLength;
    }
    c.req.raw = new Request(c.req.raw, { body: whole });
    return next();
  };
}

/**
 * Reads the rest of a refused body and discards it, so the 413 goes out on a connection whose
 * request has been read (workerd resets one whose body is still arriving); past
 * DRAIN_LIMIT_BYTES the body is cancelled instead. Memory stays flat: nothing is kept.
 */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, alreadyRead: number): Promise<void> {
  let seen = alreadyRead;
  try {
    while (seen <= DRAIN_LIMIT_BYTES) {
      const { done, value } = await reader.read();
      if (done) return;
      seen += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The client went away: nothing left to drain.
  }
}
