import { MAX_IMPORT_ARCHIVE_BYTES } from '@cutroom/protocol';
import { fileSize } from '../exports/export-state';

/** What the import dialog is doing: choosing, sending the archive (bytes so far), or waiting while the server imports. */
export type ImportPhase = { kind: 'idle' } | { kind: 'uploading'; loaded: number; total: number } | { kind: 'importing' };

/** File names the server reads (it tells the format by the bytes; this only catches a wrong pick early). */
const ARCHIVE_NAME = /\.(zip|tar\.gz|tgz)$/i;

/** Why a chosen file cannot be imported, before sending a byte; null when it may be. */
export function archiveProblem(file: { name: string; size: number }): string | null {
  if (!ARCHIVE_NAME.test(file.name)) return 'Choose a .zip or .tar.gz of the project folder.';
  if (file.size === 0) return 'That file is empty.';
  if (file.size > MAX_IMPORT_ARCHIVE_BYTES) {
    return `That file is ${fileSize(file.size)}; an import may be at most ${fileSize(MAX_IMPORT_ARCHIVE_BYTES)}. Leave out node_modules, build output and large media.`;
  }
  return null;
}

/** Whole percent of an upload, never 100 before the last byte went. */
export function uploadPercent(loaded: number, total: number): number {
  if (total <= 0) return 0;
  if (loaded >= total) return 100;
  return Math.min(99, Math.floor((loaded / total) * 100));
}

/** The line under the progress bar. */
export function phaseText(phase: ImportPhase): string {
  if (phase.kind === 'uploading') return `Uploading… ${uploadPercent(phase.loaded, phase.total)}% (${fileSize(phase.loaded)} of ${fileSize(phase.total)})`;
  if (phase.kind === 'importing') return 'Checking the files and making the first version…';
  return '';
}
