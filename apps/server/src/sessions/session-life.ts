import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ServerMessage, SessionState } from '@cutroom/protocol';
import { type Chat, type ChatDeps, createChat } from '../agent/turns.js';
import type { Place } from './boot-queue.js';
import type { BridgeClient } from './bridge-client.js';
import type { Sandbox, SandboxDriver } from './drivers/driver.js';
import { previewLink } from './preview-access.js';
import type { PreviewTokens } from './preview-tokens.js';
import { type NewEvent, type SessionEvents, type StoredEvent, createSessionEvents } from './session-events.js';
import { sandboxFiles } from './workspace.js';

/**
 * A session's life: its record, the moves of its lifecycle (`starting → running ⇄ grace →
 * stopped`, with `error`, restartable, from any live state), its event stream and the tabs
 * that hear it, the grace period after its last tab left, the idle cull, and its end.
 * Every event a session emits gets a `seq` of the session's own (see session-events.ts).
 *
 * Direction: session-manager.ts, session-boot.ts and restore-holds.ts drive it; it drives
 * the session's chat (agent/turns.ts), telling it which sandbox its turns may use
 * (`serveChat`); the chat only appends its events here.
 */

/** A browser tab's WebSocket, as the sessions see it. */
export type SessionClient = { userId: string; send(message: ServerMessage): void };

export type Session = {
  /** Settles when work on the sandbox's working copy done for the turn (an install) is over (session-packages.ts). */
  settleFiles?: () => Promise<void>;
  id: string;
  projectId: string;
  ownerId: string;
  state: SessionState;
  sandbox: Sandbox | null;
  /** The sandbox a restart replaces (crashed or not): its working copy goes into the next one. */
  previous: Sandbox | null;
  /** Incremented by every boot: a boot that is no longer the latest gives up. */
  bootId: number;
  /** The sandbox the latest boot took, until it serves the session (its exit fails the boot). */
  booting: Sandbox | null;
  /** The latest boot's work: settled when it has given the session its sandbox, or given up. */
  booted: Promise<void>;
  bridge: BridgeClient | null;
  clients: Set<SessionClient>;
  /** The tabs that were here when the session ended: they still hear how its last turn and queue were saved. */
  departed: Set<SessionClient>;
  events: SessionEvents;
  graceTimer: NodeJS.Timeout | null;
  lastActivity: number;
  /** The chat with the agent (absent where the server runs without one). */
  chat: Chat | null;
  /** Changes of version (restores) under way: no turn starts while there are any. */
  versionHolds: number;
  /** Its place in the line of boots while its boot waits there (see boot-queue.ts). */
  place: Place | null;
  /** Takes its boot out of the line (it ended before its turn came). */
  leaveLine: (() => void) | null;
};

/** Allowed moves of the lifecycle; anything else is a bug and throws. */
const transitions: Record<SessionState, SessionState[]> = {
  starting: ['running', 'error', 'stopped'],
  running: ['grace', 'error', 'stopped', 'starting'],
  grace: ['running', 'error', 'stopped', 'starting'],
  error: ['starting', 'stopped'],
  stopped: [],
};

/** A session whose sandbox serves it (its preview and its agent). */
export const isLive = (state: SessionState) => state === 'running' || state === 'grace';

export type SessionLifeSettings = {
  driver: SandboxDriver;
  tokens: PreviewTokens;
  logger: Logger;
  graceMs: number;
  idleMs: number;
  /** Origin of the preview proxy, e.g. `http://127.0.0.1:8090`. */
  previewOrigin: () => string;
  /** The agent's chat; without it sessions have none. */
  chat?: ChatDeps;
};

export function createSessionLife(settings: SessionLifeSettings) {
  const { driver, logger } = settings;
  const sessions = new Map<string, Session>();
  const byProject = new Map<string, Session>();
  const clientSessions = new Map<SessionClient, Session>();
  /** Sessions being ended, by project and user: their last turn is still being saved. */
  const closingProjects = new Map<string, Promise<void>>();
  /** Why the session a tab was in ended, for its messages after the end. */
  const endedFor = new WeakMap<SessionClient, string>();

  const projectKey = (projectId: string, userId: string) => `${projectId}:${userId}`;

  function deliver(session: Session, event: StoredEvent, client: SessionClient) {
    if (event.type === 'session:ready') {
      if (!session.sandbox) return;
      const previewUrl = previewLink(settings.tokens, settings.previewOrigin(), session.sandbox, session.ownerId);
      client.send({ type: 'session:ready', seq: event.seq, sessionId: session.id, previewUrl });
    } else {
      client.send({ ...event, sessionId: session.id } as ServerMessage);
    }
  }

  function emit(session: Session, event: NewEvent) {
    const stored = session.events.append(event);
    for (const client of session.clients) deliver(session, stored, client);
    // After the end: only to tabs that have not joined another session since.
    for (const client of session.departed) if (!clientSessions.has(client)) deliver(session, stored, client);
    return stored.seq;
  }

  /** Tells the session's chat which sandbox its turns may use now: only a live one that no restore holds. */
  function serveChat(session: Session) {
    const { sandbox, bridge } = session;
    session.chat?.serve(
      sandbox && bridge && isLive(session.state) && session.versionHolds === 0
        ? { send: (message) => session.bridge?.send(message), files: { ...sandboxFiles(driver, sandbox.id), ...(session.settleFiles ? { settle: session.settleFiles } : {}) } }
        : null,
    );
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
    // A session that is not live serves no turn (a boot serves its chat once it is ready).
    if (!isLive(to)) session.chat?.serve(null);
    emit(session, { type: 'session:status', state: to, ...(reason ? { reason } : {}) });
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

  /**
   * Ends the session: its tabs are told, its sandbox stops, its running turn and every
   * message still waiting get their reply (failed or cancelled, with `reason`). With
   * `discard` (the project is gone) nothing of it is saved any more.
   */
  async function end(session: Session, reason: string, options: { discard?: boolean } = {}) {
    if (session.state === 'stopped') return closingProjects.get(projectKey(session.projectId, session.ownerId));
    if (session.graceTimer) clearTimeout(session.graceTimer);
    session.leaveLine?.();
    transition(session, 'stopped', reason);
    emit(session, { type: 'session:ended', reason });
    sessions.delete(session.id);
    if (byProject.get(projectKey(session.projectId, session.ownerId)) === session) {
      byProject.delete(projectKey(session.projectId, session.ownerId));
    }
    for (const client of session.clients) {
      clientSessions.delete(client);
      session.departed.add(client);
      endedFor.set(client, reason);
    }
    session.clients.clear();
    const key = projectKey(session.projectId, session.ownerId);
    const closing = (async () => {
      // Nothing may write into the working copy while its last turn is saved: stop the
      // sandbox's processes (the agent with them) first, keeping its folders.
      const last = session.sandbox ?? session.previous;
      session.bridge?.close();
      if (session.sandbox) await driver.stop(session.sandbox.id).catch(() => {});
      const files = last && !options.discard ? sandboxFiles(driver, last.id) : null;
      await session.chat?.close(files, { reason, discard: options.discard }).catch((error: unknown) => {
        logger.error({ err: error, sessionId: session.id }, 'could not close the chat');
      });
      session.departed.clear();
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
    /** Every session not ended, by id. */
    sessions: sessions as ReadonlyMap<string, Session>,
    forClient: (client: SessionClient) => clientSessions.get(client),
    forProject: (projectId: string, userId: string) => byProject.get(projectKey(projectId, userId)),
    /** Why the session `client` was in ended, when it did. */
    endedFor: (client: SessionClient) => endedFor.get(client),
    forgetEnded: (client: SessionClient) => endedFor.delete(client),
    /** Settles when the project's ending session (of this user) has saved its last turn and queue. */
    closing: (projectId: string, ownerId: string) => closingProjects.get(projectKey(projectId, ownerId)),

    /** A new session of `project` for `userId`, `starting`, with its chat; nothing boots yet. */
    open(project: { id: string; ownerId: string }, userId: string): Session {
      const session: Session = {
        id: randomBytes(12).toString('base64url'),
        projectId: project.id,
        ownerId: project.ownerId,
        state: 'starting',
        sandbox: null,
        previous: null,
        bootId: 0,
        booting: null,
        booted: Promise.resolve(),
        bridge: null,
        clients: new Set(),
        departed: new Set(),
        events: createSessionEvents(),
        graceTimer: null,
        lastActivity: Date.now(),
        chat: null,
        versionHolds: 0,
        place: null,
        leaveLine: null,
      };
      if (settings.chat) {
        session.chat = createChat(settings.chat, {
          sessionId: session.id,
          projectId: session.projectId,
          ownerId: session.ownerId,
          // The project's previous session saves its last turn and queue first.
          previousEnded: closingProjects.get(projectKey(session.projectId, session.ownerId)) ?? Promise.resolve(),
          emit: (event) => emit(session, event),
        });
      }
      sessions.set(session.id, session);
      byProject.set(projectKey(project.id, userId), session);
      return session;
    },

    /**
     * Adds `client` to the session's tabs. A client that names this session (not a new
     * one) and a `lastSeq` it still holds gets exactly what it missed; any other gets a
     * snapshot. A session in its grace period runs again. Returns which replay it got.
     */
    join(session: Session, client: SessionClient, resume: { lastSeq?: number; sessionId?: string }, isNew: boolean) {
      session.clients.add(client);
      clientSessions.set(client, session);
      session.lastActivity = Date.now();
      const missed =
        !isNew && resume.sessionId === session.id && resume.lastSeq !== undefined ? session.events.since(resume.lastSeq) : null;
      if (missed) {
        // A reconnect to the same session: exactly what it missed.
        for (const event of missed) deliver(session, event, client);
      } else {
        // A new tab, another session's (or server life's) numbers, or too far behind:
        // where the session is now, not its history.
        for (const event of session.events.snapshot(session.state, session.chat?.liveFrom())) deliver(session, event, client);
      }
      // (A new session is `starting`, without a timer: the caller boots it.)
      if (session.state === 'grace') {
        transition(session, 'running');
      } else if ((session.state === 'error' || session.state === 'starting') && session.graceTimer) {
        clearTimeout(session.graceTimer);
        session.graceTimer = null;
      }
      return missed ? ('events' as const) : ('snapshot' as const);
    },

    /** The client left its session: when it was the last tab, the grace period starts. */
    leave(client: SessionClient) {
      const session = clientSessions.get(client);
      if (!session) return;
      clientSessions.delete(client);
      session.clients.delete(client);
      if (session.clients.size === 0) {
        // Nobody waits for a boot still in line: it keeps its place for the grace period
        // (a reloaded tab comes back to it), then leaves the line.
        if (session.state === 'starting' && session.place) endAfterGrace(session);
        else enterGrace(session);
      }
    },

    /** A restore holds the session still: no turn starts until `release`. */
    hold(session: Session) {
      session.versionHolds += 1;
      serveChat(session);
    },
    release(session: Session) {
      session.versionHolds -= 1;
      if (session.versionHolds === 0) serveChat(session);
    },

    emit,
    transition,
    serveChat,
    fail,
    enterGrace,
    end,

    /** Stops the idle cull (server shutdown). */
    stopCull() {
      clearInterval(idleTimer);
    },
  };
}

export type SessionLife = ReturnType<typeof createSessionLife>;
