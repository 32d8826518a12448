import { Page } from "../components/page.tsx";

export function NotFoundPage() {
  return (
    <Page title="Page not found">
      <p>
        Nothing lives at <code>{location.pathname}</code>. Go to the <a href="/dags">DAGs</a>.
      </p>
    </Page>
  );
}
