/**
 * The admin app: every page has its own URL (the host serves index.html for unknown paths), so
 * links, reloads and alert `run_link`s (PUBLIC_URL/runs/<dag>/<run>) land on the right page.
 */
import { LocationProvider, Route, Router, useLocation } from "preact-iso";
import { useEffect } from "preact/hooks";
import { Layout } from "./components/layout.tsx";
import { Loading } from "./components/page.tsx";
import { SessionProvider, useSession } from "./lib/session.tsx";
import { AccountPage } from "./pages/account.tsx";
import { AlertEditorPage } from "./pages/alert-editor.tsx";
import { AlertsPage } from "./pages/alerts.tsx";
import { ApiKeysPage } from "./pages/api-keys.tsx";
import { DagPage } from "./pages/dag.tsx";
import { DagsPage } from "./pages/dags.tsx";
import { LoginPage } from "./pages/login.tsx";
import { NotFoundPage } from "./pages/not-found.tsx";
import { RunPage } from "./pages/run.tsx";
import { RunsPage } from "./pages/runs.tsx";
import { UsersPage } from "./pages/users.tsx";
import { WebhooksPage } from "./pages/webhooks.tsx";

export function App() {
  return (
    <LocationProvider>
      <SessionProvider>
        <Shell />
      </SessionProvider>
    </LocationProvider>
  );
}

/** Only a path on this site: `next` must never send a fresh session elsewhere. */
function pageAfterLogin(next: string | undefined): string {
  // "//host" and "/\host" are other sites to a browser.
  if (!next || next === "/" || next.startsWith("/login")) return "/dags";
  return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/dags";
}

function Shell() {
  const session = useSession();
  const { path, query, route, url } = useLocation();

  // Logged out: the login page; logged in there: back to the page that was asked for.
  useEffect(() => {
    if (session.status === "signed-out" && path !== "/login") route(`/login?next=${encodeURIComponent(url)}`, true);
    if (session.status === "signed-in" && path === "/login") route(pageAfterLogin(query.next), true);
  }, [session.status, path]);

  if (session.status === "loading") return <Loading />;
  if (session.status === "signed-out") return <LoginPage />;
  return (
    <Layout>
      <Router>
        <Route path="/" component={DagsPage} />
        <Route path="/dags" component={DagsPage} />
        <Route path="/dags/:name" component={DagPage} />
        <Route path="/dags/:name/:tab" component={DagPage} />
        <Route path="/runs" component={RunsPage} />
        <Route path="/runs/:dag/:runId" component={RunPage} />
        <Route path="/webhooks" component={WebhooksPage} />
        <Route path="/alerts" component={AlertsPage} />
        <Route path="/alerts/new" component={AlertEditorPage} />
        <Route path="/alerts/:id" component={AlertEditorPage} />
        <Route path="/users" component={UsersPage} />
        <Route path="/api-keys" component={ApiKeysPage} />
        <Route path="/account" component={AccountPage} />
        <Route default component={NotFoundPage} />
      </Router>
    </Layout>
  );
}
