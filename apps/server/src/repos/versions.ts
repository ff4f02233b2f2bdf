import type { Readable } from 'node:stream';
import { type FileChange, type FileDiff, MEDIA_MANIFEST_PATH, type Version, type VersionFile, MAX_VERSION_PAGE } from '@cutroom/protocol';
import { AppError, notFound } from '../errors.js';
import { mediaChanges, parseManifest } from '../media/media-manifest.js';
import { git, gitStream } from './git.js';
import type { VersionAuthor } from './project-repos.js';

export const VERSION_ID = /^[0-9a-f]{40}$/;
export const DEFAULT_VERSION_PAGE = 50;
/** Patch text one diff answer carries, over all its files. */
export const MAX_DIFF_CHARS = 200_000;
/** The tree of nothing: what a project's first version is compared with. */
const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

const versionNotFound = () => notFound('That version');
const AUTHOR_TRAILER = 'Cutroom-Author';
const RESTORED_TRAILER = 'Cutroom-Restored-From';
/** Starts each commit's record in `git log` output (a status token never looks like it). */
const RECORD = 'cutroom-version ';
const LOG_FORMAT = `--format=${RECORD}%H%x00%P%x00%cI%x00%B`;

/** The message of a version: what it was made from, and its trailers. */
function versionMessage(text: string, trailers: { author: VersionAuthor; restoredFrom?: string }) {
  const lines = [`${AUTHOR_TRAILER}: ${trailers.author}`];
  if (trailers.restoredFrom) lines.push(`${RESTORED_TRAILER}: ${trailers.restoredFrom}`);
  return `${text.trim().slice(0, 2_000) || 'Update'}\n\n${lines.join('\n')}\n`;
}

/** First line and trailers of a commit message (trailers only from a last paragraph that is not the first). */
function parseMessage(body: string): { message: string; author: VersionAuthor; restoredFrom?: string } {
  const paragraphs = body.trim().split(/\n\s*\n/);
  const trailers = new Map<string, string>();
  if (paragraphs.length > 1) {
    for (const line of paragraphs.at(-1)!.split('\n')) {
      const match = /^([A-Za-z-]+):\s*(.*)$/.exec(line.trim());
      if (match) trailers.set(match[1]!.toLowerCase(), match[2]!.trim());
    }
  }
  const author = trailers.get(AUTHOR_TRAILER.toLowerCase());
  const restoredFrom = trailers.get(RESTORED_TRAILER.toLowerCase());
  return {
    message: (paragraphs[0] ?? '').split('\n', 1)[0]!.trim(),
    author: author === 'agent' || author === 'restore' || author === 'user' ? author : 'user',
    ...(restoredFrom && VERSION_ID.test(restoredFrom) ? { restoredFrom } : {}),
  };
}

const changes: Record<string, FileChange> = { A: 'added', M: 'modified', T: 'modified', D: 'deleted', R: 'renamed', C: 'added' };

/**
 * Reads `git log --name-status -z` with LOG_FORMAT: each record is the marker and id,
 * parents, date and message (NUL-separated), then status tokens (`M`, `R100`, …, maybe
 * after a newline) each followed by one path, or two for renames and copies. Paths are
 * taken verbatim, whatever they contain, because they are only ever read after a status.
 */
export function parseLog(output: string): Version[] {
  const tokens = output.split('\0');
  const versions: Version[] = [];
  let current: Version | null = null;
  let index = 0;
  while (index < tokens.length) {
    const token = tokens[index]!.replace(/^\n/, '');
    if (token.startsWith(RECORD)) {
      const id = token.slice(RECORD.length);
      const parents = (tokens[index + 1] ?? '').split(' ').filter(Boolean);
      const date = tokens[index + 2] ?? '';
      current = { id, parentId: parents[0] ?? null, createdAt: new Date(date).toISOString(), ...parseMessage(tokens[index + 3] ?? ''), files: [] };
      versions.push(current);
      index += 4;
    } else if (token === '') {
      index += 1;
    } else {
      const match = /^([ACDMRTUXB])\d*$/.exec(token);
      if (!match || !current) throw new Error(`unexpected git log output near ${JSON.stringify(token.slice(0, 80))}`);
      const change = changes[match[1]!] ?? 'modified';
      if (match[1] === 'R' || match[1] === 'C') {
        const [from, to] = [tokens[index + 1] ?? '', tokens[index + 2] ?? ''];
        current.files.push(change === 'renamed' ? { path: to, change, previousPath: from } : { path: to, change });
        index += 3;
      } else {
        current.files.push({ path: tokens[index + 1] ?? '', change });
        index += 2;
      }
    }
  }
  return versions;
}

/**
 * Reads `git diff --raw -z -p`: raw records (`:modes shas status`, then one or two paths),
 * an empty token, then the patch text, one `diff --git` section per raw record in the
 * same order. Patches are capped at `maxChars` in all; the file that crosses the cap is
 * cut at a line end, the ones after it carry no patch.
 */
export function parseDiff(output: string, maxChars = MAX_DIFF_CHARS): { files: FileDiff[]; truncated: boolean } {
  const entries: VersionFile[] = [];
  let position = 0;
  const nextToken = () => {
    const end = output.indexOf('\0', position);
    const token = end < 0 ? output.slice(position) : output.slice(position, end);
    position = end < 0 ? output.length : end + 1;
    return token;
  };
  while (position < output.length) {
    const record = nextToken();
    if (record === '') break;
    const status = /^:\S+ \S+ \S+ \S+ ([A-Z])\d*$/.exec(record)?.[1];
    if (!status) throw new Error(`unexpected git diff output near ${JSON.stringify(record.slice(0, 80))}`);
    const change = changes[status] ?? 'modified';
    if (status === 'R' || status === 'C') {
      const from = nextToken();
      const to = nextToken();
      entries.push(change === 'renamed' ? { path: to, change, previousPath: from } : { path: to, change });
    } else {
      entries.push({ path: nextToken(), change });
    }
  }
  const patchText = output.slice(position);
  // A section starts at `diff --git` at the start of a line; hunk lines always start with a prefix character.
  const sections = patchText ? patchText.split(/^(?=diff --git )/m) : [];
  if (sections.length !== entries.length) throw new Error(`git diff gave ${sections.length} patches for ${entries.length} files`);
  let budget = maxChars;
  let truncated = false;
  const files = entries.map((entry, at) => {
    const section = sections[at]!;
    const binary = /^(Binary files .* differ|GIT binary patch)$/m.test(section);
    let patch = section;
    let cut = false;
    if (patch.length > budget) {
      const end = patch.lastIndexOf('\n', budget);
      patch = end > 0 ? patch.slice(0, end + 1) : '';
      cut = true;
      truncated = true;
    }
    budget -= patch.length;
    if (cut) budget = 0;
    return { ...entry, patch, binary, truncated: cut };
  });
  return { files, truncated };
}

type Identity = { name: string; email: string };

/**
 * A project's history: the versions on `main`, their diffs, and restores. Reads need no
 * lock; a restore takes the project's write lock (`exclusive`), so it never interleaves
 * with a turn's commit, and moves `main` with a compare-and-swap.
 */
export function createVersionHistory(options: {
  repoPath: (projectId: string) => string;
  exclusive: <T>(projectId: string, work: () => Promise<T>) => Promise<T>;
  readRef: (projectId: string) => Promise<string>;
  restoreIdentity: Identity;
  /** `git archive` of a version with its media files added (project-repos.ts). */
  archiveWithMedia?: (projectId: string, version: string, format: 'tar' | 'zip', prefix: string) => Promise<Readable>;
}) {
  const { repoPath, exclusive, readRef } = options;
  const inRepo = (projectId: string) => ['-c', 'gc.auto=0', '--git-dir', repoPath(projectId)];

  /** A version's media manifest (empty for none, or for no version). */
  const manifestAt = (projectId: string, id: string | null) =>
    id === null ? parseManifest(null) : git([...inRepo(projectId), 'show', `${id}:${MEDIA_MANIFEST_PATH}`]).then(parseManifest, () => parseManifest(null));

  /**
   * The files a version changed, with `.cutroom/media.json` (Cutroom's bookkeeping) shown as
   * what it means: the media files added, removed or replaced, at `public/<name>`.
   */
  async function withMedia<T extends VersionFile>(projectId: string, files: T[], id: string, base: string | null, entry: (change: ReturnType<typeof mediaChanges>[number]) => T): Promise<T[]> {
    const at = files.findIndex((file) => file.path === MEDIA_MANIFEST_PATH);
    if (at < 0) return files;
    const [before, after] = await Promise.all([manifestAt(projectId, base), manifestAt(projectId, id)]);
    // A media file that took the place of a file git held (an upload over a tracked public/x)
    // is one change, not a deletion and an addition.
    const gitChanged = new Set(files.map((file) => file.path));
    const media = mediaChanges(before, after).map((change) => (change.change === 'added' && gitChanged.has(change.path) ? { ...change, change: 'modified' as const } : change));
    const mediaPaths = new Set(media.map((change) => change.path));
    const others = (list: T[]) => list.filter((file) => !mediaPaths.has(file.path));
    return [...others(files.slice(0, at)), ...media.map(entry), ...others(files.slice(at + 1))];
  }

  /** 404 unless `id` is a well-formed id of a commit that `main` reaches. */
  async function requireOnMain(projectId: string, id: string) {
    if (!VERSION_ID.test(id)) throw versionNotFound();
    try {
      await git([...inRepo(projectId), 'merge-base', '--is-ancestor', id, 'refs/heads/main']);
    } catch (error) {
      // 1: not an ancestor; 128: no such commit (or not a commit).
      if (typeof (error as { code?: unknown }).code === 'number') throw versionNotFound();
      throw error;
    }
  }

  /**
   * Versions on `main`, newest first: `limit` of them (at most MAX_VERSION_PAGE), older
   * than `before` when given. One git process for the page (two with `before`, which is
   * checked first).
   */
  async function list(projectId: string, page: { before?: string; limit?: number } = {}) {
    const limit = Math.min(Math.max(1, Math.floor(page.limit ?? DEFAULT_VERSION_PAGE)), MAX_VERSION_PAGE);
    if (page.before) await requireOnMain(projectId, page.before);
    const output = await git([
      ...inRepo(projectId),
      'log',
      LOG_FORMAT,
      '--name-status',
      '-z',
      '-M',
      '--no-color',
      `--max-count=${limit + 1}`,
      ...(page.before ? ['--skip=1', page.before] : ['refs/heads/main']),
      '--',
    ]);
    const versions = parseLog(output);
    const more = versions.length > limit;
    const shown = await Promise.all(
      versions.slice(0, limit).map(async (version) => ({
        ...version,
        files: await withMedia(projectId, version.files, version.id, version.parentId, ({ path, change }) => ({ path, change })),
      })),
    );
    return { versions: shown, nextBefore: more ? shown.at(-1)!.id : null };
  }

  /** One version (it must be on `main`). */
  async function get(projectId: string, id: string, checked = false): Promise<Version> {
    if (!checked) await requireOnMain(projectId, id);
    const output = await git([...inRepo(projectId), 'log', LOG_FORMAT, '--name-status', '-z', '-M', '--no-color', '--max-count=1', id, '--']);
    const [version] = parseLog(output);
    if (!version) throw versionNotFound();
    return { ...version, files: await withMedia(projectId, version.files, version.id, version.parentId, ({ path, change }) => ({ path, change })) };
  }

  /**
   * What `id` changed: against its parent (nothing, for the first version), or against
   * `against`, another version. Per file the patch git makes, capped in all (`truncated`).
   */
  async function diff(projectId: string, id: string, against?: string) {
    const [, , parents] = await Promise.all([
      requireOnMain(projectId, id),
      against === undefined ? undefined : requireOnMain(projectId, against),
      against === undefined ? git([...inRepo(projectId), 'rev-list', '--parents', '--max-count=1', id]).catch(() => null) : null,
    ]);
    const base = against ?? parents?.trim().split(' ')[1] ?? null;
    const output = await git([
      ...inRepo(projectId),
      'diff',
      '--no-color',
      '--no-ext-diff',
      '--no-textconv',
      '-M',
      '--raw',
      '-z',
      '--patch',
      base ?? EMPTY_TREE,
      id,
      '--',
    ]);
    const parsed = parseDiff(output);
    const files = await withMedia(projectId, parsed.files, id, base, ({ path, change, asset }) => ({
      path,
      change,
      patch: '',
      binary: true,
      truncated: false,
      media: { kind: asset.kind, size: asset.size },
    }));
    return { version: id, against: base, files, truncated: parsed.truncated };
  }

  /**
   * Makes `id`'s files the project's latest version again: a new commit on `main` with
   * `id`'s tree, authored by 'restore'. When the latest version already has those files,
   * nothing is made (`restored: false`).
   */
  function restore(projectId: string, id: string): Promise<{ version: Version; restored: boolean }> {
    return exclusive(projectId, async () => {
      await requireOnMain(projectId, id);
      const current = await readRef(projectId);
      if (id === current) return { version: await get(projectId, current, true), restored: false };
      const described = await git([...inRepo(projectId), 'log', '--no-walk', `--format=${RECORD}%H%x00%T%x00%B`, '-z', id, current, '--']);
      const commits = new Map<string, { tree: string; body: string }>();
      const tokens = described.split('\0');
      for (let at = 0; at < tokens.length; at++) {
        const token = tokens[at]!.replace(/^\n/, '');
        if (!token.startsWith(RECORD)) continue;
        commits.set(token.slice(RECORD.length), { tree: tokens[at + 1] ?? '', body: tokens[at + 2] ?? '' });
        at += 2;
      }
      const target = commits.get(id);
      if (!target?.tree) throw versionNotFound();
      if (target.tree === commits.get(current)?.tree) return { version: await get(projectId, current, true), restored: false };
      const { message, author } = parseMessage(target.body);
      // Restoring a restore brings back the same files: it keeps its message.
      const again = author === 'restore' && /^Restore ".*"$/.test(message);
      const title = message.length > 200 ? `${message.slice(0, 199)}…` : message;
      const text = versionMessage(again ? message : `Restore "${title}"`, { author: 'restore', restoredFrom: id });
      const identity = { GIT_AUTHOR_NAME: options.restoreIdentity.name, GIT_AUTHOR_EMAIL: options.restoreIdentity.email };
      const created = (await git([...inRepo(projectId), 'commit-tree', `${id}^{tree}`, '-p', current, '-m', text], { env: identity })).trim();
      try {
        // Compare-and-swap: `main` moves only if it is still where it was read.
        await git([...inRepo(projectId), 'update-ref', '-m', `restore ${id}`, 'refs/heads/main', created, current]);
      } catch {
        throw new AppError('version_conflict', 'The project changed while it was being restored. Try again.', 409);
      }
      return { version: await get(projectId, created, true), restored: true };
    });
  }

  /**
   * A version's files (default: the latest) as a zip, every path under `prefix/`: what a
   * user downloads to go on with the project elsewhere (`npm install`, Remotion Studio).
   * 404 before any byte unless the version is on `main`; the stream fails, rather than
   * ends, if git does, so a cut archive is never mistaken for a whole one.
   */
  async function zip(projectId: string, id: string | undefined, prefix: string) {
    const version = id ?? (await readRef(projectId));
    await requireOnMain(projectId, version);
    if (options.archiveWithMedia) return { version, stream: await options.archiveWithMedia(projectId, version, 'zip', `${prefix}/`) };
    return { version, stream: gitStream([...inRepo(projectId), 'archive', '--format=zip', `--prefix=${prefix}/`, version]) };
  }

  return { list, get, diff, restore, requireOnMain, zip, current: (projectId: string) => readRef(projectId) };
}

export type VersionHistory = ReturnType<typeof createVersionHistory>;
