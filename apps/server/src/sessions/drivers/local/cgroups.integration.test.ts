import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rmdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { setUpCgroups } from './cgroups.js';

/**
 * The sweep at set-up: a cgroup a killed server left (old, empty) goes; a young one (its
 * process may be about to join) and one that holds a process stay.
 */
const cgroups = await setUpCgroups();
const parents = readFileSync('/proc/self/cgroup', 'utf8')
  .split('\n')
  .map((line) => /^\d+:([^:]*):(.*)$/.exec(line))
  .flatMap((match) => {
    if (!match) return [];
    if (match[1] === '' && existsSync('/sys/fs/cgroup/cgroup.controllers')) return [path.join('/sys/fs/cgroup', match[2]!, 'cutroom')];
    return match[1]!.split(',').filter((controller) => ['memory', 'pids', 'cpu'].includes(controller)).map((controller) => path.join('/sys/fs/cgroup', controller, match[2]!, 'cutroom'));
  })
  .filter((parent) => existsSync(parent));

describe.skipIf('unavailable' in cgroups)('cgroups: the sweep of abandoned ones', () => {
  const names = { old: `sweep-old-${process.pid}`, young: `sweep-young-${process.pid}`, busy: `sweep-busy-${process.pid}` };
  const sleeper = spawn('/bin/sleep', ['60'], { stdio: 'ignore' });

  afterAll(async () => {
    sleeper.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const parent of parents) for (const name of Object.values(names)) await rmdir(path.join(parent, name)).catch(() => {});
  });

  it('removes old empty cgroups only', async () => {
    expect(parents.length).toBeGreaterThan(0);
    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000);
    for (const parent of parents) {
      for (const name of Object.values(names)) await mkdir(path.join(parent, name));
      await utimes(path.join(parent, names.old), tenMinutesAgo, tenMinutesAgo);
      await writeFile(path.join(parent, names.busy, 'cgroup.procs'), String(sleeper.pid));
      await utimes(path.join(parent, names.busy), tenMinutesAgo, tenMinutesAgo);
    }
    await setUpCgroups();
    for (const parent of parents) {
      expect(existsSync(path.join(parent, names.old)), `${parent}/${names.old}`).toBe(false);
      expect(existsSync(path.join(parent, names.young)), `${parent}/${names.young}`).toBe(true);
      expect(existsSync(path.join(parent, names.busy)), `${parent}/${names.busy}`).toBe(true);
    }
  });
});
