import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { pipeline } from 'node:stream/promises';
import { ArchiveError, packDirectory, pinnedMedia, unpackArchive } from './file-archive.js';
import { type ListenTarget, listenOn, listeningPort } from './listen-target.js';

/**
 * The sandbox's files, served by its own runtime: how a driver moves them while the
 * sandbox runs, without starting a process per move (a commit after every chat turn
 * reads the workspace). The same rules as the `sandbox-files` command: it runs inside the
 * sandbox's wall, as its user, so a link planted in its folders leads only where the
 * sandbox itself may go.
 *
 *   GET /pack?area=workspace|agent                 a tar of the area (200)
 *   PUT /unpack?area=workspace|agent[&replace=1]   a tar into the area (204; 400 or 413
 *                                                  with `{error:{code,message}}` when refused)
 *
 * Every request carries the bridge token in `x-cutroom-files-key`.
 */
export const FILES_KEY_HEADER = 'x-cutroom-files-key';

export type FilesArea = 'workspace' | 'agent';

/** The caps of `sandbox-files unpack` (same defaults, same environment variables). */
const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;
const DEFAULT_MAX_TOTAL_BYTES = 2 * 1024 * 1024 * 1024;

function byteCount(text: string | undefined, fallback: number): number {
  return text && /^\d+$/.test(text) ? Number(text) : fallback;
}

export type FilesServerOptions = {
  key: string;
  folders: Record<FilesArea, string>;
  maxFileBytes?: number;
  maxTotalBytes?: number;
};

const sameSecret = (given: string, expected: string) => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

function fail(response: http.ServerResponse, status: number, code: string, message: string) {
  if (response.headersSent) {
    // The tar is under way: cutting the connection is the only way to say it failed
    // (the client then sees an incomplete response, never a short archive).
    response.destroy();
    return;
  }
  // The request body may be unread (a refused archive): close rather than read it all.
  response.writeHead(status, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify({ error: { code, message } }));
}

export async function startFilesServer(options: FilesServerOptions, target: ListenTarget = { host: '127.0.0.1', port: 0 }) {
  const maxFileBytes = options.maxFileBytes ?? byteCount(process.env.SANDBOX_FILES_MAX_FILE_BYTES, DEFAULT_MAX_FILE_BYTES);
  const maxTotalBytes = options.maxTotalBytes ?? byteCount(process.env.SANDBOX_FILES_MAX_TOTAL_BYTES, DEFAULT_MAX_TOTAL_BYTES);
  // One request at a time per area: a pack never sees a half-written unpack.
  const queues: Record<FilesArea, Promise<unknown>> = { workspace: Promise.resolve(), agent: Promise.resolve() };
  const inQueue = (area: FilesArea, work: () => Promise<unknown>) => {
    const next = queues[area].then(work, work);
    queues[area] = next.catch(() => {});
    return next;
  };

  /** `leaveOutMedia`: the working copy's pinned media stay out (a commit's read: the server has them). */
  async function pack(area: FilesArea, response: http.ServerResponse, leaveOutMedia: boolean) {
    const leaveOut = leaveOutMedia && area === 'workspace' ? await pinnedMedia(options.folders[area]) : undefined;
    response.writeHead(200, { 'content-type': 'application/x-tar' });
    await pipeline(packDirectory(options.folders[area], { leaveOut }), response);
  }

  async function unpack(area: FilesArea, replace: boolean, request: http.IncomingMessage, response: http.ServerResponse) {
    await unpackArchive(options.folders[area], request, { replace, maxFileBytes, maxTotalBytes });
    response.writeHead(204).end();
  }

  const server = http.createServer((request, response) => {
    if (!sameSecret(String(request.headers[FILES_KEY_HEADER] ?? ''), options.key)) {
      fail(response, 403, 'forbidden', 'the files key is missing or wrong');
      return;
    }
    const url = new URL(request.url ?? '/', 'http://sandbox');
    const area = url.searchParams.get('area');
    const route = url.pathname === '/pack' ? 'GET' : url.pathname === '/unpack' ? 'PUT' : null;
    if (!route || (area !== 'workspace' && area !== 'agent')) {
      fail(response, 404, 'not_found', 'no such files route');
      return;
    }
    if (request.method !== route) {
      fail(response, 405, 'method_not_allowed', `${url.pathname} takes ${route}`);
      return;
    }
    if (route === 'PUT') {
      const declared = Number(request.headers['content-length'] ?? Number.NaN);
      // Tar headers and padding add at most a few KB per file; far over the cap is refused unread.
      if (Number.isFinite(declared) && declared > maxTotalBytes * 2 + 1024 * 1024) {
        fail(response, 413, 'archive_too_large', `the archive is ${declared} bytes, far over the limit of ${maxTotalBytes} bytes`);
        return;
      }
    }
    const work = route === 'GET' ? () => pack(area, response, url.searchParams.get('media') === 'leave-out') : () => unpack(area, url.searchParams.get('replace') === '1', request, response);
    inQueue(area, work).catch((error: unknown) => {
      if (error instanceof ArchiveError) {
        const tooLarge = /over the limit|more than/.test(error.message);
        fail(response, tooLarge ? 413 : 400, error.code, error.message);
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      console.error(`files: ${request.method} ${url.pathname} ${area} failed: ${message}`);
      fail(response, 500, 'files_failed', message);
    });
  });

  await listenOn(server, target);
  return {
    /** The TCP port (0 on a socket). */
    port: listeningPort(server),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
