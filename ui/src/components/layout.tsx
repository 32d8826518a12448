import type { ComponentChildren } from "preact";
import { useLocation } from "preact-iso";
import type { Role } from "../api/client.ts";
import { useSession } from "../lib/session.tsx";

const SECTIONS: { href: string; label: string; role: Role }[] = [
  { href: "/dags", label: "DAGs", role: "viewer" },
  { href: "/runs", label: "Runs", role: "viewer" },
  { href: "/webhooks", label: "Webhooks", role: "admin" },
  { href: "/alerts", label: "Alerts", role: "viewer" },
  { href: "/users", label: "Users", role: "admin" },
  { href: "/api-keys", label: "API keys", role: "admin" },
];

export function Layout({ children }: { children: ComponentChildren }) {
  const session = useSession();
  const { path } = useLocation();
  if (session.status !== "signed-in") return null;
  const current = (href: string) => path === href || path.startsWith(`${href}/`) || (href === "/dags" && path === "/");
  return (
    <div class="layout">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href="/dags" aria-label="dagflare home">
          <img src="/favicon.svg" alt="" width="22" height="22" />
          <span>dagflare</span>
        </a>
        <nav aria-label="Sections">
          <ul>
            {SECTIONS.filter((section) => session.can(section.role)).map((section) => (
              <li key={section.href}>
                <a href={section.href} aria-current={current(section.href) ? "page" : undefined}>
                  {section.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="account">
          <a class="muted" href="/account" title="Your account: role and password">
            {session.user.username} · {session.user.role}
          </a>
          {session.authMode === "builtin" && (
            <button type="button" class="button small" onClick={() => session.logOut()}>
              Log out
            </button>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
