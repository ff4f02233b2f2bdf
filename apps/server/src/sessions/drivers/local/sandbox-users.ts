import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, lstat, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { execFileOffLoopOrThrow } from '../../../exec-off-loop.js';

export const SETPRIV = '/usr/bin/setpriv';

/** Numeric ids need no /etc/passwd entry; this range is far from any distribution's users. */
const FIRST_UID = 200_000;
const UID_RANGE = 1 << 20;

/**
 * A user id per sandbox, so a sandbox's processes cannot read the server's data folder,
 * the server's `/proc` entries or another sandbox's folder. Only a server that runs as
 * root can switch users; elsewhere (a developer's laptop) sandboxes run as the server's
 * own user, which is said once, at the first sandbox.
 *
 * Ids are drawn at random from a large range, so that two servers on one machine (tests)
 * almost never hand out the same one, and never twice at once by one server.
 */
export function createSandboxUsers(options: { logger: Logger; enabled?: boolean; /** Another range (render jobs draw from their own, so they never share a uid with a session). */ range?: { first: number; size: number } }) {
  const isolating = options.enabled ?? (process.getuid?.() === 0 && existsSync(SETPRIV));
  const inUse = new Set<number>();
  let warned = false;
  return {
    isolating,
    /** A free uid (also the gid), or undefined when users cannot be switched. */
    take(): number | undefined {
      if (!isolating) {
        if (!warned) {
          warned = true;
          options.logger.warn(
            'the server does not run as root: sandboxes run as the server’s own user and can read its files (see docs/security.md)',
          );
        }
        return undefined;
      }
      for (;;) {
        const uid = (options.range?.first ?? FIRST_UID) + randomInt(options.range?.size ?? UID_RANGE);
        if (!inUse.has(uid)) {
          inUse.add(uid);
          return uid;
        }
      }
    },
    release(uid: number | undefined) {
      if (uid !== undefined) inUse.delete(uid);
    },
  };
}

export type SandboxUsers = ReturnType<typeof createSandboxUsers>;

/** `setpriv` arguments that run a command as `uid` with no groups and no way to gain privileges. */
export const switchUserArguments = (uid: number) => [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--no-new-privs'];

/** Gives a tree to `uid` (symlinks themselves, never what they point to). */
export async function giveTree(target: string, uid: number) {
  if (!existsSync(target)) return;
  await execFileOffLoopOrThrow('chown', ['-R', '-h', '-P', `${uid}:${uid}`, '--', target]);
}

/**
 * A working copy the sandbox may write but whose git folder it may not touch: the
 * server runs git in it as root, and a `.git/config` the sandbox wrote (core.fsmonitor,
 * a filter, …) would run its commands as root. The folder itself stays root's, group
 * the sandbox's, with the sticky bit: the sandbox creates and renames its own files, but
 * cannot rename or replace `.git`.
 */
export async function giveWorkspace(workspace: string, uid: number) {
  if (!existsSync(workspace)) return;
  // The folder and `.git` are made the server's first, and never handed out, not even for
  // a moment: a sandbox that owned `.git` while this ran could swap it for a symlink.
  await chown(workspace, 0, uid);
  await chmod(workspace, 0o1770);
  const gitDir = path.join(workspace, '.git');
  const git = await lstat(gitDir).catch(() => null);
  if (git?.isDirectory()) {
    await execFileOffLoopOrThrow('chown', ['-R', '-h', '-P', '0:0', '--', gitDir]);
    await chmod(gitDir, 0o700);
  }
  // Everything else goes to the sandbox; links themselves, never what they point to.
  await execFileOffLoopOrThrow('find', [workspace, '-mindepth', '1', '-path', gitDir, '-prune', '-o', '-exec', 'chown', '-h', `${uid}:${uid}`, '{}', '+']);
}

/**
 * Ends every process of a sandbox's user, also those that left the runtime's process
 * group (`setsid`, a daemonizing shell command), so that none outlives its sandbox or
 * meets the next sandbox that draws the same uid. `kill -1` as that user reaches exactly
 * that user's processes.
 */
export async function killEveryProcessOf(uid: number) {
  await execFileOffLoopOrThrow(SETPRIV, [...switchUserArguments(uid), '/bin/kill', '-KILL', '-1']).catch(() => {
    // Nothing left to kill (kill exits 1).
  });
}

/**
 * A sandbox running as another user must be able to pass through every folder above its
 * own: add the search bit (never read: nothing can be listed) where it is missing.
 */
export async function ensureTraversable(folder: string) {
  for (let current = path.resolve(folder); ; current = path.dirname(current)) {
    const info = await stat(current).catch(() => null);
    if (info && (info.mode & 0o001) === 0 && info.uid === process.getuid?.()) await chmod(current, info.mode | 0o001);
    if (current === path.dirname(current)) return;
  }
}
