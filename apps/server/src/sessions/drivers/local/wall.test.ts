import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SandboxCgroup } from './cgroups.js';
import { joinCgroupsCommand } from './cgroups.js';
import { readOnlyPaths, wallCommand } from './wall.js';

const cgroup = { procsFiles: ['/sys/fs/cgroup/memory/cutroom/x/cgroup.procs', '/sys/fs/cgroup/pids/cutroom/x/cgroup.procs'] } as SandboxCgroup;
const limits = { pids: 300, diskMb: 512 };
const bubblewrap = { readWrite: ['/data/sandboxes/x'], readOnly: [], tmpBytes: 1024, cwd: '/data/sandboxes/x' };

describe('the local wall', () => {
  it('joins the cgroups first, then prlimit, setpriv as the sandbox user, bubblewrap, the command', () => {
    const [file, args] = wallCommand(['/usr/bin/node', 'main.js'], { uid: 200_123, cgroup, bubblewrap, limits });
    const line = [file, ...args];
    expect(line.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    const order = ['cutroom-join', cgroup.procsFiles[0], cgroup.procsFiles[1], '--', '/usr/bin/prlimit', '/usr/bin/setpriv', '/usr/bin/bwrap', '/usr/bin/node'].map((part) => line.indexOf(part!));
    expect(order.every((index) => index >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(line).toContain(`--fsize=${512 * 1024 * 1024}`);
    expect(line).toEqual(expect.arrayContaining(['--reuid=200123', '--no-new-privs', '--pdeathsig', 'KILL']));
    // A cgroup caps processes and CPU: no per-uid process count, no nice.
    expect(line.some((part) => part.startsWith('--nproc'))).toBe(false);
    expect(line).not.toContain('/usr/bin/nice');
  });

  it('without a cgroup: nice, and a per-uid process count only where the sandbox has its own uid', () => {
    const [file, args] = wallCommand(['/usr/bin/node'], { uid: 200_123, limits });
    expect(file).toBe('/usr/bin/prlimit');
    expect(args).toEqual(expect.arrayContaining(['--nproc=300', '/usr/bin/nice', '-n', '10']));
    expect(args).not.toContain('/usr/bin/bwrap');
    const [, shared] = wallCommand(['/usr/bin/node'], { limits });
    expect(shared.some((part) => part.startsWith('--nproc'))).toBe(false);
    expect(shared).toEqual(expect.arrayContaining(['/usr/bin/setpriv', '--no-new-privs']));
  });

  it('the join script moves its own pid and refuses to run the command when it cannot', () => {
    const refused = joinCgroupsCommand(['/nonexistent/cgroup.procs'], ['/bin/echo', 'ran']);
    const failed = spawnSync(refused[0]!, refused.slice(1), { encoding: 'utf8' });
    expect(failed.status).toBe(70);
    expect(failed.stdout).toBe('');
    // Into a plain file as a stand-in for cgroup.procs: the pid written is the command's own.
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'cutroom-join-')), 'procs');
    const joined = joinCgroupsCommand([file], ['/bin/sh', '-c', 'echo $$']);
    const ran = spawnSync(joined[0]!, joined.slice(1), { encoding: 'utf8' });
    expect(ran.status).toBe(0);
    expect(readFileSync(file, 'utf8').trim()).toBe(ran.stdout.trim());
  });

  it('binds the packages and manifests read-only, never the server’s code', () => {
    const paths = readOnlyPaths('/data/cache/vite-deps');
    expect(paths.some((entry) => entry.endsWith('/node_modules'))).toBe(true);
    expect(paths.some((entry) => entry.endsWith('/packages'))).toBe(true);
    expect(paths).toContain('/data/cache/vite-deps');
    // apps/server's tsconfig.json (Vite's transform opens the root config's references), never its folder.
    expect(paths.filter((entry) => entry.includes('/apps/')).every((entry) => entry.endsWith('/tsconfig.json'))).toBe(true);
  });
});
