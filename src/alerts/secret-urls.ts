/**
 * Destination URLs that carry their own credential: Slack's and Discord's webhooks (the token is
 * in the path), Teams/Power Automate workflow URLs (`sig=`), anything with a credential-named
 * query parameter. Such a URL is a secret like a header value: stored encrypted, shown masked —
 * with the host and the parts that aren't the credential, so a person can still tell it apart.
 */
export const URL_MASK = "••••••••";

const CREDENTIAL_PARAMS = /^(token|key|sig|signature|secret|code|auth|api[-_]?key|access[-_]?token|x-api-key)$/i;

/** The URL as shown, when it carries a credential; `undefined` when nothing in it is secret. */
export function maskedUrl(url: string): string | undefined {
  const parsed = new URL(url);
  const host = parsed.hostname;
  const segments = parsed.pathname.split("/");
  let pathMasked = false;
  if (/(^|\.)slack(-gov)?\.com$/.test(host) && segments.length > 2) {
    // hooks.slack.com/services/T…/B…/X… and /workflows/…, /triggers/…: all after the first segment.
    parsed.pathname = `/${segments[1]}/${URL_MASK}`;
    pathMasked = true;
  } else if (/(^|\.)discord(app)?\.com$/.test(host) && /\/webhooks\/\d+\/[^/]+/.test(parsed.pathname)) {
    // discord.com/api/webhooks/<id>/<token>: the token.
    parsed.pathname = parsed.pathname.replace(/(\/webhooks\/\d+\/)[^/]+/, `$1${URL_MASK}`);
    pathMasked = true;
  } else if (/(^|\.)webhook\.office\.com$/.test(host) && segments.length > 2) {
    parsed.pathname = `/${segments[1]}/${URL_MASK}`;
    pathMasked = true;
  }
  let queryMasked = false;
  for (const name of [...parsed.searchParams.keys()]) {
    if (!CREDENTIAL_PARAMS.test(name)) continue;
    parsed.searchParams.set(name, URL_MASK);
    queryMasked = true;
  }
  if (!pathMasked && !queryMasked) return undefined;
  // URL percent-encodes the mask; people read it as written.
  return parsed.toString().replaceAll(encodeURIComponent(URL_MASK), URL_MASK);
}
