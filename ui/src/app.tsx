/**
 * The admin app: every page has its own URL (the host serves index.html for unknown paths), so
 * links, reloads and alert `run_link`s (PUBLIC_URL/runs/<dag>/<run>) land on the right page.
 */

import { useEffect, useRef } from "preact/hooks";
import { LocationProvider, Route, Router, useLocation } from "preact-iso";
import { Layout } from "./components/layout.tsx";
import { ErrorBanner, Loading } from "./components/page.tsx";
import { SessionProvider, useSession } from "./lib/session.tsx";
import { AccountPage } from "./pages/account.tsx";
import { AlertEditorPage } from "./pages/alert-editor.tsx";
import { AlertsPage } from "./pages/alerts.tsx";
import { ApiKeysPage } from "./pages/api-keys.tsx";
import { DagPage } from "./pages/dag.tsx";
import { DagsPage } from "./pages/dags.tsx";
import { LoginPage } from "./pages/login.tsx";
import { NotFoundPage, SampleRunPage } from "./pages/not-found.tsx";
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

/**
 * Only a page of this site: `next` must never send a fresh session elsewhere. Resolving it as a
 * URL catches every spelling of another host ("//h", "/\\h", "/\t/h", …).
 */
function pageAfterLogin(next: string | undefined): string {
  if (!next) return "/dags";
  let target: URL;
  try {
    target = new URL(next, location.origin);
  } catch {
    return "/dags";
  }
  if (target.origin !== location.origin || target.pathname === "/" || target.pathname.startsWith("/login"))
    return "/dags";
  return `${target.pathname}${target.search}${target.hash}`;
}

/**
 * After moving to another page, focus its content (as a page load would), so keyboard and
 * screen reader users start there. A change of query only (a search box, a filter) keeps focus.
 */
function useFocusOnNewPage(): (url: string) => void {
  const lastPath = useRef<string | undefined>(undefined);
  return (url) => {
    const path = new URL(url, location.origin).pathname;
    if (lastPath.current !== undefined && path !== lastPath.current)
      document.getElementById("main")?.focus({ preventScroll: true });
    lastPath.current = path;
  };
}

function Shell() {
  const session = useSession();
  const { path, query, route, url } = useLocation();
  const focusOnNewPage = useFocusOnNewPage();

  // Logged out: the login page; logged in there: back to the page that was asked for.
  useEffect(() => {
    if (session.status === "signed-out" && path !== "/login") route(`/login?next=${encodeURIComponent(url)}`, true);
    if (session.status === "signed-in" && path === "/login") route(pageAfterLogin(query.next), true);
  }, [session.status, path]);

  if (session.status === "loading") return <Loading />;
  if (session.status === "unreachable") {
    return (
      <main class="login">
        <div class="card login-card" role="alert">
          <h1>dagflare can't be reached</h1>
          <ErrorBanner error={session.error} />
          <p class="muted">You are still logged in; nothing was lost.</p>
          <button type="button" class="button primary" onClick={session.check}>
            Try again
          </button>
        </div>
      </main>
    );
  }
  if (session.status === "signed-out") return <LoginPage />;
  return (
    <Layout>
      <Router onRouteChange={focusOnNewPage}>
        <Route path="/" component={DagsPage} />
        <Route path="/dags" component={DagsPage} />
        <Route path="/dags/:name" component={DagPage} />
        <Route path="/dags/:name/:tab" component={DagPage} />
        <Route path="/runs" component={RunsPage} />
        <Route path="/runs/:dag/:runId" component={RunPage} />
        <Route path="/runs/:dag/:runId/sub/:subRunId" component={RunPage} />
        <Route path="/sample-run" component={SampleRunPage} />
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
