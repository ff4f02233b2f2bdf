// Baseline: a bare Vite dev server playing the same composition in <Player> (the
// template's Player page, given a copy of the project's entry point). No proxy,
// no sandbox, no session. Prints `{"port": …}` when it listens.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// The same Vite and React plugin the runtime uses (resolved from its package).
const fromRuntime = createRequire(path.resolve(import.meta.dirname, '..', 'packages', 'runtime', 'package.json'));
const { default: react } = await import(pathToFileURL(fromRuntime.resolve('@vitejs/plugin-react')).href);
const { createServer } = await import(pathToFileURL(fromRuntime.resolve('vite')).href);

const [projectDir, cacheDir] = process.argv.slice(2);
const previewDir = path.resolve(import.meta.dirname, '..', 'packages', 'template', 'preview');
const server = await createServer({
  configFile: false,
  root: previewDir,
  cacheDir,
  logLevel: 'silent',
  plugins: [
    {
      // The two modules the Player page imports from the runtime.
      name: 'bare-project',
      enforce: 'pre',
      resolveId: (source) =>
        source === '@cutroom/project-entry' ? path.join(projectDir, 'src', 'index.ts') : source === '@cutroom/project-info' ? '\0bare-project-info' : null,
      load: (id) => (id === '\0bare-project-info' ? [
              `export const projectUrl = ${JSON.stringify(`/@fs${projectDir}/`)};`,
              'export const notices = [];',
              'export const packagesError = null;',
              'export const packagesPending = false;',
              'export const infoGeneration = 0;',
            ].join('\n') : null),
    },
    react(),
  ],
  resolve: { dedupe: ['react', 'react-dom', 'remotion', '@remotion/player'] },
  server: { host: '127.0.0.1', port: 0 },
});
await server.listen();
console.log(JSON.stringify({ port: server.httpServer.address().port }));
