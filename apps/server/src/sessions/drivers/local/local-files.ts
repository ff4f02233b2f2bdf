import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sandboxFilesEntry } from '@cutroom/runtime';
import { SETPRIV, switchUserArguments } from './sandbox-users.js';

/** A sandbox's files could not be moved (the `sandbox-files` command failed or refused the archive). */
export class SandboxFilesError extends Error {
  override name = 'SandboxFilesError';
  readonly code = 'sandbox_files_failed';
}

/** Most of the command's stderr kept for an error message. */
const MAX_STDERR = 4_000;

/**
 * The `sandbox-files` command, as the sandbox's user when it has one (`setpriv`, the
 * same switch its runtime gets), else as the server's own user (a server that is not
 * root, where the sandbox already has the server's rights). Run that way, a link the
 * sandbox planted in its folder leads only where the sandbox itself may go.
 */
function command(args: string[], uid: number | undefined): [string, string[]] {
  const line = [process.execPath, sandboxFilesEntry, ...args];
  if (uid === undefined) return [line[0]!, line.slice(1)];
  if (!existsSync(SETPRIV)) throw new SandboxFilesError(`${SETPRIV} is missing: files cannot be moved as the sandbox's user`);
  return [SETPRIV, [...switchUserArguments(uid), '--', ...line]];
}

function run(args: string[], uid: number | undefined, stdin: 'pipe' | 'ignore') {
  const [file, argv] = command(args, uid);
  const child = spawn(file, argv, { stdio: [stdin, 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  const stdout = child.stdout!;
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    if (stderr.length < MAX_STDERR) stderr += text;
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (error) => reject(new SandboxFilesError(`sandbox-files could not start: ${error.message}`)));
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new SandboxFilesError(stderr.trim().replace(/^sandbox-files: /, '') || `sandbox-files ${args[0]} ended with ${signal ?? `code ${code}`}`));
    });
  });
  exited.catch(() => {});
  return { child, stdout, exited };
}

/**
 * A tar stream of `dir` (see packages/runtime/src/sandbox-files.ts for what it holds).
 * The stream fails, rather than ends, when the command does: a cut-off archive must
 * never pass for a whole one (a commit would drop the missing files).
 */
export function packArea(dir: string, uid?: number): Readable {
  const out = new PassThrough();
  const { child, stdout, exited } = run(['pack', dir], uid, 'ignore');
  stdout.pipe(out, { end: false });
  Promise.all([exited, new Promise((resolve) => stdout.once('end', resolve))]).then(
    () => out.end(),
    (error: unknown) => out.destroy(error as Error),
  );
  // The reader gave up: stop the command.
  out.once('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return out;
}

/**
 * Writes a tar stream into `dir` with `sandbox-files unpack` (checked entry by entry; only
 * changed files written; with `replace`, what the archive lacks is removed).
 */
export async function unpackArea(dir: string, tar: Readable, options: { replace?: boolean; uid?: number; maxFileBytes?: number; maxTotalBytes?: number } = {}) {
  const args = ['unpack', dir];
  if (options.replace) args.push('--replace');
  if (options.maxFileBytes !== undefined) args.push('--max-file-bytes', String(options.maxFileBytes));
  if (options.maxTotalBytes !== undefined) args.push('--max-total-bytes', String(options.maxTotalBytes));
  const { child, stdout, exited } = run(args, options.uid, 'pipe');
  stdout.resume();
  // A refused archive ends the command before its input does (EPIPE): then the exit says
  // why. Any other failure of the feed is the archive's source failing (git, a driver).
  const fed = pipeline(tar, child.stdin!).then(
    () => null,
    (error: NodeJS.ErrnoException) => error,
  );
  const [exit, feedError] = await Promise.all([exited.then(() => null, (error: Error) => error), fed]);
  const broken = feedError && feedError.code !== 'EPIPE' && feedError.code !== 'ERR_STREAM_DESTROYED' ? feedError : null;
  if (exit) throw new SandboxFilesError(broken ? `the archive could not be read (${broken.message}): ${exit.message}` : exit.message);
  if (broken) throw new SandboxFilesError(`the archive could not be read: ${broken.message}`);
}

export const localFiles = { packArea, unpackArea };
