import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BundleCache, createBundleCache, directoryBytes } from './bundle-cache.js';

const KIB = 1024;
const tree = (letter: string) => letter.repeat(40);
/** Lets the clock move on, so each use has its own mtime (the order is what is tested, not a speed). */
const tick = () => new Promise((resolve) => setTimeout(resolve, 15));

describe('bundle cache', () => {
  let dir: string;
  let cache: BundleCache;
  const project = randomUUID();

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-bundle-cache-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  const open = (maxBytes: number) =>
    createBundleCache({ root: path.join(dir, 'bundles'), projectsRoot: path.join(dir, 'bundle-projects'), maxBytes, logger: pino({ level: 'silent' }) });

  /** What a render worker does with a bundle that is not cached: builds it aside, renames it into place. */
  async function build(target: string, bytes: number) {
    const aside = path.join(dir, `built-${randomUUID()}`);
    await mkdir(path.join(aside, 'assets'), { recursive: true });
    await writeFile(path.join(aside, 'assets', 'bundle.js'), Buffer.alloc(bytes, 1));
    await writeFile(path.join(aside, 'cutroom-compositions.json'), '[]');
    await mkdir(path.dirname(target), { recursive: true });
    await import('node:fs/promises').then(({ rename }) => rename(aside, target));
  }

  /** One render of `name`: hold, build if missing, release (which trims). */
  async function render(name: string, bytes: number, projectId = project) {
    const lease = await cache.acquire(tree(name), projectId);
    if (!existsSync(lease.dir)) await build(lease.dir, bytes);
    await lease.release();
    await tick();
  }

  it('keeps within its budget, evicting the least recently used first', async () => {
    cache = open(250 * KIB);
    await render('a', 100 * KIB);
    await render('b', 100 * KIB);
    expect((await cache.usage()).bundles.sort()).toEqual([tree('a'), tree('b')]);
    // A third does not fit: the oldest use (a) goes.
    await render('c', 100 * KIB);
    let usage = await cache.usage();
    expect(usage.bundles).toEqual([tree('c'), tree('b')]);
    expect(usage.bytes).toBeLessThanOrEqual(250 * KIB);
    // b used again: now c is the least recently used.
    await render('b', 100 * KIB);
    await render('d', 100 * KIB);
    usage = await cache.usage();
    expect(usage.bundles).toEqual([tree('d'), tree('b')]);
    expect(usage.bytes).toBeLessThanOrEqual(250 * KIB);
    // Nothing half-removed is left beside the bundles.
    expect((await readdir(path.join(dir, 'bundles'))).sort()).toEqual([tree('b'), tree('d')]);
  });

  it('never evicts a bundle a render holds, even over the budget', async () => {
    cache = open(250 * KIB);
    const held = await cache.acquire(tree('a'), project);
    await build(held.dir, 200 * KIB);
    await render('b', 100 * KIB);
    // a (held) stays; b does not fit beside it.
    expect((await cache.usage()).bundles).toEqual([tree('a')]);
    await render('c', 10 * KIB);
    expect((await cache.usage()).bundles.sort()).toEqual([tree('a'), tree('c')]);
    await held.release();
    expect((await cache.usage()).bundles.sort()).toEqual([tree('a'), tree('c')]);
  });

  it('a bundle does not change while a render holds it, whenever it was asked for during a trim', async () => {
    cache = open(0);
    await build(path.join(dir, 'bundles', tree('a')), 400 * KIB);
    // The trim (budget 0) would evict it; renders ask for it at every turn of the event loop meanwhile.
    let trimmed = false;
    const trimming = cache.trim().then(() => (trimmed = true));
    const seen: { lease: Awaited<ReturnType<BundleCache['acquire']>>; present: boolean }[] = [];
    while (!trimmed) {
      const lease = await cache.acquire(tree('a'), project);
      seen.push({ lease, present: existsSync(path.join(lease.dir, 'cutroom-compositions.json')) });
      await new Promise((resolve) => setImmediate(resolve));
    }
    await trimming;
    expect(seen.length).toBeGreaterThan(0);
    // Whatever a render found when it got its hold is what it still finds.
    for (const { lease, present } of seen) {
      expect(existsSync(path.join(lease.dir, 'cutroom-compositions.json'))).toBe(present);
      if (present) expect(await directoryBytes(lease.dir)).toBeGreaterThanOrEqual(400 * KIB);
    }
    for (const { lease } of seen) await lease.release();
    expect((await cache.usage()).bundles).toEqual([]);
  });

  it('deleting a project removes the bundles only it used', async () => {
    cache = open(10 * 1024 * KIB);
    const other = randomUUID();
    await render('a', 10 * KIB, project);
    await render('a', 10 * KIB, other);
    await render('b', 10 * KIB, project);
    await cache.projectDeleted(project);
    expect((await cache.usage()).bundles).toEqual([tree('a')]);
    await cache.projectDeleted(other);
    expect((await cache.usage()).bundles).toEqual([]);
    expect(await readdir(path.join(dir, 'bundle-projects'))).toEqual([]);
  });

  it('at start, removes what is not a bundle (an older per-project layout, eviction leftovers)', async () => {
    cache = open(10 * 1024 * KIB);
    await build(path.join(dir, 'bundles', randomUUID(), tree('9')), 10 * KIB);
    await build(path.join(dir, 'bundles', `.evicted-${tree('8')}-0000`), 10 * KIB);
    await build(path.join(dir, 'bundles', tree('a')), 10 * KIB);
    await cache.sweep();
    expect(await readdir(path.join(dir, 'bundles'))).toEqual([tree('a')]);
  });

  it('refuses names that are not tree ids or project ids', async () => {
    cache = open(KIB);
    await expect(cache.acquire('../../etc', project)).rejects.toThrow('not a tree id');
    await expect(cache.acquire(tree('a'), '../x')).rejects.toThrow('not a project id');
  });
});
