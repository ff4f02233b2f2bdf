import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * The packages Cutroom itself provides to every project's page and render, read from its
 * installed packages: React (with its scheduler), Remotion and every Remotion package
 * installed beside it, and zod (the one Remotion's schemas and @remotion/zod-types are
 * made with). The server leaves them out of a project's install (manifest.ts); the
 * preview resolves them from Cutroom's folder wherever they are imported (preview-server.ts).
 */
export const PROVIDED_PACKAGES: readonly string[] = (() => {
  const provided = ['remotion', 'react', 'react-dom', 'scheduler', 'zod'];
  const remotionDir = path.dirname(createRequire(import.meta.url).resolve('remotion/package.json'));
  try {
    for (const name of readdirSync(path.join(path.dirname(remotionDir), '@remotion')).sort()) provided.push(`@remotion/${name}`);
  } catch {
    // No scoped Remotion packages beside remotion: only the five above.
  }
  return provided;
})();
