/**
 * The YAML and JSON editor. CodeMirror is most of the app's weight, so it is loaded when a page
 * first shows an editor, not with the app: the DAG list and run pages stay light.
 */
import type { EditorView } from "@codemirror/view";
import type { RefObject } from "preact";
import { useEffect, useState } from "preact/hooks";

export type EditorError = { line?: number; column?: number; message: string };

export type CodeEditorProps = {
  value: string;
  onChange?: (value: string) => void;
  language: "yaml" | "json";
  label: string;
  /** Shown at their line (1-based) and column. */
  errors?: EditorError[];
  readOnly?: boolean;
  /** Lets the page insert text at the cursor (the alert editor's token picker). */
  viewRef?: RefObject<EditorView | null>;
};

type EditorModule = typeof import("./code-editor-view.tsx");
let editorModule: Promise<EditorModule> | undefined;

export function CodeEditor(props: CodeEditorProps) {
  const [loaded, setLoaded] = useState<EditorModule>();
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    editorModule ??= import("./code-editor-view.tsx");
    editorModule.then(setLoaded, () => {
      editorModule = undefined;
      setFailed(true);
    });
  }, []);
  if (failed)
    return (
      <p class="error" role="alert">
        The editor could not be loaded. Reload the page to try again.
      </p>
    );
  if (!loaded)
    return (
      <div class="code-editor code-editor-loading" aria-busy="true">
        Loading editor…
      </div>
    );
  return <loaded.CodeEditorView {...props} />;
}
