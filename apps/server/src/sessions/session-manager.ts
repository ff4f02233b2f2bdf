import type { Logger } from 'pino';
import { type ChatDeps, ChatRefusal } from '../agent/turns.js';
import { AppError } from '../errors.js';
import type { ProjectRepos } from '../repos/project-repos.js';
import { ensureServerNotNiced } from './admission.js';
import type { SandboxDriver } from './drivers/driver.js';
import { type LivePreview, findLivePreview } from './preview-access.js';
import type { PreviewTokens } from './preview-tokens.js';
import { createRestoreHolds } from './restore-holds.js';
import type { Installer } from '../packages/installer.js';
import { type SessionBootSettings, createSessionBoot } from './session-boot.js';
import { createSessionPackages } from './session-packages.js';
import { type SessionClient, createSessionLife } from './session-life.js';

export type { SessionClient } from './session-life.js';

export class SessionLimitError extends Error {
  override name = 'SessionLimitError';
}

export type SessionManagerSettings = {
  driver: SandboxDriver;
  repos: ProjectRepos;
  tokens: PreviewTokens;
  logger: Logger;
  graceMs: number;
  idleMs: number;
  poolSize: number;
  /** Live sessions one user may have at once, and all users together. */
  maxPerUser: number;
  maxTotal: number;
  /** Origin of the preview proxy, e.g. `http://127.0.0.1:8090`. */
  previewOrigin: () => string;
  /** The agent's chat; without it `message:send` is refused. */
  chat?: ChatDeps;
  /** Boots at once and the memory a boot needs (see session-boot.ts). */
  boots?: SessionBootSettings['boots'];
  /** Installs projects' packages (without it, a project gets Cutroom's packages only). */
  installer?: Installer;
};

/**
 * Sessions: one live sandbox per project and user, shared by that user's tabs. A client
 * that reconnects with its `sessionId` and `lastSeq` gets exactly what it missed; any
 * other client (a new tab, another session, a server that restarted) gets a snapshot,
 * marked as such, never a silent gap.
 *
 * The public face of the sessions, wiring their parts: session-life.ts (the record, its
 * lifecycle and event stream, grace and the idle cull, the end), session-boot.ts (taking
 * and booting a sandbox, crashes and restarts: the one place a driver plugs into),
 * restore-holds.ts (restores under live sessions) and preview-access.ts (what may see a
 * sandbox's preview). Dependencies go one way: this file → boot, restore → life → the
 * chat (agent/turns.ts), which only emits events back.
 */
export function createSessionManager(settings: SessionManagerSettings) {
  const { driver, repos, tokens, logger } = settings;
  const life = createSessionLife({
    driver,
    tokens,
    logger,
    graceMs: settings.graceMs,
    idleMs: settings.idleMs,
    previewOrigin: settings.previewOrigin,
    ...(settings.chat ? { chat: settings.chat } : {}),
  });
  const packages = settings.installer ? createSessionPackages({ installer: settings.installer, driver, logger: logger.child({ component: 'packages' }) }) : undefined;
  const boot = createSessionBoot({
    driver,
    repos,
    logger,
    life,
    poolSize: settings.poolSize,
    ...(settings.boots ? { boots: settings.boots } : {}),
    ...(packages ? { packages } : {}),
  });
  const restores = createRestoreHolds({ driver, repos, logger, life });
  let closed = false;
  /** Projects being (or already) deleted: no session of theirs may start (a tab may have looked the project up just before). */
  const deletedProjects = new Set<string>();

  return {
    /** Starts the warm pool. */
    start() {
      ensureServerNotNiced(logger);
      boot.fillPool();
    },

    /**
     * Joins `client` to the project's session, starting one if there is none. A client
     * that names the live session and a `lastSeq` it still holds gets exactly what it
     * missed; any other gets a snapshot. `session:joined` says which, and where the
     * client now is.
     */
    attach(client: SessionClient, project: { id: string; ownerId: string }, resume: { lastSeq?: number; sessionId?: string } = {}) {
      if (closed) throw new Error('the session manager is closed');
      if (deletedProjects.has(project.id)) throw new AppError('not_found', 'That project was not found.', 404);
      this.detach(client);
      life.forgetEnded(client);
      let session = life.forProject(project.id, client.userId);
      const isNew = !session;
      if (!session) {
        const mine = [...life.sessions.values()].filter((candidate) => candidate.ownerId === client.userId).length;
        if (mine >= settings.maxPerUser || life.sessions.size >= settings.maxTotal) {
          throw new SessionLimitError(
            mine >= settings.maxPerUser
              ? `You have ${mine} live previews open. Close one of them (its tab) and try again in a minute.`
              : 'Cutroom is at capacity right now. Try again in a minute.',
          );
        }
        session = life.open(project, client.userId);
      }
      const replay = life.join(session, client, resume, isNew);
      if (isNew) {
        life.emit(session, { type: 'session:status', state: 'starting' });
        boot.start(session);
      }
      client.send({ type: 'session:joined', sessionId: session.id, state: session.state, replay, lastSeq: session.events.lastSeq() });
      if (session.place) boot.tellPlace(session, client);
      return { sessionId: session.id, replay };
    },

    /** The client left (closed its tab, lost its connection or sent `session:end`). */
    detach(client: SessionClient) {
      life.leave(client);
    },

    /** Starts the client's session again in a fresh sandbox (after an error, say). */
    restart(client: SessionClient) {
      const session = life.forClient(client);
      if (!session) return false;
      boot.restart(session);
      return true;
    },

    /**
     * A chat message from a tab: saved, then queued for the agent. Throws ChatRefusal
     * (nothing saved) when it cannot be taken.
     */
    async sendMessage(client: SessionClient, message: { text: string; clientMessageId: string; autoFix?: boolean }) {
      const session = life.forClient(client);
      if (!session) {
        const ended = life.endedFor(client);
        throw new ChatRefusal('no_session', ended ? `This session has ended (${ended}) Nothing was sent.` : 'Open the project first (session:start).');
      }
      if (!session.chat) throw new ChatRefusal('agent_unavailable', 'Chat with the agent is switched off on this server.');
      if (session.state === 'stopped') throw new ChatRefusal('no_session', 'This session has ended. Reopen the project.');
      session.lastActivity = Date.now();
      return session.chat.send(message);
    },

    /** Stops the running turn of the client's session; false when there is none. */
    cancelTurn(client: SessionClient) {
      return life.forClient(client)?.chat?.cancel() ?? false;
    },

    touch(client: SessionClient) {
      const session = life.forClient(client);
      if (session) session.lastActivity = Date.now();
    },

    /** The live session a sandbox serves, for the preview proxy (see preview-access.ts); marks it active. */
    livePreview(sandboxId: string): LivePreview | null {
      return findLivePreview(life.sessions.values(), sandboxId);
    },

    /** Signs and checks preview links and cookies. */
    previewTokens: tokens,

    /** See restore-holds.ts: a restore, with the project's sessions held still. */
    changeVersion: restores.changeVersion,

    /** See restore-holds.ts: files added to the project's working copies (a media upload), nothing held. */
    addFiles: restores.addFiles,

    /**
     * The project is being deleted: its sessions (every user's) end now, telling their
     * tabs, without saving anything more of them, and none may start until `release`
     * (called when the deletion failed and the project stays). Resolves when their
     * sandboxes are gone and their chats closed (no agent state is written after it).
     */
    async closeProject(projectId: string) {
      deletedProjects.add(projectId);
      const ending = [...life.sessions.values()].filter((session) => session.projectId === projectId);
      await Promise.all(ending.map((session) => life.end(session, 'This project was deleted.', { discard: true })));
      // A boot under way sees its session stopped and destroys its sandbox.
      await Promise.allSettled(ending.map((session) => session.booted));
      logger.info({ projectId, ended: ending.map((session) => session.id) }, 'sessions of a deleted project ended');
      let released = false;
      return {
        release() {
          if (!released) deletedProjects.delete(projectId);
          released = true;
        },
      };
    },

    /** For tests and diagnostics. */
    list() {
      return [...life.sessions.values()].map((session) => ({
        id: session.id,
        projectId: session.projectId,
        state: session.state,
        clients: session.clients.size,
        sandboxId: session.sandbox?.id ?? null,
        pid: session.sandbox?.pid ?? null,
        preview: session.sandbox?.preview ?? null,
      }));
    },

    async close() {
      closed = true;
      life.stopCull();
      // Nothing still in line starts now (a refill included); boots under way finish.
      boot.stop();
      await Promise.all([...life.sessions.values()].map((session) => life.end(session, 'The server is shutting down.')));
      // Boots in flight see their session stopped and destroy what they started.
      await boot.drain();
    },
  };
}

export type SessionManager = ReturnType<typeof createSessionManager>;
