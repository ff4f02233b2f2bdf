import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { sendError } from './error-handler.js';

/**
 * Serves the built web app and answers unknown paths: `/api/…` and `/ws…` get a JSON
 * 404, a browser navigation gets `index.html` (the app's router takes it from there).
 */
export async function registerWebApp(app: FastifyInstance, webDistDir: string) {
  const indexFile = path.join(webDistDir, 'index.html');
  const built = existsSync(indexFile);
  if (built) {
    await app.register(fastifyStatic, {
      root: webDistDir,
      wildcard: false,
      index: false,
      maxAge: '1h',
      setHeaders: (response, filePath) => {
        if (filePath.includes(`${path.sep}assets${path.sep}`)) {
          response.setHeader('cache-control', 'public, max-age=31536000, immutable');
        }
      },
    });
  } else {
    app.log.warn({ webDistDir }, 'the web app is not built; run `npm run build` (npm start does it for you)');
  }

  app.setNotFoundHandler((request, reply) => {
    const pathname = request.url.split('?', 1)[0]!;
    const isApi = pathname === '/api' || pathname.startsWith('/api/') || pathname.startsWith('/ws');
    const wantsPage = request.method === 'GET' && (request.headers.accept ?? '').includes('text/html');
    if (isApi || !wantsPage || path.extname(pathname) !== '') {
      return sendError(reply, 404, 'not_found', `There is no ${request.method} ${pathname.slice(0, 200)}.`);
    }
    if (!built) {
      return reply.status(503).type('text/plain').send('The web app is not built yet: run `npm run build`.');
    }
    return reply.header('cache-control', 'no-cache').sendFile('index.html');
  });
}
