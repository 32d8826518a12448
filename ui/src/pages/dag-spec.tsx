import { useEffect, useState } from "preact/hooks";
import { api, ApiFailure, must, type Schemas } from "../api/client.ts";
import { CodeEditor, type EditorError } from "../components/code-editor.tsx";
import { ErrorBanner, Loading } from "../components/page.tsx";
import { useSession } from "../lib/session.tsx";
import { useApi } from "../lib/use-api.ts";

/** How long typing pauses before the draft is checked by the server's own validator. */
const VALIDATE_AFTER_MS = 400;

function toEditorErrors(specErrors: Schemas["SpecError"][]): EditorError[] {
  return specErrors.map((error) => ({ line: error.line, column: error.column, message: error.field ? `${error.field}: ${error.message}` : error.message }));
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
export function DagSpecEditor({ name, onSaved }: { name: string; onSaved: () => Promise<void> }) {
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

  useEffect(() => {
    if (original === undefined) return;
    let cancelled = false;
    const timer = setTimeout(async () => {
      try {
        const result = await must(api.POST("/dags/validate", { body: { spec: text, name } }));
        if (!cancelled) setErrors(toEditorErrors(result.specErrors));
      } catch {
        // Validation is a convenience; Save reports errors for certain.
      }
    }, VALIDATE_AFTER_MS);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [text, original, name]);

  const save = async () => {
    setBusy(true);
    setSaved(false);
    setSaveError(undefined);
    try {
      await must(api.PUT("/dags/{fileName}/spec", { params: { path: { fileName: name } }, body: { spec: text } }));
      await stored.reload();
      setDraft(undefined);
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

  if (stored.error) return <ErrorBanner error={stored.error} />;
  if (original === undefined) return <Loading />;
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
      <CodeEditor language="yaml" label={`YAML spec of ${name}`} value={text} onChange={(value) => { setDraft(value); setSaved(false); }} errors={errors} readOnly={!canEdit} />
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
