import type { FastifyInstance } from 'fastify';
import { sendError } from './error-handler.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * CSRF and cross-site WebSocket hijacking: every state-changing `/api` request and the
 * `/ws` upgrade must come with an `Origin` in the allowed set. A missing `Origin` is
 * refused too, and so is `Origin: null` (a sandboxed preview iframe sends that).
 */
export function installOriginGuard(app: FastifyInstance, allowed: () => Set<string>) {
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?', 1)[0]!;
    const guarded =
      (path.startsWith('/api/') && !SAFE_METHODS.has(request.method)) || path === '/ws' || path.startsWith('/ws?');
    if (!guarded) return;
    const origin = request.headers.origin;
    if (!origin || !allowed().has(origin)) {
      request.log.warn({ origin: origin ?? null }, 'refused a request from a foreign origin');
      return sendError(reply, 403, 'forbidden_origin', 'This request must come from the Cutroom app itself.');
    }
  });
}
