import { prettyJson } from "../lib/format.ts";

/** A run's parameters as the API formats them (Dagu's `K=V K2="a b" positional`), and JSON shown readably. */

type Param = { key: string; value: string };

// A value is bare, or a JSON string literal when it has spaces or quotes (src/domain/params.ts).
const PARAM = /(?:([^\s="]+)=)?("(?:[^"\\]|\\.)*"|\S+)/g;

/** The params string's entries; positional values get their position ("1", "2", …) as key. */
export function parseParams(text: string): Param[] {
  let position = 0;
  return [...text.matchAll(PARAM)].map(([, key, raw = ""]) => ({
    key: key ?? String(++position),
    value: unquote(raw),
  }));
}

function unquote(raw: string): string {
  if (!raw.startsWith('"')) return raw;
  try {
    return String(JSON.parse(raw));
  } catch {
    return raw;
  }
}

export function ParamsList({ params }: { params: Param[] }) {
  if (params.length === 0) return <span class="muted">none</span>;
  return (
    <ul class="params">
      {params.map(({ key, value }) => (
        <li key={key} class="mono">
          <span class="muted">{/^\d+$/.test(key) ? `$${key}` : key}=</span>
          {value}
        </li>
      ))}
    </ul>
  );
}

/** JSON text pretty-printed when it parses, otherwise as it came. */
export function JsonText({ text, label }: { text: string; label: string }) {
  const shown = prettyJson(text);
  return (
    <pre class="json-text" tabIndex={0} aria-label={label}>
      {shown}
    </pre>
  );
}
