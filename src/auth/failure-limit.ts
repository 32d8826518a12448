/**
 * Budgets of failed attempts (webhook triggers, logins), counted with a Rate Limiting binding.
 * Only failures count: a caller who gets it right is never slowed down. A key over its budget is
 * remembered by this isolate for the limiter's period and refused at once, before any password or
 * token work, so a flood of bad attempts costs one Map lookup each.
 */
import { ApiError } from "../errors.ts";

/** How long a key over its limit is refused outright: the period of the bindings in wrangler.toml. */
export const BLOCK_SECONDS = 60;
const MAX_REMEMBERED = 10_000;

export class FailureLimit {
  /** Keys over the limit, with when they may try again. */
  private readonly blocked = new Map<string, number>();

  /** Names the attempts in the 429's message ("failed webhook attempts from this client"). */
  private readonly what: string;

  constructor(what: string) {
    this.what = what;
  }

  /** 429 when any of `keys` is over its budget; checked before any secret is compared. */
  refuseIfBlocked(...keys: string[]): void {
    for (const key of keys) if (this.isBlocked(key)) throw this.tooMany();
  }

  /** Counts one failure against each key; throws 429 once one of them is over its budget. */
  async recordFailure(limiter: RateLimit, ...keys: string[]): Promise<void> {
    const outcomes = await Promise.all(keys.map((key) => limiter.limit({ key })));
    let over = false;
    outcomes.forEach(({ success }, index) => {
      if (success) return;
      over = true;
      this.block(keys[index]!);
    });
    if (over) throw this.tooMany();
  }

  private isBlocked(key: string): boolean {
    const until = this.blocked.get(key);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.blocked.delete(key);
    return false;
  }

  private block(key: string): void {
    if (this.blocked.size >= MAX_REMEMBERED) this.blocked.delete(this.blocked.keys().next().value!);
    this.blocked.set(key, Date.now() + BLOCK_SECONDS * 1000);
  }

  private tooMany(): ApiError {
    return new ApiError("too_many_requests", `too many ${this.what}; try again in ${BLOCK_SECONDS} s`, undefined, {
      "Retry-After": String(BLOCK_SECONDS),
    });
  }
}

/**
 * Failed password sign-ins — `POST /auth/login` and HTTP Basic alike: one budget per client IP
 * and one per username (binding LOGIN_FAILURES), so a password can't be guessed at bcrypt speed
 * from one address nor from many.
 */
export const signInFailures = new FailureLimit("failed sign-ins from this client or for this username");

export function signInKeys(clientIp: string, username: string): string[] {
  return [`ip:${clientIp}`, `user:${username.toLowerCase()}`];
}
