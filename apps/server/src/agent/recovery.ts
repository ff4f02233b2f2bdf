import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Message } from '@cutroom/protocol';
import type { ProjectRepos } from '../repos/project-repos.js';
import type { Orphan } from '../sessions/drivers/driver.js';
import type { Store } from '../store/store.js';

/**
 * The user messages of a chat that no reply answers yet. Turns run one at a time, in the
 * order their messages came, and each ends with exactly one reply (an answer, or a failed
 * or cancelled one), so replies answer the oldest waiting message first.
 */
export function unansweredMessages(messages: Message[]): Message[] {
  const waiting: Message[] = [];
  for (const message of messages) {
    if (message.role === 'user') waiting.push(message);
    else if (message.role === 'assistant') waiting.shift();
  }
  return waiting;
}

/** The first line of a message, short, for a reply that says which message it answers. */
export function quote(message: Message): string {
  const line = message.content.replace(/\s+/g, ' ').trim();
  return line.length > 80 ? `${line.slice(0, 77)}…` : line;
}

const shortVersion = (version: string) => version.slice(0, 7);

/**
 * After a crash of the server: the working copy of a sandbox that served a project still
 * holds whatever the agent (or its last turn) wrote. It becomes a version, and every user
 * message the crash left unanswered gets a failed reply that says what became of it: the
 * turn under way names the version its work was saved as; the ones still waiting say
 * they were never started.
 */
export async function recoverSandboxWork(
  deps: { store: Store; repos: ProjectRepos; logger: Logger; onNewVersion?: (projectId: string, ownerId: string, version: string) => void },
  orphan: Pick<Orphan, 'owner' | 'readFiles'>,
) {
  const { projectId, ownerId } = orphan.owner;
  const project = await deps.store.projects.get(ownerId, projectId);
  if (!project) return;
  // Read through the driver, like every turn's commit: the orphan's processes are gone,
  // its files are not.
  const commit = await deps.repos.commitArchive(projectId, await orphan.readFiles('workspace'), {
    message: 'Work recovered after the server restarted',
    author: 'agent',
  });
  if (commit.changed) {
    await deps.store.projects.update(ownerId, projectId, { currentVersion: commit.version });
    deps.onNewVersion?.(projectId, ownerId, commit.version);
  }
  const [interrupted, ...waiting] = unansweredMessages(await deps.store.messages.list(projectId));
  if (interrupted) {
    await deps.store.messages.add({
      id: randomUUID(),
      projectId,
      role: 'assistant',
      content: commit.changed
        ? `The server restarted during this turn; what the agent had written was saved as version ${shortVersion(commit.version)}. ` +
          'Look at the preview (or the History tab) and tell the agent what is still to do.'
        : `The server restarted during this turn, before the agent had changed any file; the project is still at version ${shortVersion(commit.version)}.`,
      status: 'failed',
      version: commit.changed ? commit.version : null,
    });
  }
  for (const message of waiting) {
    await deps.store.messages.add({
      id: randomUUID(),
      projectId,
      role: 'assistant',
      content: `Not answered: the server restarted before the agent got to “${quote(message)}”. Nothing of it was done.`,
      status: 'failed',
    });
  }
  deps.logger.info(
    { projectId, version: commit.version, changed: commit.changed, answered: (interrupted ? 1 : 0) + waiting.length },
    'recovered the work of a sandbox left by a crash',
  );
}
