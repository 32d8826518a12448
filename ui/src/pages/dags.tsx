import { Page } from "../components/page.tsx";

export function DagsPage() {
  return <Page title="DagsPage">Not built yet.</Page>;
}
