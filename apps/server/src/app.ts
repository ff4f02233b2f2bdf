import { randomUUID } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { MAX_FRAME_PAYLOAD_BYTES, type User } from '@cutroom/protocol';
import { type AuthService, SESSION_COOKIE, createAuthService } from './auth/auth-service.js';
import type { AgentStateStore } from './agent/agent-state.js';
import { type Config, NO_PROVIDER, modelProvider, previewOrigin } from './config.js';
import { registerApiRoutes } from './http/api-routes.js';
import { installErrorHandling } from './http/error-handler.js';
import { createHandlers } from './http/handlers.js';
import type { ExportService } from './exports/export-service.js';
import type { MediaCollector } from './media/media-gc.js';
import { registerExportFileRoutes } from './exports/export-routes.js';
import { createAssetService } from './media/asset-service.js';
import { registerAssetRoutes } from './media/asset-routes.js';
import { registerArchiveRoute } from './projects/archive-route.js';
import { registerImportRoute } from './projects/import-route.js';
import type { ImportLimits } from './projects/project-import.js';
import { installOriginGuard } from './http/origin-guard.js';
import { registerWebApp } from './http/web-app.js';
import { createProjectService } from './projects/project-service.js';
import type { ProjectRepos } from './repos/project-repos.js';
import type { SessionManager } from './sessions/session-manager.js';
import { errorWithoutQueryValues } from './store/database-error.js';
import type { Store } from './store/store.js';
import { registerGateway } from './ws/gateway.js';
import type { UserSockets } from './ws/user-sockets.js';

/** Largest REST body accepted, in bytes. */
export const BODY_LIMIT = 64 * 1024;

export type AppDeps = {
  config: Config;
  store: Store;
  repos: ProjectRepos;
  logger: Logger;
  version: string;
  /** Origins allowed to change state; computed once the listen port is known. */
  allowedOrigins: () => Set<string>;
  authLimits?: Parameters<typeof createAuthService>[1];
  auth?: AuthService;
  /** Live sessions; without it, `session:start` answers `sessions_unavailable`. */
  sessions?: SessionManager;
  /** The agents' saved conversations (removed with their project). */
  agentState?: AgentStateStore;
  /** Exports and thumbnails; without it the export routes answer 404. */
  exports?: ExportService;
  /** Open /ws connections by user, for the user's own events (exports, thumbnails). */
  userSockets?: UserSockets;
  /** Smaller limits for project imports than project-import.ts's constants (tests). */
  importLimits?: Partial<ImportLimits>;
  /** Removes media no version pins (run a little after a project is deleted). */
  mediaCollector?: MediaCollector;
};

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Builds the HTTP app (REST, WebSocket, web UI) without listening. */
export async function buildApp(deps: AppDeps) {
  const { config, store, repos } = deps;
  // Whatever error a handler logs, the values of a failed SQL statement stay out of the log.
  const logger = deps.logger.child({}, { serializers: { err: errorWithoutQueryValues } });
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Only a configured proxy may say who the client is (X-Forwarded-For); rate limits use request.ip.
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    bodyLimit: BODY_LIMIT,
    requestIdHeader: false,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
  });

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'same-origin');
    reply.header('x-frame-options', 'DENY');
    // A route that sets its own (stored media: `sandbox`) keeps it.
    if (!reply.hasHeader('content-security-policy')) reply.header(
      'content-security-policy',
      [
        "default-src 'self'",
        "img-src 'self' data: blob:",
        "style-src 'self' 'unsafe-inline'",
        "script-src 'self'",
        "connect-src 'self'",
        `frame-src ${previewOrigin(config)}`,
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
      ].join('; '),
    );
  });

  installErrorHandling(app);
  await app.register(fastifyCookie);
  // Past this the connection is closed with 1009; smaller oversized frames get `frame_too_large` (ws/gateway.ts).
  // A socket error (an oversized frame, a bad opcode) is logged, and the connection torn
  // down only after a moment, not at once (the plugin's default): `ws` has already begun
  // the close handshake with the right code (1009, 1002), and a reset at once could reach
  // the client before that close frame, leaving it only 1006. The moment is short, so a
  // client that never answers the close cannot keep the connection for `ws`'s 30 s.
  await app.register(fastifyWebsocket, {
    options: { maxPayload: MAX_FRAME_PAYLOAD_BYTES },
    errorHandler: (error, socket, request) => {
      request.log.warn({ err: error }, 'websocket closed on a protocol error');
      if (socket.readyState === socket.OPEN) socket.close(1011);
      setTimeout(() => socket.terminate(), 2_000).unref();
    },
  });
  installOriginGuard(app, deps.allowedOrigins);

  const auth = deps.auth ?? createAuthService(store, deps.authLimits);
  const exports = deps.exports;
  const onNewVersion = exports ? exports.versionLanded : undefined;
  const projects = createProjectService({
    store,
    repos,
    logger,
    agentState: deps.agentState,
    onNewVersion,
    onDeleted: async (projectId) => {
      deps.mediaCollector?.projectDeleted();
      await exports?.projectDeleted(projectId);
    },
    sessions: deps.sessions,
    maxPerUser: config.projectsMaxPerUser,
  });
  const provider = modelProvider(config);
  const currentUser = async (request: FastifyRequest): Promise<User | null> =>
    auth.userForToken(request.cookies[SESSION_COOKIE]);

  registerApiRoutes(app, createHandlers({
      store,
      auth,
      projects,
      version: deps.version,
      cookieSecure: config.cookieSecure,
      agent: {
        runner: provider.runner,
        configured: provider.configured,
        message: provider.message,
        publicMessage: provider.configured ? 'A model provider is configured.' : NO_PROVIDER,
      },
      repos,
      sessions: deps.sessions,
      onNewVersion,
      exports,
    }), currentUser);
  if (exports) registerExportFileRoutes(app, { exports, currentUser });
  registerArchiveRoute(app, { projects, repos, currentUser });
  if (repos.media) {
    const assets = createAssetService({ store, repos, media: repos.media, limits: config.mediaLimits, logger, sessions: deps.sessions, onNewVersion });
    await registerAssetRoutes(app, { assets, projects, currentUser, dataDir: config.dataDir });
  }
  await registerImportRoute(app, {
    projects,
    currentUser,
    dataDir: config.dataDir,
    limits: deps.importLimits,
    git: { allowLoopback: config.importGitAllowLoopback },
  });
  registerGateway(app, { projects, currentUser, sessions: deps.sessions, userSockets: deps.userSockets });
  await registerWebApp(app, config.webDistDir);

  const housekeeping = setInterval(() => {
    auth.prune().catch((error: unknown) => logger.warn({ err: error }, 'auth housekeeping failed'));
  }, 10 * 60_000);
  housekeeping.unref();
  app.addHook('onClose', async () => clearInterval(housekeeping));

  return app;
}
