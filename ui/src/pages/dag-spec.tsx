import { useEffect, useState } from "preact/hooks";
import { ApiFailure, api, must, type Schemas } from "../api/client.ts";
import { CodeEditor, type EditorError } from "../components/code-editor.tsx";
import { ErrorBanner, Loading } from "../components/page.tsx";
import { useDebounced } from "../lib/debounce.ts";
import { useSession } from "../lib/session.tsx";
import { useApi } from "../lib/use-api.ts";

/** How long typing pauses before the draft is checked by the server's own validator. */
const VALIDATE_AFTER_MS = 400;

function toEditorErrors(specErrors: Schemas["SpecError"][]): EditorError[] {
  return specErrors.map((error) => ({
    line: error.line,
    column: error.column,
    message: error.field ? `${error.field}: ${error.message}` : error.message,
  }));
}

/** The errors of a rejected save (400 with details.specErrors), when the server sent them. */
function specErrorsOf(failure: unknown): EditorError[] | undefined {
  if (!(failure instanceof ApiFailure)) return undefined;
  const specErrors = failure.details?.specErrors;
  return Array.isArray(specErrors) ? toEditorErrors(specErrors as Schemas["SpecError"][]) : undefined;
}

/**
 * The DAG's YAML in an editor. Drafts are validated as you type (nothing stored) and errors sit at
 * their line; Save stores the spec or, when it is invalid, stores nothing and shows why.
 */
export function DagSpecEditor({ name, onSaved }: { name: string; onSaved: () => Promise<unknown> }) {
  const session = useSession();
  const canEdit = session.can("manager");
  const stored = useApi(() => must(api.GET("/dags/{fileName}/spec", { params: { path: { fileName: name } } })), [name]);
  const [draft, setDraft] = useState<string>();
  const [errors, setErrors] = useState<EditorError[]>([]);
  const [saveError, setSaveError] = useState<unknown>();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  const original = stored.data?.spec;
  const text = draft ?? original ?? "";
  const dirty = draft !== undefined && draft !== original;

  const typed = useDebounced(text, VALIDATE_AFTER_MS);
  // Only once typing has settled on the text now in the editor: a check of older text (say,
  // from before a save) would put stale errors on the new text.
  const settled = original !== undefined && typed === text;
  useEffect(() => {
    if (!settled) return;
    let cancelled = false;
    must(api.POST("/dags/validate", { body: { spec: typed, name } })).then(
      (result) => !cancelled && setErrors(toEditorErrors(result.specErrors)),
      () => undefined, // validation is a convenience; Save reports errors for certain
    );
    return () => {
      cancelled = true;
    };
  }, [typed, settled, name]);

  // Closing or reloading the tab with unsaved YAML asks first.
  useEffect(() => {
    if (!dirty) return;
    const ask = (event: BeforeUnloadEvent) => event.preventDefault();
    addEventListener("beforeunload", ask);
    return () => removeEventListener("beforeunload", ask);
  }, [dirty]);

  const save = async () => {
    setBusy(true);
    setSaved(false);
    setSaveError(undefined);
    const sent = text;
    try {
      await must(api.PUT("/dags/{fileName}/spec", { params: { path: { fileName: name } }, body: { spec: sent } }));
      // What was typed while saving stays a draft; what was saved is the stored spec now (once
      // it could be read back: until then the editor keeps showing the saved text).
      if (await stored.reload()) setDraft((current) => (current === sent ? undefined : current));
      setErrors([]);
      setSaved(true);
      await onSaved();
    } catch (cause) {
      setSaveError(cause);
      const atLines = specErrorsOf(cause);
      if (atLines) setErrors(atLines);
    } finally {
      setBusy(false);
    }
  };

  if (original === undefined) return stored.error ? <ErrorBanner error={stored.error} /> : <Loading />;
  return (
    <section class="card" aria-labelledby="spec-title">
      <div class="card-header">
        <h2 id="spec-title">Spec (YAML)</h2>
        {canEdit ? (
          <div class="actions">
            {dirty && <span class="muted">Unsaved changes</span>}
            <button type="button" class="button" disabled={!dirty || busy} onClick={() => setDraft(undefined)}>
              Discard changes
            </button>
            <button type="button" class="button primary" disabled={!dirty || busy} onClick={save}>
              Save
            </button>
          </div>
        ) : (
          <span class="muted">Read-only: editing needs the manager role</span>
        )}
      </div>
      <CodeEditor
        language="yaml"
        label={`YAML spec of ${name}`}
        value={text}
        onChange={(value) => {
          setDraft(value);
          setSaved(false);
        }}
        errors={errors}
        readOnly={!canEdit}
      />
      {errors.length > 0 && (
        <ul class="spec-errors" aria-label="Spec errors">
          {errors.map((error, index) => (
            <li key={index}>
              {error.line ? `Line ${error.line}: ` : ""}
              {error.message}
            </li>
          ))}
        </ul>
      )}
      <ErrorBanner error={saveError} />
      {saved && (
        <p class="success" role="status">
          Saved.
        </p>
      )}
    </section>
  );
}
