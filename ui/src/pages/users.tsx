import { useId, useState } from "preact/hooks";
import { api, must, type Role, type Schemas } from "../api/client.ts";
import { AdminOnly } from "../components/admin-only.tsx";
import { ConfirmDialog } from "../components/dialog.tsx";
import { FormDialog } from "../components/form-dialog.tsx";
import { EmptyState, ErrorBanner, Loading, Page } from "../components/page.tsx";
import { NewPasswordInput } from "../components/password-input.tsx";
import { RoleSelect } from "../components/role-select.tsx";
import { SuccessNote } from "../components/success-note.tsx";
import { Time } from "../components/time.tsx";
import { useSession } from "../lib/session.tsx";
import { useApi } from "../lib/use-api.ts";

type User = Schemas["User"];
type UserDraft = { username: string; password: string; role: Role };
type UserEdit = { user: User; username: string; role: Role };

export function UsersPage() {
  return (
    <AdminOnly title="Users" message="Only admins can manage users.">
      <UsersAdmin />
    </AdminOnly>
  );
}

function UsersAdmin() {
  const session = useSession();
  const myId = session.status === "signed-in" ? session.user.id : undefined;
  const users = useApi(async () => (await must(api.GET("/users"))).users, []);
  const [creating, setCreating] = useState<UserDraft>();
  const [editing, setEditing] = useState<UserEdit>();
  const [resetting, setResetting] = useState<{ user: User; newPassword: string }>();
  const [deleting, setDeleting] = useState<User>();
  const [done, setDone] = useState<string>();

  // The message appears with the updated table, not before it.
  const finish = async (message: string) => {
    await users.reload();
    setDone(message);
  };

  const create = async () => {
    if (!creating) return;
    await must(api.POST("/users", { body: creating }));
    setCreating(undefined);
    await finish(`Created user '${creating.username}'.`);
  };

  const save = async () => {
    if (!editing) return;
    const { user, username, role } = editing;
    // Only what changed, so a Save without changes doesn't bump "updated".
    const body = { ...(username !== user.username && { username }), ...(role !== user.role && { role }) };
    if (Object.keys(body).length > 0) {
      await must(api.PATCH("/users/{userId}", { params: { path: { userId: user.id } }, body }));
      await finish(`Saved user '${username}'.`);
    }
    setEditing(undefined);
  };

  const resetPassword = async () => {
    if (!resetting) return;
    const { user, newPassword } = resetting;
    await must(
      api.POST("/users/{userId}/reset-password", { params: { path: { userId: user.id } }, body: { newPassword } }),
    );
    setResetting(undefined);
    await finish(`Reset the password of '${user.username}'; their sessions have ended.`);
  };

  const remove = async () => {
    if (!deleting) return;
    await must(api.DELETE("/users/{userId}", { params: { path: { userId: deleting.id } } }));
    await finish(`Deleted user '${deleting.username}'.`);
  };

  const startCreating = () => {
    setDone(undefined);
    setCreating({ username: "", password: "", role: "viewer" });
  };

  return (
    <Page
      title="Users"
      subtitle="People who log in to this app. API keys for scripts are under API keys."
      actions={
        <button type="button" class="button primary" onClick={startCreating}>
          Create user
        </button>
      }
    >
      <ErrorBanner error={users.error} />
      <SuccessNote message={done} />
      {users.loading ? (
        <Loading />
      ) : users.data?.length === 0 ? (
        <EmptyState title="No users yet" />
      ) : (
        users.data && (
          <div class="table-scroll">
            <table class="cards">
              <caption class="sr-only">Users</caption>
              <thead>
                <tr>
                  <th scope="col">Username</th>
                  <th scope="col">Role</th>
                  <th scope="col">Created</th>
                  <th scope="col">Updated</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {users.data.map((user) => {
                  const isMe = user.id === myId;
                  return (
                    <tr key={user.id}>
                      <td>
                        {user.username}
                        {isMe && <span class="muted"> (you)</span>}
                      </td>
                      <td data-label="Role">
                        <span class="tag">{user.role}</span>
                      </td>
                      <td data-label="Created">
                        <Time value={user.createdAt} />
                      </td>
                      <td data-label="Updated">
                        <Time value={user.updatedAt} />
                      </td>
                      <td>
                        {/* The server refuses changing your own role or deleting yourself; your password is changed on Account. */}
                        {isMe ? (
                          <div class="row-actions">
                            <a class="button small" href="/account">
                              Change password
                            </a>
                          </div>
                        ) : (
                          <div class="row-actions">
                            <button
                              type="button"
                              class="button small"
                              aria-label={`Edit user ${user.username}`}
                              onClick={() => setEditing({ user, username: user.username, role: user.role })}
                            >
                              Edit
                            </button>
                            <button
                              type="button"
                              class="button small"
                              aria-label={`Reset password of user ${user.username}`}
                              onClick={() => setResetting({ user, newPassword: "" })}
                            >
                              Reset password
                            </button>
                            <button
                              type="button"
                              class="button small"
                              aria-label={`Delete user ${user.username}`}
                              onClick={() => setDeleting(user)}
                            >
                              Delete
                            </button>
                          </div>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )
      )}

      <FormDialog
        open={creating !== undefined}
        title="Create user"
        submitLabel="Create user"
        onSubmit={create}
        onClose={() => setCreating(undefined)}
      >
        {creating && (
          <>
            <UsernameInput value={creating.username} onInput={(username) => setCreating({ ...creating, username })} />
            <NewPasswordInput
              label="Password"
              value={creating.password}
              onInput={(password) => setCreating({ ...creating, password })}
            />
            <RoleSelect value={creating.role} onChange={(role) => setCreating({ ...creating, role })} />
          </>
        )}
      </FormDialog>

      <FormDialog
        open={editing !== undefined}
        title={`Edit user '${editing?.user.username ?? ""}'`}
        submitLabel="Save"
        onSubmit={save}
        onClose={() => setEditing(undefined)}
      >
        {editing && (
          <>
            <UsernameInput value={editing.username} onInput={(username) => setEditing({ ...editing, username })} />
            <RoleSelect value={editing.role} onChange={(role) => setEditing({ ...editing, role })} />
            <p class="muted">A new role applies from their next request; they stay logged in.</p>
          </>
        )}
      </FormDialog>

      <FormDialog
        open={resetting !== undefined}
        title={`Reset password of '${resetting?.user.username ?? ""}'`}
        submitLabel="Reset password"
        onSubmit={resetPassword}
        onClose={() => setResetting(undefined)}
      >
        {resetting && (
          <>
            <NewPasswordInput
              label="New password"
              value={resetting.newPassword}
              onInput={(newPassword) => setResetting({ ...resetting, newPassword })}
            />
            <p class="muted">
              Their sessions end at once. Tell them the new password; they can change it on their Account page.
            </p>
          </>
        )}
      </FormDialog>

      <ConfirmDialog
        open={deleting !== undefined}
        title={`Delete user '${deleting?.username ?? ""}'?`}
        confirmLabel="Delete user"
        danger
        onConfirm={remove}
        onClose={() => setDeleting(undefined)}
      >
        <p>They can no longer log in, and their sessions end at once. This can't be undone.</p>
      </ConfirmDialog>
    </Page>
  );
}

/** The server decides what a valid username is; its message appears in the dialog. */
function UsernameInput({ value, onInput }: { value: string; onInput: (username: string) => void }) {
  // The hint sits outside the <label> (inside, it would become part of the field's name) and describes it.
  const hintId = useId();
  return (
    <div class="field">
      <label>
        Username
        <input
          required
          maxLength={64}
          autoComplete="off"
          aria-describedby={hintId}
          value={value}
          onInput={(event) => onInput(event.currentTarget.value)}
        />
      </label>
      <p id={hintId} class="hint muted">
        Letters, digits and . _ @ - (not case-sensitive)
      </p>
    </div>
  );
}
