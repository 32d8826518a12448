import { Page } from "../components/page.tsx";

export function AlertsPage() {
  return <Page title="AlertsPage">Not built yet.</Page>;
}
