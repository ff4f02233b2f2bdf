import http from 'node:http';
import net from 'node:net';
import type { Logger } from 'pino';
import { PREVIEW_KEY_HEADER } from '@cutroom/protocol';
import type { Endpoint } from './drivers/driver.js';
import { GRANT_PATH, type PreviewRequestKind, authorizePreview, bootstrapPage, previewCookies } from './preview-access.js';
import type { SessionManager } from './session-manager.js';

/** `/s/<sandboxId>/…`; the id is the base64url sandbox id the local driver makes. */
const PREVIEW_PATH = /^\/s\/([A-Za-z0-9_-]{16,64})\/(.*)$/;

/** Request headers never forwarded to project code: app cookies and credentials. */
const DROPPED_REQUEST_HEADERS = ['cookie', 'authorization', 'proxy-authorization', 'x-forwarded-for', 'forwarded', PREVIEW_KEY_HEADER];

/**
 * A URL's path, percent-decoded until it no longer changes (three rounds at most); null
 * when it does not decode. Only the part before the first literal '?': an encoded '?'
 * (%3F) is part of the path.
 */
function decodedPath(rawUrl: string): string | null {
  let decoded = rawUrl.split('?', 1)[0]!;
  for (let i = 0; i < 3; i++) {
    try {
      const next = decodeURIComponent(decoded);
      if (next === decoded) break;
      decoded = next;
    } catch {
      return null;
    }
  }
  return decoded;
}

/**
 * Rejects what must never reach Vite: parent-directory segments in any encoding,
 * backslashes and NUL. (`/@fs/…` must pass: the working copy and the dependency cache
 * are outside Vite's root and are served that way; Vite's `fs.strict` allow list and
 * deny list decide which of those files exist for the preview.)
 */
export function isSafePreviewPath(rawUrl: string): boolean {
  const decoded = decodedPath(rawUrl);
  if (decoded === null || decoded.includes('\\') || decoded.includes('\0')) return false;
  return !decoded.split('/').some((segment) => segment === '..' || segment === '.');
}

/** The URL without its `t` parameter, every other byte of the query as it was. */
export function withoutPageToken(rawUrl: string): string {
  return rawUrl.replace(/([?&])t=[^&]*(&|$)/, (_, before: string, after: string) => (after ? before : '')).replace(/\?$/, '');
}

/** A page load (the iframe's document), as opposed to a module, asset or HMR request. */
function isPageRequest(request: http.IncomingMessage, rest: string): boolean {
  const path = rest.split('?', 1)[0]!;
  const destination = request.headers['sec-fetch-dest'];
  return path === '' || path === 'index.html' || destination === 'iframe' || destination === 'document';
}

/** The kind of a preview request, for `authorizePreview`. */
function requestKind(request: http.IncomingMessage, rest: string, kind: 'http' | 'upgrade'): PreviewRequestKind {
  if (kind === 'upgrade') return 'resource';
  if (rest.split('?', 1)[0] === GRANT_PATH) return 'grant';
  return isPageRequest(request, rest) ? 'page' : 'resource';
}

/** Reads a small request body (the grant's token), or null when it is too big. */
async function readSmallBody(request: http.IncomingMessage, limit = 512): Promise<string | null> {
  let body = '';
  for await (const chunk of request) {
    body += String(chunk);
    if (body.length > limit) return null;
  }
  return body;
}

/**
 * How a request reaches a sandbox's preview server: its socket (the Host header says
 * `localhost`, which Vite's host check allows) or its loopback port.
 */
function upstreamOf(endpoint: Endpoint): { connect: { socketPath: string } | { host: string; port: number }; host: string } {
  if ('socketPath' in endpoint) return { connect: { socketPath: endpoint.socketPath }, host: 'localhost' };
  return { connect: { host: endpoint.host, port: endpoint.port }, host: `${endpoint.host}:${endpoint.port}` };
}

export function createPreviewProxy(options: {
  sessions: Pick<SessionManager, 'livePreview' | 'previewTokens'>;
  userForCookie: (cookieHeader: string | undefined) => Promise<string | null>;
  logger: Logger;
}) {
  const { sessions, logger } = options;

  async function authorize(request: http.IncomingMessage, kind: 'http' | 'upgrade') {
    const rawUrl = request.url ?? '/';
    const match = PREVIEW_PATH.exec(rawUrl.split('?', 1)[0]!);
    if (!match || !isSafePreviewPath(rawUrl)) return { ok: false as const, status: 404, reason: 'Not found.' };
    const sandboxId = match[1]!;
    // What Vite will see, normalised, must still be under this sandbox's prefix.
    if (!new URL(rawUrl, 'http://preview.invalid').pathname.startsWith(`/s/${sandboxId}/`)) {
      return { ok: false as const, status: 404, reason: 'Not found.' };
    }
    const rest = rawUrl.slice(`/s/${sandboxId}/`.length);
    // Vite's editor launcher has no business being reachable from a preview, in any
    // spelling (Vite's router matches paths case-insensitively).
    if ((decodedPath(rest) ?? '').toLowerCase().startsWith('__open-in-editor')) return { ok: false as const, status: 404, reason: 'Not found.' };
    const requestedKind = requestKind(request, rest, kind);
    if (requestedKind === 'grant' && request.method !== 'POST') return { ok: false as const, status: 405, reason: 'Use POST.' };
    const query = rawUrl.includes('?') ? rawUrl.slice(rawUrl.indexOf('?') + 1) : '';
    let token: string | undefined;
    if (requestedKind === 'page') token = new URLSearchParams(query).get('t') ?? undefined;
    if (requestedKind === 'grant') token = (await readSmallBody(request)) ?? undefined;
    const cookieUserId = await options.userForCookie(request.headers.cookie);
    const verdict = authorizePreview(sessions.livePreview(sandboxId), sessions.previewTokens, {
      sandboxId,
      kind: requestedKind,
      token,
      cookies: previewCookies(request.headers.cookie),
      cookieUserId,
    });
    if (!verdict.ok) return verdict;
    // A page's token has done its job: cut it out, leaving the rest of the query exactly as
    // it was (Vite matches flags like `?import&worker` as written). Other requests pass
    // untouched; their `t` is Vite's own timestamp.
    const path = requestedKind === 'page' ? withoutPageToken(rawUrl) : rawUrl;
    return { ...verdict, path, sandboxId, kind: requestedKind, query: requestedKind === 'page' ? withoutPageToken(`?${query}`).slice(1) : '' };
  }

  function forwardedHeaders(request: http.IncomingMessage, host: string, previewKey: string) {
    const headers: http.OutgoingHttpHeaders = { ...request.headers, host };
    for (const name of DROPPED_REQUEST_HEADERS) delete headers[name];
    headers[PREVIEW_KEY_HEADER] = previewKey;
    return headers;
  }

  const server = http.createServer((request, response) => {
    let upstream: http.ClientRequest | undefined;
    // A browser that goes away takes its upstream request with it, whenever it goes.
    response.on('close', () => upstream?.destroy());
    authorize(request, 'http')
      .then((verdict) => {
        if (!verdict.ok) {
          response.writeHead(verdict.status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
          response.end(verdict.reason);
          return;
        }
        if (response.destroyed) return;
        const noStore = { 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', 'x-content-type-options': 'nosniff' };
        if (verdict.bootstrap) {
          response.writeHead(200, { ...noStore, 'content-type': 'text/html; charset=utf-8', 'set-cookie': verdict.cookie });
          response.end(bootstrapPage(verdict.sandboxId, verdict.bootstrap.token, verdict.query));
          return;
        }
        if (verdict.kind === 'grant') {
          // The page's origin is opaque: its credentialed fetch needs these to see the answer.
          response.writeHead(204, { ...noStore, 'set-cookie': verdict.cookie, 'access-control-allow-origin': 'null', 'access-control-allow-credentials': 'true' });
          response.end();
          return;
        }
        const target = upstreamOf(verdict.target);
        upstream = http.request(
          { ...target.connect, method: request.method, path: verdict.path, headers: forwardedHeaders(request, target.host, verdict.previewKey) },
          (upstreamResponse) => {
            const headers = { ...upstreamResponse.headers };
            delete headers['set-cookie'];
            headers['referrer-policy'] = 'no-referrer';
            headers['x-content-type-options'] = 'nosniff';
            response.writeHead(upstreamResponse.statusCode ?? 502, headers);
            upstreamResponse.pipe(response);
          },
        );
        upstream!.on('error', (error) => {
          logger.warn({ err: error }, 'preview upstream failed');
          if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' });
          response.end('The preview is not answering.');
        });
        request.pipe(upstream!);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'preview proxy failed');
        if (!response.headersSent) response.writeHead(500);
        response.end();
      });
  });

  // The HMR WebSocket: the same checks, then the raw connection is piped through.
  server.on('upgrade', (request, socket: net.Socket, head: Buffer) => {
    let upstream: net.Socket | undefined;
    socket.on('error', () => socket.destroy());
    socket.on('close', () => upstream?.destroy());
    authorize(request, 'upgrade')
      .then((verdict) => {
        if (!verdict.ok) {
          socket.end(`HTTP/1.1 ${verdict.status} Refused\r\nConnection: close\r\n\r\n`);
          return;
        }
        if (socket.destroyed) return;
        const target = upstreamOf(verdict.target);
        const connected = () => {
          const headers = forwardedHeaders(request, target.host, verdict.previewKey);
          const lines = [`${request.method} ${verdict.path} HTTP/1.1`];
          for (const [name, value] of Object.entries(headers)) {
            for (const item of Array.isArray(value) ? value : [value]) if (item !== undefined) lines.push(`${name}: ${item}`);
          }
          upstream!.write(`${lines.join('\r\n')}\r\n\r\n`);
          if (head.length) upstream!.write(head);
          upstream!.pipe(socket);
          socket.pipe(upstream!);
        };
        upstream = 'socketPath' in target.connect ? net.connect(target.connect.socketPath, connected) : net.connect(target.connect.port, target.connect.host, connected);
        upstream.on('error', () => socket.destroy());
      })
      .catch(() => socket.destroy());
  });

  return server;
}
