import type { ComponentChildren } from "preact";
import { useSession } from "../lib/session.tsx";
import { EmptyState, Page } from "./page.tsx";

/** An admin page opened by someone else (a shared link): say why there is nothing, not a bare 403. */
export function AdminOnly({
  title,
  message,
  children,
}: {
  title: string;
  message: string;
  children: ComponentChildren;
}) {
  const session = useSession();
  if (session.can("admin")) return <>{children}</>;
  return (
    <Page title={title}>
      <EmptyState title={message}>Ask an admin if you need this.</EmptyState>
    </Page>
  );
}
