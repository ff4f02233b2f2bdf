import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ProjectRepos } from '../repos/project-repos.js';
import type { SandboxOwner } from '../sessions/driver.js';
import type { Store } from '../store/store.js';

/**
 * After a crash of the server: the working copy of a sandbox that served a project still
 * holds whatever the agent (or its last turn) wrote. It becomes a version, and a user
 * message the crash left unanswered gets a failed reply, so the chat says what happened.
 */
export async function recoverSandboxWork(
  deps: { store: Store; repos: ProjectRepos; logger: Logger; onNewVersion?: (projectId: string, ownerId: string, version: string) => void },
  orphan: { workspace: string; owner: SandboxOwner },
) {
  const { projectId, ownerId } = orphan.owner;
  const project = await deps.store.projects.get(ownerId, projectId);
  if (!project) return;
  const commit = await deps.repos.commitWorkspace(projectId, orphan.workspace, {
    message: 'Work recovered after the server restarted',
    author: 'agent',
  });
  if (commit.changed) {
    await deps.store.projects.update(ownerId, projectId, { currentVersion: commit.version });
    deps.onNewVersion?.(projectId, ownerId, commit.version);
  }
  const last = (await deps.store.messages.list(projectId)).at(-1);
  if (last?.role === 'user') {
    await deps.store.messages.add({
      id: randomUUID(),
      projectId,
      role: 'assistant',
      content: commit.changed
        ? 'The server restarted during this turn. What the agent had changed so far is saved as a version; send the message again to go on.'
        : 'The server restarted before this message was answered. Send it again.',
      status: 'failed',
      version: commit.changed ? commit.version : null,
    });
  }
  deps.logger.info({ projectId, version: commit.version, changed: commit.changed }, 'recovered the work of a sandbox left by a crash');
}
