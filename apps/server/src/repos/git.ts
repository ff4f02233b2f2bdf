import { type ChildProcess, spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import { execFileOffLoopOrThrow } from '../exec-off-loop.js';

/** Settings every git run gets, whatever the machine's configuration. */
const FIXED = [
  '-c', 'user.name=Cutroom',
  '-c', 'user.email=cutroom@localhost',
  '-c', 'commit.gpgsign=false',
  '-c', 'init.defaultBranch=main',
  '-c', 'core.hooksPath=/dev/null',
  // A commit would otherwise start `git maintenance run --auto` after itself: a second
  // process on every version saved (about 8 ms of each turn's save).
  '-c', 'maintenance.auto=false',
];

const environment = (env?: Record<string, string>) => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  HOME: '/nonexistent',
  LANG: 'C',
  ...env,
});

/**
 * Runs git with a fixed identity and none of the user's or system's configuration, so a
 * developer's ~/.gitconfig (signing, hooks, templates) never changes what the app does.
 */
export async function git(args: string[], options: { cwd?: string; env?: Record<string, string>; input?: string } = {}): Promise<string> {
  // Started by the command helper (exec-off-loop.ts): no fork of the server, no wait on its event loop.
  return execFileOffLoopOrThrow('git', [...FIXED, ...args], {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: environment(options.env),
    ...(options.input !== undefined ? { input: options.input } : {}),
    maxBuffer: 64 * 1024 * 1024,
  });
}

/**
 * Starts git (configured as `git` does) as a child of the server, for a run that must be
 * watched and stopped while it works (a clone with a time and size limit). Rare runs
 * only: every other git run goes through the command helper. It leads a process group
 * of its own: `stop` kills it with the helpers it started (a clone's `git remote-https`),
 * which killing git alone would leave running.
 */
export function spawnGit(args: string[], options: { env?: Record<string, string> } = {}): { child: ChildProcess; stop: () => void } {
  const child = spawn('git', [...FIXED, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: environment(options.env), detached: true });
  const stop = () => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  return { child, stop };
}

/**
 * Runs git (configured as `git` does) and streams its standard output. The stream fails,
 * rather than ends, when git does: a cut-off archive must never pass for a whole one.
 */
export function gitStream(args: string[], options: { env?: Record<string, string> } = {}): Readable {
  const out = new PassThrough();
  const child = spawn('git', [...FIXED, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: environment(options.env) });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    if (stderr.length < 4_000) stderr += text;
  });
  child.stdout.pipe(out, { end: false });
  child.once('error', (error) => out.destroy(error));
  child.once('close', (code, signal) => {
    if (code === 0) out.end();
    else out.destroy(new Error(`git failed (${signal ?? `code ${code}`}): ${stderr.trim()}`));
  });
  out.once('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return out;
}
