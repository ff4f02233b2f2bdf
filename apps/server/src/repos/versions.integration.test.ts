import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { templateProjectDir } from '@cutroom/template';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { git } from './git.js';
import { type ProjectRepos, createProjectRepos } from './project-repos.js';
import { MAX_DIFF_CHARS } from './versions.js';

/** History on a real repo whose versions are made the way turns make them (commitWorkspace). */
describe('versions: list, diff, restore', () => {
  let dir = '';
  let repos: ProjectRepos;
  let workspace = '';
  const projectId = 'history';
  const scene = 'src/scenes/TitleScene.tsx';
  /** Version ids, oldest first: template, title, rename+delete+binary, binary change. */
  const made: string[] = [];
  const tree = async (version: string) => (await git(['--git-dir', repos.repoPath(projectId), 'rev-parse', `${version}^{tree}`])).trim();
  const work = (relative: string) => path.join(workspace, relative);
  const setTitle = async (title: string) => {
    const text = await readFile(work(scene), 'utf8');
    await writeFile(work(scene), text.replace(/title = '[^']*'/, `title = '${title}'`));
  };
  const commit = async (message: string, author: 'user' | 'agent' = 'agent') => {
    const result = await repos.commitWorkspace(projectId, workspace, { message, author });
    expect(result.changed).toBe(true);
    return result.version;
  };
  const notFound = (promise: Promise<unknown>) =>
    expect(promise).rejects.toSatisfy((error) => error instanceof AppError && error.status === 404 && error.message === 'That version was not found.');

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-versions-'));
    repos = createProjectRepos({ reposDir: path.join(dir, 'repos'), templateDir: templateProjectDir });
    const prepared = await repos.prepare(projectId);
    await prepared.publish();
    made.push(prepared.version);
    workspace = path.join(dir, 'work');
    await mkdir(workspace);
    await repos.checkout(projectId, workspace);

    await setTitle('Version one');
    await writeFile(work('src/data.json'), `${JSON.stringify({ items: Array.from({ length: 40 }, (_, index) => `item ${index}`) }, null, 2)}\n`);
    made.push(await commit('Make the title say Version one\nand add some data'));

    await mkdir(work('src/data'));
    await rename(work('src/data.json'), work('src/data/items.json'));
    await rm(work('README.md'));
    await writeFile(work('public/logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3, 0, 255]));
    made.push(await commit('Move the data, drop the readme, add a logo'));

    await writeFile(work('public/logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 9, 9, 9, 0, 254]));
    made.push(await commit('Swap the logo', 'user'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('lists the versions of main newest first, with authors, messages and changed files', async () => {
    const { versions, nextBefore } = await repos.versions.list(projectId);
    expect(nextBefore).toBeNull();
    expect(versions.map((version) => version.id)).toEqual([...made].reverse());
    expect(versions.map((version) => version.parentId)).toEqual([made[2], made[1], made[0], null]);
    expect(versions.map((version) => version.author)).toEqual(['user', 'agent', 'agent', 'user']);
    expect(versions.map((version) => version.message)).toEqual([
      'Swap the logo',
      'Move the data, drop the readme, add a logo',
      'Make the title say Version one',
      'Create project from the template',
    ]);
    for (const version of versions) {
      expect(new Date(version.createdAt).toISOString()).toBe(version.createdAt);
      expect(version.restoredFrom).toBeUndefined();
    }
    const [swap, move, title, first] = versions;
    expect(swap!.files).toEqual([{ path: 'public/logo.png', change: 'modified' }]);
    expect(move!.files).toEqual(
      expect.arrayContaining([
        { path: 'README.md', change: 'deleted' },
        { path: 'public/logo.png', change: 'added' },
        { path: 'src/data/items.json', change: 'renamed', previousPath: 'src/data.json' },
      ]),
    );
    expect(move!.files).toHaveLength(3);
    expect(title!.files).toEqual(expect.arrayContaining([{ path: scene, change: 'modified' }, { path: 'src/data.json', change: 'added' }]));
    expect(first!.files.map((file) => file.change)).toEqual(first!.files.map(() => 'added'));
    expect(first!.files.map((file) => file.path)).toContain(scene);
    expect(await repos.versions.current(projectId)).toBe(made[3]);
  });

  it('pages with limit and before, and refuses cursors that are not versions of main', async () => {
    const one = await repos.versions.list(projectId, { limit: 2 });
    expect(one.versions.map((version) => version.id)).toEqual([made[3], made[2]]);
    expect(one.nextBefore).toBe(made[2]);
    const two = await repos.versions.list(projectId, { limit: 2, before: one.nextBefore! });
    expect(two.versions.map((version) => version.id)).toEqual([made[1], made[0]]);
    expect(two.nextBefore).toBeNull();
    expect((await repos.versions.list(projectId, { before: made[0] })).versions).toEqual([]);
    const single = await repos.versions.list(projectId, { limit: 1, before: made[2] });
    expect(single).toEqual({ versions: [expect.objectContaining({ id: made[1] })], nextBefore: made[1] });

    const repo = ['--git-dir', repos.repoPath(projectId)];
    const dangling = (await git([...repo, 'commit-tree', `${made[1]}^{tree}`, '-m', 'not on main'])).trim();
    const aTree = await tree(made[1]!);
    for (const bad of ['zz', made[1]!.toUpperCase(), '0'.repeat(40), dangling, aTree, `${made[1]}^`]) {
      await notFound(repos.versions.list(projectId, { before: bad }));
    }
  });

  it('diffs a version against its parent: patches, renames, deletions, binaries', async () => {
    const title = await repos.versions.diff(projectId, made[1]!);
    expect(title.version).toBe(made[1]);
    expect(title.against).toBe(made[0]);
    expect(title.truncated).toBe(false);
    const sceneDiff = title.files.find((file) => file.path === scene)!;
    expect(sceneDiff).toMatchObject({ change: 'modified', binary: false, truncated: false });
    expect(sceneDiff.patch).toMatch(/^diff --git a\/src\/scenes\/TitleScene\.tsx b\/src\/scenes\/TitleScene\.tsx\n/);
    expect(sceneDiff.patch).toContain("+  title = 'Version one',");
    expect(sceneDiff.patch).toContain("-  title = 'Your video starts here',");
    expect(sceneDiff.patch).not.toContain('data.json');
    expect(title.files.find((file) => file.path === 'src/data.json')).toMatchObject({ change: 'added', binary: false });

    const move = await repos.versions.diff(projectId, made[2]!);
    const byPath = new Map(move.files.map((file) => [file.path, file]));
    expect(byPath.get('src/data/items.json')).toMatchObject({ change: 'renamed', previousPath: 'src/data.json', binary: false });
    expect(byPath.get('src/data/items.json')!.patch).toContain('rename from src/data.json');
    expect(byPath.get('README.md')).toMatchObject({ change: 'deleted', binary: false });
    expect(byPath.get('README.md')!.patch).toMatch(/^-/m);
    expect(byPath.get('public/logo.png')).toMatchObject({ change: 'added', binary: true });
    expect(byPath.get('public/logo.png')!.patch).not.toContain('\0');

    const first = await repos.versions.diff(projectId, made[0]!);
    expect(first.against).toBeNull();
    expect(first.files.every((file) => file.change === 'added')).toBe(true);

    // Against another version: everything between them.
    const span = await repos.versions.diff(projectId, made[3]!, made[0]!);
    expect(span.against).toBe(made[0]);
    expect(span.files.map((file) => file.path).sort()).toEqual(['README.md', 'public/logo.png', scene, 'src/data/items.json'].sort());

    await notFound(repos.versions.diff(projectId, 'f'.repeat(40)));
    await notFound(repos.versions.diff(projectId, made[1]!, 'f'.repeat(40)));
    await notFound(repos.versions.diff(projectId, made[1]!, await tree(made[0]!)));
  });

  it('caps a long diff near 200 KB, cutting at a line end, and says so', async () => {
    const line = (index: number) => `line ${index} ${'x'.repeat(60)}\n`;
    await writeFile(work('src/big.txt'), Array.from({ length: 5_000 }, (_, index) => line(index)).join(''));
    await writeFile(work('src/after.txt'), 'after\n');
    const version = await commit('A big file');
    const result = await repos.versions.diff(projectId, version);
    expect(result.truncated).toBe(true);
    const total = result.files.reduce((sum, file) => sum + file.patch.length, 0);
    expect(total).toBeLessThanOrEqual(MAX_DIFF_CHARS);
    expect(total).toBeGreaterThan(MAX_DIFF_CHARS - 200);
    const cut = result.files.find((file) => file.truncated)!;
    expect(cut.patch.endsWith('\n')).toBe(true);
    // Files after the cut come without a patch, but still listed.
    expect(result.files.map((file) => file.path).sort()).toEqual(['src/after.txt', 'src/big.txt']);
    await rm(work('src/big.txt'));
    await rm(work('src/after.txt'));
    made.push(version, await commit('Remove the big file'));
  });

  it('restores a version as a new version authored by restore; restoring what is current changes nothing', async () => {
    const before = await repos.versions.current(projectId);
    const { version, restored } = await repos.versions.restore(projectId, made[1]!);
    expect(restored).toBe(true);
    expect(version).toMatchObject({
      parentId: before,
      author: 'restore',
      restoredFrom: made[1],
      message: 'Restore "Make the title say Version one"',
    });
    expect(version.files).toEqual(
      expect.arrayContaining([
        { path: 'README.md', change: 'added' },
        { path: 'public/logo.png', change: 'deleted' },
      ]),
    );
    expect(await tree(version.id)).toBe(await tree(made[1]!));
    expect(await repos.versions.current(projectId)).toBe(version.id);
    const body = await git(['--git-dir', repos.repoPath(projectId), 'log', '-1', '--format=%an <%ae>%n%B', version.id]);
    expect(body).toContain('Cutroom restore <restore@cutroom.local>');
    expect(body).toContain(`Cutroom-Author: restore\nCutroom-Restored-From: ${made[1]}`);
    expect((await repos.versions.list(projectId, { limit: 1 })).versions[0]).toEqual(version);

    // Again: the latest version already has those files.
    expect(await repos.versions.restore(projectId, made[1]!)).toEqual({ version, restored: false });
    expect(await repos.versions.restore(projectId, version.id)).toEqual({ version, restored: false });
    expect(await repos.versions.current(projectId)).toBe(version.id);
    await notFound(repos.versions.restore(projectId, 'a'.repeat(40)));
    made.push(version.id);
  });

  it('the working copy follows a restore without its .git being read, and the next commit keeps the restore', async () => {
    // A planted fsmonitor hook in the working copy's .git must never run.
    const marker = path.join(dir, 'fsmonitor-ran');
    await mkdir(path.join(workspace, '.git'), { recursive: true });
    await writeFile(path.join(workspace, '.git', 'config'), `[core]\n\tfsmonitor = touch ${marker}\n`);
    await writeFile(work('stray.txt'), 'left by a tool');
    const untouched = (await stat(work('src/Root.tsx'))).mtimeMs;
    await new Promise((resolve) => setTimeout(resolve, 20));

    expect(await repos.checkout(projectId, workspace)).toBe(made.at(-1));
    expect(await readFile(work(scene), 'utf8')).toContain("title = 'Version one'");
    expect(await readFile(work('src/data.json'), 'utf8')).toContain('item 39');
    await expect(stat(work('public/logo.png'))).rejects.toThrow();
    await expect(stat(work('src/data/items.json'))).rejects.toThrow();
    await expect(stat(work('stray.txt'))).rejects.toThrow();
    expect(await readFile(work('README.md'), 'utf8')).not.toBe('');
    expect((await stat(work('src/Root.tsx'))).mtimeMs).toBe(untouched);
    expect(await stat(marker).then(() => true, () => false)).toBe(false);
    // The working copy is only the version's files: a planted .git goes like any stray.
    await expect(stat(path.join(workspace, '.git'))).rejects.toThrow();

    expect(await repos.commitWorkspace(projectId, workspace, { message: 'nothing new', author: 'agent' })).toEqual({
      version: made.at(-1),
      changed: false,
      skipped: [],
    });
  });

  it('undo: restoring the parent of the current version brings the previous files back as a restore', async () => {
    await setTitle('A new title');
    const edited = await commit('Make the title say A new title');
    const { versions } = await repos.versions.list(projectId, { limit: 1 });
    expect(versions[0]!.id).toBe(edited);
    const undo = await repos.versions.restore(projectId, versions[0]!.parentId!);
    expect(undo.restored).toBe(true);
    expect(undo.version).toMatchObject({ author: 'restore', parentId: edited, restoredFrom: versions[0]!.parentId });
    // The parent was itself a restore: its message is kept.
    expect(undo.version.message).toBe('Restore "Make the title say Version one"');
    expect(undo.version.files).toEqual([{ path: scene, change: 'modified' }]);
    expect(await tree(undo.version.id)).toBe(await tree(versions[0]!.parentId!));
    const diff = await repos.versions.diff(projectId, undo.version.id);
    expect(diff.files[0]!.patch).toContain("-  title = 'A new title',");
    await repos.checkout(projectId, workspace);
    expect(await readFile(work(scene), 'utf8')).toContain("title = 'Version one'");
  });

  it('a restore racing a commit: both land, in the order they were asked for', async () => {
    await setTitle('Raced');
    const base = await repos.versions.current(projectId);
    const [committed, restored] = await Promise.all([
      repos.commitWorkspace(projectId, workspace, { message: 'Make the title say Raced', author: 'agent' }),
      repos.versions.restore(projectId, made[0]!),
    ]);
    expect(committed.changed).toBe(true);
    expect(restored.restored).toBe(true);
    expect(restored.version.parentId).toBe(committed.version);
    expect(await repos.versions.current(projectId)).toBe(restored.version.id);
    expect(await tree(restored.version.id)).toBe(await tree(made[0]!));
    const { versions } = await repos.versions.list(projectId, { limit: 3 });
    expect(versions.map((version) => version.id)).toEqual([restored.version.id, committed.version, base]);
    expect(versions.map((version) => version.author)).toEqual(['restore', 'agent', 'restore']);
    // The restore is of the template, the project's first version (no trailer: 'user').
    expect(restored.version.message).toBe('Restore "Create project from the template"');
  });
});
