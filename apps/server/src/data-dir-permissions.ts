import { chmod, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { ensureTraversable } from './sessions/drivers/local/sandbox-users.js';

const execFileAsync = promisify(execFile);

/** Folders of the data folder that sandboxes (other users) must pass through. */
const PASSABLE = new Set(['sandboxes', 'cache']);

/**
 * Makes the data folder unreadable to sandboxes, which run as other users: the folder
 * itself 0711 (passable, not listable), every folder in it 0700, except `sandboxes`
 * (each sandbox reaches only its own folder in it) and `cache` (the shared dependency
 * cache, which sandboxes read and only the server writes). Everything the server creates
 * from now on is its own alone (umask 077).
 */
export async function secureDataDir(dataDir: string, logger: Logger) {
  process.umask(0o077);
  await mkdir(dataDir, { recursive: true });
  for (const name of PASSABLE) await mkdir(path.join(dataDir, name), { recursive: true });
  await chmod(dataDir, 0o711);
  for (const entry of await readdir(dataDir, { withFileTypes: true })) {
    const target = path.join(dataDir, entry.name);
    if (entry.isSymbolicLink()) continue;
    await chmod(target, entry.isDirectory() ? (PASSABLE.has(entry.name) ? 0o711 : 0o700) : 0o600);
  }
  // In `cache`, only the shared dependency cache is the sandboxes' to read (render bundles hold users' code).
  for (const entry of await readdir(path.join(dataDir, 'cache'), { withFileTypes: true })) {
    if (entry.isDirectory() && entry.name !== 'vite-deps') await chmod(path.join(dataDir, 'cache', entry.name), 0o700);
  }
  const sharedCache = path.join(dataDir, 'cache', 'vite-deps');
  await execFileAsync('chmod', ['-R', 'u+rwX,go+rX,go-w', '--', sharedCache]).catch(() => {});
  await ensureTraversable(dataDir);
  logger.debug({ dataDir }, 'data folder permissions set');
}
