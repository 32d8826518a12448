/**
 * The editor itself, CodeMirror 6 (loaded on demand by code-editor.tsx): syntax highlighting, line
 * numbers, search, undo, keyboard access (Tab indents; Escape then Tab leaves the editor), and the
 * server's errors shown at their line.
 */
import { json } from "@codemirror/lang-json";
import { yaml } from "@codemirror/lang-yaml";
import { type Diagnostic, lintGutter, setDiagnostics } from "@codemirror/lint";
import { Annotation, Compartment, EditorState } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { basicSetup } from "codemirror";
import { useEffect, useRef } from "preact/hooks";
import type { CodeEditorProps, EditorError } from "./code-editor.tsx";

/** Marks the text the page set, so it isn't reported back to the page as an edit. */
const fromOutside = Annotation.define<boolean>();
/** A page that never sets `value` after the start mustn't make the echo list grow forever. */
const MAX_UNACKNOWLEDGED = 200;

export function CodeEditorView({
  value,
  onChange,
  language,
  label,
  errors = [],
  readOnly = false,
  viewRef,
}: CodeEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;
  // Edits sent to the page that haven't come back as `value` yet. Renders lag behind typing, so
  // a value one keystroke old is an echo of our own edit, not a change to apply (that would undo
  // the keystroke and start a ping-pong); only other values come from outside (load, reset, preset).
  const unacknowledged = useRef<string[]>([]);
  const editable = useRef(new Compartment());

  useEffect(() => {
    const editor = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: value,
        extensions: [
          basicSetup,
          language === "yaml" ? yaml() : json(),
          lintGutter(),
          editable.current.of([EditorState.readOnly.of(readOnly), EditorView.editable.of(!readOnly)]),
          EditorView.contentAttributes.of({ "aria-label": label }),
          EditorView.updateListener.of((update) => {
            if (!update.docChanged || update.transactions.some((transaction) => transaction.annotation(fromOutside)))
              return;
            const text = update.state.doc.toString();
            unacknowledged.current = [...unacknowledged.current.slice(-MAX_UNACKNOWLEDGED + 1), text];
            onChangeRef.current?.(text);
          }),
        ],
      }),
    });
    view.current = editor;
    if (viewRef) viewRef.current = editor;
    return () => {
      editor.destroy();
      view.current = null;
      if (viewRef) viewRef.current = null;
    };
    // The editor is created once; later props are applied by the effects below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [language]);

  useEffect(() => {
    const editor = view.current;
    if (!editor) return;
    const echo = unacknowledged.current.lastIndexOf(value);
    if (echo >= 0) {
      unacknowledged.current = unacknowledged.current.slice(echo + 1);
      return;
    }
    unacknowledged.current = [];
    if (editor.state.doc.toString() !== value) {
      editor.dispatch({
        changes: { from: 0, to: editor.state.doc.length, insert: value },
        annotations: fromOutside.of(true),
      });
    }
  }, [value]);

  useEffect(() => {
    view.current?.dispatch({
      effects: editable.current.reconfigure([EditorState.readOnly.of(readOnly), EditorView.editable.of(!readOnly)]),
    });
  }, [readOnly]);

  useEffect(() => {
    const editor = view.current;
    if (!editor) return;
    editor.dispatch(
      setDiagnostics(
        editor.state,
        errors.map((error) => toDiagnostic(editor, error)),
      ),
    );
  }, [errors]);

  return <div class="code-editor" ref={host} data-language={language} />;
}

/** An error at its line (1-based) and column, or at the start when the server gave no place. */
function toDiagnostic(editor: EditorView, error: EditorError): Diagnostic {
  const doc = editor.state.doc;
  const lineNumber = Math.min(Math.max(error.line ?? 1, 1), doc.lines);
  const line = doc.line(lineNumber);
  const from = Math.min(line.from + Math.max((error.column ?? 1) - 1, 0), line.to);
  return { from, to: Math.max(from, line.to), severity: "error", message: error.message };
}
