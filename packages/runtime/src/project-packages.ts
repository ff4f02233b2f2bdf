/**
 * The project's own packages, as the runtime sees them. The server installs what the
 * working copy's `package.json` asks for (outside this sandbox: it writes the machine's
 * shared store) and shows the install read-only in `<sandbox>/packages/current`; the
 * working copy's `node_modules` is a link there. This side reports the manifest and
 * lockfile (at the hand-over and after each change), and, when the server answers,
 * reloads the page onto the new packages or has it show why the install failed.
 */
import { lstat, mkdir, readFile, readlink, symlink } from 'node:fs/promises';
import path from 'node:path';
import { MAX_PACKAGE_LOCKFILE_BYTES, MAX_PACKAGE_MANIFEST_BYTES, type PackagesWanted } from '@cutroom/protocol';

/** Where the working copy's `node_modules` points (relative: the same inside a container). */
export const PACKAGES_LINK = path.join('..', 'packages', 'current');

/** The last answer of the server (what the page says about the project's packages). */
export const packagesState: { key: string; error: string | null; pending: boolean } = { key: 'none', error: null, pending: false };

/** Files whose change calls for another install. */
export const PACKAGE_FILES = ['package.json', 'package-lock.json', 'pnpm-lock.yaml'] as const;

/**
 * Points `<workspace>/node_modules` at the sandbox's view of the install, where the driver
 * provides one (`<sandbox>/packages`). Something the project put there itself is left
 * alone (it is its own to break).
 */
export async function linkPackages(workspace: string, sandboxDir: string): Promise<boolean> {
  const provided = await lstat(path.join(sandboxDir, 'packages', 'current')).catch(() => null);
  if (!provided) return false;
  const link = path.join(workspace, 'node_modules');
  const present = await lstat(link).catch(() => null);
  if (present?.isSymbolicLink() && (await readlink(link)) === PACKAGES_LINK) return true;
  if (present) return false;
  await mkdir(workspace, { recursive: true });
  await symlink(PACKAGES_LINK, link);
  return true;
}

async function readSmall(file: string, limit: number): Promise<string | null | 'too-large'> {
  const info = await lstat(file).catch(() => null);
  if (!info?.isFile()) return null;
  if (info.size > limit) return 'too-large';
  return readFile(file, 'utf8');
}

/** What the working copy asks for now; a string when it cannot be sent (said to the user as an install error). */
export async function wantedPackages(workspace: string): Promise<PackagesWanted | string> {
  const manifest = await readSmall(path.join(workspace, 'package.json'), MAX_PACKAGE_MANIFEST_BYTES);
  if (manifest === 'too-large') return `package.json is larger than ${MAX_PACKAGE_MANIFEST_BYTES / 1024} kB.`;
  const wanted: PackagesWanted = { type: 'packages:wanted', packageJson: manifest };
  for (const name of ['pnpm-lock.yaml', 'package-lock.json'] as const) {
    const text = await readSmall(path.join(workspace, name), MAX_PACKAGE_LOCKFILE_BYTES);
    if (text === null || text === 'too-large') continue;
    wanted.lockfile = { name, text };
    break;
  }
  return wanted;
}
