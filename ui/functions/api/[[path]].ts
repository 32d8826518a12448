/**
 * Pages → Worker: every /api/* request (management calls, webhook triggers) goes to the dagflare
 * Worker unchanged, through the service binding (no public hop, no CORS). Everything else is the
 * app's static files; Pages answers unknown paths with index.html (no 404.html), so deep links work.
 */
type Env = { API: Fetcher };

export const onRequest: PagesFunction<Env> = ({ request, env }) => env.API.fetch(request);
