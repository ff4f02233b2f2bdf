import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { templateProjectDir } from '@cutroom/template';
import { pngBytes } from '@cutroom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_MANIFEST_PATH, type MediaAsset } from '@cutroom/protocol';
import { createProjectRepos } from '../repos/project-repos.js';
import { zipEntries } from '../testing/zip.js';
import { withAsset, withoutAsset } from './media-manifest.js';
import { createMediaStore } from './media-store.js';

describe('media in versions: stored once, pinned by each version', () => {
  let dir = '';
  let repos: ReturnType<typeof createProjectRepos>;
  let store: ReturnType<typeof createMediaStore>;
  const red = pngBytes(8, 8, [255, 0, 0]);
  const blue = pngBytes(8, 8, [0, 0, 255]);

  async function stored(bytes: Buffer, name: string): Promise<MediaAsset> {
    const file = path.join(dir, `upload-${name}`);
    await writeFile(file, bytes);
    const { sha256, size } = await store.put(file, { move: true });
    return { name, path: `public/${name}`, kind: 'image', mime: 'image/png', size, sha256, width: 8, height: 8, addedAt: new Date().toISOString() };
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-media-versions-'));
    store = createMediaStore(`file://${path.join(dir, 'storage')}`);
    repos = createProjectRepos({ reposDir: path.join(dir, 'repos'), templateDir: templateProjectDir, media: store, maxFileBytes: 1024 });
    await (await repos.prepare('p1')).publish();
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('pins media by hash in a version, gives it to working copies and downloads, and keeps a working copy from changing it', async () => {
    const first = await repos.head('p1');
    const logo = await stored(red, 'logo.png');
    const { version: second } = await repos.commitMedia('p1', (manifest) => ({ manifest: withAsset(manifest, logo) }), { message: 'Add media "logo.png"', author: 'user' });
    expect(second).not.toBe(first);
    // In git: the manifest, never the bytes.
    expect(await repos.listFiles('p1')).toContain(MEDIA_MANIFEST_PATH);
    expect(await repos.listFiles('p1')).not.toContain('public/logo.png');
    expect((await repos.readManifest('p1')).media.map((asset) => asset.name)).toEqual(['logo.png']);

    // A working copy gets the bytes.
    const work = path.join(dir, 'work');
    await repos.checkout('p1', work);
    expect(await readFile(path.join(work, 'public/logo.png'))).toEqual(red);

    // The agent overwrites the file, edits the manifest and adds a manifest entry of its own: none of it is taken.
    await writeFile(path.join(work, 'public/logo.png'), blue);
    await writeFile(path.join(work, MEDIA_MANIFEST_PATH), '{"version":1,"media":[]}');
    await writeFile(path.join(work, 'src/extra.ts'), 'export const x = 1;\n');
    const committed = await repos.commitWorkspace('p1', work, { message: 'agent turn', author: 'agent' });
    expect(committed.changed).toBe(true);
    expect(committed.skipped).toEqual([]);
    expect(await repos.listFiles('p1')).not.toContain('public/logo.png');
    expect((await repos.readManifest('p1')).media.map((asset) => asset.name)).toEqual(['logo.png']);
    await repos.checkout('p1', work);
    expect(await readFile(path.join(work, 'public/logo.png'))).toEqual(red);

    // The download holds the media at its place.
    const { stream } = await repos.versions.zip('p1', undefined, 'My film');
    const files = await zipEntries(stream);
    expect(files.get('My film/public/logo.png')).toEqual(red);
    expect(files.has('My film/src/extra.ts')).toBe(true);

    // Replaced by another file of the same name, then removed: each version keeps its own.
    const logo2 = await stored(blue, 'logo.png');
    const { version: third } = await repos.commitMedia('p1', (manifest) => ({ manifest: withAsset(manifest, logo2) }), { message: 'Replace', author: 'user' });
    await repos.checkout('p1', work);
    expect(await readFile(path.join(work, 'public/logo.png'))).toEqual(blue);
    await repos.commitMedia('p1', (manifest) => ({ manifest: withoutAsset(manifest, 'logo.png') }), { message: 'Remove', author: 'user' });
    await repos.checkout('p1', work);
    await expect(stat(path.join(work, 'public/logo.png'))).rejects.toThrow();

    // Restore brings back exactly the older media; an older download holds the older bytes.
    await repos.versions.restore('p1', second);
    await repos.checkout('p1', work);
    expect(await readFile(path.join(work, 'public/logo.png'))).toEqual(red);
    const older = await zipEntries((await repos.versions.zip('p1', third, 'p')).stream);
    expect(older.get('p/public/logo.png')).toEqual(blue);
    // History shows the media files a version changed, never the manifest's JSON.
    const { versions } = await repos.versions.list('p1');
    const [restored, removed, replaced] = versions;
    expect(removed!.files).toEqual([{ path: 'public/logo.png', change: 'deleted' }]);
    expect(replaced!.files).toEqual([{ path: 'public/logo.png', change: 'modified' }]);
    // The restore of the version before the agent's turn: its logo back, the turn's file gone.
    expect(restored!.files).toEqual([
      { path: 'public/logo.png', change: 'added' },
      { path: 'src/extra.ts', change: 'deleted' },
    ]);
    expect((await repos.versions.get('p1', third)).files).toEqual([{ path: 'public/logo.png', change: 'modified' }]);
    const diff = await repos.versions.diff('p1', third);
    expect(diff.files).toEqual([{ path: 'public/logo.png', change: 'modified', patch: '', binary: true, truncated: false, media: { kind: 'image', size: blue.length } }]);
    // Against a version two steps back: the agent's file and the media, side by side.
    const wide = await repos.versions.diff('p1', third, first);
    expect(wide.files.map((file) => [file.path, file.change])).toEqual([
      ['public/logo.png', 'added'],
      ['src/extra.ts', 'added'],
    ]);
    // Nothing of the archives' link folders is left (each goes when its stream closes).
    await expect.poll(async () => (await readdir(path.join(dir, 'repos'))).filter((entry) => entry.startsWith('.media-')), { timeout: 10_000 }).toEqual([]);
  });

  it('drops a manifest an import brings (it could name another project\'s media)', async () => {
    const source = path.join(dir, 'import');
    await repos.checkout('p1', source);
    await writeFile(path.join(source, MEDIA_MANIFEST_PATH), await readFile(path.join(source, MEDIA_MANIFEST_PATH)).catch(() => '{}'));
    await (await repos.prepare('p2', 'Import', { folder: source })).publish();
    expect(await repos.listFiles('p2')).not.toContain(MEDIA_MANIFEST_PATH);
  });

  it('shows an upload over a file git held as one replaced file', async () => {
    await (await repos.prepare('p3')).publish();
    const work = path.join(dir, 'work-p3');
    await repos.checkout('p3', work);
    await mkdir(path.join(work, 'public'), { recursive: true });
    await writeFile(path.join(work, 'public', 'badge.png'), pngBytes(2, 2, [0, 0, 0]));
    await repos.commitWorkspace('p3', work, { message: 'A small badge in git', author: 'agent' });
    const badge = await stored(pngBytes(8, 8, [0, 255, 0]), 'badge.png');
    const { version } = await repos.commitMedia('p3', (manifest) => ({ manifest: withAsset(manifest, badge), dropPaths: ['public/badge.png'] }), { message: 'Upload badge.png', author: 'user' });
    expect((await repos.versions.get('p3', version)).files).toEqual([{ path: 'public/badge.png', change: 'modified' }]);
    expect((await repos.versions.diff('p3', version)).files).toEqual([
      { path: 'public/badge.png', change: 'modified', patch: '', binary: true, truncated: false, media: { kind: 'image', size: badge.size } },
    ]);
  });
});
