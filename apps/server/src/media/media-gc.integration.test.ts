import { mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { templateProjectDir } from '@cutroom/template';
import { pngBytes } from '@cutroom/testkit';
import type { MediaAsset } from '@cutroom/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProjectRepos } from '../repos/project-repos.js';
import { createMediaCollector } from './media-gc.js';
import { withAsset, withoutAsset } from './media-manifest.js';
import { createMediaStore } from './media-store.js';

/**
 * The media store's collection: what no version of any existing project pins goes (a
 * deleted project's files, an upload that never got its version), once it is older than the
 * grace; everything any version pins stays, however old, since a restore may need it.
 */
describe('media collection', () => {
  let dir = '';
  let repos: ReturnType<typeof createProjectRepos>;
  let store: ReturnType<typeof createMediaStore>;
  let projects: string[] = [];
  const hour = 60 * 60 * 1000;
  const collector = () => createMediaCollector({ repos, projectIds: async () => projects, logger: pino({ level: 'silent' }) });

  async function stored(bytes: Buffer, name: string): Promise<MediaAsset> {
    const file = path.join(dir, `upload-${name}-${Math.random()}`);
    await writeFile(file, bytes);
    const { sha256, size } = await store.put(file, { move: true });
    return { name, path: `public/${name}`, kind: 'image', mime: 'image/png', size, sha256, width: 8, height: 8, addedAt: new Date().toISOString() };
  }
  /** Makes a stored file look as old as `ms`. */
  const age = (asset: MediaAsset, ms: number) => utimes(store.file(asset.sha256), new Date(Date.now() - ms), new Date(Date.now() - ms));
  const present = (asset: MediaAsset) => store.has(asset.sha256);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-media-gc-'));
    store = createMediaStore(`file://${path.join(dir, 'storage')}`);
    repos = createProjectRepos({ reposDir: path.join(dir, 'repos'), templateDir: templateProjectDir, media: store, maxFileBytes: 1024 });
    for (const id of ['keep', 'gone', 'orphan']) await (await repos.prepare(id)).publish();
    projects = ['keep', 'gone'];
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("removes a deleted project's media and stray uploads, keeps every version's media and recent uploads", async () => {
    const shared = await stored(pngBytes(8, 8, [1, 2, 3]), 'shared.png');
    const old = await stored(pngBytes(8, 8, [4, 5, 6]), 'old.png');
    const mine = await stored(pngBytes(8, 8, [7, 8, 9]), 'mine.png');
    const stray = await stored(pngBytes(8, 8, [10, 11, 12]), 'stray.png');
    const fresh = await stored(pngBytes(8, 8, [13, 14, 15]), 'fresh.png');
    // A repo no project of this database owns (another DATABASE_URL, say): its media stay.
    const orphaned = await stored(pngBytes(8, 8, [16, 17, 18]), 'orphaned.png');
    await repos.commitMedia('orphan', (manifest) => ({ manifest: withAsset(manifest, orphaned) }), { message: 'Add', author: 'user' });
    await age(orphaned, 2 * hour);
    // "keep": old.png in an older version only (removed since), shared.png now.
    await repos.commitMedia('keep', (manifest) => ({ manifest: withAsset(manifest, old) }), { message: 'Add old', author: 'user' });
    await repos.commitMedia('keep', (manifest) => ({ manifest: withAsset(withoutAsset(manifest, 'old.png'), shared) }), { message: 'Swap', author: 'user' });
    // "gone": shared.png and a file of its own; then the project is deleted.
    await repos.commitMedia('gone', (manifest) => ({ manifest: withAsset(withAsset(manifest, shared), mine) }), { message: 'Add two', author: 'user' });
    expect([...(await repos.pinnedHashes('keep'))].sort()).toEqual([old.sha256, shared.sha256].sort());
    await (await repos.detach('gone')).commit();
    projects = ['keep'];
    for (const asset of [shared, old, mine, stray]) await age(asset, 2 * hour);

    const result = await collector().run();
    expect(result).toEqual({ removed: 2, bytes: mine.size + stray.size });
    expect(await present(shared)).toBe(true);
    expect(await present(old)).toBe(true); // a restore of the older version needs it
    expect(await present(mine)).toBe(false);
    expect(await present(stray)).toBe(false);
    expect(await present(fresh)).toBe(true); // within the grace: its version may be on its way
    expect(await present(orphaned)).toBe(true);
  });

  it('keeps a file stored again just now, though an older copy had aged past the grace', async () => {
    const bytes = pngBytes(8, 8, [20, 21, 22]);
    const first = await stored(bytes, 'again.png');
    await age(first, 2 * hour);
    const second = await stored(bytes, 'again.png');
    expect(second.sha256).toBe(first.sha256);
    expect((await stat(store.file(first.sha256))).mtimeMs).toBeGreaterThan(Date.now() - 60_000);
    await collector().run();
    expect(await present(first)).toBe(true);
  });

  it('removes what a crash left mid-store, and collects nothing when a repo cannot be read', async () => {
    const asset = await stored(pngBytes(8, 8, [30, 31, 32]), 'leftover.png');
    const leftover = `${store.file(asset.sha256)}.tmp-abcdef`;
    await writeFile(leftover, 'half');
    await utimes(leftover, new Date(Date.now() - 2 * hour), new Date(Date.now() - 2 * hour));
    await age(asset, 2 * hour);
    projects = ['keep', 'missing-repo'];
    await expect(collector().run()).rejects.toThrow();
    expect(await present(asset)).toBe(true);
    projects = ['keep'];
    await collector().run();
    expect(await present(asset)).toBe(false);
    expect((await readdir(path.dirname(leftover))).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });
});
