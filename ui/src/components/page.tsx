import type { ComponentChildren } from "preact";
import { useEffect } from "preact/hooks";
import { ApiFailure, errorMessage } from "../api/client.ts";

export function Page({
  title,
  actions,
  children,
  subtitle,
}: {
  title: ComponentChildren;
  subtitle?: ComponentChildren;
  actions?: ComponentChildren;
  children: ComponentChildren;
}) {
  useEffect(() => {
    document.title = typeof title === "string" ? `${title} · dagflare` : "dagflare";
  }, [title]);
  return (
    <section class="page">
      <header class="page-header">
        <div>
          <h1>{title}</h1>
          {subtitle && <p class="muted">{subtitle}</p>}
        </div>
        {actions && <div class="actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <p class="empty-title">{title}</p>
      {children && <div class="muted">{children}</div>}
    </div>
  );
}

export function ErrorBanner({ error }: { error: unknown }) {
  if (!error) return null;
  const status = error instanceof ApiFailure && error.status ? ` (${error.status})` : "";
  return (
    <p class="error" role="alert">
      {errorMessage(error)}
      {status}
    </p>
  );
}

export function Loading() {
  return (
    <p class="muted" aria-busy="true">
      Loading…
    </p>
  );
}
