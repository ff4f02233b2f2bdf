import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  type RouteBody,
  type RouteKey,
  type RouteParams,
  type RouteQuery,
  type RouteResponse,
  type User,
  apiRoutes,
  splitRouteKey,
} from '@cutroom/protocol';
import type { ZodType } from 'zod';
import { AppError, notFound } from '../errors.js';
import { zodIssues } from './error-handler.js';

export type RouteContext<K extends RouteKey> = {
  body: RouteBody<K>;
  params: RouteParams<K>;
  query: RouteQuery<K>;
  /** The signed-in user; routes with `auth: false` may see null. */
  user: (typeof apiRoutes)[K] extends { auth: false } ? User | null : User;
  request: FastifyRequest;
  reply: FastifyReply;
};

/** One handler per route of `apiRoutes`: the compiler refuses a missing one. */
export type RouteHandlers = {
  [K in RouteKey]: (context: RouteContext<K>) => Promise<RouteResponse<K>>;
};

/**
 * Registers every route of the protocol's table with its handler. Bodies and queries
 * are parsed with the route's schemas (bad ones are `validation_failed`); params that do
 * not parse (a malformed id) mean the object cannot exist, so they answer 404.
 */
export function registerApiRoutes(
  app: FastifyInstance,
  handlers: RouteHandlers,
  currentUser: (request: FastifyRequest) => Promise<User | null>,
) {
  for (const key of Object.keys(apiRoutes) as RouteKey[]) {
    const spec = apiRoutes[key] as (typeof apiRoutes)[RouteKey] & {
      body?: ZodType;
      params?: ZodType;
      query?: ZodType;
      auth?: boolean;
    };
    const { method, path } = splitRouteKey(key);
    const handler = handlers[key] as (context: RouteContext<RouteKey>) => Promise<unknown>;
    app.route({
      method: method as 'GET',
      url: path,
      handler: async (request, reply) => {
        const user = await currentUser(request);
        if (spec.auth !== false && !user) {
          throw new AppError('unauthenticated', 'Sign in to continue.', 401);
        }
        let params: unknown;
        if (spec.params) {
          const parsed = spec.params.safeParse(request.params);
          if (!parsed.success) throw notFound();
          params = parsed.data;
        }
        let query: unknown;
        if (spec.query) {
          const parsed = spec.query.safeParse(request.query);
          if (!parsed.success) {
            throw new AppError('validation_failed', 'The query is not valid.', 400, zodIssues(parsed.error));
          }
          query = parsed.data;
        }
        let body: unknown;
        if (spec.body) {
          const parsed = spec.body.safeParse(request.body);
          if (!parsed.success) {
            throw new AppError('validation_failed', 'Some fields are not valid.', 400, zodIssues(parsed.error));
          }
          body = parsed.data;
        }
        const result = await handler({ body, params, query, user, request, reply } as RouteContext<RouteKey>);
        reply.status(spec.status);
        return spec.status === 204 ? reply.send() : result;
      },
    });
  }
}
