import type { EditorView } from "@codemirror/view";
import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import {
  DESTINATION_KINDS,
  type DestinationChoice,
  type DestinationKind,
  kindOfUrl,
} from "../../../src/alerts/destinations.ts";
import { ApiFailure, api, must, type Schemas } from "../api/client.ts";
import { AlertDeliveries } from "../components/alert-deliveries.tsx";
import { HeadersEditor, SigningSecretField } from "../components/alert-headers.tsx";
import {
  DESTINATION_LABELS,
  type Draft,
  differsFrom,
  EVENT_DESCRIPTIONS,
  EVENT_TYPES,
  type EventType,
  fromPolicy,
  headerRow,
  METRICS,
  type Metric,
  newDraft,
  type OptionFields,
  type Policy,
  type Preset,
  presetLabel,
  type TokenReference,
  templateErrorsOf,
  toInput,
  urlPart,
} from "../components/alert-policy-draft.ts";
import { AlertPreview, checkTemplate } from "../components/alert-preview.tsx";
import { AlertTokenPicker } from "../components/alert-token-picker.tsx";
import { CodeEditor, type EditorError } from "../components/code-editor.tsx";
import { ConfirmDialog } from "../components/dialog.tsx";
import { ErrorBanner, Loading, Page } from "../components/page.tsx";
import { useDagNames } from "../lib/dag-names.ts";
import { useDebounced } from "../lib/debounce.ts";
import { useSession } from "../lib/session.tsx";
import { useApi } from "../lib/use-api.ts";

const PREVIEW_DELAY_MS = 300;
/** What a new policy's body starts as (any other preset when the API has no generic one). */
const STARTER_PRESET = "generic";

/**
 * The warnings the server gave when a policy was created (POST answers {alertPolicy, warnings}):
 * creating navigates to the new policy's page, whose editor shows them once, with "Saved.".
 */
let createdWarnings: { id: string; warnings: string[] } | undefined;

function takeCreatedWarnings(id: string | undefined): string[] | undefined {
  if (id === undefined || createdWarnings?.id !== id) return undefined;
  const { warnings } = createdWarnings;
  createdWarnings = undefined;
  return warnings;
}

/** Enter in a filter box inside the policy form would submit (save) the form: it does nothing there. */
function ignoreEnter(event: KeyboardEvent) {
  if (event.key === "Enter") event.preventDefault();
}

/** /alerts/new and /alerts/:id: loads what the editor needs, then shows it. */
export function AlertEditorPage() {
  const { params } = useRoute();
  const id = params.id;
  const policy = useApi(
    () =>
      id
        ? must(api.GET("/alert-policies/{id}", { params: { path: { id } } })).then((answer) => answer.alertPolicy)
        : Promise.resolve(undefined),
    [id],
  );
  const reference = useApi(() => must(api.GET("/alert-tokens")), []);
  const presets = useApi(() => must(api.GET("/alert-presets")).then((answer) => answer.presets), []);

  if (policy.error instanceof ApiFailure && policy.error.status === 404) {
    return (
      <Page title="No such alert policy">
        <p>
          There is no alert policy with the id <code>{id}</code>. <a href="/alerts">All alert policies</a>
        </p>
      </Page>
    );
  }
  const failed = policy.error ?? reference.error ?? presets.error;
  // The page is kept when the route goes from one policy to another or to /alerts/new (Back after
  // creating): until the policy of this URL has loaded, the last one's data must not seed the editor.
  const loaded = id ? policy.data?.id === id : true;
  if (failed || !reference.data || !presets.data || !loaded) {
    return (
      <Page title={id ? "Alert policy" : "New alert policy"}>
        <ErrorBanner error={failed} />
        {!failed && <Loading />}
      </Page>
    );
  }
  return (
    <PolicyEditor
      key={id ?? "new"}
      initial={id ? policy.data : undefined}
      reference={reference.data}
      presets={presets.data}
    />
  );
}

type TestOutcome = { result: Schemas["AlertTestResult"] } | { error: unknown };

function PolicyEditor({
  initial,
  reference,
  presets,
}: {
  initial: Policy | undefined;
  reference: TokenReference;
  presets: Preset[];
}) {
  const session = useSession();
  const { route } = useLocation();
  const readOnly = !session.can("manager");
  const starter = presets.find((preset) => preset.id === STARTER_PRESET) ?? presets[0];

  const [saved, setSaved] = useState(initial);
  const [draft, setDraft] = useState<Draft>(() =>
    initial ? fromPolicy(initial) : { ...newDraft(), body: starter?.body ?? "{}" },
  );
  // The body as a preset or the server last set it: editing it makes choosing a preset ask first.
  const [pristineBody, setPristineBody] = useState(draft.body);
  const [presetId, setPresetId] = useState(() => presets.find((preset) => preset.body === draft.body)?.id ?? "");
  const [pendingPreset, setPendingPreset] = useState<Preset>();
  const [chosenSample, setChosenSample] = useState<EventType>();
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>();
  const [savedNotice, setSavedNotice] = useState<string[] | undefined>(() => takeCreatedWarnings(initial?.id));
  const [serverTemplateErrors, setServerTemplateErrors] = useState<EditorError[]>([]);
  const [testing, setTesting] = useState(false);
  const [testOutcome, setTestOutcome] = useState<TestOutcome>();
  const [deleting, setDeleting] = useState(false);
  const viewRef = useRef<EditorView | null>(null);
  const errorRef = useRef<HTMLDivElement>(null);

  // What a new policy's form starts as: leaving it unchanged loses nothing.
  const [startingInput] = useState(() => JSON.stringify(toInput(draft)));
  const dirty = !saved || differsFrom(draft, saved);
  const unsaved = saved ? dirty : JSON.stringify(toInput(draft)) !== startingInput;
  const sampleEvent =
    chosenSample && draft.eventTypes.includes(chosenSample) ? chosenSample : (draft.eventTypes[0] ?? "JOB_FAILURE");
  const previewedBody = useDebounced(draft.body, PREVIEW_DELAY_MS);
  const check = useMemo(() => checkTemplate(previewedBody), [previewedBody]);
  const editorErrors = useMemo(
    () => (serverTemplateErrors.length > 0 ? serverTemplateErrors : check.ok ? [] : check.errors),
    [serverTemplateErrors, check],
  );
  const hasStoredSecrets = draft.signingSecretStored || draft.headers.some((row) => row.stored);
  const movedHost =
    saved !== undefined &&
    hasStoredSecrets &&
    urlPart(draft.url, "origin") !== urlPart(saved.webhook?.url ?? "", "origin");

  const change = (patch: Partial<Draft>) => {
    setDraft((current) => ({ ...current, ...patch }));
    setSavedNotice(undefined);
  };
  const changeOptions = (patch: Partial<OptionFields>) => {
    setDraft((current) => ({ ...current, options: { ...current.options, ...patch } }));
    setSavedNotice(undefined);
  };
  const changeBody = (body: string) => {
    change({ body });
    setServerTemplateErrors([]);
  };

  // Closing or reloading the tab with unsaved edits asks first (in-app links don't).
  useEffect(() => {
    if (!unsaved || readOnly) return;
    const warn = (event: BeforeUnloadEvent) => {
      event.preventDefault();
      event.returnValue = true; // for browsers that ignore preventDefault here
    };
    addEventListener("beforeunload", warn);
    return () => removeEventListener("beforeunload", warn);
  }, [unsaved, readOnly]);

  const choosePreset = (id: string) => {
    const preset = presets.find((candidate) => candidate.id === id);
    if (!preset) return;
    if (draft.body.trim() && draft.body !== pristineBody) setPendingPreset(preset);
    else applyPreset(preset);
  };
  /** The preset's body replaces the draft's; its headers are added (empty, with the expected value as a hint), the user's kept. */
  const applyPreset = (preset: Preset) => {
    setPresetId(preset.id);
    setPristineBody(preset.body);
    setServerTemplateErrors([]);
    setDraft((current) => {
      const taken = new Set(current.headers.map((row) => row.name.trim().toLowerCase()));
      const added = Object.entries(preset.headers).filter(([name]) => !taken.has(name.toLowerCase()));
      return {
        ...current,
        body: preset.body,
        // A preset is for one kind of destination; the generic one leaves it to the URL's host.
        destination: preset.id === "generic" ? "auto" : (preset.id as DestinationKind),
        headers: [...current.headers, ...added.map(([name, hint]) => headerRow(name, "", false, hint))],
      };
    });
  };

  const save = async (event: Event) => {
    event.preventDefault();
    if (draft.eventTypes.length === 0) {
      setSaveError(new Error("Choose at least one event type."));
      return;
    }
    setSaving(true);
    setSaveError(undefined);
    try {
      if (!saved) {
        const created = await must(api.POST("/alert-policies", { body: toInput(draft) }));
        createdWarnings = { id: created.alertPolicy.id, warnings: created.warnings ?? [] };
        route(`/alerts/${encodeURIComponent(created.alertPolicy.id)}`);
        return;
      }
      const answer = await must(
        api.PUT("/alert-policies/{id}", { params: { path: { id: saved.id } }, body: toInput(draft) }),
      );
      const next = fromPolicy(answer.alertPolicy);
      setSaved(answer.alertPolicy);
      setDraft(next);
      setPristineBody(next.body);
      setSavedNotice(answer.warnings ?? []);
    } catch (cause) {
      setSaveError(cause);
      setServerTemplateErrors(templateErrorsOf(cause));
      errorRef.current?.scrollIntoView({ block: "center" });
    } finally {
      setSaving(false);
    }
  };

  // Unsaved changes are tested as a draft, with the saved policy's secrets where they are still
  // masked (the server keeps them to the same host); the saved policy is tested as stored.
  const sendTest = async () => {
    setTesting(true);
    setTestOutcome(undefined);
    try {
      const result =
        saved && !dirty
          ? await must(
              api.POST("/alert-policies/{id}/test", {
                params: { path: { id: saved.id } },
                body: { eventType: sampleEvent },
              }),
            )
          : await must(
              api.POST("/alert-policies/test", {
                body: {
                  ...toInput(draft),
                  name: draft.name.trim() || "Unsaved policy",
                  eventType: sampleEvent,
                  policyId: saved?.id,
                },
              }),
            );
      setTestOutcome({ result });
    } catch (cause) {
      setTestOutcome({ error: cause });
      setServerTemplateErrors(templateErrorsOf(cause));
    } finally {
      setTesting(false);
    }
  };

  const insertAtCursor = (text: string) => {
    const view = viewRef.current;
    if (!view) return;
    const { from, to } = view.state.selection.main;
    view.dispatch({
      changes: { from, to, insert: text },
      selection: { anchor: from + text.length },
      scrollIntoView: true,
    });
    view.focus();
  };

  const selectedPreset = presets.find((preset) => preset.id === presetId);
  const title = saved ? saved.name : "New alert policy";

  return (
    <Page
      title={title}
      subtitle={
        saved
          ? `Sends to ${urlPart(saved.webhook?.url ?? "", "host")}${saved.enabled ? "" : " · disabled"}`
          : "Send an HTTP request, with a body you template, when something happens."
      }
      actions={
        !readOnly && (
          <>
            {saved && dirty && <span class="muted small-text">Unsaved changes</span>}
            <button type="submit" form="alert-policy-form" class="button primary" disabled={saving}>
              {saved ? "Save" : "Create policy"}
            </button>
            {saved && (
              <button type="button" class="button" onClick={() => setDeleting(true)}>
                Delete
              </button>
            )}
          </>
        )
      }
    >
      <p class="muted small-text">
        <a href="/alerts">← All alert policies</a>
        {readOnly && " · Read only: a manager or admin can change this policy."}
      </p>
      <div ref={errorRef}>
        <ErrorBanner error={saveError} />
      </div>
      {savedNotice && (
        <div class="success" role="status">
          Saved.
          {savedNotice.map((warning) => (
            <div key={warning}>{warning}</div>
          ))}
        </div>
      )}

      <form id="alert-policy-form" onSubmit={save} class="alert-editor">
        <fieldset class="plain" disabled={readOnly}>
          <div class="grid-2">
            <section class="card stack" aria-labelledby="policy-title">
              <h2 id="policy-title">Policy</h2>
              <label>
                Name
                <input
                  name="name"
                  required
                  maxLength={200}
                  value={draft.name}
                  onInput={(event) => change({ name: event.currentTarget.value })}
                  placeholder="Critical alerts"
                />
              </label>
              <label>
                Description
                <textarea
                  name="description"
                  maxLength={2000}
                  rows={2}
                  value={draft.description}
                  onInput={(event) => change({ description: event.currentTarget.value })}
                />
              </label>
              <div class="row">
                <label class="inline">
                  <input
                    type="checkbox"
                    checked={draft.options.includeDescriptionInNotification}
                    onChange={(event) =>
                      changeOptions({ includeDescriptionInNotification: event.currentTarget.checked })
                    }
                    aria-describedby="include-description-hint"
                  />
                  Include in notifications
                </label>
                <span id="include-description-hint" class="muted small-text">
                  fills {"{{alert_policy_description}}"}
                </span>
              </div>
              <label class="switch">
                <input
                  type="checkbox"
                  role="switch"
                  aria-checked={draft.enabled}
                  checked={draft.enabled}
                  onChange={(event) => change({ enabled: event.currentTarget.checked })}
                />
                Enabled
              </label>
              <DagFilter chosen={draft.dagNames} tags={draft.tags} onChange={(dagNames) => change({ dagNames })} />
            </section>
            <section class="card stack" aria-labelledby="events-title">
              <h2 id="events-title">Events</h2>
              <EventTypePicker chosen={draft.eventTypes} onChange={(eventTypes) => change({ eventTypes })} />
              <EventOptions eventTypes={draft.eventTypes} options={draft.options} onChange={changeOptions} />
            </section>
          </div>

          <section class="card stack" aria-labelledby="destination-title">
            <h2 id="destination-title">Destination</h2>
            <div class="grid-2">
              <div class="stack">
                <Field id="alert-preset" label="Preset">
                  <select
                    id="alert-preset"
                    value={presetId}
                    onChange={(event) => choosePreset(event.currentTarget.value)}
                  >
                    <option value="" disabled>
                      Start from a preset…
                    </option>
                    {presets.map((preset) => (
                      <option key={preset.id} value={preset.id}>
                        {presetLabel(preset)}
                      </option>
                    ))}
                  </select>
                </Field>
                {selectedPreset && (
                  <p class="muted small-text preset-notes">
                    <strong>{selectedPreset.name}.</strong> {selectedPreset.notes} URL:{" "}
                    <code>{selectedPreset.url}</code>
                  </p>
                )}
                <label>
                  URL
                  <input
                    name="url"
                    type="url"
                    required
                    class="mono"
                    value={draft.url}
                    placeholder={selectedPreset?.url ?? "https://example.com/hooks/dagflare"}
                    onInput={(event) => change({ url: event.currentTarget.value })}
                  />
                </label>
                <Field id="alert-destination" label="Destination kind">
                  <select
                    id="alert-destination"
                    value={draft.destination}
                    onChange={(event) => change({ destination: event.currentTarget.value as DestinationChoice })}
                  >
                    <option value="auto">
                      Automatic, by the URL's host ({DESTINATION_LABELS[kindOfUrl(draft.url.trim())]})
                    </option>
                    {DESTINATION_KINDS.map((kind) => (
                      <option key={kind} value={kind}>
                        {DESTINATION_LABELS[kind]}
                      </option>
                    ))}
                  </select>
                </Field>
                <p class="muted small-text">
                  It decides how values are escaped (so they can't ping, link or break the markup) and how the body is
                  fitted to the destination's limits. Choose it for a proxy or GovSlack, whose host says nothing.
                </p>
                {movedHost && (
                  <p class="notice small-text">
                    The URL now points at another host: saved header values and the signing secret don't follow it.
                    Replace them before saving.
                  </p>
                )}
              </div>
              <div class="stack">
                <HeadersEditor rows={draft.headers} onChange={(headers) => change({ headers })} readOnly={readOnly} />
                <SigningSecretField
                  value={draft.signingSecret}
                  stored={draft.signingSecretStored}
                  readOnly={readOnly}
                  onChange={(signingSecret) => change({ signingSecret, signingSecretStored: false })}
                />
              </div>
            </div>
          </section>
        </fieldset>

        <section class="card stack alert-body" aria-labelledby="body-title">
          <div class="card-header">
            <h2 id="body-title">Body</h2>
            <span class="muted small-text">JSON, with {"{{tokens}}"} inside strings</span>
          </div>
          {/* The card's whole width: a body's lines are long (a Discord description, a Jira field). */}
          <CodeEditor
            language="json"
            label="Body"
            value={draft.body}
            onChange={changeBody}
            errors={editorErrors}
            readOnly={readOnly}
            viewRef={viewRef}
          />
          <div class="body-layout">
            <div class="stack">
              <AlertTokenPicker
                reference={reference}
                eventTypes={draft.eventTypes}
                onInsert={insertAtCursor}
                disabled={readOnly}
              />
            </div>
            <div class="stack preview-column">
              <div class="card-header">
                {/* Under "Body", beside its tokens. */}
                <h3>Preview</h3>
                <span class="row">
                  <label for="alert-sample-event">Sample event</label>
                  <select
                    id="alert-sample-event"
                    value={sampleEvent}
                    onChange={(event) => setChosenSample(event.currentTarget.value as EventType)}
                    disabled={draft.eventTypes.length === 0}
                  >
                    {(draft.eventTypes.length > 0 ? draft.eventTypes : [sampleEvent]).map((type) => (
                      <option key={type} value={type}>
                        {type}
                      </option>
                    ))}
                  </select>
                </span>
              </div>
              <AlertPreview
                eventType={sampleEvent}
                check={check}
                body={previewedBody}
                url={draft.url}
                destination={draft.destination}
                policyName={draft.name}
                reference={reference}
                saved={saved && !dirty ? { id: saved.id, updatedAt: saved.updatedAt } : undefined}
              />
              {!readOnly && (
                <div class="stack">
                  <div class="row">
                    <button
                      type="button"
                      class="button"
                      onClick={sendTest}
                      disabled={testing || draft.eventTypes.length === 0 || !draft.url.trim()}
                    >
                      Send test
                    </button>
                    <span class="muted small-text">
                      {saved && !dirty
                        ? "Sends the saved policy's request for a sample event."
                        : "Sends this draft's request for a sample event (is_sample = true)."}
                    </span>
                  </div>
                  <TestResult testing={testing} outcome={testOutcome} />
                </div>
              )}
            </div>
          </div>
        </section>
      </form>

      {saved && <AlertDeliveries policyId={saved.id} />}

      <ConfirmDialog
        open={pendingPreset !== undefined}
        title="Replace the body?"
        confirmLabel="Replace body"
        onClose={() => setPendingPreset(undefined)}
        onConfirm={() => pendingPreset && applyPreset(pendingPreset)}
      >
        <p>
          The {pendingPreset && presetLabel(pendingPreset)} preset replaces the body you edited. Your headers and URL
          stay; the preset's headers are added.
        </p>
      </ConfirmDialog>
      {saved && (
        <ConfirmDialog
          open={deleting}
          title={`Delete ${saved.name}?`}
          confirmLabel="Delete"
          danger
          onClose={() => setDeleting(false)}
          onConfirm={async () => {
            await must(api.DELETE("/alert-policies/{id}", { params: { path: { id: saved.id } } }));
            route("/alerts");
          }}
        >
          <p>The policy and its delivery log are deleted. Alerts being retried stop.</p>
        </ConfirmDialog>
      )}
    </Page>
  );
}

function EventTypePicker({ chosen, onChange }: { chosen: EventType[]; onChange: (eventTypes: EventType[]) => void }) {
  const toggle = (type: EventType, on: boolean) =>
    onChange(EVENT_TYPES.filter((candidate) => (candidate === type ? on : chosen.includes(candidate))));
  return (
    <fieldset>
      <legend>Event types</legend>
      <ul class="choice-list">
        {EVENT_TYPES.map((type) => (
          <li key={type}>
            <label class="inline">
              <input
                type="checkbox"
                checked={chosen.includes(type)}
                onChange={(event) => toggle(type, event.currentTarget.checked)}
                aria-describedby={`event-${type}`}
              />
              <code>{type}</code>
            </label>
            <span id={`event-${type}`} class="muted small-text choice-description">
              {EVENT_DESCRIPTIONS[type]}
            </span>
          </li>
        ))}
      </ul>
      {chosen.length === 0 && <p class="error-text">Choose at least one event type.</p>}
    </fieldset>
  );
}

type NumberField = Exclude<keyof OptionFields, "includeDescriptionInNotification" | "metric">;

/** Only the options the chosen event types use; the server requires the long-running and insights ones. */
function EventOptions({
  eventTypes,
  options,
  onChange,
}: {
  eventTypes: EventType[];
  options: OptionFields;
  onChange: (patch: Partial<OptionFields>) => void;
}) {
  const wants = (type: EventType) => eventTypes.includes(type);
  // Both throttle fields or neither: once one is filled, the other is required.
  const throttled = options.throttleMax.trim() !== "" || options.throttleWindowMinutes.trim() !== "";
  const number = (
    field: NumberField,
    label: string,
    attributes: { min: number; max?: number; step?: string; required?: boolean; placeholder?: string; hint?: string },
  ) => (
    <Field id={`option-${field}`} label={label} hint={attributes.hint}>
      <input
        id={`option-${field}`}
        aria-describedby={attributes.hint ? `option-${field}-hint` : undefined}
        type="number"
        inputMode="numeric"
        min={attributes.min}
        max={attributes.max}
        step={attributes.step ?? "1"}
        required={attributes.required}
        placeholder={attributes.placeholder}
        value={options[field]}
        onInput={(event) => onChange({ [field]: event.currentTarget.value })}
      />
    </Field>
  );
  return (
    <fieldset class="stack">
      <legend>Options</legend>
      {wants("JOB_LONG_RUNNING") &&
        number("thresholdSeconds", "Long-running after (seconds)", {
          min: 1,
          required: true,
          placeholder: "3600",
          hint: "JOB_LONG_RUNNING fires once a run has been going this long.",
        })}
      {wants("JOB_FAILURE") &&
        number("consecutiveFailureThreshold", "Failures in a row before alerting", {
          min: 1,
          max: 100,
          placeholder: "1",
        })}
      {wants("JOB_FAILURE") &&
        number("remindEveryMinutes", "Remind while still failing, every (minutes)", {
          min: 5,
          max: 10_080,
          placeholder: "never",
          hint: "Until the DAG's next run; empty sends no reminders.",
        })}
      {wants("JOB_FAILURE") &&
        number("remindAtMost", "At most this many reminders", { min: 1, max: 100, placeholder: "3" })}
      {wants("INSIGHTS_METRIC") && (
        <div class="stack">
          <Field id="option-metric" label="Metric">
            <select
              id="option-metric"
              required
              value={options.metric}
              onChange={(event) => onChange({ metric: event.currentTarget.value as Metric })}
            >
              <option value="" disabled>
                Choose a metric…
              </option>
              {(Object.keys(METRICS) as Metric[]).map((metric) => (
                <option key={metric} value={metric}>
                  {METRICS[metric]}
                </option>
              ))}
            </select>
          </Field>
          {number("threshold", "Threshold", { min: 0, step: "any", required: true, placeholder: "3" })}
          {number("windowMinutes", "Window (minutes)", { min: 1, max: 10_080, placeholder: "60" })}
        </div>
      )}
      {number("renotifyIntervalMinutes", "Re-notify at most every (minutes)", {
        min: 1,
        placeholder: "every time",
        hint: "Per DAG and event type; empty sends every alert.",
      })}
      {number("throttleMax", "Throttle: at most this many alerts per DAG", {
        min: 1,
        max: 1000,
        required: throttled,
        placeholder: "no limit",
      })}
      {number("throttleWindowMinutes", "Per window of (minutes)", {
        min: 1,
        max: 1440,
        required: throttled,
        placeholder: "60",
        hint: "Windows follow the clock in UTC (60: each hour). The rest are held back and sent as one digest, with their count, when the window closes.",
      })}
    </fieldset>
  );
}

/** Which DAGs the policy watches: the ones ticked, or all when none is. */
function DagFilter({
  chosen,
  tags,
  onChange,
}: {
  chosen: string[];
  tags: string[];
  onChange: (dagNames: string[]) => void;
}) {
  const dags = useDagNames();
  const [filter, setFilter] = useState("");
  const known = dags.data ?? [];
  // A chosen DAG that no longer exists stays listed, so it can be unticked.
  const names = [...new Set([...chosen, ...known])].sort();
  const shown = names.filter((name) => name.toLowerCase().includes(filter.trim().toLowerCase()));
  const toggle = (name: string, on: boolean) =>
    onChange(on ? [...chosen, name] : chosen.filter((other) => other !== name));
  return (
    <fieldset>
      <legend>DAGs</legend>
      <p class="small-text">
        {chosen.length === 0 ? (
          <>
            <strong>All DAGs.</strong> <span class="muted">Tick DAGs to alert about those only.</span>
          </>
        ) : (
          <>
            <strong>{chosen.length === 1 ? "1 DAG" : `${chosen.length} DAGs`}</strong>{" "}
            <button type="button" class="link-button" onClick={() => onChange([])}>
              Clear (all DAGs)
            </button>
          </>
        )}
      </p>
      {tags.length > 0 && (
        <p class="muted small-text">Also every DAG tagged {tags.join(", ")} (set through the API).</p>
      )}
      <ErrorBanner error={dags.error} />
      {dags.loading && !dags.data && <Loading />}
      {names.length > 8 && (
        <input
          type="search"
          aria-label="Filter DAGs"
          placeholder="Filter DAGs…"
          value={filter}
          onKeyDown={ignoreEnter}
          onInput={(event) => setFilter(event.currentTarget.value)}
        />
      )}
      {dags.data && names.length === 0 && <p class="muted small-text">There are no DAGs yet.</p>}
      <ul class="choice-list dag-choices">
        {shown.map((name) => (
          <li key={name}>
            <label class="inline">
              <input
                type="checkbox"
                checked={chosen.includes(name)}
                onChange={(event) => toggle(name, event.currentTarget.checked)}
              />
              <span class="mono">{name}</span>
              {dags.data && !known.includes(name) && <span class="muted small-text">(not found)</span>}
            </label>
          </li>
        ))}
      </ul>
    </fieldset>
  );
}

/** A control under its label (for/id: the accessible name is the label alone), with an optional hint read as its description (`${id}-hint`). */
function Field({
  id,
  label,
  hint,
  children,
}: {
  id: string;
  label: string;
  hint?: string;
  children: ComponentChildren;
}) {
  return (
    <div class="stack tight">
      <label for={id}>{label}</label>
      {children}
      {hint && (
        <span id={`${id}-hint`} class="muted small-text">
          {hint}
        </span>
      )}
    </div>
  );
}

function TestResult({ testing, outcome }: { testing: boolean; outcome: TestOutcome | undefined }) {
  const answered = outcome && "result" in outcome ? outcome.result : undefined;
  const ok =
    answered?.statusCode !== undefined &&
    answered.statusCode !== null &&
    answered.statusCode >= 200 &&
    answered.statusCode < 300;
  // The live region is always there, so a screen reader announces the answer when it arrives.
  return (
    <div role="status" class={`test-result${answered ? (ok ? " success" : " error") : ""}`}>
      {testing && <span class="muted">Sending…</span>}
      {outcome && "error" in outcome && <ErrorBanner error={outcome.error} />}
      {answered && (
        <>
          <strong>
            {answered.statusCode === null ? "No answer" : `The destination answered HTTP ${answered.statusCode}`}
          </strong>
          {answered.error && answered.error !== `HTTP ${answered.statusCode}` && <div>{answered.error}</div>}
          {answered.body ? (
            <pre class="attempt-body">{answered.body}</pre>
          ) : (
            <div class="small-text">Empty response body.</div>
          )}
          {Object.keys(answered.headers).length > 0 && (
            <details class="small-text">
              <summary>Response headers</summary>
              <pre class="attempt-body">
                {Object.entries(answered.headers)
                  .map(([name, value]) => `${name}: ${value}`)
                  .join("\n")}
              </pre>
            </details>
          )}
        </>
      )}
    </div>
  );
}
