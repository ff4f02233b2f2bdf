import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Logger } from 'pino';
import type { ModelEndpoint } from '@cutroom/protocol';
import type { ModelProvider } from '../config.js';

/** Request headers the agent may pass on; everything else (keys, cookies, hops) is dropped. */
const FORWARDED_REQUEST_HEADERS = new Set(['content-type', 'accept', 'anthropic-version', 'anthropic-beta', 'user-agent', 'x-app']);
const isForwardedRequestHeader = (name: string) => FORWARDED_REQUEST_HEADERS.has(name) || name.startsWith('x-stainless-');

/** Response headers not passed back: hop-by-hop, or wrong once fetch has decoded the body. */
const DROPPED_RESPONSE_HEADERS = new Set(['content-encoding', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'set-cookie']);

const MAX_BODY_BYTES = 32 * 1024 * 1024;

export type ModelProxy = ReturnType<typeof createModelProxy>;

/**
 * The only way a sandbox reaches a model. It listens on loopback; a sandbox gets a
 * per-session token in its base URL (`/m/<token>/…`), and the proxy forwards the
 * request to the configured provider with the real key added. The key is never in a
 * sandbox's environment, files or messages, and a token dies with its session.
 */
export function createModelProxy(settings: { provider: ModelProvider; logger: Logger; host?: string }) {
  const { provider, logger } = settings;
  const tokens = new Map<string, string>(); // token → session id
  const bySession = new Map<string, string>(); // session id → token
  let port = 0;

  const fail = (response: http.ServerResponse, status: number, type: string, message: string) => {
    if (response.headersSent) return response.destroy();
    const body =
      provider.configured && provider.wire === 'openai'
        ? { error: { message, type, code: status } }
        : { type: 'error', error: { type, message } };
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  const server = http.createServer((request, response) => {
    void forward(request, response).catch((error: unknown) => {
      logger.error({ err: error }, 'model proxy failed');
      fail(response, 502, 'api_error', 'The model provider could not be reached.');
    });
  });

  async function forward(request: http.IncomingMessage, response: http.ServerResponse) {
    const started = performance.now();
    const match = /^\/m\/([A-Za-z0-9_-]{20,100})(\/[^#]*)$/.exec(request.url ?? '');
    const sessionId = match ? tokens.get(match[1]!) : undefined;
    if (!match || !sessionId) return fail(response, 401, 'authentication_error', 'This model proxy token is not valid (the session is over).');
    if (!provider.configured) return fail(response, 503, 'api_error', provider.message);
    if (request.method !== 'POST' && request.method !== 'GET') return fail(response, 405, 'invalid_request_error', 'Only GET and POST are proxied.');
    const rest = match[2]!;
    // Checked on the URL as fetch will send it (which undoes %2e%2e, backslashes and dot
    // segments): it must stay under the provider's base URL.
    const target = new URL(`${provider.upstream}${rest}`);
    const base = new URL(`${provider.upstream}/`);
    if (target.origin !== base.origin || !target.pathname.startsWith(base.pathname) || /%2e|\\/i.test(rest.split('?')[0]!)) {
      return fail(response, 400, 'invalid_request_error', 'That path is not allowed.');
    }

    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined && isForwardedRequestHeader(name)) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    for (const [name, value] of Object.entries(provider.authHeaders)) headers.set(name, value);

    let body: Buffer | undefined;
    if (request.method === 'POST') {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of request as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) return fail(response, 413, 'request_too_large', 'The request is too large.');
        chunks.push(chunk);
      }
      body = Buffer.concat(chunks);
    }

    // The agent gave up (a cancelled turn): stop the provider's work too.
    const abort = new AbortController();
    response.on('close', () => {
      if (!response.writableFinished) abort.abort();
    });
    const upstream = await fetch(target, { method: request.method, headers, body, signal: abort.signal }).catch(
      (error: unknown) => {
        if (abort.signal.aborted) return null;
        throw error;
      },
    );
    if (!upstream) return;
    const responseHeaders: Record<string, string> = {};
    upstream.headers.forEach((value, name) => {
      if (!DROPPED_RESPONSE_HEADERS.has(name)) responseHeaders[name] = value;
    });
    response.writeHead(upstream.status, responseHeaders);
    if (upstream.body) {
      const stream = Readable.fromWeb(upstream.body as WebReadableStream);
      stream.on('error', () => response.destroy());
      stream.pipe(response);
      await new Promise((resolve) => response.on('close', resolve));
    } else {
      response.end();
    }
    // Method, path without the token, status and time: never headers or bodies.
    logger.info(
      { sessionId, method: request.method, path: rest.split('?')[0], status: upstream.status, ms: Math.round(performance.now() - started) },
      'model request',
    );
  }

  return {
    async listen() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, settings.host ?? '127.0.0.1', () => resolve());
      });
      const address = server.address();
      port = typeof address === 'object' && address ? address.port : 0;
    },

    /** A token for the session (the same one while it lives) and where its agent reaches the model. */
    endpointFor(sessionId: string): ModelEndpoint | null {
      if (!provider.configured) return null;
      let token = bySession.get(sessionId);
      if (!token) {
        token = randomBytes(24).toString('base64url');
        tokens.set(token, sessionId);
        bySession.set(sessionId, token);
      }
      return {
        wire: provider.wire,
        baseUrl: `http://127.0.0.1:${port}/m/${token}`,
        ...(provider.model ? { model: provider.model } : {}),
      };
    },

    /** The session is over: its token stops working. */
    revoke(sessionId: string) {
      const token = bySession.get(sessionId);
      if (!token) return;
      bySession.delete(sessionId);
      tokens.delete(token);
    },

    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
