import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import { pino } from 'pino';
import { templateProjectDir } from '@cutroom/template';
import { buildApp } from './app.js';
import { secureDataDir } from './data-dir-permissions.js';
import { createAuthService } from './auth/auth-service.js';
import { createAgentStateStore } from './agent/agent-state.js';
import { createModelProxy } from './agent/model-proxy.js';
import { recoverSandboxWork } from './agent/recovery.js';
import { ConfigError, allowedOrigins, loadConfig, modelProvider, previewOrigin } from './config.js';
import { createExportService } from './exports/export-service.js';
import { createInstaller } from './packages/installer.js';
import { createMediaCollector } from './media/media-gc.js';
import { createMediaStore } from './media/media-store.js';
import { createProjectRepos } from './repos/project-repos.js';
import { createDriver, dockerRenderSettings, logConfinement } from './sessions/drivers/registry.js';
import { createPreviewProxy } from './sessions/preview-proxy.js';
import { createPreviewTokens } from './sessions/preview-tokens.js';
import { createSessionManager } from './sessions/session-manager.js';
import { errorWithoutQueryValues } from './store/database-error.js';
import { openStore } from './store/store.js';
import { createUserSockets } from './ws/user-sockets.js';

const version = (
  JSON.parse(readFileSync(path.resolve(import.meta.dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

const listenPort = (server: Server, fallback: number) => {
  const address = server.address();
  return address && typeof address === 'object' ? address.port : fallback;
};

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }

  const logger = pino({
    level: config.logLevel,
    redact: ['req.headers.cookie', 'req.headers.authorization', 'res.headers["set-cookie"]'],
    // A failed statement's values (password hashes, chat text) never reach a log line.
    serializers: { err: errorWithoutQueryValues },
  });
  logger.info({ store: config.store.kind, dataDir: config.dataDir, version }, 'starting Cutroom');
  // Before anything writes there: sandboxes run as other users and must not read it.
  await secureDataDir(config.dataDir, logger);

  const store = await openStore(config.store);
  const repos = createProjectRepos({ reposDir: path.join(config.dataDir, 'repos'), templateDir: templateProjectDir, maxFileBytes: config.agentLimits.maxFileBytes, media: createMediaStore(config.storageUrl) });
  await repos.media?.sweep();
  const swept = await repos.sweep(await store.projects.allIds());
  if (swept.removed.length) logger.info({ removed: swept.removed }, 'removed leftovers of interrupted operations');
  if (swept.orphans.length) logger.warn({ orphans: swept.orphans }, 'repos that no project owns (kept; check DATABASE_URL)');
  // Media no version pins (a deleted project's): removed in the background, now and after deletions.
  const mediaCollector = createMediaCollector({ repos, projectIds: () => store.projects.allIds(), logger: logger.child({ component: 'media-gc' }) });
  void mediaCollector.run().catch(() => {});

  const driver = createDriver(config, logger);
  // Which wall holds project code here, said once at start (a warning when it is none).
  logConfinement(driver, logger);
  // No session survives a restart: every sandbox on disk is an orphan now. What a crash
  // left in a project's working copy is saved as a version first.
  await driver.reap((orphan) => recoverSandboxWork({ store, repos, logger: logger.child({ component: 'recovery' }) }, orphan));

  const userSockets = createUserSockets();
  const dockerRenders = dockerRenderSettings(config);
  // Projects' own packages, installed once per machine (packages/installer.ts).
  const installer = createInstaller({ dataDir: config.dataDir, logger: logger.child({ component: 'installer' }) });
  const exports = createExportService({
    installer,
    store,
    repos,
    logger: logger.child({ component: 'exports' }),
    dataDir: config.dataDir,
    storageUrl: config.storageUrl,
    chromiumPath: config.chromiumPath,
    concurrency: config.exportConcurrency,
    perUserConcurrency: config.exportConcurrencyPerUser,
    bundleCacheMaxBytes: config.bundleCacheMaxBytes,
    // Renders run behind the same wall as sessions: with docker, in containers of the same engine and image, under this server's label.
    sandboxDriver: config.sandboxDriver,
    ...(dockerRenders ? { dockerRenders } : {}),
    notify: userSockets.send,
  });
  // Renders a crash interrupted are failed and their processes reaped; missing thumbnails are queued.
  await exports.start();

  let appPort = config.port;
  let previewPort = config.previewPort;
  const auth = createAuthService(store);
  const provider = modelProvider(config);
  const modelProxy = createModelProxy({ provider, logger: logger.child({ component: 'model-proxy' }), maxTokens: config.modelMaxTokens });
  const agentState = createAgentStateStore(path.join(config.dataDir, 'agent-state'));
  const sessions = createSessionManager({
    driver,
    repos,
    tokens: createPreviewTokens({ ttlMs: config.previewTokenTtlMs }),
    logger: logger.child({ component: 'sessions' }),
    graceMs: config.sessionGraceMs,
    idleMs: config.sessionIdleMs,
    poolSize: config.sessionPoolSize,
    maxPerUser: config.sessionMaxPerUser,
    maxTotal: config.sessionMax,
    previewOrigin: () => previewOrigin(config, previewPort),
    boots: { concurrency: config.sandbox.bootConcurrency, admitMb: config.sandbox.admitMb },
    installer,
    chat: { store, repos, agentState, provider, modelProxy, shell: config.agentShell, limits: config.agentLimits, logger: logger.child({ component: 'chat' }), onNewVersion: exports.versionLanded, frames: exports },
  });
  let origins = allowedOrigins(config, appPort);
  const app = await buildApp({ config, store, repos, logger, version, auth, sessions, agentState, exports, userSockets, mediaCollector, allowedOrigins: () => origins });
  const previewServer = createPreviewProxy({
    sessions,
    userForCookie: (header) => auth.userIdForCookieHeader(header),
    logger: logger.child({ component: 'preview-proxy' }),
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, 15_000);
    force.unref();
    try {
      previewServer.close();
      previewServer.closeAllConnections();
      await app.close();
      await exports.close();
      await mediaCollector.close();
      await sessions.close();
      await modelProxy.close();
      await store.close();
      logger.info('stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'error while shutting down');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  await app.listen({ port: config.port, host: config.host });
  appPort = listenPort(app.server, config.port);
  origins = allowedOrigins(config, appPort);
  await new Promise<void>((resolve, reject) => {
    previewServer.once('error', reject);
    previewServer.listen(config.previewPort, config.host, resolve);
  });
  previewPort = listenPort(previewServer, config.previewPort);
  sessions.start();

  if (provider.configured) logger.info({ runner: provider.runner, provider: provider.message }, 'agent ready');
  else logger.warn(provider.message);
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${appPort}`;
  logger.info({ url, preview: previewOrigin(config, previewPort), sandboxDriver: driver.name }, 'Cutroom is ready');
  if (process.stderr.isTTY) process.stderr.write(`\n  Cutroom is running at ${url}\n\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`Cutroom could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
