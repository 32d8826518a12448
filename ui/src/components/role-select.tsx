import { useId } from "preact/hooks";
import type { Role } from "../api/client.ts";

/** What each role may do (Dagu's meaning); a Record, so a new role in the API is a type error here. */
export const ROLE_SUMMARIES: Record<Role, string> = {
  viewer: "Reads DAGs and runs.",
  operator: "Also starts, stops and retries runs.",
  manager: "Also writes DAGs.",
  admin: "Also manages users, API keys and webhooks.",
};

const ROLES = Object.keys(ROLE_SUMMARIES) as Role[];

export function RoleSelect({ value, onChange }: { value: Role; onChange: (role: Role) => void }) {
  const hintId = useId();
  return (
    <div class="field">
      <label>
        Role
        <select
          value={value}
          aria-describedby={hintId}
          onChange={(event) => onChange(event.currentTarget.value as Role)}
        >
          {ROLES.map((role) => (
            <option key={role} value={role}>
              {role}
            </option>
          ))}
        </select>
      </label>
      <p id={hintId} class="hint muted">
        {ROLE_SUMMARIES[value]}
      </p>
    </div>
  );
}
