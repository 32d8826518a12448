/**
 * `${VAR}` expansion with Dagu's JSON field access: `${VAR.a.b}`, array indices written both
 * ways (`${VAR.items.0.name}` and `${VAR.items[0].name}`).
 *
 * Only the given scope is consulted — params, env, step outputs, the webhook payload and the
 * run's built-ins — never the Worker's bindings or secrets. A missing variable or path expands
 * to the empty string; an object or array expands to its JSON text.
 */
export type Scope = ReadonlyMap<string, string>;

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)((?:\.[^.[\]}\s]+|\[\d+\])*)\}/g;

export function expand(template: string, scope: Scope): string {
  return template.replace(REFERENCE, (_match, name: string, path: string) => resolve(scope.get(name), path));
}

/** Expands every string inside a JSON-like value (HTTP executor config, for instance). */
export function expandDeep<T>(value: T, scope: Scope): T {
  if (typeof value === "string") return expand(value, scope) as T;
  if (Array.isArray(value)) return value.map((item) => expandDeep(item, scope)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, expandDeep(item, scope)])) as T;
  }
  return value;
}

function resolve(raw: string | undefined, path: string): string {
  if (raw === undefined) return "";
  if (path === "") return raw;
  let current: unknown;
  try {
    current = JSON.parse(raw);
  } catch {
    return "";
  }
  for (const segment of pathSegments(path)) {
    if (Array.isArray(current) && /^\d+$/.test(segment)) current = current[Number(segment)];
    else if (current !== null && typeof current === "object" && !Array.isArray(current)) current = (current as Record<string, unknown>)[segment];
    else return "";
    if (current === undefined) return "";
  }
  return typeof current === "string" ? current : JSON.stringify(current);
}

function pathSegments(path: string): string[] {
  return [...path.matchAll(/\.([^.[\]]+)|\[(\d+)\]/g)].map((match) => match[1] ?? match[2]!);
}
