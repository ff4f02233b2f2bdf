import { randomUUID } from 'node:crypto';
import { cp, mkdir, realpath, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * What of an agent's folder is its conversation, kept with the project: the Claude
 * Agent SDK's transcripts (`claude/projects/<cwd>/<session>.jsonl`) and the AI SDK
 * runner's conversations (`ai-sdk/<session>.json`). Caches, settings and anything else
 * the agent writes there stay in the sandbox and go with it.
 */
const KEPT = [path.join('claude', 'projects'), 'ai-sdk'];

/**
 * The agent's state per project, at `<dir>/<projectId>/`: restored into each new
 * sandbox of the project before its agent starts, saved after every turn. A save
 * builds the new copy aside and swaps it in, so a crash mid-save keeps the old one.
 */
export function createAgentStateStore(dir: string) {
  const folder = (projectId: string) => path.join(dir, projectId);
  const saving = new Map<string, Promise<void>>();

  const exists = (target: string) => stat(target).then(() => true, () => false);

  return {
    async restore(projectId: string, target: string) {
      // A save of the project's previous session may still be under way.
      await saving.get(projectId);
      await mkdir(target, { recursive: true });
      if (await exists(folder(projectId))) await cp(folder(projectId), target, { recursive: true, force: true });
    },

    /** Saves `source`'s conversations as the project's; saves of one project run one after another. */
    save(projectId: string, source: string): Promise<void> {
      const previous = saving.get(projectId) ?? Promise.resolve();
      const run = previous.then(async () => {
        const staging = path.join(dir, `.tmp-${projectId}-${randomUUID().slice(0, 8)}`);
        try {
          await mkdir(staging, { recursive: true });
          const root = await realpath(source);
          for (const part of KEPT) {
            // The sandbox owns this folder: a part that is (or passes through) a symlink
            // could lead anywhere on the server. Only what really lies inside is kept.
            const real = await realpath(path.join(source, part)).catch(() => null);
            if (real !== path.join(root, part)) continue;
            if (await exists(path.join(source, part))) {
              await cp(path.join(source, part), path.join(staging, part), { recursive: true, verbatimSymlinks: true });
            }
          }
          const old = `${folder(projectId)}.old-${randomUUID().slice(0, 8)}`;
          const had = await exists(folder(projectId));
          if (had) await rename(folder(projectId), old);
          await rename(staging, folder(projectId));
          if (had) await rm(old, { recursive: true, force: true });
        } finally {
          await rm(staging, { recursive: true, force: true });
        }
      });
      const settled = run.catch(() => {});
      saving.set(projectId, settled);
      void settled.then(() => {
        if (saving.get(projectId) === settled) saving.delete(projectId);
      });
      return run;
    },

    async remove(projectId: string) {
      await rm(folder(projectId), { recursive: true, force: true });
    },
  };
}

export type AgentStateStore = ReturnType<typeof createAgentStateStore>;
