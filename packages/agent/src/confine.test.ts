import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PathRefused, confinePath } from './confine.js';

let dir: string;
let workspace: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'confine-'));
  workspace = path.join(dir, 'workspace');
  await mkdir(path.join(workspace, 'src', 'scenes'), { recursive: true });
  await mkdir(path.join(workspace, 'public'), { recursive: true });
  await mkdir(path.join(workspace, '.git'), { recursive: true });
  await writeFile(path.join(workspace, 'src', 'Root.tsx'), 'x');
  await writeFile(path.join(dir, 'secret.txt'), 'secret');
  await symlink(path.join(dir, 'secret.txt'), path.join(workspace, 'src', 'leak.txt'));
  await symlink(dir, path.join(workspace, 'src', 'outside'));
  await symlink(path.join(workspace, 'src', 'Root.tsx'), path.join(workspace, 'src', 'alias.tsx'));
  await symlink(path.join(dir, 'nowhere'), path.join(workspace, 'src', 'dangling.txt'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('confinePath', () => {
  it('accepts relative and absolute paths inside the working copy, existing or new', async () => {
    await expect(confinePath(workspace, 'src/Root.tsx')).resolves.toMatchObject({ relative: 'src/Root.tsx' });
    await expect(confinePath(workspace, path.join(workspace, 'src/New.tsx'))).resolves.toMatchObject({ relative: 'src/New.tsx' });
    await expect(confinePath(workspace, 'src/a/b/c.tsx')).resolves.toMatchObject({ relative: 'src/a/b/c.tsx' });
    await expect(confinePath(workspace, 'src/./scenes/../Root.tsx')).resolves.toMatchObject({ relative: 'src/Root.tsx' });
    await expect(confinePath(workspace, 'src/alias.tsx')).resolves.toMatchObject({ relative: 'src/Root.tsx' });
  });

  it.each([
    ['../secret.txt'],
    ['src/../../secret.txt'],
    ['/etc/passwd'],
    ['src/leak.txt'],
    ['src/outside/secret.txt'],
    ['src/outside/new-file.txt'],
    ['src/dangling.txt'],
    ['.git/config'],
    ['src/../.git/hooks/pre-commit'],
    [''],
    ['src/\0.tsx'],
  ])('refuses %j', async (given) => {
    await expect(confinePath(workspace, given)).rejects.toBeInstanceOf(PathRefused);
  });

  it('keeps to the given roots', async () => {
    const roots = ['src', 'public'];
    await expect(confinePath(workspace, 'public/logo.png', { roots })).resolves.toMatchObject({ relative: 'public/logo.png' });
    await expect(confinePath(workspace, 'src', { roots })).resolves.toMatchObject({ relative: 'src' });
    await expect(confinePath(workspace, 'package.json', { roots })).rejects.toThrow(/outside src\/ or public\//);
    await expect(confinePath(workspace, 'srcfoo/x.ts', { roots })).rejects.toBeInstanceOf(PathRefused);
    await expect(confinePath(workspace, '.', { roots })).rejects.toBeInstanceOf(PathRefused);
  });
});
