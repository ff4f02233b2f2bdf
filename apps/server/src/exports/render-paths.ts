import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExportFormat } from '@cutroom/protocol';
import type { ExportRecord } from '../store/export-store.js';
import { formatFiles } from './worker-protocol.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checked(value: string, pattern: RegExp, what: string) {
  if (!pattern.test(value)) throw new Error(`not a ${what}: ${value}`);
  return value;
}

/**
 * Every place renders keep files, in one spot (STORAGE_URL is `file://` only in this version):
 *
 * - `<storage>/exports/<projectId>/<exportId>.<ext>`: finished exports
 * - `<storage>/thumbnails/<projectId>.png`: the project's thumbnail
 * - `DATA_DIR/cache/bundles/<tree>/`: the bundle of a version's files, by git tree (bundle-cache.ts)
 * - `DATA_DIR/cache/bundle-projects/<tree>/<projectId>`: which projects used that bundle
 * - `DATA_DIR/tmp/renders/<jobId>/`: one running job: the server's log and `worker.json`, and
 *   `work/` (the version's files, a bundle being built, the output, the worker's HOME), the
 *   only folder the job may write (render-sandbox.ts)
 *
 * Ids are checked before they become path segments.
 */
export function createRenderPaths(options: { dataDir: string; storageUrl: string }) {
  const storageRoot = fileURLToPath(options.storageUrl.startsWith('file:///') ? options.storageUrl : `file://${path.resolve(options.storageUrl.slice('file://'.length))}`);
  const bundlesRoot = path.join(options.dataDir, 'cache', 'bundles');
  const jobsRoot = path.join(options.dataDir, 'tmp', 'renders');
  return {
    storageRoot,
    jobsRoot,
    bundlesRoot,
    bundleProjectsRoot: path.join(options.dataDir, 'cache', 'bundle-projects'),
    projectExportsDir: (projectId: string) => path.join(storageRoot, 'exports', checked(projectId, UUID, 'project id')),
    /** Relative to the storage root (what the store keeps). */
    exportFile: (projectId: string, exportId: string, format: ExportFormat) =>
      path.join('exports', checked(projectId, UUID, 'project id'), `${checked(exportId, UUID, 'export id')}.${formatFiles[format].extension}`),
    /** A stored file's absolute path; refuses anything that would leave the storage root. */
    resolveStored(relative: string) {
      const absolute = path.resolve(storageRoot, relative);
      if (!absolute.startsWith(`${storageRoot}${path.sep}`)) throw new Error(`outside the storage: ${relative}`);
      return absolute;
    },
    thumbnailFile: (projectId: string) => path.join(storageRoot, 'thumbnails', `${checked(projectId, UUID, 'project id')}.png`),
    jobDir: (jobId: string) => path.join(jobsRoot, checked(jobId, UUID, 'job id')),
  };
}

export type RenderPaths = ReturnType<typeof createRenderPaths>;

/** Moves a file into place atomically (a reader never sees half of it), across file systems too. */
export async function moveInto(source: string, target: string) {
  await mkdir(path.dirname(target), { recursive: true });
  const temporary = `${target}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await rename(source, temporary);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    await copyFile(source, temporary);
  }
  try {
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** A file name for a download: the project's name (printable, no path characters) and the version. */
export function downloadFileName(projectName: string, record: Pick<ExportRecord, 'version' | 'format' | 'frame'>) {
  const printable = [...projectName].map((character) => (character < ' ' || character === '\u007f' ? '-' : character)).join('');
  const base = printable.replace(/["\\/:*?<>|]+/g, '-').replace(/-+/g, '-').replace(/\s+/g, ' ').trim().slice(0, 80) || 'export';
  const frame = record.format === 'png' ? `-frame${record.frame ?? 0}` : '';
  return `${base}-${record.version.slice(0, 7)}${frame}.${formatFiles[record.format].extension}`;
}
