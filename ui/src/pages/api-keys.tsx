import { useState } from "preact/hooks";
import { API_BASE, api, must, type Role, type Schemas } from "../api/client.ts";
import { AdminOnly } from "../components/admin-only.tsx";
import { ConfirmDialog, Dialog } from "../components/dialog.tsx";
import { FormDialog } from "../components/form-dialog.tsx";
import { EmptyState, ErrorBanner, Loading, Page } from "../components/page.tsx";
import { RoleSelect } from "../components/role-select.tsx";
import { SecretOnce } from "../components/secret-once.tsx";
import { Snippet } from "../components/snippet.tsx";
import { SuccessNote } from "../components/success-note.tsx";
import { Time } from "../components/time.tsx";
import { useApi } from "../lib/use-api.ts";

type ApiKey = Schemas["APIKey"];
type ApiKeyDraft = { name: string; description: string; role: Role };

export function ApiKeysPage() {
  return (
    <AdminOnly title="API keys" message="Only admins can manage API keys.">
      <ApiKeysAdmin />
    </AdminOnly>
  );
}

function ApiKeysAdmin() {
  const keys = useApi(async () => (await must(api.GET("/api-keys"))).apiKeys, []);
  const [creating, setCreating] = useState<ApiKeyDraft>();
  // Kept apart from `creating`: closing the form dialog must not clear the key it just made.
  const [created, setCreated] = useState<{ apiKey: ApiKey; key: string }>();
  const [editing, setEditing] = useState<ApiKeyDraft & { apiKey: ApiKey }>();
  const [deleting, setDeleting] = useState<ApiKey>();
  const [done, setDone] = useState<string>();

  const create = async () => {
    if (!creating) return;
    const result = await must(api.POST("/api-keys", { body: creating }));
    setCreating(undefined);
    setCreated(result);
    setDone(undefined);
    await keys.reload();
  };

  const save = async () => {
    if (!editing) return;
    const { apiKey, name, description, role } = editing;
    await must(
      api.PATCH("/api-keys/{keyId}", { params: { path: { keyId: apiKey.id } }, body: { name, description, role } }),
    );
    setEditing(undefined);
    await keys.reload();
    setDone(`Saved API key '${name}'.`);
  };

  const remove = async () => {
    if (!deleting) return;
    await must(api.DELETE("/api-keys/{keyId}", { params: { path: { keyId: deleting.id } } }));
    await keys.reload();
    setDone(`Deleted API key '${deleting.name}'.`);
  };

  const curl = created && `curl -H "Authorization: Bearer ${created.key}" ${location.origin}${API_BASE}/dags`;

  return (
    <Page
      title="API keys"
      subtitle="Keys for scripts and CI, each with a role. Send one as an Authorization: Bearer header."
      actions={
        <button
          type="button"
          class="button primary"
          onClick={() => setCreating({ name: "", description: "", role: "viewer" })}
        >
          Create API key
        </button>
      }
    >
      <ErrorBanner error={keys.error} />
      <SuccessNote message={done} />
      {keys.loading ? (
        <Loading />
      ) : keys.data?.length === 0 ? (
        <EmptyState title="No API keys yet">Create one for a script or CI job that calls the API.</EmptyState>
      ) : (
        keys.data && (
          <div class="table-scroll">
            <table class="cards">
              <caption class="sr-only">API keys</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Description</th>
                  <th scope="col">Key</th>
                  <th scope="col">Role</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {keys.data.map((apiKey) => (
                  <tr key={apiKey.id}>
                    <td>{apiKey.name}</td>
                    <td data-label="Description">{apiKey.description || <span class="muted">—</span>}</td>
                    <td data-label="Key">
                      <code>{apiKey.keyPrefix}…</code>
                    </td>
                    <td data-label="Role">
                      <span class="tag">{apiKey.role}</span>
                    </td>
                    <td data-label="Created">
                      <Time value={apiKey.createdAt} />
                    </td>
                    <td data-label="Last used">
                      <Time value={apiKey.lastUsedAt} fallback="never" />
                    </td>
                    <td>
                      <div class="row-actions">
                        <button
                          type="button"
                          class="button small"
                          aria-label={`Edit API key ${apiKey.name}`}
                          onClick={() =>
                            setEditing({
                              apiKey,
                              name: apiKey.name,
                              description: apiKey.description,
                              role: apiKey.role,
                            })
                          }
                        >
                          Edit
                        </button>
                        <button
                          type="button"
                          class="button small"
                          aria-label={`Delete API key ${apiKey.name}`}
                          onClick={() => setDeleting(apiKey)}
                        >
                          Delete
                        </button>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      )}

      <FormDialog
        open={creating !== undefined}
        title="Create API key"
        submitLabel="Create API key"
        onSubmit={create}
        onClose={() => setCreating(undefined)}
      >
        {creating && <ApiKeyFields draft={creating} onChange={setCreating} />}
      </FormDialog>

      <Dialog
        open={created !== undefined}
        title={`API key '${created?.apiKey.name ?? ""}' created`}
        onClose={() => setCreated(undefined)}
      >
        {created && curl && (
          <>
            <SecretOnce secret={created.key} what="API key">
              <p class="muted">Try it with curl:</p>
              <Snippet text={curl} copyLabel="Copy command" />
            </SecretOnce>
            <div class="actions">
              <button type="button" class="button primary" onClick={() => setCreated(undefined)}>
                Done
              </button>
            </div>
          </>
        )}
      </Dialog>

      <FormDialog
        open={editing !== undefined}
        title={`Edit API key '${editing?.apiKey.name ?? ""}'`}
        submitLabel="Save"
        onSubmit={save}
        onClose={() => setEditing(undefined)}
      >
        {editing && (
          <>
            <ApiKeyFields draft={editing} onChange={(draft) => setEditing({ ...editing, ...draft })} />
            <p class="muted">A new role applies from the key's next request.</p>
          </>
        )}
      </FormDialog>

      <ConfirmDialog
        open={deleting !== undefined}
        title={`Delete API key '${deleting?.name ?? ""}'?`}
        confirmLabel="Delete API key"
        danger
        onConfirm={remove}
        onClose={() => setDeleting(undefined)}
      >
        <p>Anything using it stops working on its next request. This can't be undone.</p>
      </ConfirmDialog>
    </Page>
  );
}

/** Name, description and role: the same fields when creating and editing. */
function ApiKeyFields({ draft, onChange }: { draft: ApiKeyDraft; onChange: (draft: ApiKeyDraft) => void }) {
  return (
    <>
      <label>
        Name
        <input
          required
          maxLength={100}
          autoComplete="off"
          value={draft.name}
          onInput={(event) => onChange({ ...draft, name: event.currentTarget.value })}
        />
      </label>
      <label>
        Description
        <input
          maxLength={500}
          autoComplete="off"
          value={draft.description}
          onInput={(event) => onChange({ ...draft, description: event.currentTarget.value })}
        />
      </label>
      <RoleSelect value={draft.role} onChange={(role) => onChange({ ...draft, role })} />
    </>
  );
}
