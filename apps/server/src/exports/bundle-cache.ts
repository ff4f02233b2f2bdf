import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { git } from '../repos/git.js';

/** A git tree id (SHA-1, or SHA-256 repos): the only names a bundle folder may have. */
const TREE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checked(value: string, pattern: RegExp, what: string) {
  if (!pattern.test(value)) throw new Error(`not a ${what}: ${value}`);
  return value;
}

/** Bytes a folder takes on disk (allocated blocks, as `du` counts them), symlinks not followed. */
export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await directoryBytes(full);
    const info = await lstat(full).catch(() => null);
    if (info) total += Math.max(info.blocks * 512, entry.isDirectory() ? 0 : info.size);
  }
  return total;
}

/** A render's hold on a bundle: kept from eviction until released. */
export type BundleLease = {
  tree: string;
  /** Where the bundle is, or will be put by the worker (render-worker.ts builds it aside and renames it here). */
  dir: string;
  /** Marks the bundle used now (for least-recently-used eviction), lets it go, and trims the cache. */
  release(): Promise<void>;
};

/**
 * The render workers' bundle cache: one Rspack bundle per git TREE of a version, in
 * `<root>/<tree>/`. A bundle depends only on the version's files (the packages are the
 * server's), so versions with the same files share one: every new project from the
 * template has the same tree, and N new projects cost one bundle, not N.
 *
 * The cache keeps within `maxBytes`: after each render the least recently used bundles
 * (folder mtime, touched on each use) are removed first, never one a running render holds
 * (`acquire`). Eviction renames a bundle out of the way before removing it, and a render
 * that asks for a bundle being evicted waits for that, then builds it again: a worker
 * never sees half a bundle. Which projects used a bundle is noted in
 * `<projectsRoot>/<tree>/<projectId>`, so deleting a project removes the bundles only
 * it used.
 */
export function createBundleCache(options: { root: string; projectsRoot: string; maxBytes: number; logger: Logger }) {
  const { root, projectsRoot, maxBytes, logger } = options;
  /** Renders holding each bundle. */
  const holds = new Map<string, number>();
  /** Bundles being removed, until they are gone. */
  const evictions = new Map<string, Promise<void>>();
  /** Sizes of bundles in place (a bundle never changes once renamed into place). */
  const sizes = new Map<string, number>();

  const bundleDir = (tree: string) => path.join(root, checked(tree, TREE, 'tree id'));
  const markersDir = (tree: string) => path.join(projectsRoot, checked(tree, TREE, 'tree id'));

  /** The tree of `version` in the repo: what the bundle is keyed by. */
  async function treeOf(repoPath: string, version: string): Promise<string> {
    const tree = (await git(['--git-dir', repoPath, 'rev-parse', '--verify', '--quiet', `${version}^{tree}`])).trim();
    return checked(tree, TREE, 'tree id');
  }

  async function acquire(tree: string, projectId: string): Promise<BundleLease> {
    const dir = bundleDir(tree);
    checked(projectId, UUID, 'project id');
    // Being evicted: wait until it is gone (the worker then builds it anew). The hold is
    // taken in the same tick as the last check, so no eviction can start in between.
    for (let eviction = evictions.get(tree); eviction; eviction = evictions.get(tree)) await eviction;
    holds.set(tree, (holds.get(tree) ?? 0) + 1);
    await mkdir(markersDir(tree), { recursive: true })
      .then(() => writeFile(path.join(markersDir(tree), projectId), ''))
      .catch((error: unknown) => logger.warn({ err: error, tree }, 'could not note the project of a bundle'));
    let released = false;
    return {
      tree,
      dir,
      async release() {
        if (released) return;
        released = true;
        const now = new Date();
        await utimes(dir, now, now).catch(() => {});
        const left = (holds.get(tree) ?? 1) - 1;
        if (left > 0) holds.set(tree, left);
        else holds.delete(tree);
        await trim();
      },
    };
  }

  /** Removes one bundle and its notes, unless a render holds it; checked and begun in one tick. */
  function evict(tree: string): Promise<boolean> {
    if (holds.has(tree)) return Promise.resolve(false);
    const running = evictions.get(tree);
    if (running) return running.then(() => true);
    const removal = (async () => {
      const aside = path.join(root, `.evicted-${tree}-${randomBytes(4).toString('hex')}`);
      const moved = await rename(bundleDir(tree), aside).then(
        () => true,
        (error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
          return false;
        },
      );
      sizes.delete(tree);
      await rm(markersDir(tree), { recursive: true, force: true });
      if (moved) await rm(aside, { recursive: true, force: true });
    })().finally(() => evictions.delete(tree));
    evictions.set(tree, removal);
    return removal.then(() => true);
  }

  /** Bundles in place, newest use first, with their sizes. */
  async function inventory() {
    const names = (await readdir(root).catch(() => [] as string[])).filter((name) => TREE.test(name));
    const found = await Promise.all(
      names.map(async (tree) => {
        const info = await stat(bundleDir(tree)).catch(() => null);
        if (!info) return null;
        let bytes = sizes.get(tree);
        if (bytes === undefined) {
          bytes = await directoryBytes(bundleDir(tree));
          sizes.set(tree, bytes);
        }
        return { tree, usedAt: info.mtimeMs, bytes };
      }),
    );
    return found.filter((entry) => entry !== null).sort((a, b) => b.usedAt - a.usedAt);
  }

  async function trimOnce() {
    const bundles = await inventory();
    // Bundles in use stay whatever their size; the rest fit in what is left, newest first.
    let total = bundles.filter((entry) => holds.has(entry.tree)).reduce((sum, entry) => sum + entry.bytes, 0);
    const evicted: string[] = [];
    for (const entry of bundles) {
      if (holds.has(entry.tree)) continue;
      if (total + entry.bytes <= maxBytes) {
        total += entry.bytes;
        continue;
      }
      if (await evict(entry.tree)) evicted.push(entry.tree);
      else total += entry.bytes;
    }
    // Notes of bundles that are not there (a build that failed, say).
    const present = new Set(bundles.map((entry) => entry.tree));
    for (const tree of await readdir(projectsRoot).catch(() => [] as string[])) {
      if (TREE.test(tree) && !present.has(tree) && !holds.has(tree) && !evictions.has(tree)) {
        await rm(markersDir(tree), { recursive: true, force: true });
      }
    }
    if (evicted.length) logger.info({ evicted, keptBytes: total, maxBytes }, 'bundle cache trimmed');
  }

  /** One trim at a time; calls made while one runs share the next one. Never rejects. */
  let chain: Promise<void> = Promise.resolve();
  let pending: Promise<void> | null = null;
  function trim(): Promise<void> {
    if (pending) return pending;
    const run = chain
      .then(() => {
        pending = null;
        return trimOnce();
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'could not trim the bundle cache'));
    pending = run;
    chain = run;
    return run;
  }

  return {
    root,
    bundleDir,
    treeOf,
    acquire,
    trim,

    /** At start: removes what is not a bundle (eviction leftovers, an older per-project layout), then trims. */
    async sweep() {
      await mkdir(root, { recursive: true });
      for (const name of await readdir(root)) {
        if (!TREE.test(name)) await rm(path.join(root, name), { recursive: true, force: true });
      }
      await trim();
    },

    /** A project was deleted: the bundles only it used go; shared ones (same files elsewhere) stay. */
    async projectDeleted(projectId: string) {
      checked(projectId, UUID, 'project id');
      for (const tree of await readdir(projectsRoot).catch(() => [] as string[])) {
        if (!TREE.test(tree)) continue;
        const marker = path.join(markersDir(tree), projectId);
        if (!(await stat(marker).catch(() => null))) continue;
        await rm(marker, { force: true });
        const others = await readdir(markersDir(tree)).catch(() => [] as string[]);
        if (others.length === 0) await evict(tree);
      }
    },

    /** Bundles in place and their total size (for tests, logs and the benchmark). */
    async usage() {
      const bundles = await inventory();
      return { bundles: bundles.map((entry) => entry.tree), bytes: bundles.reduce((sum, entry) => sum + entry.bytes, 0) };
    },
  };
}

export type BundleCache = ReturnType<typeof createBundleCache>;
