/** The app's URLs for things, built in one place (names are encoded, so any DAG name is safe in a path). */
export function dagHref(dagName: string): string {
  return `/dags/${encodeURIComponent(dagName)}`;
}

export function runHref(dagName: string, dagRunId: string): string {
  return `/runs/${encodeURIComponent(dagName)}/${encodeURIComponent(dagRunId)}`;
}

/** A run a step called (a sub-DAG run): shown under the run at the top of its tree. */
export function subRunHref(rootDagName: string, rootRunId: string, subRunId: string): string {
  return `${runHref(rootDagName, rootRunId)}/sub/${encodeURIComponent(subRunId)}`;
}
