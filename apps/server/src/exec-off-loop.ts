// Runs a command from a small helper process, so that starting it never stops the event
// loop and never costs a fork of the server.
import { type ChildProcess, spawn } from 'node:child_process';

/**
 * A process spawn stops the thread that makes it until the child has started: libuv
 * forks, then waits for the child's exec. A fork copies the page tables of the whole
 * process, so its cost grows with the server's memory: measured here, `git --version`
 * took 1.7 ms to run from a 47 MiB process and 17.5 ms from a 467 MiB one, and on a busy
 * machine the child waits for a core first (the server's event loop once waited 2.5 s
 * behind one spawn). Commands the server runs all the time (git on every version saved,
 * a sandbox's `du` every couple of seconds, the `chown`s of a boot) are started instead
 * by one small long-lived helper process (started once, on first use; it exits when the
 * server does, its IPC channel closing). It takes requests only from the server, over
 * that channel.
 */
const HELPER_SOURCE = `
process.title = 'cutroom: command helper';
const { execFile } = require('node:child_process');
process.on('disconnect', () => process.exit(0));
process.on('message', ({ id, file, args, options, input }) => {
  const answer = (error, stdout, stderr) => {
    if (!process.connected) return;
    process.send({ id, stdout: String(stdout ?? ''), stderr: String(stderr ?? ''), error: error ? { message: String(error.message), code: typeof error.code === 'number' || typeof error.code === 'string' ? error.code : null } : null });
  };
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

let helper: ChildProcess | null = null;
let nextId = 0;
/** Commands waiting for their answer, each with the helper it went to. */
const pending = new Map<number, { answer: (result: OffLoopResult) => void; helper: ChildProcess }>();

/** Answers the commands a helper that is gone had taken (never those of a newer one). */
function failAllOf(gone: ChildProcess, message: string) {
  for (const [id, waiting] of pending) {
    if (waiting.helper !== gone) continue;
    pending.delete(id);
    waiting.answer({ stdout: '', stderr: '', error: { message, code: null } });
  }
}

/** Holds the server open while a command runs, never once nothing waits. */
function hold(child: ChildProcess, held: boolean) {
  if (held) {
    child.ref();
    child.channel?.ref();
  } else {
    child.unref();
    child.channel?.unref();
  }
}

function ensureHelper(): ChildProcess {
  if (helper?.connected) return helper;
  // The server's own Node, none of its flags; the server's environment (commands run
  // without an `env` of their own get it, as execFile gives it).
  // Its heap holds a command's output twice at most (the string, then the message): git's
  // may be 64 MiB.
  const started = spawn(process.execPath, ['--max-old-space-size=512', '-e', HELPER_SOURCE], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    serialization: 'json',
  });
  started.on('message', ({ id, ...result }: Reply) => {
    const waiting = pending.get(id);
    pending.delete(id);
    if (![...pending.values()].some((other) => other.helper === started)) hold(started, false);
    waiting?.answer(result);
  });
  const gone = (message: string) => {
    if (helper === started) helper = null;
    failAllOf(started, message);
  };
  started.on('error', (error) => gone(`the command helper failed: ${error.message}`));
  started.on('exit', () => gone('the command helper exited'));
  helper = started;
  return started;
}

/**
 * `execFile(file, args)` from the helper process: resolves with what it printed, and
 * never rejects (a failure is in `error`). No shell: `args` go to the command as they are.
 */
export function execFileOffLoop(file: string, args: string[], options: OffLoopOptions = {}): Promise<OffLoopResult> {
  const { input, ...rest } = options;
  return new Promise((resolve) => {
    const id = nextId++;
    const target = ensureHelper();
    pending.set(id, { answer: resolve, helper: target });
    hold(target, true);
    target.send({ id, file, args, options: { maxBuffer: 1024 * 1024, ...rest }, input }, (error) => {
      if (!error || !pending.has(id)) return;
      pending.delete(id);
      resolve({ stdout: '', stderr: '', error: { message: `the command helper could not be reached: ${error.message}`, code: null } });
    });
  });
}

/** {@link execFileOffLoop} that rejects, as execFile does, when the command fails; resolves with its output. */
export async function execFileOffLoopOrThrow(file: string, args: string[], options: OffLoopOptions = {}): Promise<string> {
  const result = await execFileOffLoop(file, args, options);
  if (result.error) throw new OffLoopCommandError({ ...result, error: result.error });
  return result.stdout;
}
