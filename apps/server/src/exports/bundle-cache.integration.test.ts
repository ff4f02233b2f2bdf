import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { git } from '../repos/git.js';
import { type TestServer, startTestServer } from '../testing/test-server.js';

// Renders run in sandboxes at a lower CPU weight than everything else: on a busy machine
// (other test files at once) they take minutes, which these waits allow for.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 300_000 });

const MIB = 1024 * 1024;
/** Room for two bundles of the template (about 26 MB each), not three: checked below. */
const BUDGET = 65 * MIB;

type Account = Awaited<ReturnType<TestServer['signupWithProject']>>;

/**
 * Real renders (worker, Rspack, Chromium) against the bundle cache: keyed by the git tree
 * of a version, so new projects share one bundle; two renders of it at once both work;
 * the cache keeps within BUNDLE_CACHE_MAX_BYTES, least recently used first.
 */
describe('the render bundle cache', () => {
  let server: TestServer;
  let first: Account;
  let second: Account;
  let third: Account;
  const workspaces: string[] = [];

  beforeAll(async () => {
    server = await startTestServer({
      environment: { EXPORT_CONCURRENCY: '2', EXPORT_CONCURRENCY_PER_USER: '2', BUNDLE_CACHE_MAX_BYTES: String(BUDGET) },
    });
  });
  afterAll(async () => {
    await server?.close();
    for (const dir of workspaces) await rm(dir, { recursive: true, force: true });
  });

  const bundlesDir = () => path.join(server.dataDir, 'cache', 'bundles');
  const treeOf = async (account: Account, version: string) =>
    (await git(['--git-dir', server.repos.repoPath(account.projectId), 'rev-parse', `${version}^{tree}`])).trim();
  const currentVersion = async (account: Account) =>
    (await server.request('GET', `/api/projects/${account.projectId}`, { cookie: account.cookie })).json.project.currentVersion as string;

  /** Exports a small PNG of the project's current version and waits until it is done. */
  async function exportStill(account: Account) {
    const base = `/api/projects/${account.projectId}/exports`;
    const created = await server.request('POST', base, { cookie: account.cookie, body: { compositionId: 'TitleScene', format: 'png', frame: 0, scale: 0.25 } });
    expect(created.status, created.text).toBe(201);
    const id = created.json.export.id as string;
    let status = '';
    await expect
      .poll(
        async () => {
          status = (await server.request('GET', `${base}/${id}`, { cookie: account.cookie })).json.export.status;
          return ['done', 'failed', 'cancelled'].includes(status);
        },
        { timeout: 280_000, interval: 250 },
      )
      .toBe(true);
    expect(status).toBe('done');
    return id;
  }

  /** Waits until no render runs, then for the cache's trim after the last one. */
  async function settled() {
    await expect.poll(() => server.exports.load().running.length, { timeout: 280_000, interval: 50 }).toBe(0);
    await server.exports.bundles.trim();
    return server.exports.bundles.usage();
  }

  /** Commits a change of the title's background: a new tree. */
  async function newTree(account: Account, colour: string) {
    const workspace = await mkdtemp(path.join(os.tmpdir(), 'cutroom-bundle-tree-'));
    workspaces.push(workspace);
    await server.repos.checkout(account.projectId, workspace);
    const scene = path.join(workspace, 'src', 'scenes', 'TitleScene.tsx');
    await writeFile(scene, (await readFile(scene, 'utf8')).replace(/background = '#[0-9A-Fa-f]{6}'/, `background = '${colour}'`));
    const commit = await server.repos.commitWorkspace(account.projectId, workspace, { message: colour, author: 'user' });
    expect(commit.changed).toBe(true);
    await server.store.projects.update(account.user.id, account.projectId, { currentVersion: commit.version });
    return treeOf(account, commit.version);
  }

  it('new projects share one bundle (their tree is the same); two renders of it at once both succeed', async () => {
    first = await server.signupWithProject('First');
    second = await server.signupWithProject('Second');
    const template = await treeOf(first, await currentVersion(first));
    expect(await treeOf(second, await currentVersion(second))).toBe(template);

    // Two users' renders of the same tree at once (EXPORT_CONCURRENCY=2): both build, one bundle lands.
    const [a, b] = await Promise.all([exportStill(first), exportStill(second)]);
    expect(server.exports.inspect(a)?.bundleTree).toBe(template);
    expect(server.exports.inspect(b)?.bundleTree).toBe(template);
    const usage = await settled();
    expect(usage.bundles).toEqual([template]);
    expect(await readdir(bundlesDir())).toEqual([template]);

    // A third project, another user's: no bundle is built for it.
    third = await server.signupWithProject('Third');
    const c = await exportStill(third);
    expect(server.exports.inspect(c)).toMatchObject({ bundleTree: template, bundleCached: true });
    expect((await settled()).bundles).toEqual([template]);
  });

  it('keeps within BUNDLE_CACHE_MAX_BYTES, evicting the least recently used bundle first', async () => {
    const one = (await settled()).bytes;
    // The budget holds two of these bundles, not three (else this test proves nothing).
    expect(one * 2, `one bundle is ${one} bytes: make BUDGET hold two, not three`).toBeLessThan(BUDGET);
    expect(one * 3, `one bundle is ${one} bytes: make BUDGET hold two, not three`).toBeGreaterThan(BUDGET * 1.05);
    const template = (await settled()).bundles[0]!;

    const white = await newTree(first, '#FFFFFF');
    expect(server.exports.inspect(await exportStill(first))).toMatchObject({ bundleTree: white, bundleCached: false });
    let usage = await settled();
    expect(usage.bundles).toEqual([white, template]);
    expect(usage.bytes).toBeLessThanOrEqual(BUDGET);

    const grey = await newTree(first, '#222222');
    expect(server.exports.inspect(await exportStill(first))).toMatchObject({ bundleTree: grey, bundleCached: false });
    usage = await settled();
    // The template's bundle was the least recently used: it went; the newest is kept.
    expect(usage.bundles).toEqual([grey, white]);
    expect(usage.bytes).toBeLessThanOrEqual(BUDGET);
    expect((await readdir(bundlesDir())).sort()).toEqual([grey, white].sort());

    // A project still on the template's tree gets its bundle built again.
    expect(server.exports.inspect(await exportStill(second))).toMatchObject({ bundleTree: template, bundleCached: false });
    usage = await settled();
    expect(usage.bundles).toEqual([template, grey]);
    expect(usage.bytes).toBeLessThanOrEqual(BUDGET);
  });

  it('deleting a project removes the bundles only it used, and keeps shared ones', async () => {
    const before = (await settled()).bundles;
    const template = await treeOf(second, await currentVersion(second));
    expect(before).toContain(template);
    expect((await server.request('DELETE', `/api/projects/${first.projectId}`, { cookie: first.cookie })).status).toBe(204);
    expect((await settled()).bundles).toEqual([template]);
    expect((await server.request('DELETE', `/api/projects/${second.projectId}`, { cookie: second.cookie })).status).toBe(204);
    expect((await settled()).bundles).toEqual([]);
  });
});
