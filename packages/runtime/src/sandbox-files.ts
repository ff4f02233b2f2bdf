/**
 * `sandbox-files`: how a driver moves a sandbox's files, run inside the sandbox's wall and
 * as its user (so a link in the sandbox's folder can only lead where the sandbox itself
 * may go):
 *
 *   node sandbox-files.js pack <dir>                      a tar of <dir> on stdout
 *   node sandbox-files.js unpack <dir> [--replace]        a tar from stdin into <dir>
 *        [--max-file-bytes N] [--max-total-bytes N]      (or SANDBOX_FILES_MAX_FILE_BYTES,
 *                                                         SANDBOX_FILES_MAX_TOTAL_BYTES)
 *
 * The rules are file-archive.ts's. `unpack` prints one JSON line (what it wrote, left and
 * removed) on success. Exit codes: 0 done, 2 bad usage, 3 archive refused (the message
 * on stderr says why; nothing was removed), 1 anything else.
 */
import { pipeline } from 'node:stream/promises';
import { ArchiveError, packDirectory, unpackArchive } from './file-archive.js';

/** Defaults when neither an argument nor the environment sets a cap. */
const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;
const DEFAULT_MAX_TOTAL_BYTES = 2 * 1024 * 1024 * 1024;

class UsageError extends Error {}

function byteCount(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  if (!/^\d+$/.test(text)) throw new UsageError(`${name} must be a whole number of bytes, not ${JSON.stringify(text)}`);
  return Number(text);
}

async function main(argv: string[]) {
  const [command, dir, ...rest] = argv;
  if (!dir || (command !== 'pack' && command !== 'unpack')) {
    throw new UsageError('usage: sandbox-files pack <dir> | unpack <dir> [--replace] [--max-file-bytes N] [--max-total-bytes N]');
  }
  if (command === 'pack') {
    if (rest.length) throw new UsageError(`pack takes no options (got ${rest.join(' ')})`);
    await pipeline(packDirectory(dir), process.stdout);
    return;
  }
  let replace = false;
  let maxFile = process.env.SANDBOX_FILES_MAX_FILE_BYTES;
  let maxTotal = process.env.SANDBOX_FILES_MAX_TOTAL_BYTES;
  for (let index = 0; index < rest.length; index++) {
    const option = rest[index];
    if (option === '--replace') replace = true;
    else if (option === '--max-file-bytes') maxFile = rest[++index] ?? '';
    else if (option === '--max-total-bytes') maxTotal = rest[++index] ?? '';
    else throw new UsageError(`unknown option ${option}`);
  }
  const result = await unpackArchive(dir, process.stdin, {
    replace,
    maxFileBytes: byteCount('--max-file-bytes', maxFile, DEFAULT_MAX_FILE_BYTES),
    maxTotalBytes: byteCount('--max-total-bytes', maxTotal, DEFAULT_MAX_TOTAL_BYTES),
  });
  process.stdout.write(`${JSON.stringify({ written: result.written.length, unchanged: result.unchanged, removed: result.removed.length })}\n`);
}

main(process.argv.slice(2)).then(
  () => {
    process.exitCode = 0;
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`sandbox-files: ${message}\n`);
    process.exitCode = error instanceof UsageError ? 2 : error instanceof ArchiveError ? 3 : 1;
    // stdin may still be open (a refused archive is not read to its end).
    process.stdin.destroy();
  },
);
