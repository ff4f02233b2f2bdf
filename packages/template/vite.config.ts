import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));
const projectDir = path.join(here, 'project');

/** The two modules the Player page imports from the runtime, for the template project. */
const templateProject = (): Plugin => ({
  name: 'template-project',
  enforce: 'pre',
  resolveId(source) {
    if (source === '@cutroom/project-entry') return path.join(projectDir, 'src', 'index.ts');
    if (source === '@cutroom/project-info') return '\0template-project-info';
    return null;
  },
  load(id) {
    return id === '\0template-project-info' ? `export const projectUrl = ${JSON.stringify(`/@fs${projectDir}/`)};\nexport const notices = [];\nexport const packagesError = null;\nexport const packagesPending = false;\nexport const infoGeneration = 0;` : null;
  },
});

/**
 * Plays the template project in the Player: `npm run preview -w @cutroom/template`.
 * The session runtime builds the same configuration for a working copy, with its own
 * entry point, base path and hardening.
 */
export default defineConfig({
  root: path.join(here, 'preview'),
  plugins: [templateProject(), react()],
  server: { host: '127.0.0.1', fs: { strict: true, allow: [here] } },
});
