/**
 * Copies of trigger targets (a DAG's webhook row with the DAG's id, name and spec) that a
 * trigger may be decided on without reading D1's primary, which can be an ocean away from the
 * sender (docs/latency.md): this isolate's memory first, else the nearest D1 read replica (the
 * Sessions API's "first-unconstrained").
 *
 * A copy may be stale, so it may only ever say yes, and the DAG's coordinator confirms that yes:
 * the run starts only if the primary still has the copy's `version`, which moves with every
 * change a trigger depends on (migrations/0018). Any other answer — a wrong token, a disabled
 * webhook, a payload the contract refuses — is decided again on the primary's row, as before. So
 * regenerate, disable, delete and a new spec act on the very next trigger, with copies warm.
 *
 * Kept by DAG name, never by token: a copy holds what D1 holds (a bcrypt hash, a keyed digest,
 * encrypted secrets), and a presented token is checked against it each time (one HMAC).
 */
import { findTriggerTarget, type TriggerTarget } from "../db/webhooks.ts";

/** Copies by DAG name, least recently used first; bounded by their specs' size (a spec is ≤ 512 KiB). */
const remembered = new Map<string, TriggerTarget>();
const MAX_REMEMBERED_CHARS = 4 * 1024 * 1024;
let rememberedChars = 0;

const sizeOf = (target: TriggerTarget) => target.spec.length + 1024;

export type TargetCopy = { target: TriggerTarget; from: "memory" | "replica" };

/**
 * A copy of the DAG's trigger target, which may be stale: this isolate's (unless `memory` is
 * false), else the nearest read replica's; `null` when the replica has none (then the primary decides).
 */
export async function targetCopy(env: Cloudflare.Env, dagName: string, memory = true): Promise<TargetCopy | null> {
  const kept = memory ? remembered.get(dagName) : undefined;
  if (kept) {
    remembered.delete(dagName);
    remembered.set(dagName, kept);
    return { target: kept, from: "memory" };
  }
  const target = await findTriggerTarget(env.DB.withSession("first-unconstrained"), dagName);
  return target && { target, from: "replica" };
}

/** Keeps a copy the coordinator confirmed, or one read from the primary. */
export function remember(target: TriggerTarget): void {
  forget(target.dag_name);
  if (sizeOf(target) > MAX_REMEMBERED_CHARS / 4) return;
  remembered.set(target.dag_name, target);
  rememberedChars += sizeOf(target);
  for (const [name, oldest] of remembered) {
    if (rememberedChars <= MAX_REMEMBERED_CHARS) break;
    remembered.delete(name);
    rememberedChars -= sizeOf(oldest);
  }
}

/** Drops the copy of a DAG's target (the coordinator found it stale). */
export function forget(dagName: string): void {
  const kept = remembered.get(dagName);
  if (!kept) return;
  remembered.delete(dagName);
  rememberedChars -= sizeOf(kept);
}
