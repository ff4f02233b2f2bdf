import { cp, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isTemplateFile, templateProjectDir } from '@cutroom/template';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git } from './git.js';
import { createProjectRepos } from './project-repos.js';

describe('project repos: checkout into a working copy', () => {
  let dir = '';
  const repos = () => createProjectRepos({ reposDir: path.join(dir, 'repos'), templateDir: templateProjectDir });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-repos-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  async function templateFolder(name: string) {
    const target = path.join(dir, name);
    await cp(templateProjectDir, target, { recursive: true, filter: (source) => isTemplateFile(path.relative(templateProjectDir, source)) });
    return target;
  }

  it('makes the folder equal to the project, removes strays, and leaves identical files untouched', async () => {
    const projects = repos();
    const prepared = await projects.prepare('p1');
    await prepared.publish();

    // A second version of the project: the title changed.
    const clone = path.join(dir, 'clone');
    await git(['clone', '--quiet', projects.repoPath('p1'), clone]);
    const scene = 'src/scenes/TitleScene.tsx';
    const original = await readFile(path.join(clone, scene), 'utf8');
    await writeFile(path.join(clone, scene), original.replace('Your video starts here', 'Version two'));
    await git(['-C', clone, 'commit', '--quiet', '--all', '--message', 'Version two']);
    await git(['-C', clone, 'push', '--quiet', 'origin', 'main']);

    const workspace = await templateFolder('workspace');
    await writeFile(path.join(workspace, 'stray.txt'), 'left by a tool');
    const rootBefore = (await stat(path.join(workspace, 'src/Root.tsx'))).mtimeMs;
    await new Promise((resolve) => setTimeout(resolve, 20));

    const version = await projects.checkout('p1', workspace);
    expect(version).toBe(await projects.head('p1'));
    expect(await readFile(path.join(workspace, scene), 'utf8')).toContain('Version two');
    await expect(stat(path.join(workspace, 'stray.txt'))).rejects.toThrow();
    expect((await stat(path.join(workspace, 'src/Root.tsx'))).mtimeMs).toBe(rootBefore);
    // Exactly the version's files, and no git folder: the working copy is only files.
    await expect(stat(path.join(workspace, '.git'))).rejects.toThrow();
    expect(await projects.commitWorkspace('p1', workspace, { message: 'nothing', author: 'agent' })).toEqual({ version, changed: false, skipped: [] });
  });

  it('checks a version out byte for byte, whatever its .gitattributes say, with links as plain files', async () => {
    const projects = repos();
    await (await projects.prepare('p4')).publish();
    const clone = path.join(dir, 'clone-attributes');
    await git(['clone', '--quiet', projects.repoPath('p4'), clone]);
    await writeFile(path.join(clone, '.gitattributes'), '*.txt export-subst eol=crlf\nhidden.txt export-ignore\n');
    await writeFile(path.join(clone, 'subst.txt'), 'X $Format:%H$\nline two\n');
    await writeFile(path.join(clone, 'hidden.txt'), 'hidden\n');
    await symlink('/etc/passwd', path.join(clone, 'link'));
    await git(['-C', clone, 'add', '--all']);
    await git(['-C', clone, 'commit', '--quiet', '--message', 'Attributes']);
    await git(['-C', clone, 'push', '--quiet', 'origin', 'main']);
    const workspace = path.join(dir, 'work-attributes');
    const version = await projects.checkout('p4', workspace);
    expect(await readFile(path.join(workspace, 'subst.txt'), 'utf8')).toBe('X $Format:%H$\nline two\n');
    expect(await readFile(path.join(workspace, 'hidden.txt'), 'utf8')).toBe('hidden\n');
    expect((await lstat(path.join(workspace, 'link'))).isFile()).toBe(true);
    expect(await readFile(path.join(workspace, 'link'), 'utf8')).toBe('/etc/passwd');
    // Taken back unchanged: the same bytes make no new version.
    await rm(path.join(workspace, 'link'));
    await symlink('/etc/passwd', path.join(workspace, 'link'));
    expect(await projects.commitWorkspace('p4', workspace, { message: 'nothing', author: 'agent' })).toEqual({ version, changed: false, skipped: [] });
  });
});

describe('project repos: a working copy becomes a version', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-commit-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('commits changes (and only changes) without reading the working copy\'s own .git', async () => {
    const repos = createProjectRepos({ reposDir: path.join(dir, 'repos'), templateDir: templateProjectDir });
    const prepared = await repos.prepare('p2');
    await prepared.publish();
    const workspace = path.join(dir, 'work');
    await mkdir(workspace);
    const first = await repos.checkout('p2', workspace);

    // Unchanged: no new version.
    expect(await repos.commitWorkspace('p2', workspace, { message: 'nothing', author: 'agent' })).toEqual({ version: first, changed: false, skipped: [] });

    // A planted fsmonitor hook in the working copy's .git must never run.
    const marker = path.join(dir, 'fsmonitor-ran');
    await mkdir(path.join(workspace, '.git'), { recursive: true });
    await writeFile(path.join(workspace, '.git', 'config'), `[core]\n\tfsmonitor = touch ${marker}\n`);
    await writeFile(path.join(workspace, 'src', 'New.tsx'), 'export const x = 1;\n');
    const scene = path.join(workspace, 'src', 'scenes', 'TitleScene.tsx');
    await writeFile(scene, (await readFile(scene, 'utf8')).replace('Your video starts here', 'Changed'));
    const [a, b] = await Promise.all([
      repos.commitWorkspace('p2', workspace, { message: 'Make the title say Changed', author: 'agent' }),
      repos.commitWorkspace('p2', workspace, { message: 'again', author: 'agent' }),
    ]);
    expect(a.changed).toBe(true);
    expect(b).toEqual({ version: a.version, changed: false, skipped: [] });
    expect(await repos.head('p2')).toBe(a.version);
    expect(await repos.listFiles('p2')).toContain('src/New.tsx');
    expect(await stat(marker).then(() => true, () => false)).toBe(false);
    const log = await git(['--git-dir', repos.repoPath('p2'), 'log', '-1', '--format=%an%n%B']);
    expect(log).toContain('Cutroom agent');
    expect(log).toContain('Make the title say Changed');
    expect(log).toContain('Cutroom-Author: agent');
    // Deleting a file is a change too.
    await rm(path.join(workspace, 'src', 'New.tsx'));
    const c = await repos.commitWorkspace('p2', workspace, { message: 'remove', author: 'user' });
    expect(c.changed).toBe(true);
    expect(await repos.listFiles('p2')).not.toContain('src/New.tsx');
  });

  it('leaves files over the size cap out of the version and reports them; the rest is committed', async () => {
    const repos = createProjectRepos({ reposDir: path.join(dir, 'repos-cap'), templateDir: templateProjectDir, maxFileBytes: 10_000 });
    await (await repos.prepare('p3')).publish();
    const workspace = path.join(dir, 'work-cap');
    await mkdir(workspace);
    await repos.checkout('p3', workspace);
    // As a shell (AGENT_SHELL) could leave them: new files, odd names, a tracked file grown too large.
    await writeFile(path.join(workspace, 'src', 'huge data.json'), 'x'.repeat(10_001));
    await mkdir(path.join(workspace, 'public', 'clips'), { recursive: true });
    await writeFile(path.join(workspace, 'public', 'clips', 'vidéo.bin'), Buffer.alloc(50_000));
    await writeFile(path.join(workspace, 'src', 'Small.ts'), 'export const small = 1;\n');
    await writeFile(path.join(workspace, 'src', 'Exact.ts'), 'y'.repeat(10_000));
    const scene = path.join(workspace, 'src', 'scenes', 'TitleScene.tsx');
    const original = await readFile(scene, 'utf8');
    await writeFile(scene, original + '//'.repeat(6_000));

    const commit = await repos.commitWorkspace('p3', workspace, { message: 'with big files', author: 'agent' });
    expect(commit.changed).toBe(true);
    expect(commit.skipped.sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      { path: 'public/clips/vidéo.bin', bytes: 50_000 },
      { path: 'src/huge data.json', bytes: 10_001 },
      { path: 'src/scenes/TitleScene.tsx', bytes: original.length + 12_000 },
    ]);
    const files = await repos.listFiles('p3');
    expect(files).toEqual(expect.arrayContaining(['src/Small.ts', 'src/Exact.ts', 'src/scenes/TitleScene.tsx']));
    expect(files).not.toContain('src/huge data.json');
    expect(files).not.toContain('public/clips/vidéo.bin');
    // The tracked file keeps the version it had.
    expect(await git(['--git-dir', repos.repoPath('p3'), 'show', 'HEAD:src/scenes/TitleScene.tsx'])).toBe(original);
    // No blob of the big files was even stored.
    const sizes = await git(['--git-dir', repos.repoPath('p3'), 'cat-file', '--batch-all-objects', '--batch-check=%(objectsize)']);
    expect(Math.max(...sizes.split('\n').filter(Boolean).map(Number))).toBe(10_000);

    // Still there, unchanged, and a large file the project ignores: nothing new to report.
    await writeFile(scene, original);
    await mkdir(path.join(workspace, 'out'), { recursive: true });
    await writeFile(path.join(workspace, 'out', 'render.mp4'), Buffer.alloc(20_000));
    const again = await repos.commitWorkspace('p3', workspace, { message: 'same big files', author: 'agent' });
    expect(again.skipped.map((file) => file.path).sort()).toEqual(['public/clips/vidéo.bin', 'src/huge data.json']);
  });

  it('refuses an archive that leads out of the mirror, and commits nothing of it', async () => {
    const repos = createProjectRepos({ reposDir: path.join(dir, 'repos-hostile'), templateDir: templateProjectDir });
    await (await repos.prepare('p5')).publish();
    const before = await repos.head('p5');
    const { pack } = await import('tar-stream');
    const hostile = pack();
    hostile.entry({ name: 'src/ok.ts' }, 'export {};\n');
    hostile.entry({ name: '../../escaped.txt' }, 'x');
    hostile.finalize();
    await expect(repos.commitArchive('p5', hostile as never, { message: 'hostile', author: 'agent' })).rejects.toThrow(/leads out/);
    expect(await repos.head('p5')).toBe(before);
    await expect(stat(path.join(dir, 'escaped.txt'))).rejects.toThrow();
    // The mirror is the server's alone.
    expect((await stat(path.join(dir, 'mirrors', 'p5'))).mode & 0o777).toBe(0o700);
  });
});
