// Builds what `npm start` and the tests run: the TypeScript packages (tsc --build,
// incremental) and the web app (vite build). Used by start.mjs and test.mjs.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function run(label, args, cwd = root) {
  const started = Date.now();
  const result = spawnSync(process.execPath, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) {
    console.error(`\n${label} failed (exit ${result.status ?? result.signal}).`);
    process.exit(result.status ?? 1);
  }
  console.error(`${label}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

export function build() {
  run('tsc --build', [path.join(root, 'node_modules/typescript/bin/tsc'), '--build']);
  run('web app build', [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], path.join(root, 'apps/web'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) build();
