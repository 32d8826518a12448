import { type KeyValue, parseParamString, quoteParam } from "./dag-spec.ts";

/**
 * The params of a run: the DAG's defaults, overridden by the start request's params. Like
 * Dagu, the request may give a `K=V K2="a b"` string (positional values replace positional
 * defaults in order), JSON text of an object, or (dagflare) the object itself. Names the DAG
 * doesn't declare are added after the defaults.
 */
export function resolveParams(
  defaults: readonly KeyValue[],
  override: string | Record<string, unknown> | undefined,
): KeyValue[] {
  const overrides = toKeyValues(override);
  const result = defaults.map((entry) => ({ ...entry }));
  for (const entry of overrides) {
    const existing = result.find((candidate) => candidate.key === entry.key);
    if (existing) existing.value = entry.value;
    else result.push({ ...entry });
  }
  return result;
}

function toKeyValues(override: string | Record<string, unknown> | undefined): KeyValue[] {
  if (override === undefined) return [];
  if (typeof override === "string") {
    const text = override.trim();
    if (text.startsWith("{")) {
      const parsed: unknown = JSON.parse(text);
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
        throw new SyntaxError("params JSON must be an object");
      return fromObject(parsed as Record<string, unknown>);
    }
    return parseParamString(text);
  }
  return fromObject(override);
}

function fromObject(object: Record<string, unknown>): KeyValue[] {
  return Object.entries(object).map(([key, value]) => ({
    key,
    value: typeof value === "string" ? value : JSON.stringify(value),
  }));
}

/** Dagu's `params` string for a run, as the API returns it. */
export function formatParams(params: readonly KeyValue[]): string {
  return params
    .map(({ key, value }) => (/^\d+$/.test(key) ? quoteParam(value) : `${key}=${quoteParam(value)}`))
    .join(" ");
}
