/**
 * The files of a render job, the same for every wall (render-wall-local.ts,
 * render-wall-docker.ts): its folder made (`DATA_DIR/tmp/renders/<jobId>/`, the server's,
 * with `work/` the job's), the version's files checked out into it when the bundle must
 * be built, and what comes out once every process of the job is gone: the output
 * (checked to be a plain file it wrote) and a bundle it built (links and special files
 * dropped, made the server's) for the cache.
 */
import { execFile } from 'node:child_process';
import { constants, existsSync } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, open, readdir, rename, rm, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { git } from '../repos/git.js';
import { renderWorkerEntry } from './render-process.js';
import { COMPOSITIONS_FILE } from './worker-protocol.js';

const execFileAsync = promisify(execFile);

/** The repo's node_modules (where remotion and react are installed): a project's `node_modules` links there. */
export const nodeModulesDir = (() => {
  let dir = path.dirname(createRequire(import.meta.url).resolve('remotion'));
  while (path.basename(dir) !== 'node_modules' && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();
export const repoRoot = path.dirname(nodeModulesDir);
/** `apps/server`: its built code (the worker) and its manifest (which makes `.js` ES modules). */
export const serverRoot = path.resolve(path.dirname(renderWorkerEntry), '..', '..');

/** V8's heap of a worker: a part of the job's memory (Chromium and the bundler take the rest). */
export const workerHeapMb = (memoryMb: number) => Math.max(256, Math.min(2_048, Math.floor(memoryMb / 2)));

/** Makes `jobDir` (the server's: passable, not listable) and its `work/` (the job's, empty). */
export async function makeJobFolder(jobDir: string): Promise<string> {
  const workDir = path.join(jobDir, 'work');
  await mkdir(path.dirname(jobDir), { recursive: true, mode: 0o711 });
  await mkdir(jobDir, { mode: 0o711 });
  // The server's umask (077) takes what mkdir's mode gives: the job's user must pass through.
  await chmod(jobDir, 0o711);
  await mkdir(workDir, { mode: 0o700 });
  return workDir;
}

/** Whether the bundle folder in the cache is whole (its compositions file is written last). */
export const bundleCached = (bundleDir: string) => existsSync(path.join(bundleDir, COMPOSITIONS_FILE));

/** A version to render: its repo and commit, and the media it pins (stored files, and where each goes). */
export type RenderSource = { repoPath: string; version: string; media?: { path: string; stored: string }[] };

/**
 * Writes the version's files into `dir` as a plain tree (symlinks become files holding
 * their target's path), its `node_modules` a link to `packagesDir` (Cutroom's packages
 * where the worker sees them), as in the preview; or, for a project with packages of its
 * own, a link to their install (`projectPackages`, where the worker sees it: the worker
 * falls back to Cutroom's packages for the rest).
 */
export async function checkout(source: RenderSource, dir: string, indexFile: string, packagesDir: string, projectPackages?: string) {
  await mkdir(dir, { recursive: true });
  await git(['-c', 'core.symlinks=false', '--git-dir', source.repoPath, '--work-tree', dir, 'checkout', '--quiet', source.version, '--', '.'], {
    env: { GIT_INDEX_FILE: indexFile },
  });
  // The version's media, copied (never linked: the job must not reach the store's file).
  for (const file of source.media ?? []) {
    const target = path.resolve(dir, file.path);
    if (!target.startsWith(`${path.resolve(dir)}${path.sep}`)) continue;
    await mkdir(path.dirname(target), { recursive: true });
    await rm(target, { recursive: true, force: true });
    await copyFile(file.stored, target);
  }
  await rm(path.join(dir, 'node_modules'), { recursive: true, force: true });
  await symlink(projectPackages ?? packagesDir, path.join(dir, 'node_modules'), 'dir');
}

/**
 * A bundle the job built, made fit for the cache once no process of the job is left:
 * only folders and plain files with one link stay (a link or a hard link there could make
 * the server, or the next job, read something else), owned by the server, readable by
 * every job, writable by none.
 */
async function sanitiseBundle(dir: string, isolating: boolean) {
  const walk = async (folder: string) => {
    for (const entry of await readdir(folder)) {
      const full = path.join(folder, entry);
      const info = await lstat(full);
      if (info.isDirectory()) await walk(full);
      else if (!info.isFile() || info.nlink !== 1) await rm(full, { force: true });
    }
  };
  await walk(dir);
  if (isolating) await execFileAsync('chown', ['-R', '-h', '-P', '0:0', '--', dir]);
  await execFileAsync('chmod', ['-R', 'u=rwX,go=rX', '--', dir]);
}

/** Puts a bundle the job built into the cache (unless another job put the same files' bundle there first). */
export async function adoptBundle(built: string, target: string, isolating: boolean, logger: Logger) {
  // The bundle folder itself must be a real folder: a link the job left in its place could
  // point the cache at another bundle (or another job's folder).
  const folder = await lstat(built).catch(() => null);
  if (!folder?.isDirectory()) return;
  const complete = await lstat(path.join(built, COMPOSITIONS_FILE)).catch(() => null);
  if (!complete?.isFile() || existsSync(target)) return;
  try {
    await sanitiseBundle(built, isolating);
    await mkdir(path.dirname(target), { recursive: true });
    await rename(built, target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Another render of the same files put its bundle there first: the same files make the same bundle.
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') logger.warn({ err: error, target }, 'could not put a render bundle into the cache');
  }
}

/**
 * The job's output once its processes are gone: a plain file with one link (never a
 * link the job planted to a file of the server's), given to the server; null otherwise.
 */
export async function takeOutput(file: string, isolating: boolean): Promise<string | null> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => null);
  if (!handle) return null;
  try {
    const info = await handle.stat();
    if (!info.isFile() || info.nlink !== 1) return null;
    if (isolating) await handle.chown(0, 0);
    await handle.chmod(0o644);
    return file;
  } finally {
    await handle.close();
  }
}
