import type { Logger } from 'pino';
import type { ProjectRepos } from '../repos/project-repos.js';
import { createAdmission } from './admission.js';
import { BootCancelled, createBootQueue } from './boot-queue.js';
import { connectBridge } from './bridge-client.js';
import type { Sandbox, SandboxDriver } from './drivers/driver.js';
import type { Session, SessionClient, SessionLife } from './session-life.js';
import type { SessionPackages } from './session-packages.js';
import { createWarmPool } from './warm-pool.js';
import { checkoutLatest, copyWorkspace, sandboxFiles } from './workspace.js';

/** How long a ready sandbox's bridge may take to answer (connect, then confirm the working copy). */
const BRIDGE_ANSWER_MS = 30_000;

/**
 * A session's boot: the one place a sandbox driver plugs into the sessions, through the
 * `SandboxDriver` interface alone. A boot takes a sandbox (a warm one, or one started when
 * its turn in the line of boots comes), labels it, brings its working copy to the
 * project's latest version (or carries over the one of the sandbox a restart replaces),
 * connects its bridge and starts its agent; a boot that a newer one or an end has
 * replaced gives up and destroys what it took. A sandbox that exits unexpectedly fails
 * its session, which a restart boots again. Direction: it drives session-life.ts.
 */

/** Thrown inside a boot that a newer boot (a restart) or an end has replaced. */
class SupersededBoot extends Error {}

export type SessionBootSettings = {
  driver: SandboxDriver;
  repos: ProjectRepos;
  logger: Logger;
  life: SessionLife;
  poolSize: number;
  /**
   * Boots at once (SANDBOX_BOOT_CONCURRENCY) and the memory one session needs before its
   * sandbox may start (SANDBOX_ADMIT_MB; 0: no check). Default: 2 at once, 250 MiB.
   */
  boots?: { concurrency: number; admitMb: number; readAvailableMb?: () => number | null };
  /** Installs what a sandbox's `package.json` asks for (session-packages.ts). */
  packages?: SessionPackages;
};

export function createSessionBoot(settings: SessionBootSettings) {
  const { driver, repos, logger, life } = settings;
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
  /** Boots under way: `drain` waits for them, so none outlives the sessions. */
  const inFlight = new Set<Promise<unknown>>();
  let stopped = false;

  /** Its place in line, to the session's tabs (`position: 0`: its boot has begun). */
  function tellPlace(session: Session, client?: SessionClient) {
    const place = session.place ?? { position: 0 };
    for (const to of client ? [client] : session.clients) to.send({ type: 'session:queued', sessionId: session.id, ...place });
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
        await life.closing(session.projectId, session.ownerId);
        if (!current()) throw new SupersededBoot();
        version = await checkoutLatest(repos, driver, session.projectId, sandbox.id);
      }
      const bridge = await connectBridge(sandbox, {
        // A sandbox that said it is ready is alive (its exit is watched); on a machine
        // starved of CPU (50 boots at once, no line) its first answers took over 10 s.
        timeoutMs: BRIDGE_ANSWER_MS,
        onMessage: (message) => {
          if (message.type === 'packages:wanted') {
            // Asked at the hand-over, before the session holds this bridge: answered all the same.
            const from = sandbox!.id;
            // Without an installer the project gets Cutroom's packages only (said at once: the page waits for it).
            if (settings.packages) void settings.packages.want(from, message, (reply) => bridge.send(reply));
            else bridge.send({ type: 'packages:ready', key: 'none' });
            return;
          }
          if (session.bridge === bridge) session.chat?.onSandboxMessage(message, (answer) => bridge.send(answer));
        },
      });
      await bridge.resetWorkspace(BRIDGE_ANSWER_MS);
      const booted = sandbox;
      const settle = () => settings.packages?.settled(booted.id) ?? Promise.resolve();
      if (current()) session.settleFiles = settle;
      const files = { ...sandboxFiles(driver, booted.id), settle };
      if (current()) await session.chat?.attachSandbox({ send: (message) => bridge.send(message), files, modelSocketPath: sandbox.modelSocketPath });
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
      life.transition(session, 'running');
      life.emit(session, { type: 'session:ready' });
      life.serveChat(session);
      logger.info(
        { sessionId: session.id, sandboxId: sandbox.id, version, ms: Math.round(performance.now() - started) },
        'session ready',
      );
      if (session.clients.size === 0) life.enterGrace(session);
    } catch (error) {
      if (sandbox && session.booting === sandbox) session.booting = null;
      if (sandbox) await driver.destroy(sandbox.id).catch(() => {});
      if (error instanceof SupersededBoot || error instanceof BootCancelled || stopped) return;
      logger.error({ err: error, sessionId: session.id }, 'session failed to start');
      if (current()) life.fail(session, 'The preview could not be started.');
    }
  }

  /** Boots the session (it is `starting`); `session.booted` settles when that boot is over. */
  function start(session: Session) {
    const work = boot(session);
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
    session.booted = work;
  }

  driver.onExit((exit) => {
    settings.packages?.forget(exit.id);
    if (pool.handleExit(exit) || exit.expected) return;
    const how = exit.signal ? `was killed (${exit.signal})` : `exited with code ${exit.code}`;
    for (const session of life.sessions.values()) {
      if (session.sandbox?.id === exit.id && (session.state === 'running' || session.state === 'grace')) {
        if (session.graceTimer) clearTimeout(session.graceTimer);
        session.previous = session.sandbox;
        session.sandbox = null;
        session.chat?.sandboxLost(sandboxFiles(driver, session.previous.id));
        life.fail(session, `The preview process ${how}. Restart the session to go on.`);
      } else if (session.booting?.id === exit.id && session.state === 'starting') {
        // Lost while it booted: without this the boot would go on and the session would
        // look live, with a dead bridge that answers no message.
        session.booting = null;
        life.fail(session, `The preview process ${how} while it started. Restart the session to go on.`);
      }
    }
  });

  return {
    tellPlace,
    start,

    /** Starts the warm pool. */
    fillPool() {
      void pool.fill();
    },

    /**
     * Boots the session again in a fresh sandbox (after an error, say); the old sandbox's
     * working copy goes into the new one. A session already starting is left as it is.
     */
    restart(session: Session) {
      if (session.state === 'starting') return;
      // Everything synchronous, so a second restart, an end or a detach that comes in
      // meanwhile sees the new state.
      session.bridge?.close();
      session.bridge = null;
      if (session.sandbox) {
        if (session.previous) void driver.destroy(session.previous.id).catch(() => {});
        session.previous = session.sandbox;
        // Its agent may be mid-turn: stop it before that turn is saved and its files move on.
        session.chat?.sandboxLost(sandboxFiles(driver, session.previous.id), driver.stop(session.previous.id));
      }
      session.sandbox = null;
      life.transition(session, 'starting');
      start(session);
    },

    /** Nothing still in line starts now (a refill included); boots under way finish, and give up. */
    stop() {
      stopped = true;
      boots.close();
    },

    /** After `stop` and the sessions' end: waits for the boots under way, then empties the pool. */
    async drain() {
      await Promise.allSettled([...inFlight]);
      await pool.close();
    },
  };
}

export type SessionBoot = ReturnType<typeof createSessionBoot>;
