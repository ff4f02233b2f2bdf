import { randomBytes } from 'node:crypto';
import { chmod, rm } from 'node:fs/promises';
import http from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Logger } from 'pino';
import type { ModelSocketEndpoint } from '@cutroom/protocol';
import type { ModelProvider } from '../config.js';

/** Request headers the agent may pass on; everything else (keys, cookies, hops) is dropped. */
const FORWARDED_REQUEST_HEADERS = new Set(['content-type', 'accept', 'anthropic-version', 'anthropic-beta', 'user-agent', 'x-app']);
const isForwardedRequestHeader = (name: string) => FORWARDED_REQUEST_HEADERS.has(name) || name.startsWith('x-stainless-');

/** Response headers not passed back: hop-by-hop, or wrong once fetch has decoded the body. */
const DROPPED_RESPONSE_HEADERS = new Set(['content-encoding', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'set-cookie']);

/** Largest request body (a long conversation with the agent is a few MB). */
export const MAX_MODEL_BODY_BYTES = 32 * 1024 * 1024;
/** MODEL_MAX_TOKENS when not configured. */
export const DEFAULT_MODEL_MAX_TOKENS = 32_000;
/** Retries of a request the provider dropped before answering (a reused keep-alive connection it had just closed). */
const CONNECTION_RETRIES = 2;
/** Errors of a connection that died before any response byte: safe to send the request again on a new one. */
const CONNECTION_LOST = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
/** `sun_path` holds 108 bytes with its terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

export type ModelProxy = ReturnType<typeof createModelProxy>;

export type ModelProxySettings = {
  provider: ModelProvider;
  logger: Logger;
  /** MODEL_MAX_TOKENS: the most output tokens one request may ask for. */
  maxTokens?: number;
};

export class ModelProxyError extends Error {
  constructor(
    readonly code: 'socket_path_too_long' | 'socket_listen_failed',
    message: string,
  ) {
    super(message);
  }
}

/** Where a session's sandbox reaches the proxy: one listener on its own socket. */
type Door = { socketPath: string; server: http.Server; open: Promise<void> };
/** A live session: its token, and the socket its sandbox has (none yet, or between sandboxes). */
type Grant = { sessionId: string; token: string; door?: Door };

/**
 * The only way a sandbox reaches a model. The server listens on a Unix socket in each
 * sandbox's folder (`sock/model.sock`, which the sandbox sees as its own); the sandbox
 * gets a per-session token in its path (`/m/<token>/…`), and the proxy forwards the
 * request to the configured provider with the real key added. The key is never in a
 * sandbox's environment, files or messages, and a token dies with its session.
 *
 * A token copied out of its sandbox is worth little: it is accepted only on its own
 * sandbox's socket (which nothing else can reach: sandboxes have no network, and each
 * sees only its own folder), only while the session lives, only for the configured model
 * (MODEL replaces whatever the request names) and at most MODEL_MAX_TOKENS output tokens
 * per request.
 */
export function createModelProxy(settings: ModelProxySettings) {
  const { provider, logger } = settings;
  const maxTokens = settings.maxTokens ?? DEFAULT_MODEL_MAX_TOKENS;
  const tokens = new Map<string, Grant>();
  const bySession = new Map<string, Grant>();

  const fail = (response: http.ServerResponse, status: number, type: string, message: string) => {
    if (response.headersSent) return response.destroy();
    const body =
      provider.configured && provider.wire === 'openai'
        ? { error: { message, type, code: status } }
        : { type: 'error', error: { type, message } };
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  /** A server for one session's socket: requests on it are that session's, or refused. */
  function serverFor(sessionId: string) {
    return http.createServer((request, response) => {
      void forward(request, response, sessionId).catch((error: unknown) => {
        logger.error({ err: error }, 'model proxy failed');
        fail(response, 502, 'api_error', 'The model provider could not be reached.');
      });
    });
  }

  async function closeDoor(door: Door) {
    await door.open.catch(() => {});
    await new Promise<void>((resolve) => {
      door.server.close(() => resolve());
      door.server.closeAllConnections();
    });
    // Node removes its socket file on close; a failed listen may leave one behind.
    await rm(door.socketPath, { force: true }).catch(() => {});
  }

  async function openDoor({ server, socketPath }: Door) {
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
      throw new ModelProxyError('socket_path_too_long', `the model socket path ${socketPath} is longer than ${MAX_SOCKET_PATH_BYTES} bytes (use a shorter DATA_DIR)`);
    }
    // A file left there (an earlier session of this sandbox, a crash): `listen` would fail.
    // `rm` without `recursive` removes a link itself, never what it points at.
    await rm(socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(new ModelProxyError('socket_listen_failed', `the model proxy could not listen on ${socketPath}: ${error.message}`)));
      server.listen(socketPath, () => resolve());
    });
    // The sandbox runs as another uid: it must be able to connect. The folder is root's
    // (sock/ is hardened before this), so nothing in the sandbox can swap the file.
    await chmod(socketPath, 0o666);
  }

  async function forward(request: http.IncomingMessage, response: http.ServerResponse, socketSessionId: string) {
    const started = performance.now();
    const match = /^\/m\/([A-Za-z0-9_-]{20,100})(\/[^#]*)$/.exec(request.url ?? '');
    const grant = match ? tokens.get(match[1]!) : undefined;
    if (!match || !grant) return fail(response, 401, 'authentication_error', 'This model proxy token is not valid (the session is over).');
    const { sessionId } = grant;
    if (sessionId !== socketSessionId) {
      logger.warn({ sessionId, socketSessionId }, 'model proxy token used on another sandbox\'s socket');
      return fail(response, 403, 'permission_error', 'This model proxy token belongs to another sandbox.');
    }
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
    // Only what the runners call: a token buys model turns, not batches, files or other APIs
    // whose limits this proxy does not hold (and whose work would outlive the session).
    if (request.method !== 'POST' || !MODEL_PATHS[provider.wire].test(target.pathname.slice(base.pathname.length))) {
      return fail(response, 404, 'not_found_error', 'The model proxy serves model requests only.');
    }

    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined && isForwardedRequestHeader(name)) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    for (const [name, value] of Object.entries(provider.authHeaders)) headers.set(name, value);

    let body: string | undefined;
    if (request.method === 'POST') {
      const declared = Number(request.headers['content-length'] ?? 0);
      if (declared > MAX_MODEL_BODY_BYTES) return tooLarge(request, response);
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of request as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_MODEL_BODY_BYTES) return tooLarge(request, response);
        chunks.push(chunk);
      }
      const held = holdToConfiguration(Buffer.concat(chunks).toString('utf8'), { wire: provider.wire, path: target.pathname, model: provider.model, maxTokens });
      if ('refused' in held) return fail(response, 400, 'invalid_request_error', held.refused);
      body = held.body;
    }

    // The agent gave up (a cancelled turn): stop the provider's work too.
    const abort = new AbortController();
    response.on('close', () => {
      if (!response.writableFinished) abort.abort();
    });
    let upstream: Response | null = null;
    for (let attempt = 0; !upstream; attempt += 1) {
      try {
        upstream = await fetch(target, { method: request.method, headers, body, signal: abort.signal });
      } catch (error) {
        if (abort.signal.aborted) return;
        // fetch settles when the response's head has arrived: a rejection means the
        // agent has seen nothing yet. Only a lost connection is sent again (the
        // provider closed a reused keep-alive connection as the request went out); a
        // response that started streaming is never repeated.
        const code = connectionLost(error);
        if (!code || attempt >= CONNECTION_RETRIES) throw error;
        logger.warn({ sessionId, attempt: attempt + 1, code }, 'the provider closed the connection before answering; sending the request again');
      }
    }
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

  function tooLarge(request: http.IncomingMessage, response: http.ServerResponse) {
    fail(response, 413, 'request_too_large', `The request is larger than ${MAX_MODEL_BODY_BYTES} bytes.`);
    // Stop reading what is left of it.
    response.once('finish', () => request.destroy());
  }

  return {
    /**
     * The session's token (the same one while it lives) and where its agent reaches the
     * model: listens on `socketPath` (the sandbox's `sock/model.sock`, created here with
     * mode 0666) and accepts the token only there. A new sandbox for the session (a
     * restart) moves the listener to its socket. Null when no provider is configured.
     */
    async endpointFor(sessionId: string, sandbox: { socketPath: string }): Promise<ModelSocketEndpoint | null> {
      if (!provider.configured) return null;
      let grant = bySession.get(sessionId);
      if (!grant) {
        grant = { sessionId, token: randomBytes(24).toString('base64url') };
        bySession.set(sessionId, grant);
        tokens.set(grant.token, grant);
      }
      if (grant.door?.socketPath !== sandbox.socketPath) {
        const previous = grant.door;
        const door: Door = { socketPath: sandbox.socketPath, server: serverFor(sessionId), open: Promise.resolve() };
        door.open = (async () => {
          if (previous) await closeDoor(previous);
          await openDoor(door);
        })();
        grant.door = door;
      }
      const door = grant.door;
      try {
        await door.open;
      } catch (error) {
        if (grant.door === door) delete grant.door;
        throw error;
      }
      return { wire: provider.wire, socket: true, path: `/m/${grant.token}`, ...(provider.model ? { model: provider.model } : {}) };
    },

    /** The session is over: its token stops working and its socket closes (and is removed). */
    async revoke(sessionId: string) {
      const grant = bySession.get(sessionId);
      if (!grant) return;
      bySession.delete(sessionId);
      tokens.delete(grant.token);
      if (grant.door) await closeDoor(grant.door);
    },

    /** Every socket closes (server shutdown). */
    async close() {
      const grants = [...bySession.values()];
      bySession.clear();
      tokens.clear();
      await Promise.all(grants.map((grant) => (grant.door ? closeDoor(grant.door) : undefined)));
    },
  };
}

/** The first code in an error's cause chain that says the connection was lost before an answer. */
function connectionLost(error: unknown): string | null {
  for (let current = error, depth = 0; current && depth < 5; current = (current as { cause?: unknown }).cause, depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECTION_LOST.has(code)) return code;
    if (current instanceof Error && /other side closed/i.test(current.message)) return 'UND_ERR_SOCKET';
  }
  return null;
}

/**
 * A request body as the provider gets it: JSON (an object), with `model` replaced by
 * the configured MODEL (when set) and the output tokens it asks for held to
 * `maxTokens` (added on the OpenAI wire when the request names no limit).
 */
/** The provider paths (below its base URL) that the agent runners call, per wire. */
export const MODEL_PATHS = {
  anthropic: /^(?:v1\/)?messages(?:\/count_tokens)?$/,
  openai: /^chat\/completions$/,
} as const;

export function holdToConfiguration(
  text: string,
  limits: { wire: 'anthropic' | 'openai'; path: string; model?: string; maxTokens: number },
): { body: string } | { refused: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { refused: 'The request body must be JSON.' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { refused: 'The request body must be a JSON object.' };
  const body = json as Record<string, unknown>;
  if (limits.model) body.model = limits.model;
  const tokenFields = limits.wire === 'openai' ? ['max_tokens', 'max_completion_tokens'] : ['max_tokens'];
  for (const field of tokenFields) {
    const value = body[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) return { refused: `${field} must be a positive whole number.` };
    body[field] = Math.min(value, limits.maxTokens);
  }
  if (limits.wire === 'openai' && /\/chat\/completions$/.test(limits.path) && body.max_tokens == null && body.max_completion_tokens == null) {
    body.max_tokens = limits.maxTokens;
  }
  // One answer per request: `n` would multiply the output the caps above allow.
  if (limits.wire === 'openai' && body.n !== undefined) body.n = 1;
  // Extended thinking's budget must stay under max_tokens, or the provider refuses the request.
  const thinking = body.thinking as { budget_tokens?: unknown } | undefined;
  if (typeof body.max_tokens === 'number' && typeof thinking?.budget_tokens === 'number' && thinking.budget_tokens >= body.max_tokens) {
    thinking.budget_tokens = Math.max(1, body.max_tokens - 1);
  }
  return { body: JSON.stringify(body) };
}
