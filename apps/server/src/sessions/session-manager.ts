import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ServerMessage, SessionState } from '@cutroom/protocol';
import { type Chat, type ChatDeps, ChatRefusal, createChat } from '../agent/turns.js';
import { AppError } from '../errors.js';
import type { ProjectRepos } from '../repos/project-repos.js';
import { createAdmission, ensureServerNotNiced } from './admission.js';
import { BootCancelled, type Place, createBootQueue } from './boot-queue.js';
import { type BridgeClient, connectBridge } from './bridge-client.js';
import type { Sandbox, SandboxDriver } from './drivers/driver.js';
import type { LivePreview } from './preview-access.js';
import type { PreviewTokens } from './preview-tokens.js';
import { type NewEvent, type SessionEvents, type StoredEvent, createSessionEvents } from './session-events.js';
import { createWarmPool } from './warm-pool.js';
import { checkoutLatest, copyWorkspace, sandboxFiles } from './workspace.js';

/** Thrown inside a boot that a newer boot (a restart) or an end has replaced. */
class SupersededBoot extends Error {}

export class SessionLimitError extends Error {
  override name = 'SessionLimitError';
}

/** A browser tab's WebSocket, as the manager sees it. */
export type SessionClient = { userId: string; send(message: ServerMessage): void };

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
  /**
   * Boots at once (SANDBOX_BOOT_CONCURRENCY) and the memory one session needs before its
   * sandbox may start (SANDBOX_ADMIT_MB; 0: no check). Default: 2 at once, 250 MiB.
   */
  boots?: { concurrency: number; admitMb: number; readAvailableMb?: () => number | null };
};

/**
 * Sessions: one live sandbox per project and user, shared by that user's tabs.
 * Lifecycle `starting → running ⇄ grace → stopped`, with `error` (restartable) from any
 * live state. Every event a session emits gets a `seq` of the session's own (see
 * session-events.ts): a client that reconnects with its `sessionId` and `lastSeq` gets
 * exactly what it missed; any other client (a new tab, another session, a server that
 * restarted) gets a snapshot, marked as such, never a silent gap.
 */
export function createSessionManager(settings: SessionManagerSettings) {
  const { driver, repos, tokens, logger } = settings;
  const sessions = new Map<string, Session>();
  const byProject = new Map<string, Session>();
  const clientSessions = new Map<SessionClient, Session>();
  /** Sessions being ended, by project and user: their last turn is still being saved. */
  const closingProjects = new Map<string, Promise<void>>();
  const bootSettings = settings.boots ?? { concurrency: 2, admitMb: 250 };
  const boots = createBootQueue({
    concurrency: bootSettings.concurrency,
    ...(bootSettings.admitMb > 0
      ? { admission: createAdmission({ admitMb: bootSettings.admitMb, logger, ...(bootSettings.readAvailableMb ? { readAvailableMb: bootSettings.readAvailableMb } : {}) }) }
      : {}),
    onHeld: (held) =>
      held
        ? logger.warn({ ...held, waiting: boots.waiting }, 'not enough memory for another sandbox: boots wait')
        : logger.info('memory for sandboxes again: boots go on'),
  });
  const pool = createWarmPool({ driver, size: settings.poolSize, logger, boots });
  /** Boots under way: `close` waits for them, so none outlives it. */
  const inFlight = new Set<Promise<unknown>>();
  const track = <T>(work: Promise<T>) => {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
    return work;
  };
  let closed = false;
  /** Projects being (or already) deleted: no session of theirs may start (a tab may have looked the project up just before). */
  const deletedProjects = new Set<string>();
  /** Why the session a tab was in ended, for its messages after the end. */
  const endedFor = new WeakMap<SessionClient, string>();

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

  function emit(session: Session, event: NewEvent) {
    const stored = session.events.append(event);
    for (const client of session.clients) deliver(session, stored, client);
    // After the end: only to tabs that have not joined another session since.
    for (const client of session.departed) if (!clientSessions.has(client)) deliver(session, stored, client);
    return stored.seq;
  }

  /** Its place in line, to the session's tabs (`position: 0`: its boot has begun). */
  function tellPlace(session: Session, client?: SessionClient) {
    const place = session.place ?? { position: 0 };
    for (const to of client ? [client] : session.clients) to.send({ type: 'session:queued', sessionId: session.id, ...place });
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
      const leave = new AbortController();
      session.leaveLine = () => leave.abort();
      try {
        sandbox = await pool.take({
          signal: leave.signal,
          onPlace: (place) => {
            if (!current()) return;
            session.place = place;
            tellPlace(session);
          },
          onStart: () => {
            if (!current()) return;
            session.place = null;
            tellPlace(session);
          },
        });
      } finally {
        if (session.bootId === bootId) {
          session.leaveLine = null;
          session.place = null;
        }
      }
      if (!current()) throw new SupersededBoot();
      session.booting = sandbox;
      // Should the server die, the next start knows whose work this working copy holds.
      await driver.label(sandbox.id, { projectId: session.projectId, ownerId: session.ownerId });
      let version: string;
      const previous = session.previous;
      if (previous) {
        // A turn the old sandbox was in is saved (as a version) before its files move on.
        await session.chat?.settled();
        if (!current()) throw new SupersededBoot();
        // Edits not yet saved as a version live only in the working copy: keep them.
        await copyWorkspace(driver, previous.id, sandbox.id);
        version = await repos.head(session.projectId);
        if (!current()) throw new SupersededBoot();
      } else {
        await closingProjects.get(projectKey(session.projectId, session.ownerId));
        if (!current()) throw new SupersededBoot();
        version = await checkoutLatest(repos, driver, session.projectId, sandbox.id);
      }
      const bridge = await connectBridge(sandbox, {
        onMessage: (message) => {
          if (session.bridge === bridge) session.chat?.onSandboxMessage(message);
        },
      });
      await bridge.resetWorkspace();
      if (current()) await session.chat?.attachSandbox({ send: (message) => bridge.send(message), files: sandboxFiles(driver, sandbox.id), modelSocketPath: sandbox.modelSocketPath });
      if (!current()) {
        // Ended, or restarted again, while it booted.
        if (session.booting === sandbox) session.booting = null;
        bridge.close();
        await driver.destroy(sandbox.id);
        return;
      }
      session.sandbox = sandbox;
      session.booting = null;
      session.bridge = bridge;
      // Only a boot that succeeded consumes the previous sandbox: until then a failed boot
      // (its sandbox killed, say) leaves the working copy where the next restart finds it.
      if (previous && session.previous === previous) {
        session.previous = null;
        void driver.destroy(previous.id).catch(() => {});
      }
      transition(session, 'running');
      emit(session, { type: 'session:ready' });
      session.chat?.resume();
      logger.info(
        { sessionId: session.id, sandboxId: sandbox.id, version, ms: Math.round(performance.now() - started) },
        'session ready',
      );
      if (session.clients.size === 0) enterGrace(session);
    } catch (error) {
      if (sandbox && session.booting === sandbox) session.booting = null;
      if (sandbox) await driver.destroy(sandbox.id).catch(() => {});
      if (error instanceof SupersededBoot || error instanceof BootCancelled || closed) return;
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
      const version = await checkoutLatest(repos, driver, session.projectId, sandbox.id);
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
    const how = exit.signal ? `was killed (${exit.signal})` : `exited with code ${exit.code}`;
    for (const session of sessions.values()) {
      if (session.sandbox?.id === exit.id && (session.state === 'running' || session.state === 'grace')) {
        if (session.graceTimer) clearTimeout(session.graceTimer);
        session.previous = session.sandbox;
        session.sandbox = null;
        session.chat?.sandboxLost(sandboxFiles(driver, session.previous.id));
        fail(session, `The preview process ${how}. Restart the session to go on.`);
      } else if (session.booting?.id === exit.id && session.state === 'starting') {
        // Lost while it booted: without this the boot would go on and the session would
        // look live, with a dead bridge that answers no message.
        session.booting = null;
        fail(session, `The preview process ${how} while it started. Restart the session to go on.`);
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
      ensureServerNotNiced(logger);
      void pool.fill();
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
      endedFor.delete(client);
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
        const created = session;
        if (settings.chat) {
          created.chat = createChat(settings.chat, {
            sessionId: created.id,
            projectId: created.projectId,
            ownerId: created.ownerId,
            // The project's previous session saves its last turn and queue first.
            previousEnded: closingProjects.get(projectKey(created.projectId, created.ownerId)) ?? Promise.resolve(),
            emit: (event) => emit(created, event),
            sandbox: () =>
              created.sandbox && created.bridge && (created.state === 'running' || created.state === 'grace') && created.versionHolds === 0
                ? {
                    send: (message) => created.bridge?.send(message),
                    files: sandboxFiles(driver, created.sandbox.id),
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
      if (isNew) {
        emit(session, { type: 'session:status', state: 'starting' });
        session.booted = track(boot(session));
      } else if (session.state === 'grace') {
        transition(session, 'running');
      } else if ((session.state === 'error' || session.state === 'starting') && session.graceTimer) {
        clearTimeout(session.graceTimer);
        session.graceTimer = null;
      }
      client.send({
        type: 'session:joined',
        sessionId: session.id,
        state: session.state,
        replay: missed ? 'events' : 'snapshot',
        lastSeq: session.events.lastSeq(),
      });
      if (session.place) tellPlace(session, client);
      return { sessionId: session.id, replay: missed ? ('events' as const) : ('snapshot' as const) };
    },

    /** The client left (closed its tab, lost its connection or sent `session:end`). */
    detach(client: SessionClient) {
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
        session.chat?.sandboxLost(sandboxFiles(driver, session.previous.id), driver.stop(session.previous.id));
      }
      session.sandbox = null;
      transition(session, 'starting');
      session.booted = track(boot(session));
      return true;
    },

    /**
     * A chat message from a tab: saved, then queued for the agent. Throws ChatRefusal
     * (nothing saved) when it cannot be taken.
     */
    async sendMessage(client: SessionClient, message: { text: string; clientMessageId: string; autoFix?: boolean }) {
      const session = clientSessions.get(client);
      if (!session) {
        const ended = endedFor.get(client);
        throw new ChatRefusal('no_session', ended ? `This session has ended (${ended}) Nothing was sent.` : 'Open the project first (session:start).');
      }
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

    /** The live session a sandbox serves, for the preview proxy (see preview-access.ts); marks it active. */
    livePreview(sandboxId: string): LivePreview | null {
      const session = [...sessions.values()].find((candidate) => candidate.sandbox?.id === sandboxId);
      if (!session || !session.sandbox || (session.state !== 'running' && session.state !== 'grace')) return null;
      session.lastActivity = Date.now();
      return { sessionId: session.id, ownerId: session.ownerId, target: session.sandbox.preview, previewKey: session.sandbox.previewKey };
    },

    /** Signs and checks preview links and cookies. */
    previewTokens: tokens,

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

    /**
     * The project is being deleted: its sessions (every user's) end now, telling their
     * tabs, without saving anything more of them, and none may start until `release`
     * (called when the deletion failed and the project stays). Resolves when their
     * sandboxes are gone and their chats closed (no agent state is written after it).
     */
    async closeProject(projectId: string) {
      deletedProjects.add(projectId);
      const ending = [...sessions.values()].filter((session) => session.projectId === projectId);
      await Promise.all(ending.map((session) => end(session, 'This project was deleted.', { discard: true })));
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
      return [...sessions.values()].map((session) => ({
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
      clearInterval(idleTimer);
      // Nothing still in line starts now (a refill included); boots under way finish.
      boots.close();
      await Promise.all([...sessions.values()].map((session) => end(session, 'The server is shutting down.')));
      // Boots in flight see their session stopped and destroy what they started.
      await Promise.allSettled([...inFlight]);
      await pool.close();
    },
  };
}

export type SessionManager = ReturnType<typeof createSessionManager>;
