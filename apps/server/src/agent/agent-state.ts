import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { type SkippedEntry, packDirectory, unpackArchive } from '@cutroom/runtime';

/**
 * What of an agent's folder is its conversation, kept with the project: the Claude
 * Agent SDK's transcripts (`claude/projects/<cwd>/<session>.jsonl`) and the AI SDK
 * runner's conversations (`ai-sdk/<session>.json`). Caches, settings and anything else
 * the agent writes there stay in the sandbox and go with it.
 */
const KEPT = ['claude/projects', 'ai-sdk'];

/** A path of the agent's folder that belongs to a kept part (or is a folder above one). */
const isKept = (relative: string) =>
  KEPT.some((part) => relative === part || relative.startsWith(`${part}/`) || part.startsWith(`${relative}/`));

/** Caps on a saved conversation (a runaway agent must not fill the server's disk). */
export const AGENT_STATE_LIMITS = { maxFileBytes: 64 * 1024 * 1024, maxTotalBytes: 256 * 1024 * 1024 };

/**
 * The agent's state per project, at `<dir>/<projectId>/` (plain files: the folder the
 * sandbox's agent had, cut down to its conversations). It moves as tar streams, through
 * the driver: `archive` is written into each new sandbox of the project before its agent
 * starts; `save` takes the sandbox's agent folder after every turn. A save builds the new
 * copy aside and swaps it in, so a crash mid-save keeps the old one.
 */
export function createAgentStateStore(dir: string) {
  const folder = (projectId: string) => path.join(dir, projectId);
  const saving = new Map<string, Promise<unknown>>();

  const exists = (target: string) => stat(target).then(() => true, () => false);

  return {
    /**
     * The project's saved conversations as a tar stream, or null when it has none. Read
     * whole before it is handed out, so that a save that swaps the folder meanwhile
     * cannot cut it short.
     */
    async archive(projectId: string): Promise<Readable | null> {
      // A save of the project's previous session may still be under way.
      await saving.get(projectId)?.catch(() => {});
      if (!(await exists(folder(projectId)))) return null;
      const chunks: Buffer[] = [];
      for await (const chunk of packDirectory(folder(projectId))) chunks.push(Buffer.from(chunk as Buffer));
      return Readable.from(chunks);
    },

    /**
     * Saves a sandbox's agent folder (a tar stream, untrusted) as the project's: only the
     * conversations, only files and folders (a link is left out, never followed), sizes
     * capped. Saves of one project run one after another. Returns the files left out for
     * their size.
     */
    save(projectId: string, tar: Readable): Promise<SkippedEntry[]> {
      const previous = saving.get(projectId) ?? Promise.resolve();
      const run = previous.catch(() => {}).then(async () => {
        const staging = path.join(dir, `.tmp-${projectId}-${randomUUID().slice(0, 8)}`);
        try {
          await mkdir(dir, { recursive: true, mode: 0o700 });
          const result = await unpackArchive(staging, tar, { ...AGENT_STATE_LIMITS, oversize: 'skip', links: 'skip', accept: isKept });
          const old = `${folder(projectId)}.old-${randomUUID().slice(0, 8)}`;
          const had = await exists(folder(projectId));
          if (had) await rename(folder(projectId), old);
          await rename(staging, folder(projectId));
          if (had) await rm(old, { recursive: true, force: true });
          return result.skipped;
        } finally {
          // The archive's source (a process in the sandbox) is never left waiting.
          tar.destroy();
          await rm(staging, { recursive: true, force: true });
        }
      });
      saving.set(projectId, run);
      void run.catch(() => {}).then(() => {
        if (saving.get(projectId) === run) saving.delete(projectId);
      });
      return run;
    },

    async remove(projectId: string) {
      await rm(folder(projectId), { recursive: true, force: true });
    },
  };
}

export type AgentStateStore = ReturnType<typeof createAgentStateStore>;
