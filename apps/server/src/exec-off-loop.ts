// Runs a command from a worker thread, so that starting it never stops the event loop.
import { Worker } from 'node:worker_threads';

/**
 * A process spawn stops the thread that makes it until the child has started: libuv
 * forks, then waits for the child's exec. On a quiet machine that is a few
 * milliseconds; on a busy one the child waits for a core first, and the server's event
 * loop (every request, every socket) waited up to 2.5 s behind one spawn. Commands the
 * server runs all the time (git, a sandbox's `du` every couple of seconds, the `chown`s of
 * a boot) go through this worker instead: the worker waits, the event loop does not.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { execFile } = require('node:child_process');
parentPort.on('message', ({ id, file, args, options, input }) => {
  const answer = (error, stdout, stderr) =>
    parentPort.postMessage({ id, stdout: String(stdout ?? ''), stderr: String(stderr ?? ''), error: error ? { message: String(error.message), code: typeof error.code === 'number' || typeof error.code === 'string' ? error.code : null } : null });
  try {
    const child = execFile(file, args, { ...options, encoding: 'utf8' }, answer);
    // A command that exits (or never starts) before reading all of it: its answer says so.
    child.stdin.on('error', () => {});
    if (input !== undefined) child.stdin.end(input);
  } catch (error) {
    answer(error, '', '');
  }
});
`;

export type OffLoopOptions = {
  cwd?: string;
  /** The command's whole environment (as execFile's `env`); the server's own without it. */
  env?: Record<string, string>;
  /** Written to its standard input, which is then closed. */
  input?: string;
  /** Most bytes of output kept (1 MiB unless told). */
  maxBuffer?: number;
};

export type OffLoopResult = {
  stdout: string;
  stderr: string;
  /**
   * Why the command failed, null when it exited 0. `code` as execFile gives it: the exit
   * code, or a string like 'ENOENT' when it could not start.
   */
  error: { message: string; code: number | string | null } | null;
};

/** The failure of a command run off the loop, as execFile would have rejected with it. */
export class OffLoopCommandError extends Error {
  readonly code: number | string | null;
  readonly stdout: string;
  readonly stderr: string;
  constructor(result: OffLoopResult & { error: NonNullable<OffLoopResult['error']> }) {
    super(result.error.message);
    this.code = result.error.code;
    this.stdout = result.stdout;
    this.stderr = result.stderr;
  }
}

type Reply = OffLoopResult & { id: number };

let worker: Worker | null = null;
let nextId = 0;
const pending = new Map<number, (result: OffLoopResult) => void>();

function failAll(message: string) {
  for (const [id, answer] of pending) {
    pending.delete(id);
    answer({ stdout: '', stderr: '', error: { message, code: null } });
  }
}

function ensureWorker(): Worker {
  if (worker) return worker;
  const started = new Worker(WORKER_SOURCE, { eval: true });
  started.on('message', ({ id, ...result }: Reply) => {
    const answer = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) started.unref();
    answer?.(result);
  });
  started.on('error', (error) => {
    if (worker === started) worker = null;
    failAll(`the command worker failed: ${error.message}`);
  });
  started.on('exit', () => {
    if (worker === started) worker = null;
    failAll('the command worker exited');
  });
  worker = started;
  return started;
}

/**
 * `execFile(file, args)` from the worker thread: resolves with what it printed, and
 * never rejects (a failure is in `error`). No shell: `args` go to the command as they are.
 */
export function execFileOffLoop(file: string, args: string[], options: OffLoopOptions = {}): Promise<OffLoopResult> {
  const { input, ...rest } = options;
  return new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    const target = ensureWorker();
    // It keeps the process alive while a command runs, never once nothing waits.
    target.ref();
    target.postMessage({ id, file, args, options: { maxBuffer: 1024 * 1024, ...rest }, input });
  });
}

/** {@link execFileOffLoop} that rejects, as execFile does, when the command fails; resolves with its output. */
export async function execFileOffLoopOrThrow(file: string, args: string[], options: OffLoopOptions = {}): Promise<string> {
  const result = await execFileOffLoop(file, args, options);
  if (result.error) throw new OffLoopCommandError({ ...result, error: result.error });
  return result.stdout;
}
