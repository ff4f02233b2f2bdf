import { createHash, randomUUID } from 'node:crypto';
import { chmod, cp, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { packDirectory, unpackArchive } from '@cutroom/runtime';
import { isTemplateFile } from '@cutroom/template';
import { MEDIA_MANIFEST_PATH, type MediaManifest } from '@cutroom/protocol';
import { parseManifest, serializeManifest } from '../media/media-manifest.js';
import type { MediaStore } from '../media/media-store.js';
import { git, gitStream } from './git.js';
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

/** The most a working copy's files (those under the per-file cap) may add up to in a commit. */
export const DEFAULT_MAX_COMMIT_TOTAL_BYTES = 512 * 1024 * 1024;

/**
 * Attributes that win over any `.gitattributes` a project holds (`info/attributes` of
 * each repo): no content conversion either way, and nothing left out of or rewritten in
 * an archive (`export-ignore`, `export-subst`), so a working copy holds exactly the
 * version's bytes and a commit takes exactly the working copy's.
 */
export const BYTE_EXACT_ATTRIBUTES = '* -text -eol -filter -ident -working-tree-encoding -export-ignore -export-subst\n';

/** A version's commit message: its text (cut at 2,000 characters) and who made it, as a trailer. */
const commitText = (commit: { message: string; author: VersionAuthor }) => `${commit.message.trim().slice(0, 2_000) || 'Update'}\n\nCutroom-Author: ${commit.author}\n`;

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
  /** A working copy whose files add up to more is refused by a commit. */
  maxTotalBytes?: number;
  /**
   * The server's own copies of working copies, one per project, that commits take files
   * from (default: `mirrors` beside `reposDir`). Never a sandbox's folder.
   */
  mirrorsDir?: string;
  /**
   * Where media bytes are (content-addressed; versions pin them in `.cutroom/media.json`).
   * Without it, archives hold no media files.
   */
  media?: MediaStore;
}) {
  const { reposDir, templateDir } = options;
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_COMMIT_FILE_BYTES;
  const maxTotalBytes = options.maxTotalBytes ?? DEFAULT_MAX_COMMIT_TOTAL_BYTES;
  const mirrorsDir = options.mirrorsDir ?? path.join(path.dirname(reposDir), 'mirrors');
  const repoPath = (projectId: string) => path.join(reposDir, `${projectId}.git`);
  const mirrorPath = (projectId: string) => path.join(mirrorsDir, projectId);

  /** Repos whose `info/attributes` this process has checked (older repos get it on first use). */
  const exact = new Set<string>();
  async function byteExact(projectId: string, bare = repoPath(projectId)) {
    if (exact.has(bare)) return;
    const file = path.join(bare, 'info', 'attributes');
    if ((await readFile(file, 'utf8').catch(() => '')) !== BYTE_EXACT_ATTRIBUTES) {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, BYTE_EXACT_ATTRIBUTES);
    }
    exact.add(bare);
  }

  /**
   * A new repo whose first version holds the template's files, or those of `source.folder`
   * (an import's checked files: taken as they are, and left where they are).
   */
  async function prepare(projectId: string, message = 'Create project from the template', source?: { folder: string }): Promise<PreparedRepo> {
    const scratch = path.join(reposDir, `.tmp-${projectId}-${randomUUID().slice(0, 8)}`);
    const bare = path.join(scratch, 'repo.git');
    const work = source?.folder ?? path.join(scratch, 'work');
    const discard = () => rm(scratch, { recursive: true, force: true });
    try {
      await mkdir(scratch, { recursive: true });
      if (!source) {
        await cp(templateDir, work, {
          recursive: true,
          errorOnExist: true,
          filter: (file) => isTemplateFile(path.relative(templateDir, file)),
        });
      }
      // A manifest only the server writes: one an import brings pins nothing of this project's.
      if (source) await rm(path.join(work, MEDIA_MANIFEST_PATH), { force: true });
      await git(['init', '--quiet', '--bare', bare]);
      await writeFile(path.join(bare, 'info', 'attributes'), BYTE_EXACT_ATTRIBUTES);
      const gitDir = ['--git-dir', bare, '--work-tree', work];
      await git([...gitDir, 'add', '--all']);
      await git([...gitDir, 'commit', '--quiet', '--message', message]);
      const version = (await git(['--git-dir', bare, 'rev-parse', 'HEAD'])).trim();
      if (!source) await rm(work, { recursive: true, force: true });
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
        await rm(mirrorPath(projectId), { recursive: true, force: true });
      },
      restore: async () => {
        if (moved) await rename(trash, repoPath(projectId));
      },
    };
  }

  /**
   * The project's latest version as a tar stream (`git archive`: its files, folders
   * implied, symlinks as links), for a driver to write into a sandbox's working copy.
   * The version is fixed when the archive starts; a commit meanwhile does not change it.
   */
  async function archive(projectId: string): Promise<{ version: string; tar: Readable }> {
    await byteExact(projectId);
    const version = await readRef(projectId);
    return { version, tar: await archiveWithMedia(projectId, version, 'tar', '') };
  }

  /** A tar of a version's media manifest and the named media files only (for a live working copy). */
  function mediaArchive(projectId: string, version: string, names: string[]): Promise<Readable> {
    return archiveWithMedia(projectId, version, 'tar', '', names);
  }

  /**
   * Every media hash any version of the project pins (its whole history: a restore may bring
   * back any of them). Read from each distinct manifest git holds, whatever commit has it.
   */
  async function pinnedHashes(projectId: string): Promise<Set<string>> {
    const found = new Set<string>();
    const raw = await git(['--git-dir', repoPath(projectId), 'log', '--all', '--format=', '--raw', '--no-abbrev', '--no-renames', '--', MEDIA_MANIFEST_PATH]);
    const blobs = new Set<string>();
    for (const line of raw.split('\n')) {
      const fields = /^:\d+ \d+ ([0-9a-f]{40}) ([0-9a-f]{40}) /.exec(line);
      if (!fields) continue;
      for (const blob of [fields[1]!, fields[2]!]) if (!/^0+$/.test(blob)) blobs.add(blob);
    }
    for (const blob of blobs) {
      // Read as text, not through the manifest's schema: a manifest it would refuse (a field a
      // newer server wrote) must still keep its bytes. A blob that cannot be read throws.
      const text = await git(['--git-dir', repoPath(projectId), 'cat-file', 'blob', blob]);
      for (const match of text.matchAll(/"sha256"\s*:\s*"([0-9a-f]{64})"/g)) found.add(match[1]!);
    }
    return found;
  }

  /** A version's media manifest (empty when it has none). */
  async function readManifest(projectId: string, version = 'HEAD'): Promise<MediaManifest> {
    const text = await git(['--git-dir', repoPath(projectId), 'show', `${version}:${MEDIA_MANIFEST_PATH}`]).catch(() => null);
    return parseManifest(text);
  }

  /**
   * `git archive` of a version with its media in it, each at `public/<name>` from the
   * store (git's --add-file, from a folder of links made for this archive and removed when
   * the stream closes). A pinned file missing from the store is left out: it cannot be made
   * up. `onlyMedia`: the archive holds the manifest and those media files, nothing else.
   */
  async function archiveWithMedia(projectId: string, version: string, format: 'tar' | 'zip', prefix: string, onlyMedia?: string[]): Promise<Readable> {
    const media = options.media ? (await readManifest(projectId, version)).media.filter((asset) => !onlyMedia || onlyMedia.includes(asset.name)) : [];
    const added: string[] = [];
    let folder: string | null = null;
    if (options.media && media.length > 0) {
      folder = path.join(reposDir, `.media-${randomUUID()}`);
      await mkdir(folder, { mode: 0o700 });
      let at = 0;
      for (const asset of media) {
        if (!(await options.media.has(asset.sha256))) continue;
        const file = path.join(folder, String(at++), asset.name);
        await options.media.materialise(asset.sha256, file);
        added.push(`--prefix=${prefix}${path.dirname(asset.path)}/`, `--add-file=${file}`);
      }
    }
    const stream = gitStream(['--git-dir', repoPath(projectId), 'archive', `--format=${format}`, ...added, `--prefix=${prefix}`, version, ...(onlyMedia ? ['--', MEDIA_MANIFEST_PATH] : [])]);
    if (folder) {
      const made = folder;
      stream.once('close', () => void rm(made, { recursive: true, force: true }));
    }
    return stream;
  }

  /**
   * A new version that changes only the media: `change` gets the latest version's manifest
   * and returns the next one and the paths to drop from the tree (a tracked file where a
   * media file now sits). Made with git's plumbing on an index of its own, under the
   * project's write lock, and `main` moved with a compare-and-swap.
   */
  function commitMedia(
    projectId: string,
    change: (manifest: MediaManifest) => { manifest: MediaManifest; dropPaths?: string[] },
    commit: { message: string; author: VersionAuthor },
  ): Promise<{ version: string }> {
    return exclusive(projectId, async () => {
      const head = await readRef(projectId);
      const next = change(await readManifest(projectId, head));
      const gitDir = ['-c', 'gc.auto=0', '--git-dir', repoPath(projectId)];
      const env = { GIT_INDEX_FILE: path.join(reposDir, `.pathspec-index-${projectId}-${randomUUID().slice(0, 8)}`) };
      try {
        await git([...gitDir, 'read-tree', head], { env });
        const blob = (await git([...gitDir, 'hash-object', '-w', '--stdin'], { input: serializeManifest(next.manifest) })).trim();
        await git([...gitDir, 'update-index', '--add', '--cacheinfo', `100644,${blob},${MEDIA_MANIFEST_PATH}`], { env });
        // Mode 0 removes an entry (no work tree needed); a path not in the index is no error.
        const drops = (next.dropPaths ?? []).map((file) => `0 ${'0'.repeat(40)}\t${file}\n`).join('');
        if (drops) await git([...gitDir, 'update-index', '--index-info'], { env, input: drops });
        const tree = (await git([...gitDir, 'write-tree'], { env })).trim();
        const names = authors[commit.author];
        const created = (await git([...gitDir, 'commit-tree', tree, '-p', head, '-m', commitText(commit)], { env: { GIT_AUTHOR_NAME: names.name, GIT_AUTHOR_EMAIL: names.email } })).trim();
        await git([...gitDir, 'update-ref', '-m', 'media', 'refs/heads/main', created, head]);
        return { version: created };
      } finally {
        await rm(env.GIT_INDEX_FILE, { force: true });
      }
    });
  }

  /**
   * Makes a folder of the server's own a working copy of the project's latest version
   * (files that differ written, others removed), through the same archive a sandbox gets.
   * For tools and tests; a sandbox's working copy goes through its driver.
   */
  async function checkout(projectId: string, folder: string): Promise<string> {
    const { version, tar } = await archive(projectId);
    await unpackArchive(folder, tar, { replace: true, maxFileBytes: Number.MAX_SAFE_INTEGER, maxTotalBytes: Number.MAX_SAFE_INTEGER });
    return version;
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
   * Saves a working copy, read as a tar stream (a driver's `readFiles`), as the project's
   * next version, if it differs from the latest. The archive is checked as it is written
   * into the project's mirror, a folder of the server's (0700) kept between commits, so
   * only files that changed are rewritten and git re-reads only those. Git works from the
   * project's own bare repo and a server-side index; it never sees anything of the
   * sandbox but the archive's bytes.
   *
   * New or changed files over `maxFileBytes` are left out (and returned as `skipped`):
   * the agent's tools refuse such writes, but a shell or project code may still leave
   * one in the working copy, and git must never take it in. They are read past, hashed
   * on the way to tell whether they differ from the latest version, never stored.
   */
  function commitArchive(
    projectId: string,
    tar: Readable,
    commit: { message: string; author: VersionAuthor },
  ): Promise<{ version: string; changed: boolean; skipped: SkippedFile[] }> {
    // Whatever happens, the archive's source (a process in the sandbox) is not left waiting.
    const work = exclusive(projectId, async () => {
      const { gitDir, env, skipped } = await stageArchive(projectId, tar);
      const names = authors[commit.author];
      const message = commitText(commit);
      try {
        await git([...gitDir, 'commit', '--quiet', '--no-verify', `--author=${names.name} <${names.email}>`, '--message', message], { env });
      } catch (error) {
        const output = `${(error as { stdout?: string }).stdout ?? ''}`;
        if (/nothing to commit|no changes added/i.test(output)) return { version: await readRef(projectId), changed: false, skipped };
        throw error;
      }
      return { version: await readRef(projectId), changed: true, skipped };
    });
    return work.finally(() => tar.destroy());
  }

  /**
   * A working copy, read as a tar stream, as a git tree of the project's repo, without a
   * version: what the agent's view_frame renders mid-turn. Taken in exactly as a turn's
   * commit would take it (the same checks, size limits, pinned media and manifest); the
   * tree is an object no ref names, so git's own collection removes it in time.
   */
  function snapshotArchive(projectId: string, tar: Readable): Promise<string> {
    const work = exclusive(projectId, async () => {
      const { gitDir, env } = await stageArchive(projectId, tar);
      return (await git([...gitDir, 'write-tree'], { env })).trim();
    });
    return work.finally(() => tar.destroy());
  }

  /**
   * Unpacks a working copy's archive into the project's mirror and stages it in the
   * server-side index (commitArchive, snapshotArchive); run under `exclusive`.
   */
  async function stageArchive(projectId: string, tar: Readable) {
    await byteExact(projectId);
    const mirror = mirrorPath(projectId);
    await mkdir(mirrorsDir, { recursive: true, mode: 0o700 });
    await mkdir(mirror, { recursive: true, mode: 0o700 });
    await chmod(mirror, 0o700);
    /** Git's blob id of each oversize file, computed as it streams past. */
    const blobs = new Map<string, string>();
    const unpacked = await unpackArchive(mirror, tar, {
      replace: true,
      maxFileBytes,
      maxTotalBytes,
      oversize: 'skip',
      onOversize: async (entry, content) => {
        const hash = createHash('sha1').update(`blob ${entry.bytes}\0`);
        for await (const chunk of content) hash.update(chunk);
        blobs.set(entry.path, hash.digest('hex'));
      },
    });
    // core.symlinks=false: a link of the version comes back as a file holding its text
    // (that is how working copies get it), and git keeps it a link.
    const gitDir = ['-c', 'gc.auto=0', '-c', 'core.quotePath=false', '-c', 'core.symlinks=false', '--git-dir', repoPath(projectId), '--work-tree', mirror];
    // Kept between commits (git then re-reads only files whose stat changed); a missing
    // one starts from the latest version, so that git knows which files were links.
    const env = { GIT_INDEX_FILE: path.join(reposDir, `.index-${projectId}`) };
    if (!(await stat(env.GIT_INDEX_FILE).catch(() => null))) await git([...gitDir, 'read-tree', 'HEAD'], { env });
    const sorted = await sortOversize(projectId, gitDir, env, unpacked.skipped, blobs);
    // The media manifest and the files it pins stay as the latest version has them: media
    // changes only through the assets routes (and restores), never through a working copy.
    const pinned = new Set([MEDIA_MANIFEST_PATH, ...(await readManifest(projectId)).media.map((asset) => asset.path)]);
    const skipped = sorted.skipped.filter((file) => !pinned.has(file.path));
    const oversize = [...sorted.oversize.filter((file) => !pinned.has(file.path)), ...[...pinned].map((file) => ({ path: file, bytes: 0 }))];
    if (oversize.length === 0) {
      await git([...gitDir, 'add', '--all'], { env });
    } else {
      // Every path but the oversize ones; a file of pathspecs, however many there are.
      const pathspecs = path.join(reposDir, `.pathspec-${projectId}`);
      const fromFile = [`--pathspec-from-file=${pathspecs}`, '--pathspec-file-nul'];
      try {
        await writeFile(pathspecs, ['.', ...oversize.map((file) => `:(top,literal,exclude)${file.path}`)].join('\0'));
        await git([...gitDir, 'add', '--all', ...fromFile], { env });
        // An oversize file stays as the latest version has it (or absent), whatever the
        // index held: a fresh index would otherwise drop a tracked one.
        await writeFile(pathspecs, oversize.map((file) => `:(top,literal)${file.path}`).join('\0'));
        await git([...gitDir, 'reset', '--quiet', 'HEAD', ...fromFile], { env });
      } finally {
        await rm(pathspecs, { force: true });
      }
    }
    return { gitDir, env, skipped };
  }

  /**
   * Of the files too large for a version: `oversize`, those git must be kept from (all
   * but the untracked ones the project ignores: git never takes those, and refuses a
   * pathspec naming one); `skipped`, those to report, that a commit would have taken were
   * they small (new or changed against the latest version, and not ignored). A large file
   * the version already holds, unchanged, is nothing to report.
   */
  async function sortOversize(projectId: string, gitDir: string[], env: Record<string, string>, found: SkippedFile[], blobs: Map<string, string>) {
    if (found.length === 0) return { oversize: found, skipped: found };
    const tracked = new Map<string, string>();
    const tree = await git(['--git-dir', repoPath(projectId), 'ls-tree', '-r', '-z', '--full-tree', 'HEAD']).catch(() => '');
    for (const line of tree.split('\0').filter(Boolean)) {
      const tab = line.indexOf('\t');
      tracked.set(line.slice(tab + 1), line.slice(0, tab).split(' ')[2] ?? '');
    }
    const untracked = found.filter((file) => !tracked.has(file.path));
    // check-ignore exits 1 when nothing is ignored.
    const ignored = untracked.length
      ? await git([...gitDir, 'check-ignore', '-z', '--stdin'], { env, input: `${untracked.map((file) => file.path).join('\0')}\0` })
          .then((out) => new Set(out.split('\0').filter(Boolean)))
          .catch(() => new Set<string>())
      : new Set<string>();
    const oversize = found.filter((file) => !ignored.has(file.path));
    return { oversize, skipped: oversize.filter((file) => tracked.get(file.path) !== blobs.get(file.path)) };
  }

  /** Saves a folder of the server's own as the next version (tools and tests; see commitArchive). */
  function commitWorkspace(projectId: string, folder: string, commit: { message: string; author: VersionAuthor }) {
    return commitArchive(projectId, packDirectory(folder), commit);
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
      if (entry.startsWith('.tmp-') || entry.startsWith('.trash-') || entry.startsWith('.pathspec-') || entry.startsWith('.media-') || staleIndex) {
        await rm(path.join(reposDir, entry), { recursive: true, force: true });
        removed.push(entry);
      } else if (entry.endsWith('.git') && !knownProjectIds.has(entry.slice(0, -4))) {
        orphans.push(entry);
      }
    }
    // Mirrors are copies of working copies, rebuilt by the next commit: one without its project goes.
    for (const entry of await readdir(mirrorsDir).catch(() => [] as string[])) {
      if (!knownProjectIds.has(entry)) {
        await rm(path.join(mirrorsDir, entry), { recursive: true, force: true });
        removed.push(`mirrors/${entry}`);
      }
    }
    return { removed, orphans };
  }

  /** The ids of every project repo on disk, owned by a project or not (what the media collection must read). */
  async function idsOnDisk(): Promise<string[]> {
    const entries = await readdir(reposDir).catch(() => [] as string[]);
    return entries.filter((entry) => entry.endsWith('.git') && !entry.startsWith('.')).map((entry) => entry.slice(0, -4));
  }

  /** History: list, diff and restore versions (a restore takes the same lock as a commit). */
  const versions = createVersionHistory({ repoPath, exclusive, readRef, restoreIdentity: authors.restore, archiveWithMedia });

  return { repoPath, prepare, detach, listFiles, head, sweep, archive, checkout, commitArchive, snapshotArchive, commitWorkspace, versions, readManifest, pinnedHashes, idsOnDisk, commitMedia, mediaArchive, media: options.media };
}

export type ProjectRepos = ReturnType<typeof createProjectRepos>;
