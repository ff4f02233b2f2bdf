import { PassThrough, type Readable, Writable } from 'node:stream';
import Docker from 'dockerode';
import tar from 'tar-stream';

/**
 * The docker driver's use of the Engine API, kept to what Docker 20.10 and Podman's
 * Docker-compatible service both serve: containers (create, start, wait, stop, kill,
 * remove, inspect, list by label), logs, exec and attach with a hijacked stream, and
 * archives. Renders in containers (exports/render-wall-docker.ts) use it too.
 */

/** A client for `DOCKER_HOST` (`unix:///path` or `tcp://host:port`); without one, dockerode reads the environment. */
export function dockerClient(dockerHost?: string): Docker {
  if (!dockerHost) return new Docker();
  const url = new URL(dockerHost);
  if (url.protocol === 'unix:') return new Docker({ socketPath: url.pathname });
  if (url.protocol === 'tcp:' || url.protocol === 'http:') return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: 'http' });
  if (url.protocol === 'https:') return new Docker({ host: url.hostname, port: Number(url.port || 2376), protocol: 'https' });
  throw new Error(`DOCKER_HOST=${dockerHost}: only unix://, tcp:// and https:// engines are supported`);
}

/** Whether the engine is Podman's Docker-compatible service (it names itself in its version's components). */
export async function engineIsPodman(docker: Docker): Promise<boolean> {
  const version = (await docker.version()) as { Components?: { Name?: string }[] };
  return (version.Components ?? []).some((component) => /podman/i.test(component.Name ?? ''));
}

/** The engine answered with an HTTP status (dockerode's errors carry it). */
export const engineStatus = (error: unknown): number | undefined =>
  typeof error === 'object' && error !== null && 'statusCode' in error ? Number((error as { statusCode: unknown }).statusCode) : undefined;

/** Calls that may find the container gone or already stopped (404, 304, 409 while it is being removed). */
export async function tolerate<T>(call: Promise<T>, statuses = [304, 404, 409]): Promise<T | undefined> {
  try {
    return await call;
  } catch (error) {
    if (statuses.includes(engineStatus(error) ?? 0)) return undefined;
    throw error;
  }
}

/** Collects at most `limit` characters of a stream's text. */
export function textSink(limit = 4_000): Writable & { text(): string } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (text.length < limit) text += chunk.toString('utf8').slice(0, limit - text.length);
      callback();
    },
  });
  return Object.assign(sink, { text: () => text });
}

export type ExecOutcome = { exitCode: number | null; stderr: string };

/**
 * Runs a command in a running container as its user: its stdout comes back as a stream,
 * its stdin is fed from `stdin` (then closed), and `done` says how it ended. The engine
 * multiplexes stdout and stderr on one hijacked connection; they are taken apart here.
 */
export async function execStream(
  docker: Docker,
  container: Docker.Container,
  command: string[],
  options: { stdin?: Readable; env?: string[]; workingDir?: string } = {},
): Promise<{ stdout: Readable; done: Promise<ExecOutcome> }> {
  const exec = await container.exec({
    Cmd: command,
    AttachStdin: Boolean(options.stdin),
    AttachStdout: true,
    AttachStderr: true,
    ...(options.env ? { Env: options.env } : {}),
    ...(options.workingDir ? { WorkingDir: options.workingDir } : {}),
  });
  const stream = (await exec.start({ hijack: true, stdin: Boolean(options.stdin) })) as unknown as NodeJS.ReadWriteStream & { destroy(): void };
  const stdout = new PassThrough();
  const stderr = textSink();
  docker.modem.demuxStream(stream, stdout, stderr);
  if (options.stdin) {
    const input = options.stdin;
    input.on('error', () => stream.destroy());
    // Ended (half-closed) when the input is: the command sees the end of its stdin.
    input.pipe(stream as unknown as NodeJS.WritableStream);
  }
  const done = new Promise<ExecOutcome>((resolve, reject) => {
    let finished = false;
    const finish = async () => {
      if (finished) return;
      finished = true;
      stdout.end();
      try {
        const info = await exec.inspect();
        resolve({ exitCode: info.ExitCode ?? null, stderr: stderr.text() });
      } catch (error) {
        reject(error as Error);
      }
    };
    stream.on('end', () => void finish());
    stream.on('close', () => void finish());
    stream.on('error', (error: Error) => {
      if (finished) return;
      finished = true;
      stdout.destroy(error);
      reject(error);
    });
  });
  done.catch(() => {});
  // The reader gave up: drop the connection (the command gets a broken pipe).
  stdout.once('close', () => {
    if (!stdout.readableEnded) stream.destroy();
  });
  return { stdout, done };
}

/**
 * Attaches to a created container's stdin, stdout and stderr, before it starts (so none
 * of its output is missed): what is written to `stdin` reaches its process, and its
 * stdout and stderr, which the engine multiplexes on one hijacked connection, come apart.
 * `ended` resolves when the connection is over (the container exited, or `close`).
 */
export async function attachStdio(
  docker: Docker,
  container: Docker.Container,
): Promise<{ stdin: Writable; stdout: Readable; stderr: Readable; ended: Promise<void>; close(): void }> {
  const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as NodeJS.ReadWriteStream &
    Writable & { destroy(): void };
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  docker.modem.demuxStream(stream, stdout, stderr);
  const ended = new Promise<void>((resolve) => {
    let over = false;
    const end = () => {
      if (over) return;
      over = true;
      stdout.end();
      stderr.end();
      resolve();
    };
    stream.once('end', end);
    stream.once('close', end);
    stream.on('error', end);
  });
  return { stdin: stream, stdout, stderr, ended, close: () => stream.destroy() };
}

/**
 * An engine's archive of a folder (`GET /containers/{id}/archive`, which also reads a
 * stopped container) made into the same shape `sandbox-files pack` writes: paths relative
 * to the folder, only files, folders and links, without the top `node_modules` or any
 * `.git`. The extraction on the other side checks every entry again.
 */
export function rebaseArchive(source: Readable, folderName: string): Readable {
  const extract = tar.extract();
  const pack = tar.pack();
  extract.on('entry', (header, stream, next) => {
    const skip = () => {
      stream.on('end', next);
      stream.resume();
    };
    const parts = header.name.replace(/\/+$/, '').split('/');
    if (parts[0] === '.') parts.shift();
    if (parts[0] !== folderName) return skip();
    const relative = parts.slice(1);
    if (relative.length === 0 || relative[0] === 'node_modules' || relative.includes('.git')) return skip();
    const name = relative.join('/');
    if (header.type === 'file' || header.type === 'contiguous-file') {
      stream.pipe(pack.entry({ name, size: header.size, mode: header.mode, mtime: header.mtime, type: 'file' }, next));
      return;
    }
    if (header.type === 'directory') {
      pack.entry({ name, mode: header.mode, mtime: header.mtime, type: 'directory' });
      return skip();
    }
    if (header.type === 'symlink' && header.linkname) {
      pack.entry({ name, mode: header.mode, mtime: header.mtime, type: 'symlink', linkname: header.linkname });
      return skip();
    }
    skip(); // devices, fifos, hard links: never part of a project
  });
  extract.on('finish', () => pack.finalize());
  extract.on('error', (error) => pack.destroy(error));
  source.on('error', (error) => extract.destroy(error));
  source.pipe(extract);
  // tar-stream's streams are streamx ones; the callers want a Node stream.
  const out = new PassThrough();
  pack.on('error', (error: Error) => out.destroy(error));
  pack.pipe(out);
  return out;
}
