import type { FastifyReply } from 'fastify';
import { PROTOCOL_VERSION } from '@cutroom/protocol';
import { SESSION_COOKIE, SESSION_TTL_MS, type AuthService } from '../auth/auth-service.js';
import { notFound } from '../errors.js';
import type { ProjectService } from '../projects/project-service.js';
import type { Store } from '../store/store.js';
import type { RouteHandlers } from './api-routes.js';

export type HandlerDeps = {
  store: Store;
  auth: AuthService;
  projects: ProjectService;
  version: string;
  cookieSecure: boolean;
  /** Whether chat can work, and what to tell people (no secrets). */
  agent: { runner: 'claude-agent-sdk' | 'ai-sdk'; configured: boolean; message: string };
};

export function createHandlers({ store, auth, projects, version, cookieSecure, agent }: HandlerDeps): RouteHandlers {
  const setSessionCookie = (reply: FastifyReply, token: string) =>
    reply.setCookie(SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'lax',
      secure: cookieSecure,
      path: '/',
      maxAge: Math.floor(SESSION_TTL_MS / 1000),
    });

  const ownedProject = async (ownerId: string, id: string) => {
    const project = await projects.get(ownerId, id);
    if (!project) throw notFound('That project');
    return project;
  };

  return {
    'GET /api/health': async ({ reply }) => {
      const ok = await store.ping();
      if (!ok) reply.status(503);
      return { status: ok ? 'ok' : 'degraded', version, protocolVersion: PROTOCOL_VERSION, store: { kind: store.kind, ok }, agent };
    },

    'POST /api/auth/signup': async ({ body, request, reply }) => {
      const { user, session } = await auth.signup(body, request.ip);
      setSessionCookie(reply, session.token);
      request.log.info({ userId: user.id }, 'signed up');
      return { user };
    },

    'POST /api/auth/login': async ({ body, request, reply }) => {
      const { user, session } = await auth.login(body, request.ip);
      setSessionCookie(reply, session.token);
      return { user };
    },

    'POST /api/auth/logout': async ({ request, reply }) => {
      await auth.logout(request.cookies[SESSION_COOKIE]);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return undefined;
    },

    'GET /api/auth/me': async ({ user }) => ({ user }),

    'GET /api/projects': async ({ user }) => ({ projects: await projects.list(user.id) }),

    'POST /api/projects': async ({ user, body }) => ({ project: await projects.create(user.id, body.name) }),

    'GET /api/projects/:id': async ({ user, params }) => {
      const project = await ownedProject(user.id, params.id);
      return { project, messages: await projects.messages(project.id) };
    },

    'PATCH /api/projects/:id': async ({ user, params, body }) => {
      const project = await projects.rename(user.id, params.id, body.name);
      if (!project) throw notFound('That project');
      return { project };
    },

    'DELETE /api/projects/:id': async ({ user, params }) => {
      if (!(await projects.remove(user.id, params.id))) throw notFound('That project');
      return undefined;
    },

    'GET /api/projects/:id/messages': async ({ user, params }) => {
      const project = await ownedProject(user.id, params.id);
      return { messages: await projects.messages(project.id) };
    },
  };
}
