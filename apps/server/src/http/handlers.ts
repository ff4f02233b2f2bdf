import type { FastifyReply } from 'fastify';
import { PROTOCOL_VERSION } from '@cutroom/protocol';
import { SESSION_COOKIE, SESSION_TTL_MS, type AuthService } from '../auth/auth-service.js';
import { notFound } from '../errors.js';
import type { ExportService } from '../exports/export-service.js';
import { createExportHandlers } from '../exports/export-handlers.js';
import type { ProjectService } from '../projects/project-service.js';
import type { ProjectRepos } from '../repos/project-repos.js';
import type { SessionManager } from '../sessions/session-manager.js';
import type { Store } from '../store/store.js';
import type { RouteHandlers } from './api-routes.js';

export type HandlerDeps = {
  store: Store;
  auth: AuthService;
  projects: ProjectService;
  version: string;
  cookieSecure: boolean;
  /**
   * Whether chat can work, and what to tell people (no secrets): `message` names the
   * provider (host, model) for signed-in users, `publicMessage` is for anyone.
   */
  agent: { runner: 'claude-agent-sdk' | 'ai-sdk'; configured: boolean; message: string; publicMessage: string };
  /** The projects' git repos (history: versions, diffs, restores). */
  repos: ProjectRepos;
  /** Live sessions: a restore brings their working copies along (absent: none run). */
  sessions?: SessionManager;
  /** Called after a restore made a new version (e.g. to render its thumbnail). */
  onNewVersion?: (projectId: string, ownerId: string, version: string) => void;
  /** Exports (renders); absent: the export routes answer 404. */
  exports?: ExportService;
};

export function createHandlers(deps: HandlerDeps): RouteHandlers {
  const { store, auth, projects, version, cookieSecure, agent, repos } = deps;
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
    'GET /api/health': async ({ reply, user }) => {
      const ok = await store.ping();
      if (!ok) reply.status(503);
      const status = ok ? 'ok' : 'degraded';
      // Anyone may ask: strangers learn that it works, not what it runs on or talks to.
      if (!user) return { status, version, protocolVersion: PROTOCOL_VERSION, agent: { configured: agent.configured, message: agent.publicMessage } };
      return {
        status,
        version,
        protocolVersion: PROTOCOL_VERSION,
        store: { kind: store.kind, ok },
        agent: { runner: agent.runner, configured: agent.configured, message: agent.message },
      };
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
      let project = body.name === undefined ? await projects.get(user.id, params.id) : await projects.rename(user.id, params.id, body.name);
      if (!project) throw notFound('That project');
      if (body.compositionId !== undefined && body.compositionId !== project.compositionId) {
        project = await projects.choose(user.id, params.id, body.compositionId);
        if (!project) throw notFound('That project');
        // The thumbnail shows the chosen composition.
        if (project.currentVersion) deps.exports?.versionLanded(project.id, user.id, project.currentVersion);
      }
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

    'GET /api/projects/:id/versions': async ({ user, params, query }) => {
      const project = await ownedProject(user.id, params.id);
      const [page, currentVersion] = await Promise.all([
        repos.versions.list(project.id, { before: query.before, limit: query.limit }),
        repos.versions.current(project.id),
      ]);
      return { ...page, currentVersion };
    },

    'GET /api/projects/:id/versions/:versionId/diff': async ({ user, params, query }) => {
      const project = await ownedProject(user.id, params.id);
      return repos.versions.diff(project.id, params.versionId, query.against);
    },

    'POST /api/projects/:id/versions/:versionId/restore': async ({ user, params, request }) => {
      const project = await ownedProject(user.id, params.id);
      const restore = async () => {
        const result = await repos.versions.restore(project.id, params.versionId);
        // The store follows the repo; a restore that made nothing may still correct it.
        const updated =
          project.currentVersion === result.version.id
            ? project
            : ((await store.projects.update(user.id, project.id, { currentVersion: result.version.id })) ?? project);
        return { ...result, project: updated };
      };
      const result = deps.sessions ? await deps.sessions.changeVersion(project.id, restore) : await restore();
      request.log.info({ projectId: project.id, from: params.versionId, version: result.version.id, restored: result.restored }, 'version restored');
      if (result.restored) {
        try {
          deps.onNewVersion?.(project.id, user.id, result.version.id);
        } catch (error) {
          request.log.error({ err: error, projectId: project.id }, 'the new-version hook failed');
        }
      }
      return result;
    },

    ...createExportHandlers(deps.exports),
  };
}
