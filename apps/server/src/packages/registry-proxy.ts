/**
 * The registry proxy: the one way out of a package install's wall (installer.ts). pnpm
 * runs inside bubblewrap with no network; a byte-for-byte forwarder on the job's loopback
 * (install-worker.ts) pipes its connections to this server's Unix socket, and this server
 * talks to the configured npm registry and nothing else.
 *
 * What an install can ask is narrow on purpose: GET and HEAD, origin-form paths that stay
 * under the registry's URL, a short list of request headers (never credentials). Every
 * request goes to the registry's origin whatever its Host header says, redirects are not
 * followed, and a redirect off the registry is refused. Package metadata is rewritten so
 * that its tarball URLs point back here (the wall cannot reach the registry itself);
 * tarballs stream through untouched.
 */
import { execFile } from 'node:child_process';
import { chmod, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { Duplex, Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import tls from 'node:tls';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Logger } from 'pino';

const execFileAsync = promisify(execFile);

export type RegistryProxy = {
  socketPath: string;
  close(): Promise<void>;
  /** requests forwarded so far, for logs/tests */
  stats(): { forwarded: number; refused: number };
};

/** No byte from the registry for this long: the request is given up (504 before the answer began). */
const UPSTREAM_TIMEOUT_MS = 60_000;
const MAX_TARGET_LENGTH = 2_048;
/** Metadata is read whole to rewrite it; the largest full packuments are tens of MB. */
const MAX_METADATA_BYTES = 128 * 1024 * 1024;
/** The request headers the registry sees (plus `pnpm-*`): what it needs to answer, no credentials. */
const FORWARDED_HEADERS = new Set(['accept', 'user-agent', 'npm-command', 'if-none-match', 'if-modified-since']);
/** Response headers that describe the registry's connection, not the answer, or set state. */
const DROPPED_RESPONSE_HEADERS = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'set-cookie'];
/** The Host the forwarder's clients send; the only one metadata is rewritten for. */
const CLIENT_HOST = /^(?:127\.0\.0\.1|localhost):([1-9]\d{0,4})$/;

/**
 * An origin-form request target that cannot leave the registry's path: no scheme or
 * authority, no `//` prefix, no parent segment in any encoding, no backslash or NUL.
 */
function isSafeRegistryTarget(target: string): boolean {
  if (target.length > MAX_TARGET_LENGTH || !target.startsWith('/') || target.startsWith('//') || /[\\#]/.test(target)) return false;
  // Decoded until it no longer changes (a few rounds at most): `%252e%252e` is `..` to
  // someone who decodes twice. Malformed escapes are refused, not guessed at.
  let path: string | null = target.split('?', 1)[0]!;
  for (let round = 0, previous = ''; path !== previous; round++) {
    if (path === null || round > 3) return false;
    previous = path;
    path = decoded(path);
  }
  if (path.startsWith('//') || path.includes('\\') || path.includes('\0')) return false;
  return !path.split('/').some((segment) => segment === '..');
}

function decoded(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

/** Where a request goes: the target under the registry's path (`/x` of `https://r/npm/` is `https://r/npm/x`). */
function upstreamUrl(base: URL, target: string): URL | null {
  const url = new URL(`${base.pathname}${target.slice(1)}`, base.origin);
  return url.origin === base.origin && url.pathname.startsWith(base.pathname) ? url : null;
}

/** A redirect's Location as a path of this proxy, or null when it leaves the registry. */
function localLocation(base: URL, location: string, from: URL): string | null {
  if (!URL.canParse(location, from.href)) return null;
  const url = new URL(location, from);
  if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) return null;
  const local = `/${url.pathname.slice(base.pathname.length)}${url.search}`;
  return local.startsWith('//') ? null : local;
}

/** `http://<Host>` when the Host is the forwarder's loopback port, else null. */
function clientOrigin(host: string | undefined): string | null {
  const match = host ? CLIENT_HOST.exec(host) : null;
  return match && Number(match[1]) <= 65_535 ? `http://${host}` : null;
}

/** Decoders for the encodings asked for below; any other is left as it came. */
const DECODERS: Record<string, () => Duplex> = { gzip: zlib.createGunzip, 'x-gzip': zlib.createGunzip, br: zlib.createBrotliDecompress, deflate: zlib.createInflate };

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Metadata whose `dist.tarball` URLs under `from` now start with `to`: a packument
 * (`versions.*.dist`) or one version's manifest (`dist`). The bytes as they came when
 * nothing changed (or it is not JSON).
 */
function rewriteTarballs(body: Buffer, from: string, to: string): Buffer {
  let document: unknown;
  try {
    document = JSON.parse(body.toString('utf8'));
  } catch {
    return body;
  }
  let changed = false;
  const rewrite = (manifest: unknown) => {
    const dist = isObject(manifest) ? manifest.dist : undefined;
    if (isObject(dist) && typeof dist.tarball === 'string' && dist.tarball.startsWith(from)) {
      dist.tarball = to + dist.tarball.slice(from.length);
      changed = true;
    }
  };
  rewrite(document);
  if (isObject(document) && isObject(document.versions)) for (const manifest of Object.values(document.versions)) rewrite(manifest);
  return changed ? Buffer.from(JSON.stringify(document)) : body;
}

async function readAll(source: Readable | Duplex, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new Error(`metadata larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function answer(response: http.ServerResponse, status: number, code: string, message: string, extra: http.OutgoingHttpHeaders = {}) {
  if (response.headersSent || response.destroyed) return void response.destroy();
  const body = JSON.stringify({ error: { code, message } });
  response.writeHead(status, { ...extra, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  response.end(body);
}

export async function startRegistryProxy(options: { socketPath: string; registry: string; ca?: string | Buffer; logger?: Logger }): Promise<RegistryProxy> {
  const { socketPath, logger } = options;
  const base = new URL(options.registry);
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new Error(`the registry must be an http(s) URL: ${options.registry}`);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  // What tarball URLs on the registry start with (`https://registry.npmjs.org/`).
  const prefix = `${base.origin}${base.pathname}`;
  const agentOptions = { keepAlive: true, maxSockets: 32, timeout: UPSTREAM_TIMEOUT_MS };
  // `ca` replaces Node's roots rather than adding to them: both are given.
  const agent =
    base.protocol === 'https:'
      ? new https.Agent({ ...agentOptions, ...(options.ca ? { ca: [...tls.rootCertificates, String(options.ca)] } : {}) })
      : new http.Agent(agentOptions);
  const counts = { forwarded: 0, refused: 0 };

  function refuse(response: http.ServerResponse, status: number, code: string, message: string, extra?: http.OutgoingHttpHeaders) {
    counts.refused++;
    logger?.warn({ code }, 'registry proxy refused a request');
    answer(response, status, code, message, extra);
  }

  function handle(request: http.IncomingMessage, response: http.ServerResponse) {
    const target = request.url ?? '';
    const method = request.method ?? '';
    if (method !== 'GET' && method !== 'HEAD') return refuse(response, 405, 'method_refused', 'Only GET and HEAD reach the registry.', { allow: 'GET, HEAD' });
    const url = isSafeRegistryTarget(target) ? upstreamUrl(base, target) : null;
    if (!url) return refuse(response, 400, 'path_refused', 'That path does not lead to the registry.');
    // Identity is not asked for: the registry's gzip saves the real network, and what is
    // decoded here (all of it, below) only crosses a loopback.
    const headers: http.OutgoingHttpHeaders = { 'accept-encoding': 'gzip, br' };
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined && (FORWARDED_HEADERS.has(name) || name.startsWith('pnpm-'))) headers[name] = value;
    }
    const origin = clientOrigin(request.headers.host);
    counts.forwarded++;
    const upstream = (base.protocol === 'https:' ? https : http).request(url, { method, headers, agent, timeout: UPSTREAM_TIMEOUT_MS }, (upstreamResponse) => {
      const status = upstreamResponse.statusCode ?? 502;
      const out: http.OutgoingHttpHeaders = { ...upstreamResponse.headers };
      for (const name of DROPPED_RESPONSE_HEADERS) delete out[name];
      logger?.debug({ method, path: url.pathname, status }, 'registry request');
      const location = upstreamResponse.headers.location;
      const redirect = status >= 300 && status < 400 && location !== undefined;
      if (redirect) {
        // Not followed: passed back as a path of this proxy when it stays on the registry.
        const local = localLocation(base, location, url);
        if (local === null) {
          upstreamResponse.resume();
          return refuse(response, 502, 'redirect_refused', 'The registry redirected elsewhere.');
        }
        out.location = local;
      }
      const decoder = DECODERS[String(out['content-encoding'] ?? '').trim().toLowerCase()]?.() ?? null;
      upstreamResponse.on('error', (error) => decoder?.destroy(error));
      if (decoder) {
        delete out['content-encoding'];
        delete out['content-length'];
      }
      // Metadata is rewritten when it could be decoded (an encoding not asked for passes as it came).
      const rewrite = origin !== null && !out['content-encoding'] && String(out['content-type'] ?? '').toLowerCase().includes('json');
      if (rewrite) delete out['content-length'];
      if (method === 'HEAD' || status === 204 || status === 304 || redirect) {
        upstreamResponse.resume();
        decoder?.destroy();
        response.writeHead(status, out).end();
        return;
      }
      const source = decoder ? upstreamResponse.pipe(decoder) : upstreamResponse;
      if (rewrite) {
        readAll(source, MAX_METADATA_BYTES)
          .then((body) => {
            const rewritten = rewriteTarballs(body, prefix, `${origin}/`);
            response.writeHead(status, { ...out, 'content-length': rewritten.length }).end(rewritten);
          })
          .catch((error: unknown) => {
            logger?.warn({ err: error, path: url.pathname }, 'registry metadata could not be read');
            upstreamResponse.destroy();
            answer(response, 502, 'upstream_failed', 'The registry\'s answer could not be read.');
          });
        return;
      }
      // Tarballs: streamed, at the pace the client reads (pipeline's backpressure).
      response.writeHead(status, out);
      pipeline(source, response, (error) => {
        if (!error) return;
        logger?.warn({ err: error, path: url.pathname }, 'registry download ended early');
        upstreamResponse.destroy();
      });
    });
    upstream.on('timeout', () => upstream.destroy(Object.assign(new Error('the registry did not answer in time'), { code: 'UPSTREAM_TIMEOUT' })));
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      logger?.warn({ err: error, path: url.pathname }, 'registry request failed');
      if (error.code === 'UPSTREAM_TIMEOUT') answer(response, 504, 'upstream_timeout', 'The registry did not answer in time.');
      else answer(response, 502, 'upstream_failed', 'The registry could not be reached.');
    });
    // A client that goes away takes its registry request with it.
    response.on('close', () => {
      if (!response.writableFinished) upstream.destroy();
    });
    upstream.end();
  }

  const server = http.createServer(handle);
  // CONNECT would make this a tunnel to anywhere: answered and closed.
  server.on('connect', (_request: http.IncomingMessage, socket: Duplex) => {
    counts.refused++;
    const body = JSON.stringify({ error: { code: 'method_refused', message: 'Only GET and HEAD reach the registry.' } });
    socket.on('error', () => socket.destroy());
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });

  // A socket file left by an earlier run would make `listen` fail.
  await rm(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // The install may run as a user of its own: it must be able to connect.
  await chmod(socketPath, 0o666);

  return {
    socketPath,
    stats: () => ({ ...counts }),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      agent.destroy();
      await rm(socketPath, { force: true }).catch(() => {});
    },
  };
}

let machine: Promise<{ registry: string; ca?: Buffer }> | undefined;

/** The registry and extra CA this machine's npm uses: reads `npm config get registry` and `npm config get cafile` once (cached), env NPM_REGISTRY overrides the registry. */
export async function machineRegistry(): Promise<{ registry: string; ca?: Buffer }> {
  machine ??= (async () => {
    const get = async (key: string) => (await execFileAsync('npm', ['config', 'get', key], { timeout: 30_000 })).stdout.trim();
    const registry = process.env.NPM_REGISTRY?.trim() || (await get('registry')) || 'https://registry.npmjs.org/';
    const cafile = await get('cafile');
    if (['', 'null', 'undefined'].includes(cafile)) return { registry };
    return { registry, ca: await readFile(cafile) };
  })();
  // A failure (npm missing, an unreadable cafile) is not remembered: the next call tries again.
  machine.catch(() => {
    machine = undefined;
  });
  return machine;
}
