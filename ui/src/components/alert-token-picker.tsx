/**
 * The `{{token}}`s a body may use for the chosen event types (GET /alert-tokens), grouped, each
 * with its description and an example; a click (or Enter) inserts it at the editor's cursor.
 */
import { useState } from "preact/hooks";
import type { EventType, TokenReference } from "./alert-policy-draft.ts";

type TokenInfo = TokenReference["tokens"][number];

const GROUP_TITLES: Record<string, string> = {
  global: "Every event",
  job: "Runs",
  tick: "Schedule ticks",
  code_location: "DAG specs",
  agent: "Step runner",
  insights: "Insights",
};

/**
 * The token groups an event type offers. The API lists each event type's token names; a name like
 * failure_message belongs to several groups (with a different meaning in each), so a group counts
 * only when all of its tokens are offered.
 */
function groupsOf(reference: TokenReference, eventType: EventType): string[] {
  const offered = new Set(reference.eventTypes.find((entry) => entry.eventType === eventType)?.tokens ?? []);
  const groups = new Set(reference.tokens.map((token) => token.group));
  return [...groups].filter((group) =>
    reference.tokens.every((token) => token.group !== group || offered.has(token.name)),
  );
}

export function tokensFor(reference: TokenReference, eventTypes: EventType[]): TokenInfo[] {
  const groups = new Set(eventTypes.flatMap((type) => groupsOf(reference, type)));
  return reference.tokens.filter((token) => groups.has(token.group));
}

/** Each token's example value for one event type: what the live preview renders with. */
export function exampleValues(reference: TokenReference, eventType: EventType): Record<string, string> {
  return Object.fromEntries(tokensFor(reference, [eventType]).map((token) => [token.name, token.example]));
}

type Props = {
  reference: TokenReference;
  eventTypes: EventType[];
  onInsert: (text: string) => void;
  disabled?: boolean;
};

export function AlertTokenPicker({ reference, eventTypes, onInsert, disabled }: Props) {
  const [filter, setFilter] = useState("");
  const needle = filter.trim().toLowerCase();
  const shown = tokensFor(reference, eventTypes).filter(
    (token) => !needle || token.name.toLowerCase().includes(needle) || token.description.toLowerCase().includes(needle),
  );
  const groups = [...new Set(shown.map((token) => token.group))];
  const usedBy = (group: string) => eventTypes.filter((type) => groupsOf(reference, type).includes(group));

  return (
    <section class="token-picker" aria-labelledby="token-picker-title">
      <div class="card-header">
        <h3 id="token-picker-title">Tokens</h3>
        {/* Inside the policy form: Enter here would submit (save) it, so it does nothing. */}
        <input
          type="search"
          class="token-filter"
          aria-label="Filter tokens"
          placeholder="Filter tokens…"
          value={filter}
          onKeyDown={(event) => {
            if (event.key === "Enter") event.preventDefault();
          }}
          onInput={(event) => setFilter(event.currentTarget.value)}
        />
      </div>
      <p class="muted small-text">
        {disabled
          ? "The tokens this policy's events offer."
          : "Click a token (or press Enter on it) to insert it at the cursor. Tokens belong inside JSON strings."}
      </p>
      {eventTypes.length === 0 && <p class="muted">Choose an event type to see its tokens.</p>}
      {eventTypes.length > 0 && shown.length === 0 && <p class="muted">No token matches “{filter}”.</p>}
      <div class="token-groups">
        {groups.map((group) => (
          <div key={group}>
            <h4 class="token-group-title">
              {GROUP_TITLES[group] ?? group}
              {group !== "global" && <span class="muted small-text"> · {usedBy(group).join(", ")}</span>}
            </h4>
            <ul class="token-list">
              {shown
                .filter((token) => token.group === group)
                .map((token) => (
                  <li key={`${group}:${token.name}`}>
                    <button
                      type="button"
                      class="token"
                      disabled={disabled}
                      aria-describedby={`token-${group}-${token.name}`}
                      onClick={() => onInsert(`{{${token.name}}}`)}
                    >
                      {`{{${token.name}}}`}
                    </button>
                    <span id={`token-${group}-${token.name}`} class="small-text">
                      {token.description}
                      {token.example && <span class="muted"> — e.g. {token.example.split("\n")[0]}</span>}
                    </span>
                  </li>
                ))}
            </ul>
          </div>
        ))}
      </div>
      {reference.ignored.length > 0 && (
        <p class="muted small-text">
          Dagster's asset tokens ({reference.ignored.map((name) => `{{${name}}}`).join(", ")}) are accepted and render
          empty: DAGs have no assets.
        </p>
      )}
    </section>
  );
}
