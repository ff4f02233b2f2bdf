import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { templateProjectDir } from '@cutroom/template';
import { buildApp, type AppDeps } from '../app.js';
import { allowedOrigins, loadConfig, modelProvider } from '../config.js';
import { createMediaStore } from '../media/media-store.js';
import { createProjectRepos, type ProjectRepos } from '../repos/project-repos.js';
import { createAuthService } from '../auth/auth-service.js';
import { createExportService } from '../exports/export-service.js';
import { createMediaCollector } from '../media/media-gc.js';
import { createInstaller } from '../packages/installer.js';
import { createUserSockets } from '../ws/user-sockets.js';
import type { TestClient } from './ws-client.js';
import type { SandboxDriver } from '../sessions/drivers/driver.js';
import { createDriver } from '../sessions/drivers/registry.js';
import { createPreviewProxy } from '../sessions/preview-proxy.js';
import { createPreviewTokens } from '../sessions/preview-tokens.js';
import { type SessionManager, createSessionManager } from '../sessions/session-manager.js';
import { createAgentStateStore } from '../agent/agent-state.js';
import { createModelProxy } from '../agent/model-proxy.js';
import { type Store, openStore } from '../store/store.js';

/** One Vite dependency cache for every test server of a run (as one server shares it across sandboxes). */
const sharedViteCache = path.join(os.tmpdir(), 'cutroom-test-vite-deps');
/** One package store for the run's servers, as one machine has (a package is fetched once per run). */
export const sharedTestPackages = path.join(os.tmpdir(), 'cutroom-test-packages');

/**
 * A real server (real PGlite, real git, real HTTP) on an ephemeral port with its own
 * data folder, for integration tests. `request` sends what a browser on the app's own
 * origin would send; pass `origin: null` to leave the header out.
 */
export async function startTestServer(
  options: {
    environment?: Record<string, string>;
    authLimits?: AppDeps['authLimits'];
    /** Wrap the real parts, to inject failures. */
    repos?: (repos: ProjectRepos) => ProjectRepos;
    store?: (store: Store) => Store;
    /** Run real live sessions (local driver, session manager, preview proxy). */
    sessions?: { graceMs?: number; poolSize?: number; idleMs?: number; tokenTtlMs?: number; maxPerUser?: number };
    /**
     * Exports are always wired (as main.ts does); thumbnails only render when asked for
     * here, so other tests do not pay for a render per project.
     */
    exports?: { thumbnails?: boolean };
    /** Smaller import limits (project-import.ts), to reach each with a small archive. */
    importLimits?: AppDeps['importLimits'];
  } = {},
) {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-server-'));
  const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', ...options.environment });
  const realStore = await openStore(config.store);
  const store = options.store ? options.store(realStore) : realStore;
  const baseRepos = createProjectRepos({ reposDir: path.join(dataDir, 'repos'), templateDir: templateProjectDir, maxFileBytes: config.agentLimits.maxFileBytes, media: createMediaStore(config.storageUrl) });
  const repos = options.repos ? options.repos(baseRepos) : baseRepos;
  let origins = new Set<string>();
  const logger = pino({ level: process.env.TEST_SERVER_LOG ?? 'silent' });
  const auth = createAuthService(store, options.authLimits);
  let previewPort = 0;
  let sessions: SessionManager | undefined;
  let driver: SandboxDriver | undefined;
  // The model proxy and the agent's state, as main.ts wires them (the provider comes
  // from `environment`, e.g. ANTHROPIC_BASE_URL of a scripted model server).
  const provider = modelProvider(config);
  const modelProxy = createModelProxy({ provider, logger: pino({ level: 'silent' }), maxTokens: config.modelMaxTokens });
  const agentState = createAgentStateStore(path.join(dataDir, 'agent-state'));
  const userSockets = createUserSockets();
  const installer = createInstaller({ dataDir, packagesDir: sharedTestPackages, logger });
  const exports = createExportService({
    installer,
    store,
    repos,
    logger,
    dataDir,
    storageUrl: config.storageUrl,
    chromiumPath: config.chromiumPath,
    concurrency: config.exportConcurrency,
    perUserConcurrency: config.exportConcurrencyPerUser,
    bundleCacheMaxBytes: config.bundleCacheMaxBytes,
    notify: userSockets.send,
    thumbnails: options.exports?.thumbnails ?? false,
  });
  await exports.start();
  if (options.sessions) {
    // The driver SANDBOX_DRIVER names (`environment`), as main.ts builds it; one Vite cache for the run.
    driver = createDriver(config, logger, { sharedCacheDir: sharedViteCache });
    sessions = createSessionManager({
      driver,
      repos,
      tokens: createPreviewTokens({ ttlMs: options.sessions.tokenTtlMs ?? 60_000 }),
      logger,
      graceMs: options.sessions.graceMs ?? 30_000,
      idleMs: options.sessions.idleMs ?? 30 * 60_000,
      poolSize: options.sessions.poolSize ?? 0,
      maxPerUser: options.sessions.maxPerUser ?? 8,
      maxTotal: 60,
      previewOrigin: () => `http://127.0.0.1:${previewPort}`,
      boots: { concurrency: config.sandbox.bootConcurrency, admitMb: config.sandbox.admitMb },
      installer,
      chat: { store, repos, agentState, provider, modelProxy, limits: config.agentLimits, logger, onNewVersion: exports.versionLanded, frames: exports },
    });
  }
  const previewServer = sessions
    ? createPreviewProxy({ sessions, userForCookie: (header) => auth.userIdForCookieHeader(header), logger })
    : undefined;
  // Collections right after a deletion, and a grace of a minute (tests age files to pass it).
  const mediaCollector = createMediaCollector({ repos, projectIds: () => store.projects.allIds(), logger, graceMs: 60_000, afterDeleteMs: 0 });
  const app = await buildApp({
    mediaCollector,
    config,
    store,
    repos,
    logger,
    version: '0.0.0-test',
    allowedOrigins: () => origins,
    auth,
    sessions,
    agentState,
    exports,
    userSockets,
    importLimits: options.importLimits,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  origins = allowedOrigins(config, port);
  const baseUrl = `http://127.0.0.1:${port}`;
  if (previewServer) {
    await new Promise<void>((resolve) => previewServer.listen(0, '127.0.0.1', resolve));
    const previewAddress = previewServer.address();
    previewPort = typeof previewAddress === 'object' && previewAddress ? previewAddress.port : 0;
    sessions!.start();
  }

  async function request(
    method: string,
    url: string,
    init: { body?: unknown; raw?: string | Buffer; cookie?: string; origin?: string | null; headers?: Record<string, string> } = {},
  ) {
    const headers: Record<string, string> = { ...init.headers };
    if (init.origin !== null) headers.origin = init.origin ?? baseUrl;
    if (init.cookie) headers.cookie = init.cookie;
    let body: string | Buffer | undefined;
    if (init.raw !== undefined) body = init.raw;
    else if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(baseUrl + url, { method, headers, body });
    const text = await response.text();
    let json: any = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, json, text };
  }

  /** Signs up a fresh user and returns its cookie header. */
  async function signup(email = `user-${Math.random().toString(36).slice(2)}@example.com`, password = 'correct horse battery') {
    const response = await request('POST', '/api/auth/signup', { body: { email, password, name: 'Test User' } });
    if (response.status !== 201) throw new Error(`signup failed: ${response.status} ${response.text}`);
    const setCookie = response.headers.get('set-cookie') ?? '';
    return { cookie: setCookie.split(';', 1)[0]!, user: response.json.user as { id: string; email: string }, setCookie };
  }

  /** Signs up a fresh user who owns one new project. */
  async function signupWithProject(name = 'Project') {
    const account = await signup();
    const created = await request('POST', '/api/projects', { cookie: account.cookie, body: { name } });
    if (created.status !== 201) throw new Error(`create failed: ${created.status} ${created.text}`);
    return { ...account, projectId: created.json.project.id as string };
  }

  /**
   * Makes a project's files what `write` leaves in a checkout of its current version, as
   * a new version that becomes its current one (what a turn would do).
   */
  async function commitProjectFiles(owner: { user: { id: string }; projectId: string }, message: string, write: (dir: string) => Promise<void>) {
    const workspace = await mkdtemp(path.join(os.tmpdir(), 'cutroom-test-files-'));
    try {
      await repos.checkout(owner.projectId, workspace);
      await write(workspace);
      const result = await repos.commitWorkspace(owner.projectId, workspace, { message, author: 'user' });
      await store.projects.update(owner.user.id, owner.projectId, { currentVersion: result.version });
      return result.version;
    } finally {
      await rm(workspace, { recursive: true, force: true });
    }
  }

  /**
   * Exports the owner's project and waits on the owner's socket until the export ends;
   * `file` is where a finished one is stored.
   */
  async function exportProject(owner: { cookie: string; projectId: string }, socket: TestClient, body: { format: string } & Record<string, unknown>) {
    const created = await request('POST', `/api/projects/${owner.projectId}/exports`, { cookie: owner.cookie, body });
    if (created.status !== 201) throw new Error(`the export did not start: ${created.status} ${created.text}`);
    const id = created.json.export.id as string;
    const end = (await socket.next(
      (message: { type: string; export?: { id: string; status: string } }) =>
        message.type === 'export:progress' && message.export?.id === id && ['done', 'failed', 'cancelled'].includes(message.export.status),
      280_000,
    )) as { export: { status: string; error: string | null } };
    return { id, end: end.export, file: path.join(dataDir, 'storage', 'exports', owner.projectId, `${id}.${body.format}`) };
  }

  return {
    app,
    signupWithProject,
    commitProjectFiles,
    exportProject,
    installer,
    store,
    repos,
    config,
    dataDir,
    baseUrl,
    port,
    request,
    signup,
    sessions,
    driver,
    exports,
    userSockets,
    mediaCollector,
    get previewOrigin() {
      return `http://127.0.0.1:${previewPort}`;
    },
    async close() {
      previewServer?.close();
      previewServer?.closeAllConnections();
      await app.close();
      await exports.close();
      await mediaCollector.close();
      await sessions?.close();
      await modelProxy.close();
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export type TestServer = Awaited<ReturnType<typeof startTestServer>>;
