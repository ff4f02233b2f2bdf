import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AgentStateStore } from '../agent/agent-state.js';
import type { ProjectRepos } from '../repos/project-repos.js';
import type { Store } from '../store/store.js';

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
}) {
  const { store, repos, logger } = deps;

  async function create(ownerId: string, name: string) {
    const id = randomUUID();
    const prepared = await repos.prepare(id);
    let project;
    try {
      project = await store.projects.create({ id, ownerId, name, currentVersion: prepared.version });
    } catch (error) {
      await prepared.discard();
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

  async function remove(ownerId: string, id: string): Promise<boolean> {
    if (!(await store.projects.get(ownerId, id))) return false;
    const detached = await repos.detach(id);
    let deleted: boolean;
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
    await deps.agentState?.remove(id).catch((error: unknown) => logger.warn({ err: error, projectId: id }, 'could not remove the agent state'));
    await deps.onDeleted?.(id).catch((error: unknown) => logger.warn({ err: error, projectId: id }, 'could not remove the renders of a deleted project'));
    logger.info({ projectId: id, ownerId }, 'project deleted');
    return true;
  }

  return {
    list: (ownerId: string) => store.projects.list(ownerId),
    get: (ownerId: string, id: string) => store.projects.get(ownerId, id),
    rename: (ownerId: string, id: string, name: string) => store.projects.rename(ownerId, id, name),
    messages: (projectId: string) => store.messages.list(projectId),
    create,
    remove,
  };
}

export type ProjectService = ReturnType<typeof createProjectService>;
