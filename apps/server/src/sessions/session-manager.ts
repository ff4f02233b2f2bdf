import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ErrorCode, ServerMessage, SessionState } from '@cutroom/protocol';
import { type Chat, type ChatDeps, type ChatEvent, ChatRefusal, createChat } from '../agent/turns.js';
import { AppError } from '../errors.js';
import type { ProjectRepos } from '../repos/project-repos.js';
import { type BridgeClient, connectBridge } from './bridge-client.js';
import type { Sandbox, SandboxDriver } from './driver.js';
import type { PreviewTokens } from './preview-tokens.js';
import { createWarmPool } from './warm-pool.js';
import { copyWorkspace } from './workspace.js';

/** Thrown inside a boot that a newer boot (a restart) or an end has replaced. */
class SupersededBoot extends Error {}

export class SessionLimitError extends Error {
  override name = 'SessionLimitError';
}

/** A browser tab's WebSocket, as the manager sees it. */
export type SessionClient = { userId: string; send(message: ServerMessage): void };

type StoredEvent =
  | { type: 'session:status'; seq: number; state: SessionState; reason?: string }
  | { type: 'session:ready'; seq: number }
  | { type: 'session:ended'; seq: number; reason: string }
  | { type: 'error'; seq: number; code: ErrorCode; message: string }
  | (ChatEvent & { seq: number });

/** An event before it gets its number (Omit, distributed over the union). */
type NewEvent = StoredEvent extends infer Event ? (Event extends StoredEvent ? Omit<Event, 'seq'> : never) : never;

type Session = {
  id: string;
  projectId: string;
  ownerId: string;
  state: SessionState;
  sandbox: Sandbox | null;
  /** The sandbox a restart replaces (crashed or not): its working copy goes into the next one. */
  previous: Sandbox | null;
  /** Incremented by every boot: a boot that is no longer the latest gives up. */
  bootId: number;
  bridge: BridgeClient | null;
  clients: Set<SessionClient>;
  events: StoredEvent[];
  graceTimer: NodeJS.Timeout | null;
  lastActivity: number;
  /** Preview tokens already used: they keep working (page reloads) while the session lives. */
  redeemedTokens: Set<string>;
  /** The chat with the agent (absent where the server runs without one). */
  chat: Chat | null;
  /** Changes of version (restores) under way: no turn starts while there are any. */
  versionHolds: number;
};

const chatEventTypes = new Set(['message:saved', 'agent:turn', 'agent:message', 'agent:complete']);
const isChatEvent = (event: StoredEvent) => chatEventTypes.has(event.type);

/** Allowed moves of the lifecycle; anything else is a bug and throws. */
const transitions: Record<SessionState, SessionState[]> = {
  starting: ['running', 'error', 'stopped'],
  running: ['grace', 'error', 'stopped', 'starting'],
  grace: ['running', 'error', 'stopped', 'starting'],
  error: ['starting', 'stopped'],
  stopped: [],
};

const MAX_EVENTS = 5_000;

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
};

/**
 * Sessions: one live sandbox per project and user, shared by that user's tabs.
 * Lifecycle `starting → running ⇄ grace → stopped`, with `error` (restartable) from any
 * live state. Every event a session emits gets a `seq` from one counter, so a client
 * that reconnects with `lastSeq` gets exactly what it missed, even across a new session.
 */
export function createSessionManager(settings: SessionManagerSettings) {
  const { driver, repos, tokens, logger } = settings;
  const sessions = new Map<string, Session>();
  const byProject = new Map<string, Session>();
  const clientSessions = new Map<SessionClient, Session>();
  /** Sessions being ended, by project and user: their last turn is still being saved. */
  const closingProjects = new Map<string, Promise<void>>();
  const pool = createWarmPool({ driver, size: settings.poolSize, logger });
  /** Boots under way: `close` waits for them, so none outlives it. */
  const inFlight = new Set<Promise<unknown>>();
  const track = <T>(work: Promise<T>) => {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
    return work;
  };
  let closed = false;
  let seq = 0;

  const projectKey = (projectId: string, userId: string) => `${projectId}:${userId}`;

  function deliver(session: Session, event: StoredEvent, client: SessionClient) {
    if (event.type === 'session:ready') {
      if (!session.sandbox) return;
      const token = tokens.issue(session.sandbox.id, session.ownerId);
      const previewUrl = `${settings.previewOrigin()}${session.sandbox.base}?t=${encodeURIComponent(token)}`;
      client.send({ type: 'session:ready', seq: event.seq, sessionId: session.id, previewUrl });
    } else {
      client.send({ ...event, sessionId: session.id } as ServerMessage);
    }
  }

  /** The session as it is now: its latest status and, while it runs, its latest ready. */
  function snapshot(session: Session): StoredEvent[] {
    const latest = (type: StoredEvent['type']) => session.events.findLast((event) => event.type === type);
    const status = latest('session:status');
    const ready = session.state === 'running' || session.state === 'grace' ? latest('session:ready') : undefined;
    const failure = session.state === 'error' ? latest('error') : undefined;
    // The chat as it is: the running turn so far and the messages still waiting.
    const liveFrom = session.chat?.liveFrom();
    const chat = liveFrom === undefined ? [] : session.events.filter((event) => event.seq >= liveFrom && isChatEvent(event));
    return [status, ready, failure, ...chat].filter((event): event is StoredEvent => event !== undefined).sort((a, b) => a.seq - b.seq);
  }

  function emit(session: Session, event: NewEvent) {
    const stored = { ...event, seq: ++seq } as StoredEvent;
    session.events.push(stored);
    if (session.events.length > MAX_EVENTS) session.events.splice(0, session.events.length - MAX_EVENTS);
    for (const client of session.clients) deliver(session, stored, client);
    return stored.seq;
  }

  function transition(session: Session, to: SessionState, reason?: string) {
    if (!transitions[session.state].includes(to)) {
      throw new Error(`session ${session.id}: no transition from ${session.state} to ${to}`);
    }
    logger.info({ sessionId: session.id, projectId: session.projectId, from: session.state, to, reason }, 'session state');
    if (session.graceTimer && to !== 'grace') {
      clearTimeout(session.graceTimer);
      session.graceTimer = null;
    }
    session.state = to;
    if (to === 'running') session.lastActivity = Date.now();
    emit(session, { type: 'session:status', state: to, ...(reason ? { reason } : {}) });
  }

  async function boot(session: Session) {
    const bootId = ++session.bootId;
    const current = () => session.bootId === bootId && session.state === 'starting';
    const started = performance.now();
    let sandbox: Sandbox | undefined;
    try {
      sandbox = await pool.take();
      if (!current()) throw new SupersededBoot();
      // Should the server die, the next start knows whose work this working copy holds.
      await driver.label(sandbox.id, { projectId: session.projectId, ownerId: session.ownerId });
      let version: string;
      const previous = session.previous;
      if (previous) {
        // A turn the old sandbox was in is saved (as a version) before its files move on.
        await session.chat?.settled();
        if (!current()) throw new SupersededBoot();
        // Edits not yet saved as a version live only in the working copy: keep them.
        version = await copyWorkspace(previous.workspace, sandbox.workspace);
        if (!current()) throw new SupersededBoot();
        // Only the latest boot consumes the previous sandbox.
        session.previous = null;
        void driver.destroy(previous.id).catch(() => {});
      } else {
        await closingProjects.get(projectKey(session.projectId, session.ownerId));
        if (!current()) throw new SupersededBoot();
        version = await repos.checkout(session.projectId, sandbox.workspace);
      }
      const bridge = await connectBridge(sandbox, {
        onMessage: (message) => {
          if (session.bridge === bridge) session.chat?.onSandboxMessage(message);
        },
      });
      await bridge.resetWorkspace();
      if (current()) await session.chat?.attachSandbox({ send: (message) => bridge.send(message), agentStateDir: sandbox.agentStateDir });
      if (!current()) {
        // Ended, or restarted again, while it booted.
        bridge.close();
        await driver.destroy(sandbox.id);
        return;
      }
      session.sandbox = sandbox;
      session.bridge = bridge;
      transition(session, 'running');
      emit(session, { type: 'session:ready' });
      session.chat?.resume();
      logger.info(
        { sessionId: session.id, sandboxId: sandbox.id, version, ms: Math.round(performance.now() - started) },
        'session ready',
      );
      if (session.clients.size === 0) enterGrace(session);
    } catch (error) {
      if (sandbox) await driver.destroy(sandbox.id).catch(() => {});
      if (error instanceof SupersededBoot || closed) return;
      logger.error({ err: error, sessionId: session.id }, 'session failed to start');
      if (current()) fail(session, 'The preview could not be started.');
    }
  }

  function fail(session: Session, message: string) {
    session.bridge?.close();
    session.bridge = null;
    transition(session, 'error', message);
    emit(session, { type: 'error', code: 'session_failed', message });
    if (session.clients.size === 0) endAfterGrace(session);
  }

  /** Nobody is watching a failed session: it goes when the grace period is over. */
  function endAfterGrace(session: Session) {
    if (session.graceTimer) clearTimeout(session.graceTimer);
    session.graceTimer = setTimeout(() => {
      // The agent is still at work for the user: let it finish (the idle cull still applies).
      if (session.state === 'grace' && session.chat?.busy()) return endAfterGrace(session);
      void end(session, 'The session ended after everyone left.');
    }, settings.graceMs);
    session.graceTimer.unref();
  }

  function enterGrace(session: Session) {
    if (session.state === 'error') return endAfterGrace(session);
    if (session.state !== 'running') return;
    transition(session, 'grace');
    endAfterGrace(session);
  }

  async function end(session: Session, reason: string) {
    if (session.state === 'stopped') return;
    if (session.graceTimer) clearTimeout(session.graceTimer);
    transition(session, 'stopped', reason);
    emit(session, { type: 'session:ended', reason });
    sessions.delete(session.id);
    if (byProject.get(projectKey(session.projectId, session.ownerId)) === session) {
      byProject.delete(projectKey(session.projectId, session.ownerId));
    }
    for (const client of session.clients) clientSessions.delete(client);
    session.clients.clear();
    const key = projectKey(session.projectId, session.ownerId);
    const closing = (async () => {
      // Nothing may write into the working copy while its last turn is saved: stop the
      // sandbox's processes (the agent with them) first, keeping its folders.
      const last = session.sandbox ?? session.previous;
      session.bridge?.close();
      if (session.sandbox) await driver.stop(session.sandbox.id).catch(() => {});
      await session.chat?.close(last ? { workspace: last.workspace, agentStateDir: last.agentStateDir } : null).catch((error: unknown) => {
        logger.error({ err: error, sessionId: session.id }, 'could not close the chat');
      });
      const sandboxes = [session.sandbox, session.previous];
      session.sandbox = null;
      session.previous = null;
      for (const sandbox of sandboxes) {
        if (sandbox) await driver.destroy(sandbox.id).catch((error: unknown) => logger.error({ err: error }, 'destroy failed'));
      }
    })();
    // A new session of the project checks out only after this one's last version is saved.
    closingProjects.set(key, closing);
    await closing;
    if (closingProjects.get(key) === closing) closingProjects.delete(key);
  }

  /**
   * After a restore: the session's working copy (its live sandbox's, or the one a restart
   * will carry over) gets the project's latest files, and its preview reloads. A working
   * copy that cannot be brought over would undo the restore with the next turn's commit,
   * so its session is ended instead (reopening checks the project out afresh).
   */
  async function bringToLatest(session: Session) {
    const live = session.state === 'running' || session.state === 'grace';
    const sandbox = live ? session.sandbox : session.state === 'error' ? session.previous : null;
    if (!sandbox) return;
    try {
      const version = await repos.syncWorkspace(session.projectId, sandbox.workspace);
      logger.info({ sessionId: session.id, projectId: session.projectId, version }, 'working copy moved to a restored version');
    } catch (error) {
      logger.error({ err: error, sessionId: session.id }, 'could not move the working copy to a restored version');
      await end(session, 'The project was restored to another version. Reopen it to go on.');
      return;
    }
    if (live && session.sandbox === sandbox) {
      await session.bridge?.resetWorkspace().catch((error: unknown) => {
        logger.warn({ err: error, sessionId: session.id }, 'the preview did not confirm the restored files');
      });
    }
  }

  driver.onExit((exit) => {
    if (pool.handleExit(exit) || exit.expected) return;
    for (const session of sessions.values()) {
      if (session.sandbox?.id === exit.id && (session.state === 'running' || session.state === 'grace')) {
        if (session.graceTimer) clearTimeout(session.graceTimer);
        const how = exit.signal ? `was killed (${exit.signal})` : `exited with code ${exit.code}`;
        session.previous = session.sandbox;
        session.sandbox = null;
        session.chat?.sandboxLost(session.previous);
        fail(session, `The preview process ${how}. Restart the session to go on.`);
      }
    }
  });

  const idleTimer = setInterval(() => {
    const now = Date.now();
    for (const session of sessions.values()) {
      // A session that is still starting is not idle: it is busy.
      if (session.state !== 'starting' && now - session.lastActivity > settings.idleMs) {
        logger.info({ sessionId: session.id }, 'culling an idle session');
        void end(session, 'The session was closed after a long time without activity.');
      }
    }
  }, Math.min(60_000, Math.max(1_000, settings.idleMs / 4)));
  idleTimer.unref();

  return {
    /** Starts the warm pool. */
    start() {
      void pool.fill();
    },

    /**
     * Joins `client` to the project's session, starting one if there is none. With
     * `lastSeq`, replays what the client missed; without, replays the whole stream.
     */
    attach(client: SessionClient, project: { id: string; ownerId: string }, lastSeq?: number) {
      if (closed) throw new Error('the session manager is closed');
      this.detach(client);
      let session = byProject.get(projectKey(project.id, client.userId));
      const isNew = !session;
      if (!session) {
        const mine = [...sessions.values()].filter((candidate) => candidate.ownerId === client.userId).length;
        if (mine >= settings.maxPerUser || sessions.size >= settings.maxTotal) {
          throw new SessionLimitError(
            mine >= settings.maxPerUser
              ? `You have ${mine} live previews open. Close one of them (its tab) and try again in a minute.`
              : 'Cutroom is at capacity right now. Try again in a minute.',
          );
        }
        session = {
          id: randomBytes(12).toString('base64url'),
          projectId: project.id,
          ownerId: project.ownerId,
          state: 'starting',
          sandbox: null,
          previous: null,
          bootId: 0,
          bridge: null,
          clients: new Set(),
          events: [],
          graceTimer: null,
          lastActivity: Date.now(),
          redeemedTokens: new Set(),
          chat: null,
          versionHolds: 0,
        };
        const created = session;
        if (settings.chat) {
          created.chat = createChat(settings.chat, {
            sessionId: created.id,
            projectId: created.projectId,
            ownerId: created.ownerId,
            emit: (event) => emit(created, event),
            sandbox: () =>
              created.sandbox && created.bridge && (created.state === 'running' || created.state === 'grace') && created.versionHolds === 0
                ? {
                    send: (message) => created.bridge?.send(message),
                    workspace: created.sandbox.workspace,
                    agentStateDir: created.sandbox.agentStateDir,
                  }
                : null,
          });
        }
        sessions.set(session.id, session);
        byProject.set(projectKey(project.id, client.userId), session);
      }
      session.clients.add(client);
      clientSessions.set(client, session);
      session.lastActivity = Date.now();
      const oldest = session.events[0]?.seq ?? seq + 1;
      if (lastSeq !== undefined && lastSeq >= oldest - 1) {
        // A reconnect: exactly what it missed.
        for (const event of session.events) if (event.seq > lastSeq) deliver(session, event, client);
      } else {
        // A new tab (or one too far behind): where the session is now, not its history.
        for (const event of snapshot(session)) deliver(session, event, client);
      }
      if (isNew) {
        emit(session, { type: 'session:status', state: 'starting' });
        void track(boot(session));
      } else if (session.state === 'grace') {
        transition(session, 'running');
      } else if (session.state === 'error' && session.graceTimer) {
        clearTimeout(session.graceTimer);
        session.graceTimer = null;
      }
      client.send({ type: 'session:joined', sessionId: session.id, state: session.state });
      return session.id;
    },

    /** The client left (closed its tab, lost its connection or sent `session:end`). */
    detach(client: SessionClient) {
      const session = clientSessions.get(client);
      if (!session) return;
      clientSessions.delete(client);
      session.clients.delete(client);
      if (session.clients.size === 0) enterGrace(session);
    },

    /** Starts the client's session again in a fresh sandbox (after an error, say). */
    restart(client: SessionClient) {
      const session = clientSessions.get(client);
      if (!session) return false;
      if (session.state === 'starting') return true;
      // Everything synchronous, so a second restart, an end or a detach that comes in
      // meanwhile sees the new state. The old sandbox's working copy goes into the new one.
      session.bridge?.close();
      session.bridge = null;
      if (session.sandbox) {
        if (session.previous) void driver.destroy(session.previous.id).catch(() => {});
        session.previous = session.sandbox;
        // Its agent may be mid-turn: stop it before that turn is saved and its files move on.
        session.chat?.sandboxLost(session.previous, driver.stop(session.previous.id));
      }
      session.sandbox = null;
      transition(session, 'starting');
      void track(boot(session));
      return true;
    },

    /**
     * A chat message from a tab: saved, then queued for the agent. Throws ChatRefusal
     * (nothing saved) when it cannot be taken.
     */
    async sendMessage(client: SessionClient, message: { text: string; clientMessageId: string; autoFix?: boolean }) {
      const session = clientSessions.get(client);
      if (!session) throw new ChatRefusal('no_session', 'Open the project first (session:start).');
      if (!session.chat) throw new ChatRefusal('agent_unavailable', 'Chat with the agent is switched off on this server.');
      if (session.state === 'stopped') throw new ChatRefusal('no_session', 'This session has ended. Reopen the project.');
      session.lastActivity = Date.now();
      return session.chat.send(message);
    },

    /** Stops the running turn of the client's session; false when there is none. */
    cancelTurn(client: SessionClient) {
      return clientSessions.get(client)?.chat?.cancel() ?? false;
    },

    touch(client: SessionClient) {
      const session = clientSessions.get(client);
      if (session) session.lastActivity = Date.now();
    },

    /**
     * Who may see a preview: the request names the sandbox (`/s/<id>/`); a page load
     * must carry a token of the session's owner; anything else only needs the session
     * to be live. A request that carries another user's app cookie is refused.
     */
    authorizePreview(sandboxId: string, request: { token?: string; cookieUserId?: string | null; isPage: boolean }) {
      const session = [...sessions.values()].find((candidate) => candidate.sandbox?.id === sandboxId);
      if (!session || !session.sandbox || (session.state !== 'running' && session.state !== 'grace')) {
        return { ok: false as const, status: 404, reason: 'There is no live preview here.' };
      }
      if (request.cookieUserId && request.cookieUserId !== session.ownerId) {
        return { ok: false as const, status: 403, reason: 'This preview belongs to someone else.' };
      }
      if (request.isPage) {
        const token = request.token ?? '';
        const verdict = tokens.check(token, sandboxId, session.ownerId);
        const redeemed = session.redeemedTokens.has(token);
        if (!(verdict === 'valid' || (verdict === 'expired' && redeemed))) {
          return { ok: false as const, status: 403, reason: 'This preview link is not valid. Reopen the project.' };
        }
        session.redeemedTokens.add(token);
      }
      session.lastActivity = Date.now();
      return { ok: true as const, target: session.sandbox.previewOrigin, previewKey: session.sandbox.previewKey };
    },

    /**
     * Runs `change` (a restore of the project's repo) with the project's live sessions
     * held still, then brings their working copies to the project's latest version and
     * reloads their previews. Refused (409 `version_conflict`) while an agent turn runs
     * or messages wait for one, or while a session is still starting; a message sent
     * meanwhile waits until the working copy is back.
     */
    async changeVersion<T>(projectId: string, change: () => Promise<T>): Promise<T> {
      const held = [...sessions.values()].filter((session) => session.projectId === projectId && session.state !== 'stopped');
      for (const session of held) {
        if (session.chat?.busy()) {
          throw new AppError('version_conflict', 'The agent is working on this project; wait for its turn to finish or cancel it.', 409);
        }
        if (session.state === 'starting') {
          throw new AppError('version_conflict', 'The preview of this project is starting; try again in a moment.', 409);
        }
      }
      for (const session of held) session.versionHolds += 1;
      try {
        const result = await change();
        await Promise.all(held.map((session) => bringToLatest(session)));
        return result;
      } finally {
        for (const session of held) {
          session.versionHolds -= 1;
          if (session.versionHolds === 0) session.chat?.resume();
        }
      }
    },

    /** For tests and diagnostics. */
    list() {
      return [...sessions.values()].map((session) => ({
        id: session.id,
        projectId: session.projectId,
        state: session.state,
        clients: session.clients.size,
        sandboxId: session.sandbox?.id ?? null,
        pid: session.sandbox?.pid ?? null,
        previewOrigin: session.sandbox?.previewOrigin ?? null,
      }));
    },

    async close() {
      closed = true;
      clearInterval(idleTimer);
      await Promise.all([...sessions.values()].map((session) => end(session, 'The server is shutting down.')));
      // Boots in flight see their session stopped and destroy what they started.
      await Promise.allSettled([...inFlight]);
      await pool.close();
    },
  };
}

export type SessionManager = ReturnType<typeof createSessionManager>;
