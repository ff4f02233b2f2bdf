import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type * as ExecOffLoop from '../../../exec-off-loop.js';

// Counts `du` runs (the real ones, from the command worker).
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

const { diskUsage } = await import('./limit-watch.js');

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

  it("measures each folder's blocks, 0 for a folder that is gone", async () => {
    const [one, three, missing] = await Promise.all(['one', 'three', 'missing'].map((name) => diskUsage(path.join(dir, name))));
    expect(one).toBeGreaterThanOrEqual(MiB);
    expect(one).toBeLessThan(MiB + 256 * 1024);
    expect(three).toBeGreaterThanOrEqual(3 * MiB);
    expect(three).toBeLessThan(3 * MiB + 256 * 1024);
    expect(missing).toBe(0);
  });

  it('answers requests made together with one du run (not a process per sandbox)', async () => {
    const before = duRuns.count;
    const folders = Array.from({ length: 20 }, (_, index) => path.join(dir, index % 2 ? 'one' : 'three'));
    const sizes = await Promise.all(folders.map((folder) => diskUsage(folder)));
    expect(duRuns.count - before).toBe(1);
    expect(new Set(sizes.filter((_, index) => index % 2)).size).toBe(1);
    expect(sizes[0]).toBeGreaterThan(sizes[1]!);
  });
});
