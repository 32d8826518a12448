/**
 * Who is signed in. The session token lives in localStorage, so a reload (or a second tab) keeps
 * the session; logout, an expired token or a changed password clears it.
 */
import { createContext, type ComponentChildren } from "preact";
import { useCallback, useContext, useEffect, useMemo, useState } from "preact/hooks";
import { api, handleUnauthorized, must, setSessionToken, type Role, type Schemas } from "../api/client.ts";

const TOKEN_KEY = "dagflare.session";
const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, manager: 2, admin: 3 };

type SessionState =
  | { status: "loading" }
  | { status: "signed-out"; reason?: string }
  | { status: "signed-in"; user: Schemas["User"]; authMode: "builtin" | "none" };

type Session = SessionState & {
  logIn(username: string, password: string): Promise<void>;
  logOut(reason?: string): void;
  /** Whether the signed-in user's role reaches `role` (viewer < operator < manager < admin). */
  can(role: Role): boolean;
};

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ComponentChildren }) {
  const [state, setState] = useState<SessionState>({ status: "loading" });

  const logOut = useCallback((reason?: string) => {
    localStorage.removeItem(TOKEN_KEY);
    setSessionToken(null);
    setState({ status: "signed-out", reason });
  }, []);

  useEffect(() => {
    handleUnauthorized(() => logOut("Your session has ended. Please log in again."));
    const token = localStorage.getItem(TOKEN_KEY);
    setSessionToken(token);
    // With AUTH_MODE=none, /auth/me answers without a token (an anonymous admin).
    must(api.GET("/auth/me"))
      .then(({ user }) => setState({ status: "signed-in", user, authMode: token ? "builtin" : "none" }))
      .catch(() => logOut());
  }, [logOut]);

  const logIn = useCallback(async (username: string, password: string) => {
    const { token, user } = await must(api.POST("/auth/login", { body: { username, password } }));
    localStorage.setItem(TOKEN_KEY, token);
    setSessionToken(token);
    setState({ status: "signed-in", user, authMode: "builtin" });
  }, []);

  const session = useMemo<Session>(
    () => ({
      ...state,
      logIn,
      logOut,
      can: (role) => state.status === "signed-in" && ROLE_RANK[state.user.role] >= ROLE_RANK[role],
    }),
    [state, logIn, logOut],
  );
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionProvider");
  return session;
}
