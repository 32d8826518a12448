import { Page } from "../components/page.tsx";

export function AlertEditorPage() {
  return <Page title="AlertEditorPage">Not built yet.</Page>;
}
