import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The folder every new project is copied from (becomes the root of its git repo). */
export const templateProjectDir = path.join(packageDir, 'project');

/** The Player page that plays a project's compositions (served by the runtime). */
export const templatePreviewDir = path.join(packageDir, 'preview');

export { PROVIDED_PACKAGES } from './provided-packages.js';
export { affectsEntryPoint, configString, CONFIG_FILES, ENTRY_CANDIDATES, findConfigFile, findEntryPoint, insideProject, projectEntryPoint, type EntryPoint } from './entry-point.js';

/** The id of the composition the template starts with. */
export const templateCompositionId = 'TitleScene';

/** Folders that tools create inside a project and that never belong to it. */
const generatedFolders = new Set(['node_modules', 'out', 'dist', '.cache', '.git']);

/**
 * Whether a path inside the template belongs to a new project (a filter for copying):
 * tools that run on the template (the renderer's bundle cache, say) leave folders that
 * must not be copied into every project.
 */
export function isTemplateFile(relativePath: string): boolean {
  return !relativePath.split(path.sep).some((segment) => generatedFolders.has(segment));
}

/** Every file of the template project, as paths relative to `templateProjectDir`. */
export async function listTemplateFiles(): Promise<string[]> {
  const entries = await readdir(templateProjectDir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(templateProjectDir, path.join(entry.parentPath, entry.name)))
    .filter(isTemplateFile)
    .sort();
}
