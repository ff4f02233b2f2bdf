import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The folder every new project is copied from (becomes the root of its git repo). */
export const templateProjectDir = path.join(packageDir, 'project');

/** The Player page that plays a project's first composition (served by the runtime). */
export const templatePreviewDir = path.join(packageDir, 'preview');

/** The renderer's entry point inside a project folder. */
export const projectEntryPoint = (projectDir: string) => path.join(projectDir, 'src', 'index.ts');

/** The id of the composition the template starts with. */
export const templateCompositionId = 'TitleScene';

/** Every file of the template project, as paths relative to `templateProjectDir`. */
export async function listTemplateFiles(): Promise<string[]> {
  const entries = await readdir(templateProjectDir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(templateProjectDir, path.join(entry.parentPath, entry.name)))
    .sort();
}
