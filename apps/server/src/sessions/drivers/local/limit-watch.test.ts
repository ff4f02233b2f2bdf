import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type * as ExecOffLoop from '../../../exec-off-loop.js';

// Counts `du` runs (the real ones, from the command helper).
const duRuns = vi.hoisted(() => ({ count: 0 }));
vi.mock('../../../exec-off-loop.js', async (importOriginal) => {
  const original = await importOriginal<typeof ExecOffLoop>();
  return {
    execFileOffLoop: (file: string, args: string[], options?: { maxBuffer?: number }) => {
      if (file === 'du') duRuns.count += 1;
      return original.execFileOffLoop(file, args, options);
    },
  };
});

const { diskUsage, inodeLimit, overDiskLimit } = await import('./limit-watch.js');

const MiB = 1024 * 1024;

describe('diskUsage', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-disk-usage-'));
    for (const [name, mib] of [['one', 1], ['three', 3]] as const) {
      await mkdir(path.join(dir, name));
      await writeFile(path.join(dir, name, 'data.bin'), Buffer.alloc(mib * MiB, 1));
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("measures each folder's blocks and inodes, 0 for a folder that is gone", async () => {
    const [one, three, missing] = await Promise.all(['one', 'three', 'missing'].map((name) => diskUsage(path.join(dir, name))));
    expect(one!.bytes).toBeGreaterThanOrEqual(MiB);
    expect(one!.bytes).toBeLessThan(MiB + 256 * 1024);
    expect(three!.bytes).toBeGreaterThanOrEqual(3 * MiB);
    expect(three!.bytes).toBeLessThan(3 * MiB + 256 * 1024);
    // The folder and its file.
    expect(one!.inodes).toBe(2);
    expect(missing).toEqual({ bytes: 0, inodes: 0 });
  });

  it('counts empty files, which take no blocks, as inodes', async () => {
    const empty = path.join(dir, 'empty');
    await mkdir(empty);
    await Promise.all(Array.from({ length: 500 }, (_, index) => writeFile(path.join(empty, `f${index}`), '')));
    const usage = await diskUsage(empty);
    expect(usage.inodes).toBe(501);
    expect(usage.bytes).toBeLessThan(64 * 1024);
  });

  it('answers requests made together with one du run of each kind (not a process per sandbox)', async () => {
    const before = duRuns.count;
    const folders = Array.from({ length: 20 }, (_, index) => path.join(dir, index % 2 ? 'one' : 'three'));
    const sizes = await Promise.all(folders.map((folder) => diskUsage(folder)));
    expect(duRuns.count - before).toBe(2);
    expect(new Set(sizes.filter((_, index) => index % 2).map((size) => size.bytes)).size).toBe(1);
    expect(sizes[0]!.bytes).toBeGreaterThan(sizes[1]!.bytes);
  });
});

describe('overDiskLimit', () => {
  const budget = 256 * MiB;
  it('is over on bytes, or on inodes (one per 8 KiB of the budget), and says which', () => {
    expect(inodeLimit(budget)).toBe(32_768);
    expect(overDiskLimit({ bytes: budget, inodes: 32_768 }, budget)).toBeNull();
    expect(overDiskLimit({ bytes: budget + 1, inodes: 10 }, budget)).toEqual({ limitBytes: budget, usedBytes: budget + 1 });
    expect(overDiskLimit({ bytes: 4096, inodes: 32_769 }, budget)).toEqual({ limitInodes: 32_768, usedInodes: 32_769 });
  });
});
