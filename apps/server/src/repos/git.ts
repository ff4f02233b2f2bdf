import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * Runs git with a fixed identity and none of the user's or system's configuration, so a
 * developer's ~/.gitconfig (signing, hooks, templates) never changes what the app does.
 */
export async function git(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<string> {
  const { stdout } = await execFileAsync(
    'git',
    [
      '-c', 'user.name=Cutroom',
      '-c', 'user.email=cutroom@localhost',
      '-c', 'commit.gpgsign=false',
      '-c', 'init.defaultBranch=main',
      '-c', 'core.hooksPath=/dev/null',
      ...args,
    ],
    {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', HOME: '/nonexistent', LANG: 'C', ...options.env },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return stdout;
}
