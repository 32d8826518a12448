/**
 * Who is signed in. The session token lives in localStorage, so a reload (or a second tab) keeps
 * the session; logout (in any tab), an expired token or a changed password clears it. A server
 * that can't be reached is not a logout: the token is kept and the check can be retried.
 */
import { type ComponentChildren, createContext } from "preact";
import { useCallback, useContext, useEffect, useMemo, useState } from "preact/hooks";
import { ApiFailure, api, handleUnauthorized, must, type Role, type Schemas, setSessionToken } from "../api/client.ts";

const TOKEN_KEY = "dagflare.session";
const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, manager: 2, admin: 3 };

type SessionState =
  | { status: "loading" }
  | { status: "unreachable"; error: unknown }
  | { status: "signed-out"; reason?: string }
  | { status: "signed-in"; user: Schemas["User"]; authMode: "builtin" | "none" };

type Session = SessionState & {
  logIn(username: string, password: string): Promise<void>;
  logOut(reason?: string): void;
  /** Asks the server again who this is (after it was unreachable). */
  check(): void;
  /** Whether the signed-in user's role reaches `role` (viewer < operator < manager < admin). */
  can(role: Role): boolean;
};

const SessionContext = createContext<Session | null>(null);

/** With AUTH_MODE=none the server answers as an anonymous admin, who has no id. */
const signedIn = (user: Schemas["User"]): SessionState => ({
  status: "signed-in",
  user,
  authMode: user.id === "" ? "none" : "builtin",
});

export function SessionProvider({ children }: { children: ComponentChildren }) {
  const [state, setState] = useState<SessionState>({ status: "loading" });

  const logOut = useCallback((reason?: string) => {
    localStorage.removeItem(TOKEN_KEY);
    setSessionToken(null);
    setState({ status: "signed-out", reason });
  }, []);

  const check = useCallback(() => {
    const token = localStorage.getItem(TOKEN_KEY);
    setSessionToken(token);
    const me = () => must(api.GET("/auth/me")).then(({ user }) => user);
    // Without a token /auth/me could only answer 401, an error in every visitor's console: ask
    // first whether there is a sign-in at all (with AUTH_MODE=none everyone is the anonymous admin).
    const who = token
      ? me()
      : must(api.GET("/auth/config")).then(({ authMode }) => (authMode === "none" ? me() : null));
    who.then(
      (user) => (user ? setState(signedIn(user)) : logOut()),
      (error: unknown) =>
        error instanceof ApiFailure && error.status === 401 ? logOut() : setState({ status: "unreachable", error }),
    );
  }, [logOut]);

  useEffect(() => {
    handleUnauthorized(() => logOut("Your session has ended. Please log in again."));
    check();
    // Another tab logged out or in: follow it, so no tab keeps using a token that was dropped.
    const followOtherTabs = (event: StorageEvent) => {
      if (event.key !== TOKEN_KEY) return;
      if (event.newValue === null) logOut("You logged out in another tab.");
      else check();
    };
    addEventListener("storage", followOtherTabs);
    return () => removeEventListener("storage", followOtherTabs);
  }, [check, logOut]);

  const logIn = useCallback(async (username: string, password: string) => {
    const { token, user } = await must(api.POST("/auth/login", { body: { username, password } }));
    localStorage.setItem(TOKEN_KEY, token);
    setSessionToken(token);
    setState(signedIn(user));
  }, []);

  const session = useMemo<Session>(
    () => ({
      ...state,
      logIn,
      logOut,
      check,
      can: (role) => state.status === "signed-in" && ROLE_RANK[state.user.role] >= ROLE_RANK[role],
    }),
    [state, logIn, logOut, check],
  );
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionProvider");
  return session;
}
