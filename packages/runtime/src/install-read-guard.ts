/**
 * Installs the read guard (`read-guard.ts`) for the runtime process. Imported first by
 * `main.ts`, so it is in place before Vite or any other package is loaded.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createReadGuard, installReadGuard } from './read-guard.js';

/** The repo's `packages/` folder (this runtime, the Player page, the protocol) and its root. */
const packagesFolder = path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url))));
const repoRoot = path.dirname(packagesFolder);

/** The installed packages (react, remotion, vite…), read-only to sandboxes. */
const installedPackages = (() => {
  const remotion = createRequire(import.meta.url).resolve('remotion');
  const at = remotion.lastIndexOf(`${path.sep}node_modules${path.sep}`);
  return remotion.slice(0, at + `${path.sep}node_modules`.length);
})();

/** The folders and files this process may read; everything else is refused as absent. */
export function runtimeReadable(environment: NodeJS.ProcessEnv = process.env) {
  const own = [environment.RUNTIME_WORKSPACE, environment.RUNTIME_DIR, environment.RUNTIME_SHARED_CACHE].filter(
    (folder): folder is string => Boolean(folder),
  );
  return {
    folders: [
      ...own,
      installedPackages,
      packagesFolder,
      // What Node, its libraries and the system need, and this process's own /proc entry.
      '/usr',
      '/etc',
      '/lib',
      '/lib64',
      '/bin',
      '/dev',
      '/sys',
      `/proc/${process.pid}`,
    ],
    // Vite reads the workspace root's manifests (lockfile hash, workspace root search).
    files: ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.base.json'].map((name) => path.join(repoRoot, name)),
  };
}

installReadGuard(createReadGuard(runtimeReadable()));
