/** What the server needs to know about the runtime: where its entry point is. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const runtimeEntry = path.join(path.dirname(fileURLToPath(import.meta.url)), 'main.js');
export { previewDenyList, shareDependencyCache } from './preview-server.js';
/** The command drivers run inside a sandbox to move its files (see sandbox-files.ts). */
export const sandboxFilesEntry = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sandbox-files.js');
export { ArchiveError, type SkippedEntry, type UnpackOptions, type UnpackResult, entryPath, isExcluded, packDirectory, pinnedMedia, unpackArchive } from './file-archive.js';
