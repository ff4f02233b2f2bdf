import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import type { ProjectRepos } from '../repos/project-repos.js';
import type { SandboxDriver } from './drivers/driver.js';
import { type Session, type SessionLife, isLive } from './session-life.js';
import { checkoutLatest } from './workspace.js';

/**
 * Restores under live sessions: a change of the project's version (a restore of its repo)
 * runs with the project's sessions held still (no turn starts), then their working copies
 * get the version it made and their previews reload. Direction: it drives session-life.ts.
 */
export function createRestoreHolds(settings: { driver: SandboxDriver; repos: ProjectRepos; logger: Logger; life: SessionLife }) {
  const { driver, repos, logger, life } = settings;

  /**
   * After a restore: the session's working copy (its live sandbox's, or the one a restart
   * will carry over) gets the project's latest files, and its preview reloads. A working
   * copy that cannot be brought over would undo the restore with the next turn's commit,
   * so its session is ended instead (reopening checks the project out afresh).
   */
  async function bringToLatest(session: Session) {
    const live = isLive(session.state);
    const sandbox = live ? session.sandbox : session.state === 'error' ? session.previous : null;
    if (!sandbox) return;
    try {
      const version = await checkoutLatest(repos, driver, session.projectId, sandbox.id);
      logger.info({ sessionId: session.id, projectId: session.projectId, version }, 'working copy moved to a restored version');
    } catch (error) {
      logger.error({ err: error, sessionId: session.id }, 'could not move the working copy to a restored version');
      await life.end(session, 'The project was restored to another version. Reopen it to go on.');
      return;
    }
    if (live && session.sandbox === sandbox) {
      await session.bridge?.resetWorkspace().catch((error: unknown) => {
        logger.warn({ err: error, sessionId: session.id }, 'the preview did not confirm the restored files');
      });
    }
  }

  return {
    /**
     * Adds files to the working copies of the project's sessions (a media upload: its file
     * and the new manifest), without holding them: nothing the agent is writing is touched,
     * nothing is removed. `tar` makes the archive, once per sandbox. A working copy that
     * cannot take them is logged; its next commit keeps the latest version's media anyway
     * (project-repos.ts), and the next checkout brings the file.
     */
    async addFiles(projectId: string, tar: () => Promise<Readable>): Promise<void> {
      const sessions = [...life.sessions.values()].filter((session) => session.projectId === projectId && isLive(session.state) && session.sandbox);
      await Promise.all(
        sessions.map(async (session) => {
          const stream = await tar();
          try {
            await driver.writeFiles(session.sandbox!.id, 'workspace', stream, { replace: false });
          } catch (error) {
            logger.warn({ err: error, sessionId: session.id, projectId }, 'could not add files to a working copy');
          } finally {
            stream.destroy();
          }
        }),
      );
    },

    /**
     * Runs `change` (a restore of the project's repo) with the project's live sessions
     * held still, then brings their working copies to the project's latest version and
     * reloads their previews. Refused (409 `version_conflict`) while an agent turn runs
     * or messages wait for one, or while a session is still starting; a message sent
     * meanwhile waits until the working copy is back.
     */
    async changeVersion<T>(projectId: string, change: () => Promise<T>): Promise<T> {
      const held = [...life.sessions.values()].filter((session) => session.projectId === projectId && session.state !== 'stopped');
      for (const session of held) {
        if (session.chat?.busy()) {
          throw new AppError('version_conflict', 'The agent is working on this project; wait for its turn to finish or cancel it.', 409);
        }
        if (session.state === 'starting') {
          throw new AppError('version_conflict', 'The preview of this project is starting; try again in a moment.', 409);
        }
      }
      for (const session of held) life.hold(session);
      try {
        const result = await change();
        await Promise.all(held.map((session) => bringToLatest(session)));
        return result;
      } finally {
        for (const session of held) life.release(session);
      }
    },
  };
}
