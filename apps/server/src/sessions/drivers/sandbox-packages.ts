/**
 * A sandbox's view of its project's installed packages, for the drivers whose sandboxes
 * live on this machine (local, docker). The sandbox's folder holds `packages/`, the
 * server's, which the sandbox sees read-only (a read-only bind in either wall):
 *
 *     packages/current  -> <key>/node_modules   (or -> empty)
 *     packages/<key>/node_modules/…              hard links of the install's files
 *     packages/empty/
 *
 * and the runtime points the working copy's `node_modules` at `../packages/current`.
 * Hard links cost no disk; a copy of the links (not a view of every install) keeps other
 * projects' packages out of sight. A change swaps `current` in one rename, so the preview
 * never sees half of two installs.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const PACKAGES_FOLDER = 'packages';

/** Makes `<sandboxDir>/packages` (empty: `current` points at nothing installed); before the sandbox starts. */
export async function preparePackagesFolder(sandboxDir: string) {
  const folder = path.join(sandboxDir, PACKAGES_FOLDER);
  await mkdir(path.join(folder, 'empty'), { recursive: true });
  // Readable by the sandbox's user (the server's umask keeps new folders its own).
  await chmod(folder, 0o755);
  await chmod(path.join(folder, 'empty'), 0o755);
  if (!existsSync(path.join(folder, 'current'))) await symlink('empty', path.join(folder, 'current'));
}

/** Shows the install `key` (its `node_modules` on this machine; null: none) to the sandbox as `current`. */
export async function showPackages(sandboxDir: string, install: { key: string; nodeModules: string | null }) {
  const folder = path.join(sandboxDir, PACKAGES_FOLDER);
  if (!/^[a-z0-9]{1,64}$/.test(install.key)) throw new Error('not an install key');
  let target = 'empty';
  const source = install.nodeModules;
  if (source) {
    target = `${install.key}/node_modules`;
    const into = path.join(folder, install.key);
    if (!existsSync(path.join(into, 'node_modules'))) {
      const staging = path.join(folder, `.${install.key}.${process.pid}.${Date.now()}`);
      await mkdir(staging, { recursive: true });
      await chmod(staging, 0o755);
      try {
        // `-l`: links, not copies (the same file system: both live under DATA_DIR).
        await execFileAsync('cp', ['-al', '--', source, path.join(staging, 'node_modules')]).catch(async () => {
          await rm(path.join(staging, 'node_modules'), { recursive: true, force: true });
          await execFileAsync('cp', ['-a', '--', source, path.join(staging, 'node_modules')]);
        });
        await rm(into, { recursive: true, force: true });
        await rename(staging, into);
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    }
  }
  const previous = await readlink(path.join(folder, 'current')).catch(() => 'empty');
  const link = path.join(folder, `.current.${process.pid}.${Date.now()}`);
  await symlink(target, link);
  await rename(link, path.join(folder, 'current'));
  // Older installs go; the one just replaced stays a while (the preview may still be
  // reading it while it moves to the new one).
  const keep = new Set(['current', 'empty', install.key, previous.split('/')[0]!]);
  for (const name of await readdir(folder)) {
    if (keep.has(name) || name.startsWith('.')) continue;
    await rm(path.join(folder, name), { recursive: true, force: true });
  }
}
