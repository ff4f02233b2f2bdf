/**
 * What only the local driver does (the contract suite, `driver.contract.test.ts`, covers
 * what every driver does): how its wall is built on this machine (cgroups, prlimit,
 * setpriv, bubblewrap), its fallbacks without them, and the sandbox user's rights on the
 * host, as defence in depth behind bubblewrap.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import tar from 'tar-stream';
import { templateProjectDir } from '@cutroom/template';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxExit } from '../driver.js';
import { STARTUP_MS } from '../testing/drivers-under-test.js';
import { bubblewrapWorks, localConfinement } from './bubblewrap.js';
import { setUpCgroups } from './cgroups.js';
import { type LocalDriverSettings, createLocalDriver } from './local-driver.js';
import { isAlive, waitFor } from '../../../testing/processes.js';

const isRoot = process.getuid?.() === 0;
const LIMITS = { memoryMb: 1_024, pids: 300, cpus: 1.5, diskMb: 512 };

/** The process's real uid, from /proc. */
async function uidOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
}

/** Runs `sh -c script` as `uid` on the host (outside bubblewrap): what the sandbox's user may do there. */
const asUser = (uid: number, script: string) => {
  const result = spawnSync('/usr/bin/setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', 'sh', '-c', script], { encoding: 'utf8' });
  return { ok: result.status === 0, output: result.stdout + result.stderr };
};

describe('local driver', { timeout: STARTUP_MS + 60_000 }, () => {
  let dir = '';
  const settings = (extra: Partial<LocalDriverSettings> = {}): LocalDriverSettings => ({
    sandboxesDir: path.join(dir, 'sandboxes'),
    sharedCacheDir: path.join(os.tmpdir(), 'cutroom-test-vite-deps'),
    templateDir: templateProjectDir,
    logger: pino({ level: 'silent' }),
    limits: LIMITS,
    readyTimeoutMs: STARTUP_MS,
    ...extra,
  });
  const workspaceOf = (id: string) => path.join(dir, 'sandboxes', id, 'workspace');

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-driver-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('walls a sandbox in: its process group, prlimits, bubblewrap, its cgroup with the limits', async () => {
    const driver = createLocalDriver(settings());
    const exits: SandboxExit[] = [];
    driver.onExit((exit) => exits.push(exit));
    const sandbox = await driver.start();
    try {
      expect(sandbox.id).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(sandbox.confinement).toBe(bubblewrapWorks() ? 'bubblewrap' : 'none');
      // Its own process group: the group id is its pid.
      const fields = (await readFile(`/proc/${sandbox.pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
      expect(Number(fields[2])).toBe(sandbox.pid);
      // prlimit: open files, no core dumps, one file at most the disk limit.
      const limits = await readFile(`/proc/${sandbox.pid}/limits`, 'utf8');
      expect(limits).toMatch(/Max open files\s+4096\s+4096/);
      expect(limits).toMatch(/Max core file size\s+0\s+0/);
      expect(limits).toMatch(new RegExp(`Max file size\\s+${LIMITS.diskMb * 1024 * 1024}\\s`));
      if (bubblewrapWorks()) expect(await readFile(`/proc/${sandbox.pid}/cmdline`, 'utf8')).toMatch(/^\/usr\/bin\/bwrap\0/);
      const cgroups = await setUpCgroups();
      if (!('unavailable' in cgroups) && cgroups.version === 1) {
        // Every process of it, from its first instruction, in its own cgroup of each controller.
        const membership = await readFile(`/proc/${sandbox.pid}/cgroup`, 'utf8');
        for (const controller of ['memory', 'pids', 'cpu']) expect(membership).toMatch(new RegExp(`:${controller}:.*/cutroom/${sandbox.id}$`, 'm'));
        const own = (controller: string) => new RegExp(`^\\d+:[^:]*\\b${controller}\\b[^:]*:(.*)$`, 'm').exec(membership)![1]!;
        const file = (controller: string, name: string) => readFile(path.join('/sys/fs/cgroup', controller, own(controller), name), 'utf8').then((text) => text.trim());
        expect(await file('memory', 'memory.limit_in_bytes')).toBe(String(LIMITS.memoryMb * 1024 * 1024));
        expect(await file('pids', 'pids.max')).toBe(String(LIMITS.pids));
        expect(await file('cpu', 'cpu.cfs_quota_us')).toBe(String(LIMITS.cpus * 100_000));
        // A quarter of the default weight; all of them together under a parent of the default weight.
        expect(await file('cpu', 'cpu.shares')).toBe('256');
        expect((await readFile(path.join('/sys/fs/cgroup/cpu', path.dirname(own('cpu')), 'cpu.shares'), 'utf8')).trim()).toBe('1024');
      }
      expect(existsSync(path.join(workspaceOf(sandbox.id), 'src', 'Root.tsx'))).toBe(true);
    } finally {
      await driver.destroy(sandbox.id);
    }
    expect(isAlive(sandbox.pid!)).toBe(false);
    expect(driver.status(sandbox.id)).toBe('missing');
    expect(existsSync(path.join(dir, 'sandboxes', sandbox.id))).toBe(false);
    expect(exits).toEqual([expect.objectContaining({ id: sandbox.id, expected: true })]);
  });

  it('runs unconfined where bubblewrap is turned off or missing, and says how to fix it', async () => {
    const driver = createLocalDriver(settings({ bubblewrap: false }));
    expect(driver.confinement).toBe('none');
    const sandbox = await driver.start();
    try {
      expect(sandbox.confinement).toBe('none');
      const commandLine = await readFile(`/proc/${sandbox.pid}/cmdline`, 'utf8');
      expect(commandLine).not.toContain('bwrap');
      expect(commandLine).toContain('--max-old-space-size');
    } finally {
      await driver.destroy(sandbox.id);
    }
    // The warning main.ts logs when this happens by itself.
    const notice = localConfinement();
    if (notice.confinement === 'none') expect(notice.warning).toMatch(existsSync('/usr/bin/bwrap') ? /user namespaces/ : /apt-get install -y bubblewrap/);
    else expect(notice.warning).toBeUndefined();
  });

  it('a start that fails leaves no folder, cgroup or process behind', async () => {
    const driver = createLocalDriver(settings({ templateDir: path.join(dir, 'no-such-template') }));
    await expect(driver.start()).rejects.toThrow();
    expect(await readdir(path.join(dir, 'sandboxes')).catch(() => [])).toEqual([]);
    expect(driver.list()).toEqual([]);
  });

  it('a runtime dies with its parent, even when the parent is killed with SIGKILL', async () => {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const serverDir = path.resolve(here, '..', '..', '..', '..');
    const compiled = path.join(serverDir, 'dist', 'sessions', 'drivers', 'local', 'local-driver.js');
    const script = path.join(dir, 'parent.mjs');
    await writeFile(
      script,
      `const { pino } = await import(${JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve('pino')).href)});
       const { createLocalDriver } = await import(${JSON.stringify(pathToFileURL(compiled).href)});
       const driver = createLocalDriver({ sandboxesDir: ${JSON.stringify(path.join(dir, 'parent-sandboxes'))},
         sharedCacheDir: ${JSON.stringify(settings().sharedCacheDir)}, templateDir: ${JSON.stringify(templateProjectDir)},
         readyTimeoutMs: ${STARTUP_MS}, logger: pino({ level: 'silent' }) });
       const sandbox = await driver.start();
       console.log(JSON.stringify({ pid: sandbox.pid }));
       setInterval(() => {}, 1000);`,
    );
    const parent = spawn(process.execPath, [script], { cwd: serverDir, stdio: ['ignore', 'pipe', 'inherit'] });
    const runtimePid = await new Promise<number>((resolve, reject) => {
      parent.stdout!.on('data', (chunk: Buffer) => {
        const line = chunk.toString().trim().split('\n').pop()!;
        try {
          resolve((JSON.parse(line) as { pid: number }).pid);
        } catch {
          // not the line yet
        }
      });
      parent.once('exit', (code) => reject(new Error(`parent exited ${code}`)));
    });
    // Every process of the sandbox, not just the first: bubblewrap's child runs the runtime.
    const uid = await uidOf(runtimePid);
    const ofSandbox = async () => {
      const found: number[] = [];
      for (const name of await readdir('/proc')) {
        if (!/^\d+$/.test(name)) continue;
        const commandLine = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
        if (commandLine.includes(path.join(dir, 'parent-sandboxes')) || (uid !== process.getuid?.() && (await uidOf(Number(name)).catch(() => -1)) === uid)) found.push(Number(name));
      }
      return found;
    };
    expect(isAlive(runtimePid)).toBe(true);
    parent.kill('SIGKILL');
    await waitFor(async () => (await ofSandbox()).length === 0, 10_000);
    await rm(path.join(dir, 'parent-sandboxes'), { recursive: true, force: true });
  }, STARTUP_MS + 30_000);

  it.runIf(isRoot)("runs each sandbox as its own user, who cannot read the server's files, /proc entries or another sandbox, even outside bubblewrap", async () => {
    const driver = createLocalDriver(settings());
    const [first, second] = await Promise.all([driver.start(), driver.start()]);
    try {
      const uid = await uidOf(first.pid!);
      expect(uid).toBeGreaterThanOrEqual(200_000);
      expect(await uidOf(second.pid!)).not.toBe(uid);
      expect(await readFile(`/proc/${first.pid}/status`, 'utf8')).toMatch(/^Groups:\s*$/m);
      // The server's environment (the provider key lives there) and a file of the server's.
      const secret = path.join(dir, 'server-secret');
      await writeFile(secret, 'sk-secret', { mode: 0o600 });
      expect(asUser(uid, `cat /proc/${process.pid}/environ`).ok).toBe(false);
      expect(asUser(uid, `cat ${secret}`).ok).toBe(false);
      // Another sandbox's working copy, and the server's files in its own folder.
      expect(asUser(uid, `ls ${workspaceOf(second.id)}/src`).ok).toBe(false);
      expect(asUser(uid, `cat ${path.join(dir, 'sandboxes', first.id, 'sandbox.json')}`).ok).toBe(false);
      // Its own working copy: readable and writable.
      expect(asUser(uid, `cat ${workspaceOf(first.id)}/src/Root.tsx && touch ${workspaceOf(first.id)}/src/new.ts ${workspaceOf(first.id)}/top.txt`).ok).toBe(true);
      // The shared dependency cache: readable, not writable.
      if (existsSync(path.join(settings().sharedCacheDir, 'deps'))) {
        expect(asUser(uid, `ls ${settings().sharedCacheDir}/deps`).ok).toBe(true);
        expect(asUser(uid, `touch ${settings().sharedCacheDir}/deps/injected.js`).ok).toBe(false);
      }
    } finally {
      await Promise.all([driver.destroy(first.id), driver.destroy(second.id)]);
    }
  }, STARTUP_MS + 30_000);

  it.runIf(isRoot)("files written through the driver are the sandbox user's", async () => {
    const driver = createLocalDriver(settings());
    const sandbox = await driver.start();
    try {
      const pack = tar.pack();
      pack.entry({ name: 'src/restored.ts', mode: 0o644 }, 'export {};\n');
      pack.finalize();
      await driver.writeFiles(sandbox.id, 'workspace', pack as unknown as Readable);
      const uid = await uidOf(sandbox.pid!);
      expect(asUser(uid, `echo x >> ${workspaceOf(sandbox.id)}/src/restored.ts`).ok).toBe(true);
    } finally {
      await driver.destroy(sandbox.id);
    }
  });

  it.runIf(isRoot)("without cgroups: nice and a process count per uid; a process of the sandbox's user that left its process group ends with the sandbox", async () => {
    const driver = createLocalDriver(settings({ cgroups: false }));
    const sandbox = await driver.start();
    const uid = await uidOf(sandbox.pid!);
    // Without a cgroup: a lower CPU priority, and a process count per uid.
    const stat = (await readFile(`/proc/${sandbox.pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
    expect(Number(stat[16])).toBe(10); // nice
    expect(await readFile(`/proc/${sandbox.pid}/limits`, 'utf8')).toMatch(new RegExp(`Max processes\\s+${LIMITS.pids}\\s+${LIMITS.pids}`));
    // As a daemonizing command run by the agent's shell would, outside its cgroup even: its
    // own session and group (setsid does not fork here: the pid stays the sleep's).
    const escapee = spawn('/usr/bin/setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', 'setsid', 'sleep', '300'], { stdio: 'ignore' });
    const ended = new Promise((resolve) => escapee.once('exit', (_code, signal) => resolve(signal)));
    await waitFor(() => isAlive(escapee.pid!));
    await driver.destroy(sandbox.id);
    expect(await ended).toBe('SIGKILL');
  });
});
