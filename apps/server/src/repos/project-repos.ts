import { randomUUID } from 'node:crypto';
import { cp, lstat, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isTemplateFile } from '@cutroom/template';
import { git } from './git.js';
import { createVersionHistory } from './versions.js';

/** Who made a version: the user (by hand), the agent (a chat turn) or a restore. */
export type VersionAuthor = 'user' | 'agent' | 'restore';

const authors: Record<VersionAuthor, { name: string; email: string }> = {
  user: { name: 'Cutroom user', email: 'user@cutroom.local' },
  agent: { name: 'Cutroom agent', email: 'agent@cutroom.local' },
  restore: { name: 'Cutroom restore', email: 'restore@cutroom.local' },
};

/** The largest file a commit of a working copy takes in (AGENT_MAX_FILE_BYTES), unless configured. */
export const DEFAULT_MAX_COMMIT_FILE_BYTES = 1024 * 1024;

/** A file of the working copy left out of a version for its size. */
export type SkippedFile = { path: string; bytes: number };

/** A repo made in a temporary folder, not yet visible under its project's id. */
export type PreparedRepo = {
  version: string;
  /** Moves the repo into place. */
  publish(): Promise<void>;
  /** Removes the temporary repo; safe to call after a failure at any step. */
  discard(): Promise<void>;
};

/**
 * One bare git repo per project, at `<reposDir>/<projectId>.git`. Creation is two-phase
 * (prepare in a temporary folder, then publish by rename) so that a failure at any step,
 * here or in the database, leaves nothing half-made; deletion moves the repo aside first
 * so it can be put back if the database refuses.
 */
export function createProjectRepos(options: {
  reposDir: string;
  templateDir: string;
  /** Files of a working copy larger than this never go into a version (AGENT_MAX_FILE_BYTES). */
  maxFileBytes?: number;
}) {
  const { reposDir, templateDir } = options;
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_COMMIT_FILE_BYTES;
  const repoPath = (projectId: string) => path.join(reposDir, `${projectId}.git`);

  async function prepare(projectId: string, message = 'Create project from the template'): Promise<PreparedRepo> {
    const scratch = path.join(reposDir, `.tmp-${projectId}-${randomUUID().slice(0, 8)}`);
    const bare = path.join(scratch, 'repo.git');
    const work = path.join(scratch, 'work');
    const discard = () => rm(scratch, { recursive: true, force: true });
    try {
      await mkdir(scratch, { recursive: true });
      await cp(templateDir, work, {
        recursive: true,
        errorOnExist: true,
        filter: (source) => isTemplateFile(path.relative(templateDir, source)),
      });
      await git(['init', '--quiet', '--bare', bare]);
      const gitDir = ['--git-dir', bare, '--work-tree', work];
      await git([...gitDir, 'add', '--all']);
      await git([...gitDir, 'commit', '--quiet', '--message', message]);
      const version = (await git(['--git-dir', bare, 'rev-parse', 'HEAD'])).trim();
      await rm(work, { recursive: true, force: true });
      return {
        version,
        async publish() {
          await rename(bare, repoPath(projectId));
          await discard();
        },
        discard,
      };
    } catch (error) {
      await discard();
      throw error;
    }
  }

  /** Moves the repo aside; `commit` removes it for good, `restore` puts it back. */
  async function detach(projectId: string) {
    const trash = path.join(reposDir, `.trash-${projectId}-${randomUUID().slice(0, 8)}`);
    let moved = true;
    try {
      await rename(repoPath(projectId), trash);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      moved = false;
    }
    return {
      commit: async () => {
        await rm(trash, { recursive: true, force: true });
        await rm(path.join(reposDir, `.index-${projectId}`), { force: true });
      },
      restore: async () => {
        if (moved) await rename(trash, repoPath(projectId));
      },
    };
  }

  /**
   * Makes `workspace` a working copy of the project's latest version: a git repo whose
   * `main` is the project's, with every other file removed (the warm pool's folders
   * start out holding the template).
   */
  async function checkout(projectId: string, workspace: string) {
    const inWorkspace = ['-C', workspace];
    await git([...inWorkspace, 'init', '--quiet']);
    // A symlink in a project could point the preview server anywhere: check them out as
    // plain files holding the link's text.
    await git([...inWorkspace, 'config', 'core.symlinks', 'false']);
    await git([...inWorkspace, 'symbolic-ref', 'HEAD', 'refs/heads/main']);
    await git([...inWorkspace, 'fetch', '--quiet', '--no-tags', repoPath(projectId), 'main']);
    // Index first, files untouched; then write only the files that differ. A file the
    // preview's watcher sees change costs a reload, and most projects start out equal
    // to the template the folder already holds.
    await git([...inWorkspace, 'reset', '--quiet', 'FETCH_HEAD']);
    await git([...inWorkspace, 'update-index', '--quiet', '--refresh']).catch(() => {});
    await git([...inWorkspace, 'reset', '--quiet', '--hard', 'FETCH_HEAD']);
    await git([...inWorkspace, 'clean', '--quiet', '-d', '--force', '-x']);
    return (await git([...inWorkspace, 'rev-parse', 'HEAD'])).trim();
  }

  /** One git write at a time per project: commits (and later restores) never interleave. */
  const locks = new Map<string, Promise<unknown>>();
  function exclusive<T>(projectId: string, work: () => Promise<T>): Promise<T> {
    const previous = locks.get(projectId) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => {});
    locks.set(projectId, settled);
    void settled.then(() => {
      if (locks.get(projectId) === settled) locks.delete(projectId);
    });
    return next;
  }

  /**
   * Saves the working copy as the project's next version, if it differs from the
   * latest. Git reads the files but nothing else of the working copy: the project's
   * own bare repo is the git folder and the index is a file of the server's, so a `.git`
   * the agent or project code may have tampered with is never looked at (a planted
   * `core.fsmonitor` would run a command). Two git processes (add, commit): each spawn
   * from the server's large process costs ~10 ms, and this is on every turn's path.
   *
   * New or changed files over `maxFileBytes` are left out (and returned as `skipped`):
   * the agent's tools refuse such writes, but a shell or project code may still leave
   * one in the working copy, and git must never take it in (nor hash it: `add` would).
   */
  function commitWorkspace(
    projectId: string,
    workspace: string,
    commit: { message: string; author: VersionAuthor },
  ): Promise<{ version: string; changed: boolean; skipped: SkippedFile[] }> {
    return exclusive(projectId, async () => {
      const gitDir = ['-c', 'gc.auto=0', '-c', 'core.quotePath=false', '--git-dir', repoPath(projectId), '--work-tree', workspace];
      // Kept between commits (git then re-reads only files whose stat changed).
      const env = { GIT_INDEX_FILE: path.join(reposDir, `.index-${projectId}`) };
      const skipped = await oversizeFiles(gitDir, env, workspace);
      if (skipped.length === 0) {
        await git([...gitDir, 'add', '--all'], { env });
      } else {
        // Every path but the skipped ones; a file of pathspecs, however many there are.
        const pathspecs = path.join(reposDir, `.pathspec-${projectId}`);
        const fromFile = [`--pathspec-from-file=${pathspecs}`, '--pathspec-file-nul'];
        try {
          await writeFile(pathspecs, ['.', ...skipped.map((file) => `:(top,literal,exclude)${file.path}`)].join('\0'));
          await git([...gitDir, 'add', '--all', ...fromFile], { env });
          // A skipped file stays as the latest version has it (or absent), whatever the
          // index held: a fresh index would otherwise drop a tracked one.
          await writeFile(pathspecs, skipped.map((file) => `:(top,literal)${file.path}`).join('\0'));
          await git([...gitDir, 'reset', '--quiet', 'HEAD', ...fromFile], { env });
        } finally {
          await rm(pathspecs, { force: true });
        }
      }
      const names = authors[commit.author];
      const message = `${commit.message.trim().slice(0, 2_000) || 'Update'}\n\nCutroom-Author: ${commit.author}\n`;
      try {
        await git([...gitDir, 'commit', '--quiet', '--no-verify', `--author=${names.name} <${names.email}>`, '--message', message], { env });
      } catch (error) {
        const output = `${(error as { stdout?: string }).stdout ?? ''}`;
        if (/nothing to commit|no changes added/i.test(output)) return { version: await readRef(projectId), changed: false, skipped };
        throw error;
      }
      return { version: await readRef(projectId), changed: true, skipped };
    });
  }

  /** New and changed files of the working copy (what `add --all` would take) that are too large for a version. */
  async function oversizeFiles(gitDir: string[], env: Record<string, string>, workspace: string): Promise<SkippedFile[]> {
    const listed = await git([...gitDir, 'ls-files', '-z', '--others', '--modified', '--exclude-standard'], { env });
    const skipped: SkippedFile[] = [];
    for (const file of new Set(listed.split('\0').filter(Boolean))) {
      const info = await lstat(path.join(workspace, file)).catch(() => null);
      if (info?.isFile() && info.size > maxFileBytes) skipped.push({ path: file, bytes: info.size });
    }
    return skipped;
  }

  /**
   * Brings a working copy the sandbox has used to the project's latest version (after a
   * restore): only files that differ are written, files the version does not have are
   * removed. Like commitWorkspace, git works from the project's own repo and the
   * server's index and never reads the working copy's `.git`.
   */
  function syncWorkspace(projectId: string, workspace: string) {
    return exclusive(projectId, async () => {
      const gitDir = ['-c', 'gc.auto=0', '-c', 'core.symlinks=false', '--git-dir', repoPath(projectId), '--work-tree', workspace];
      const env = { GIT_INDEX_FILE: path.join(reposDir, `.index-${projectId}`) };
      await git([...gitDir, 'reset', '--quiet', '--hard', 'refs/heads/main'], { env });
      await git([...gitDir, 'clean', '--quiet', '-d', '--force', '-x'], { env });
      return readRef(projectId);
    });
  }

  /** The project's latest version, read from its ref file (no git process; refs are never packed here). */
  async function readRef(projectId: string): Promise<string> {
    const text = await readFile(path.join(repoPath(projectId), 'refs', 'heads', 'main'), 'utf8').catch(() => null);
    return text?.trim() || head(projectId);
  }

  /** Files of the project at a version (default: its latest), as relative paths. */
  async function listFiles(projectId: string, version = 'HEAD'): Promise<string[]> {
    const out = await git(['--git-dir', repoPath(projectId), 'ls-tree', '-r', '--name-only', version]);
    return out.split('\n').filter(Boolean);
  }

  async function head(projectId: string): Promise<string> {
    return (await git(['--git-dir', repoPath(projectId), 'rev-parse', 'HEAD'])).trim();
  }

  /**
   * At start: removes what a crash left in the middle of a create or delete, and
   * reports repos that no project owns (kept, not deleted: a wrong DATABASE_URL must
   * never cost anyone their work).
   */
  async function sweep(knownProjectIds: Set<string>) {
    await mkdir(reposDir, { recursive: true });
    const removed: string[] = [];
    const orphans: string[] = [];
    for (const entry of await readdir(reposDir)) {
      const staleIndex = entry.startsWith('.index-') && !knownProjectIds.has(entry.slice('.index-'.length));
      if (entry.startsWith('.tmp-') || entry.startsWith('.trash-') || entry.startsWith('.pathspec-') || staleIndex) {
        await rm(path.join(reposDir, entry), { recursive: true, force: true });
        removed.push(entry);
      } else if (entry.endsWith('.git') && !knownProjectIds.has(entry.slice(0, -4))) {
        orphans.push(entry);
      }
    }
    return { removed, orphans };
  }

  /** History: list, diff and restore versions (a restore takes the same lock as a commit). */
  const versions = createVersionHistory({ repoPath, exclusive, readRef, restoreIdentity: authors.restore });

  return { repoPath, prepare, detach, listFiles, head, sweep, checkout, commitWorkspace, syncWorkspace, versions };
}

export type ProjectRepos = ReturnType<typeof createProjectRepos>;
