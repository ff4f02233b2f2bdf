import type { SessionState } from '@cutroom/protocol';
import type { Endpoint, Sandbox } from './drivers/driver.js';
import type { PreviewTokens } from './preview-tokens.js';

/**
 * Preview access: the link a session's tabs get for its sandbox's preview, the live
 * session a preview request is checked against, and the verdict on each request (a link's
 * token, the preview cookie). The session code and the preview proxy both come here; it
 * knows a session only by the few fields below.
 */

/** The preview cookie: set on the preview origin, scoped to one sandbox's path. */
export const PREVIEW_COOKIE = 'cutroom_preview';

/** Where a preview's page exchanges its link's token for the cookie (see `bootstrapPage`). */
export const GRANT_PATH = '__cutroom/grant';

/** What the proxy needs to know about the live session a sandbox serves. */
export type LivePreview = { sessionId: string; ownerId: string; target: Endpoint; previewKey: string };

/** What preview access needs of a session (see session-life.ts). */
type PreviewedSession = {
  id: string;
  ownerId: string;
  state: SessionState;
  sandbox: Pick<Sandbox, 'id' | 'preview' | 'previewKey'> | null;
  lastActivity: number;
};

/**
 * The link a session's tabs get with `session:ready`: the sandbox's preview on the
 * preview origin, opened by a fresh short-lived token for the session's owner.
 */
export function previewLink(tokens: PreviewTokens, origin: string, sandbox: Pick<Sandbox, 'id' | 'base'>, ownerId: string): string {
  const token = tokens.issue(sandbox.id, ownerId);
  return `${origin}${sandbox.base}?t=${encodeURIComponent(token)}`;
}

/** The live session a sandbox serves, for the preview proxy; a request to it marks the session active. */
export function findLivePreview(sessions: Iterable<PreviewedSession>, sandboxId: string): LivePreview | null {
  const session = [...sessions].find((candidate) => candidate.sandbox?.id === sandboxId);
  if (!session || !session.sandbox || (session.state !== 'running' && session.state !== 'grace')) return null;
  session.lastActivity = Date.now();
  return { sessionId: session.id, ownerId: session.ownerId, target: session.sandbox.preview, previewKey: session.sandbox.previewKey };
}

/**
 * - `page`: the iframe's document (a navigation);
 * - `grant`: the page's exchange of its link's token for the cookie;
 * - `resource`: anything else (modules, assets, the HMR WebSocket).
 */
export type PreviewRequestKind = 'page' | 'grant' | 'resource';

export type PreviewVerdict =
  | { ok: false; status: number; reason: string }
  | {
      ok: true;
      target: Endpoint;
      previewKey: string;
      /** A page loaded by its link's token: answer with the bootstrap page, not the preview. */
      bootstrap?: { token: string };
      /** The cookie to set (page by token, and grant). */
      cookie?: string;
    };

/** Every value of the preview cookie a request carries (a `Cookie` header may hold several). */
export function previewCookies(header: string | undefined): string[] {
  if (!header) return [];
  return header
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => pair.startsWith(`${PREVIEW_COOKIE}=`))
    .map((pair) => pair.slice(PREVIEW_COOKIE.length + 1));
}

/**
 * `SameSite=None; Secure` because the iframe is sandboxed (an opaque origin): Chromium
 * treats its requests as cross-site. `Partitioned` (CHIPS) so it still works where
 * third-party cookies are blocked, and previews may live on another site. Chromium keeps
 * Secure cookies from http://localhost and http://127.0.0.1; elsewhere previews need HTTPS.
 */
export const previewCookieHeader = (sandboxId: string, value: string) =>
  `${PREVIEW_COOKIE}=${value}; Path=/s/${sandboxId}/; HttpOnly; Secure; SameSite=None; Partitioned`;

/**
 * Who may see a preview. A preview link's token is short-lived and only opens the page;
 * everything after that (the page again, its modules, assets and HMR socket) must carry
 * the preview cookie: an HMAC over (sandbox, session, owner) that is checked against the
 * live session on every request, so the right ends with the session (and with the
 * project, whose deletion ends its session). A request that carries another user's app
 * cookie is refused too.
 */
export function authorizePreview(
  live: LivePreview | null,
  tokens: PreviewTokens,
  request: { sandboxId: string; kind: PreviewRequestKind; token?: string; cookies: string[]; cookieUserId?: string | null },
): PreviewVerdict {
  if (!live) return { ok: false, status: 404, reason: 'There is no live preview here.' };
  if (request.cookieUserId && request.cookieUserId !== live.ownerId) {
    return { ok: false, status: 403, reason: 'This preview belongs to someone else.' };
  }
  const { sandboxId } = request;
  const granted = request.cookies.some((value) => tokens.checkGrant(value, sandboxId, live.sessionId, live.ownerId));
  const tokenValid = request.token !== undefined && tokens.check(request.token, sandboxId, live.ownerId) === 'valid';
  const allowed = { ok: true as const, target: live.target, previewKey: live.previewKey };
  const cookie = () => previewCookieHeader(sandboxId, tokens.grant(sandboxId, live.sessionId, live.ownerId));
  switch (request.kind) {
    case 'page':
      if (tokenValid) return { ...allowed, bootstrap: { token: request.token! }, cookie: cookie() };
      if (granted) return allowed;
      return { ok: false, status: 403, reason: 'This preview link is not valid. Reopen the project.' };
    case 'grant':
      if (tokenValid) return { ...allowed, cookie: cookie() };
      return { ok: false, status: 403, reason: 'This preview link is not valid. Reopen the project.' };
    case 'resource':
      if (granted) return allowed;
      return { ok: false, status: 403, reason: 'Open this preview from its project.' };
  }
}

/**
 * The answer to a page load by token. A sandboxed iframe's own requests (modules, the
 * HMR socket) belong to another cookie partition than its navigation, so the cookie is
 * set twice: on this navigation (for later loads of the page) and by the page's own
 * request to the grant path (for everything the page loads); then the page loads itself
 * again, without the token, keeping the link's fragment (`#composition=…`: what to play).
 */
export function bootstrapPage(sandboxId: string, token: string, query: string): string {
  const base = `/s/${sandboxId}/`;
  const next = base + (query ? `?${query}` : '');
  return `<!doctype html><meta charset="utf-8"><title>Preview</title><body style="background:#000"><script>
fetch(${JSON.stringify(base + GRANT_PATH)}, { method: 'POST', credentials: 'include', body: ${JSON.stringify(token)} })
  .then(function (response) { if (!response.ok) throw new Error(); location.replace(${JSON.stringify(next)} + location.hash); })
  .catch(function () { document.body.style.color = '#fff'; document.body.textContent = 'This preview link is not valid. Reopen the project.'; });
</script></body>`;
}
