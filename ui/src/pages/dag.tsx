import { Page } from "../components/page.tsx";

export function DagPage() {
  return <Page title="DagPage">Not built yet.</Page>;
}
