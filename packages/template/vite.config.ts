import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Plays the template project in the Player: `npm run preview -w @cutroom/template`.
 * The session runtime builds the same configuration for a working copy, with its own
 * `@project` folder, base path and hardening.
 */
export default defineConfig({
  root: path.join(here, 'preview'),
  plugins: [react()],
  resolve: { alias: { '@project': path.join(here, 'project', 'src') } },
  server: { host: '127.0.0.1', fs: { strict: true, allow: [here] } },
});
