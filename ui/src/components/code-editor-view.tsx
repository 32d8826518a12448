/**
 * The editor itself, CodeMirror 6 (loaded on demand by code-editor.tsx): syntax highlighting, line
 * numbers, search, undo, keyboard access (Tab indents; Escape then Tab leaves the editor), and the
 * server's errors shown at their line.
 */
import { json } from "@codemirror/lang-json";
import { yaml } from "@codemirror/lang-yaml";
import { lintGutter, setDiagnostics, type Diagnostic } from "@codemirror/lint";
import { Compartment, EditorState } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { basicSetup } from "codemirror";
import { useEffect, useRef } from "preact/hooks";
import type { CodeEditorProps, EditorError } from "./code-editor.tsx";

export function CodeEditorView({ value, onChange, language, label, errors = [], readOnly = false, viewRef }: CodeEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;
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
            if (update.docChanged) onChangeRef.current?.(update.state.doc.toString());
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

  // A new value from outside (loaded, reset, a preset chosen) replaces the text.
  useEffect(() => {
    const editor = view.current;
    if (editor && editor.state.doc.toString() !== value) {
      editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: value } });
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
    editor.dispatch(setDiagnostics(editor.state, errors.map((error) => toDiagnostic(editor, error))));
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
