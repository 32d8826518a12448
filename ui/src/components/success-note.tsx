/**
 * What a page's last action did ("Saved user 'ana'."). The live region is always in the page and
 * only its text changes, so screen readers announce each new message (one that arrives together
 * with its region often isn't). Keep one `done` state and render <SuccessNote message={done} />.
 */
export function SuccessNote({ message }: { message: string | undefined }) {
  return <div role="status">{message && <p class="success">{message}</p>}</div>;
}
