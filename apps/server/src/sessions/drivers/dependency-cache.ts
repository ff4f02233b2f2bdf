import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { shareDependencyCache } from '@cutroom/runtime';

const execFileAsync = promisify(execFile);

/** What the publisher needs to know of a sandbox: whether it still runs only the template, and where a copy under way is. */
export type PublishingSandbox = {
  claimed?: boolean;
  stopping: boolean;
  status: string;
  /** The copy into the shared cache, while it runs: a claim (`label`) waits for it. */
  publishing?: Promise<void>;
};

/**
 * Shares a new sandbox's optimized dependencies with the next ones, from the server:
 * sandboxes only read the shared cache (one that could write it could put code into every
 * other user's preview). Published only while the sandbox has run nothing but the template:
 * once its optimizer is done, and never after a session took it. `readableByAll`: the
 * cache is made readable by every sandbox's user, writable by none.
 */
export async function publishDependencyCache(
  sandbox: PublishingSandbox,
  options: { viteDir: string; sharedCacheDir: string; readableByAll: boolean; logger: Logger },
) {
  const untouched = () => !sandbox.claimed && !sandbox.stopping && sandbox.status === 'running';
  for (let attempt = 0; attempt < 60 && untouched(); attempt++) {
    if (existsSync(path.join(options.viteDir, 'deps', '_metadata.json'))) {
      let done!: () => void;
      sandbox.publishing = new Promise<void>((resolve) => (done = resolve));
      try {
        await shareDependencyCache(options.viteDir, options.sharedCacheDir);
        if (options.readableByAll) await execFileAsync('chmod', ['-R', 'u+rwX,go+rX,go-w', '--', options.sharedCacheDir]);
      } catch (error) {
        options.logger.warn({ err: error }, 'could not share the dependency cache');
      } finally {
        done();
      }
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
