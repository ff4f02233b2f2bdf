import http from 'node:http';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type { Endpoint, ReadFilesOptions, SandboxArea } from './driver.js';

/**
 * The client of a running sandbox's files server (packages/runtime/src/files-server.ts):
 * how both drivers move a running sandbox's files without starting a process per move.
 * A stopped sandbox has no server; drivers then use their own way (the `sandbox-files`
 * command, the engine's archive).
 */

/** Header that carries the sandbox's bridge token to its files server. */
export const FILES_KEY_HEADER = 'x-cutroom-files-key';

/** A sandbox's files could not be moved through its runtime (refused archive, broken connection, no server). */
export class RuntimeFilesError extends Error {
  override name = 'RuntimeFilesError';
  readonly code = 'sandbox_files_failed';
  constructor(
    message: string,
    /** The files server's own code (`archive_refused`…), when it answered with one. */
    readonly reason?: string,
  ) {
    super(message);
  }
}

/** Most of an error answer read. */
const MAX_ERROR_BODY = 8_000;
/** A tar ends with two zero blocks. */
const END_OF_TAR = 1024;

function request(endpoint: Endpoint, key: string, method: 'GET' | 'PUT', pathAndQuery: string) {
  const where = 'socketPath' in endpoint ? { socketPath: endpoint.socketPath } : { host: endpoint.host, port: endpoint.port };
  // No agent: one connection per move, never one left open for the sandbox to hold.
  return http.request({ ...where, method, path: pathAndQuery, agent: false, headers: { [FILES_KEY_HEADER]: key } });
}

async function errorOf(response: http.IncomingMessage, what: string): Promise<RuntimeFilesError> {
  let body = '';
  response.setEncoding('utf8');
  try {
    for await (const chunk of response) {
      if (body.length < MAX_ERROR_BODY) body += chunk as string;
    }
  } catch {
    // The answer was cut: its status still says it failed.
  }
  let parsed: { error?: { code?: unknown; message?: unknown } } | undefined;
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    parsed = undefined;
  }
  const message = typeof parsed?.error?.message === 'string' ? parsed.error.message.slice(0, 2_000) : `the files server answered ${response.statusCode}`;
  const code = typeof parsed?.error?.code === 'string' ? parsed.error.code.slice(0, 100) : undefined;
  return new RuntimeFilesError(`${what}: ${message}`, code);
}

/**
 * Passes a tar through and fails, instead of ending, unless it ended as a tar does (whole
 * blocks, the two zero blocks last) and the HTTP answer was complete: a cut-off archive
 * must never pass for a whole one (a commit would drop the missing files).
 */
class TarEndCheck extends Transform {
  private total = 0;
  private tail = Buffer.alloc(0);
  constructor(private readonly response: http.IncomingMessage) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
    this.total += chunk.length;
    this.tail = Buffer.concat([this.tail, chunk]).subarray(-END_OF_TAR);
    done(null, chunk);
  }
  override _flush(done: TransformCallback) {
    const whole = this.response.complete && this.total >= END_OF_TAR && this.total % 512 === 0 && this.tail.every((byte) => byte === 0);
    done(whole ? null : new RuntimeFilesError(`the sandbox's archive was cut off after ${this.total} bytes`));
  }
}

/** A tar stream of a running sandbox's area, from its files server. */
export function packViaRuntime(endpoint: Endpoint, key: string, area: SandboxArea, options: ReadFilesOptions = {}): Promise<Readable> {
  return new Promise((resolve, reject) => {
    const outgoing = request(endpoint, key, 'GET', `/pack?area=${area}${options.leaveOutMedia ? '&media=leave-out' : ''}`);
    let out: TarEndCheck | undefined;
    // Kept for the request's whole life: an error after the answer began (the sandbox
    // stopped mid-archive) fails the stream, and is never an unhandled 'error' event.
    outgoing.on('error', (error) => {
      if (out) out.destroy(new RuntimeFilesError(`reading the sandbox's ${area} failed: ${error.message}`));
      else reject(new RuntimeFilesError(`the sandbox's files server could not be reached: ${error.message}`));
    });
    outgoing.once('response', (response) => {
      if (response.statusCode !== 200) {
        void errorOf(response, `reading the sandbox's ${area}`).then(reject);
        return;
      }
      const stream = new TarEndCheck(response);
      out = stream;
      pipeline(response, stream).catch((error: Error) => {
        stream.destroy(error instanceof RuntimeFilesError ? error : new RuntimeFilesError(`reading the sandbox's ${area} failed: ${error.message}`));
      });
      // The reader gave up: drop the connection (the server stops packing).
      stream.once('close', () => {
        if (!response.complete) outgoing.destroy();
      });
      resolve(stream);
    });
    outgoing.end();
  });
}

/**
 * Writes a tar stream into a running sandbox's area through its files server (checked
 * entry by entry there; only changed files written; with `replace`, what the archive
 * lacks is removed). A refused archive fails with the server's reason.
 */
export async function unpackViaRuntime(endpoint: Endpoint, key: string, area: SandboxArea, tar: Readable, options: { replace?: boolean } = {}): Promise<void> {
  const outgoing = request(endpoint, key, 'PUT', `/unpack?area=${area}${options.replace ? '&replace=1' : ''}`);
  const answered = new Promise<http.IncomingMessage>((resolve, reject) => {
    outgoing.once('response', resolve);
    // Kept: a later error (the connection cut after the answer) must not go unhandled.
    outgoing.on('error', reject);
  });
  answered.catch(() => {});
  // A refused archive is answered before the upload ends (and the connection closed):
  // then the answer says why. Any other failure of the feed is the archive's source
  // failing (git, a driver), or the connection breaking.
  const fed = pipeline(tar, outgoing).then(
    () => null,
    (error: Error) => error,
  );
  const response = await answered.catch(async (error: Error) => {
    const feedError = await fed;
    const cause = feedError && feedError !== error ? `the archive could not be read (${feedError.message}); ` : '';
    throw new RuntimeFilesError(`writing the sandbox's ${area} failed: ${cause}${error.message}`);
  });
  if (response.statusCode === 204) {
    response.resume();
    const feedError = await fed;
    if (feedError) throw new RuntimeFilesError(`the archive could not be read: ${feedError.message}`);
    return;
  }
  outgoing.destroy();
  throw await errorOf(response, `writing the sandbox's ${area}`);
}

/**
 * The moves under way through each sandbox's runtime. A driver stops a sandbox only once
 * they are done (or `maxMs` passed): a session's end stops its sandbox right after its
 * last turn, while that turn's agent state may still be streaming out, and a runtime
 * ended mid-archive would lose it. Moves asked for once `stopping` is set go the driver's
 * other way (the command), which needs no runtime.
 */
export function runtimeMoves() {
  const moves = new Map<string, Set<Promise<unknown>>>();
  const track = (id: string, work: Promise<unknown>) => {
    const set = moves.get(id) ?? new Set();
    moves.set(id, set);
    const settled = work.then(
      () => {},
      () => {},
    );
    set.add(settled);
    void settled.then(() => {
      set.delete(settled);
      if (set.size === 0 && moves.get(id) === set) moves.delete(id);
    });
  };
  return {
    async pack(id: string, endpoint: Endpoint, key: string, area: SandboxArea, options: ReadFilesOptions = {}): Promise<Readable> {
      const opened = packViaRuntime(endpoint, key, area, options);
      // Done when the archive was read to its end, failed, or its reader dropped it.
      track(id, opened.then((stream) => finished(stream)));
      return opened;
    },
    unpack(id: string, endpoint: Endpoint, key: string, area: SandboxArea, tar: Readable, options: { replace?: boolean } = {}) {
      const work = unpackViaRuntime(endpoint, key, area, tar, options);
      track(id, work);
      return work;
    },
    /** Resolves when the sandbox's moves are done, or after `maxMs` (a reader that stalls must not hold a stop for ever). */
    async idle(id: string, maxMs = 5_000) {
      const set = moves.get(id);
      if (!set?.size) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all([...set]), new Promise((resolve) => (timer = setTimeout(resolve, maxMs)))]);
      clearTimeout(timer);
    },
  };
}
