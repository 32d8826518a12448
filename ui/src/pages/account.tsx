import { useState } from "preact/hooks";
import { api, must } from "../api/client.ts";
import { ErrorBanner, Page } from "../components/page.tsx";
import { NewPasswordInput } from "../components/password-input.tsx";
import { ROLE_SUMMARIES } from "../components/role-select.tsx";
import { useSession } from "../lib/session.tsx";

export function AccountPage() {
  const session = useSession();
  if (session.status !== "signed-in") return null;
  const { user } = session;
  return (
    <Page title="Account">
      <section class="card" aria-labelledby="account-you">
        <h2 id="account-you">You</h2>
        <dl class="facts">
          <dt>Username</dt>
          <dd>{user.username}</dd>
          <dt>Role</dt>
          <dd>
            <span class="tag">{user.role}</span> <span class="muted">{ROLE_SUMMARIES[user.role]}</span>
          </dd>
        </dl>
      </section>
      <section class="card" aria-labelledby="account-password">
        <h2 id="account-password">Change password</h2>
        {session.authMode === "none" ? (
          <p class="muted">AUTH_MODE is none: nobody logs in, so there is no password to change.</p>
        ) : (
          <ChangePasswordForm />
        )}
      </section>
    </Page>
  );
}

function ChangePasswordForm() {
  const session = useSession();
  const [currentPassword, setCurrentPassword] = useState("");
  const [newPassword, setNewPassword] = useState("");
  const [repeated, setRepeated] = useState("");
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (newPassword !== repeated) {
      setError(new Error("The new passwords don't match."));
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await must(api.POST("/auth/change-password", { body: { currentPassword, newPassword } }));
      // The server has ended every session of this user, this one included.
      session.logOut("Your password was changed. Log in with the new one.");
    } catch (cause) {
      setError(cause);
      setBusy(false);
    }
  };

  return (
    <form class="stack account-form" onSubmit={submit}>
      <p class="muted">This logs you out everywhere, here too; then you log in with the new password.</p>
      <label>
        Current password
        <input
          type="password"
          autoComplete="current-password"
          required
          value={currentPassword}
          onInput={(event) => setCurrentPassword(event.currentTarget.value)}
        />
      </label>
      <NewPasswordInput label="New password" value={newPassword} onInput={setNewPassword} />
      <label>
        Repeat new password
        <input
          type="password"
          autoComplete="new-password"
          required
          value={repeated}
          onInput={(event) => setRepeated(event.currentTarget.value)}
        />
      </label>
      <ErrorBanner error={error} />
      <div>
        <button type="submit" class="button primary" disabled={busy}>
          {busy ? "Changing password…" : "Change password"}
        </button>
      </div>
    </form>
  );
}
