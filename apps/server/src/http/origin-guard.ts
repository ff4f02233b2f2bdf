import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sendError } from './error-handler.js';

/** Methods that change nothing on this server (no GET route has a side effect). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Whether a request needs an allowed `Origin`: every state-changing method and every
 * upgrade (WebSocket), whatever its path. Deciding by path is what was bypassed: the
 * router decodes `/%61pi/projects` and `/%77s` to the guarded routes, so no spelling of
 * a path may matter here.
 */
export function needsAllowedOrigin(request: Pick<FastifyRequest, 'method' | 'headers'>): boolean {
  return !SAFE_METHODS.has(request.method) || request.headers.upgrade !== undefined;
}

/**
 * CSRF and cross-site WebSocket hijacking: every state-changing request and every
 * upgrade must come with an `Origin` in the allowed set. A missing `Origin` is refused
 * too, and so is `Origin: null` (a sandboxed preview iframe sends that).
 */
export function installOriginGuard(app: FastifyInstance, allowed: () => Set<string>) {
  app.addHook('onRequest', async (request, reply) => {
    if (!needsAllowedOrigin(request)) return;
    const origin = request.headers.origin;
    if (!origin || !allowed().has(origin)) {
      request.log.warn({ origin: origin ?? null, method: request.method, upgrade: request.headers.upgrade !== undefined }, 'refused a request from a foreign origin');
      return sendError(reply, 403, 'forbidden_origin', 'This request must come from the Cutroom app itself.');
    }
  });
}
