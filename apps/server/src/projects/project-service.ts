import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AgentStateStore } from '../agent/agent-state.js';
import type { PreparedRepo, ProjectRepos } from '../repos/project-repos.js';
import { AppError } from '../errors.js';
import { ProjectLimitError, type Store } from '../store/store.js';

/**
 * Projects as the user sees them: a row in the store and a git repo, created and
 * deleted together. Every call takes the owner's id; another user's project is, to the
 * caller, a project that does not exist.
 */
export function createProjectService(deps: {
  store: Store;
  repos: ProjectRepos;
  logger: Logger;
  agentState?: AgentStateStore;
  /** Called when a project has its first version (e.g. to render its thumbnail). */
  onNewVersion?: (projectId: string, ownerId: string, version: string) => void;
  /** Called after a project was deleted (e.g. to stop its renders and remove their files). */
  onDeleted?: (projectId: string) => Promise<void>;
  /** Live sessions: a project's end before it is deleted (see SessionManager.closeProject). */
  sessions?: { closeProject(projectId: string): Promise<{ release(): void }> };
  /** Projects one user may own (PROJECTS_MAX_PER_USER); unlimited when unset. */
  maxPerUser?: number;
}) {
  const { store, repos, logger } = deps;

  /** Each project costs a repo, a thumbnail render and cache: a user's count is capped. */
  const tooMany = (limit: number) =>
    new AppError('too_many_projects', `You already have ${limit} projects, the most allowed. Delete one you no longer need, then create this one.`, 409);

  /** Refuses (`too_many_projects`) when the owner has no room for one more project; the insert checks again, atomically. */
  async function checkRoom(ownerId: string) {
    const { maxPerUser } = deps;
    if (maxPerUser !== undefined && (await store.projects.count(ownerId)) >= maxPerUser) throw tooMany(maxPerUser);
  }

  /** A new project whose first version is the template. */
  function create(ownerId: string, name: string) {
    return createWith(ownerId, name, (id) => repos.prepare(id));
  }

  /**
   * A new project whose first version holds the files of `folder` (an import's files,
   * already checked: see project-import.ts), counted against the owner's limit like any
   * other. The folder is read, not moved: the caller removes it.
   */
  function createFromFiles(ownerId: string, name: string, folder: string, message: string) {
    return createWith(ownerId, name, (id) => repos.prepare(id, message, { folder }));
  }

  async function createWith(ownerId: string, name: string, prepare: (id: string) => Promise<PreparedRepo>) {
    const { maxPerUser } = deps;
    // Refused before any git work; the insert checks again, atomically.
    await checkRoom(ownerId);
    const id = randomUUID();
    const prepared = await prepare(id);
    let project;
    try {
      project = await store.projects.create({ id, ownerId, name, currentVersion: prepared.version, maxPerOwner: maxPerUser });
    } catch (error) {
      await prepared.discard();
      if (error instanceof ProjectLimitError) throw tooMany(error.limit);
      throw error;
    }
    try {
      await prepared.publish();
    } catch (error) {
      await store.projects.delete(ownerId, id).catch((cleanupError: unknown) => {
        logger.error({ err: cleanupError, projectId: id }, 'could not remove the row of a project whose repo failed');
      });
      await prepared.discard();
      throw error;
    }
    logger.info({ projectId: id, ownerId, version: prepared.version }, 'project created');
    deps.onNewVersion?.(id, ownerId, prepared.version);
    return project;
  }

  /**
   * Deletes the project with everything that runs for it: its live sessions end first
   * (their previews stop, their tabs are told, nothing more of them is saved), so no
   * turn writes into its repo, messages or agent state afterwards; then its row and
   * repo, its agent state, and its renders (queued and running).
   */
  async function remove(ownerId: string, id: string): Promise<boolean> {
    if (!(await store.projects.get(ownerId, id))) return false;
    const closed = await deps.sessions?.closeProject(id);
    let deleted = false;
    try {
      const detached = await repos.detach(id);
      try {
        deleted = await store.projects.delete(ownerId, id);
      } catch (error) {
        await detached.restore();
        throw error;
      }
      if (!deleted) {
        await detached.restore();
        return false;
      }
      await detached.commit();
    } finally {
      // Still there (the deletion failed): it may be opened again.
      if (!deleted) closed?.release();
    }
    await deps.agentState?.remove(id).catch((error: unknown) => logger.warn({ err: error, projectId: id }, 'could not remove the agent state'));
    await deps.onDeleted?.(id).catch((error: unknown) => logger.warn({ err: error, projectId: id }, 'could not remove the renders of a deleted project'));
    logger.info({ projectId: id, ownerId }, 'project deleted');
    return true;
  }

  return {
    list: (ownerId: string) => store.projects.list(ownerId),
    get: (ownerId: string, id: string) => store.projects.get(ownerId, id),
    rename: (ownerId: string, id: string, name: string) => store.projects.rename(ownerId, id, name),
    /** The composition the owner chose to play (null: the Root's first). */
    choose: (ownerId: string, id: string, compositionId: string | null) => store.projects.update(ownerId, id, { compositionId }),
    messages: (projectId: string) => store.messages.list(projectId),
    create,
    createFromFiles,
    checkRoom,
    remove,
  };
}

export type ProjectService = ReturnType<typeof createProjectService>;
