import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
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
    expect((await git(['-C', workspace, 'status', '--porcelain'])).trim()).toBe('');
    expect((await git(['-C', workspace, 'symbolic-ref', 'HEAD'])).trim()).toBe('refs/heads/main');
  });
});
