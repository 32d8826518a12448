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

/** Where a test send's or preview's `run_link` points: there is no run behind a sample alert. */
export function SampleRunPage() {
  return (
    <Page title="Sample alert">
      <p>
        This link came from a <strong>sample alert</strong> — a policy's preview or test send — so there is no run
        behind it. A real alert's link opens the run that raised it. See the <a href="/runs">runs</a> or the{" "}
        <a href="/alerts">alert policies</a>.
      </p>
    </Page>
  );
}
