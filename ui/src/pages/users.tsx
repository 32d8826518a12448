import { Page } from "../components/page.tsx";

export function UsersPage() {
  return <Page title="UsersPage">Not built yet.</Page>;
}
