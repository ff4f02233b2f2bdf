import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Remotion projects shaped like the ones people write, for tests: other layouts than the
 * template's, several compositions in folders, stills, `calculateMetadata`, schemas.
 * Each folder is a whole project (as a user would import it).
 */
export const testProjectsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'projects');

export const testProjectDir = (name: 'folders-and-stills' | 'config-entry' | 'webpack-config' | 'with-packages' | 'tailwind-v4' | 'tailwind-v3' | 'three-scene' | 'media-assets') => path.join(testProjectsDir, name);
