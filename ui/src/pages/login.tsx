import { useState } from "preact/hooks";
import { errorMessage } from "../api/client.ts";
import { useSession } from "../lib/session.tsx";

export function LoginPage() {
  const session = useSession();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const reason = session.status === "signed-out" ? session.reason : undefined;

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      // Signed in, the app shell returns to the page asked for (?next=).
      await session.logIn(username, password);
    } catch (cause) {
      setError(errorMessage(cause));
      setBusy(false);
    }
  };

  return (
    <main class="login">
      <form class="card login-card" onSubmit={submit} aria-labelledby="login-title">
        <div class="brand">
          <img src="/favicon.svg" alt="" width="28" height="28" />
          <h1 id="login-title">dagflare</h1>
        </div>
        {reason && <p class="notice">{reason}</p>}
        <label>
          Username
          <input
            name="username"
            autoComplete="username"
            required
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
            // biome-ignore lint/a11y/noAutofocus: the page has one task, and its first field is where it starts
            autoFocus
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="button primary" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
    </main>
  );
}
