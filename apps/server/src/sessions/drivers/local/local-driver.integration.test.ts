import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { templateProjectDir } from '@cutroom/template';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxExit } from '../driver.js';
import { createLocalDriver } from './local-driver.js';
import { isAlive, waitFor } from '../../../testing/processes.js';

describe('local driver', () => {
  let dir = '';
  const settings = () => ({
    sandboxesDir: path.join(dir, 'sandboxes'),
    sharedCacheDir: path.join(os.tmpdir(), 'cutroom-test-vite-deps'),
    templateDir: templateProjectDir,
    logger: pino({ level: 'silent' }),
  });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-driver-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('starts a sandbox in its own process group and folder, reports its status, and destroys it', async () => {
    const driver = createLocalDriver(settings());
    const exits: SandboxExit[] = [];
    driver.onExit((exit) => exits.push(exit));
    const sandbox = await driver.start();
    expect(sandbox.base).toBe(`/s/${sandbox.id}/`);
    expect(sandbox.id).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(driver.status(sandbox.id)).toBe('running');
    expect(driver.list()).toEqual([{ id: sandbox.id, status: 'running' }]);
    // Its own process group: the group id is its pid.
    const stat = (await import('node:fs/promises')).readFile(`/proc/${sandbox.pid}/stat`, 'utf8');
    const fields = (await stat).split(') ')[1]!.split(' ');
    expect(Number(fields[2])).toBe(sandbox.pid);
    // Limits where the OS allows them: open files capped, no core dumps.
    const limits = await (await import('node:fs/promises')).readFile(`/proc/${sandbox.pid}/limits`, 'utf8');
    expect(limits).toMatch(/Max open files\s+4096\s+4096/);
    expect(limits).toMatch(/Max core file size\s+0\s+0/);
    expect(existsSync(path.join(dir, 'sandboxes', sandbox.id, 'workspace', 'src', 'Root.tsx'))).toBe(true);

    await driver.destroy(sandbox.id);
    expect(isAlive(sandbox.pid!)).toBe(false);
    expect(driver.status(sandbox.id)).toBe('missing');
    expect(existsSync(path.join(dir, 'sandboxes', sandbox.id))).toBe(false);
    expect(exits).toEqual([expect.objectContaining({ id: sandbox.id, expected: true })]);
  });

  it('a start that fails leaves no folder and no process behind', async () => {
    const driver = createLocalDriver({ ...settings(), templateDir: path.join(dir, 'no-such-template') });
    await expect(driver.start()).rejects.toThrow();
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(path.join(dir, 'sandboxes')).catch(() => [])).toEqual([]);
    expect(driver.list()).toEqual([]);
  });

  it('at start, reaps sandboxes that an earlier server left running', async () => {
    const earlier = createLocalDriver(settings());
    const orphan = await earlier.start();
    expect(isAlive(orphan.pid!)).toBe(true);

    const next = createLocalDriver(settings());
    expect(await next.reap()).toEqual([orphan.id]);
    await waitFor(() => !isAlive(orphan.pid!));
    expect(existsSync(path.join(dir, 'sandboxes', orphan.id))).toBe(false);
  });

  it('a runtime dies with its parent, even when the parent is killed with SIGKILL', async () => {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const compiled = path.resolve(here, '..', '..', 'dist', 'sessions', 'local-driver.js');
    const script = path.join(dir, 'parent.mjs');
    await writeFile(
      script,
      `const { pino } = await import(${JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve('pino')).href)});
       const { createLocalDriver } = await import(${JSON.stringify(pathToFileURL(compiled).href)});
       const driver = createLocalDriver({ sandboxesDir: ${JSON.stringify(path.join(dir, 'parent-sandboxes'))},
         sharedCacheDir: ${JSON.stringify(settings().sharedCacheDir)}, templateDir: ${JSON.stringify(templateProjectDir)},
         logger: pino({ level: 'silent' }) });
       const sandbox = await driver.start();
       console.log(JSON.stringify({ pid: sandbox.pid }));
       setInterval(() => {}, 1000);`,
    );
    const parent = spawn(process.execPath, [script], { cwd: path.resolve(here, '..', '..'), stdio: ['ignore', 'pipe', 'inherit'] });
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
    expect(isAlive(runtimePid)).toBe(true);
    parent.kill('SIGKILL');
    await waitFor(() => !isAlive(runtimePid), 5_000);
  });

  /** Runs `sh -c script` as `uid` (as the sandbox's processes run); whether it succeeded, and its output. */
  const asUser = (uid: number, script: string) => {
    const result = spawnSync('/usr/bin/setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', 'sh', '-c', script], { encoding: 'utf8' });
    return { ok: result.status === 0, output: result.stdout + result.stderr };
  };

  it.runIf(process.getuid?.() === 0)("runs each sandbox as its own user, who cannot read the server's files, /proc entries or another sandbox", async () => {
    const driver = createLocalDriver(settings());
    const first = await driver.start();
    const second = await driver.start();
    try {
      expect(first.uid).toBeGreaterThanOrEqual(200_000);
      expect(second.uid).not.toBe(first.uid);
      // The runtime itself runs as that user.
      const status = await readFile(`/proc/${first.pid}/status`, 'utf8');
      expect(status).toMatch(new RegExp(`^Uid:\\s+${first.uid}\\s+${first.uid}\\s+${first.uid}`, 'm'));
      expect(status).toMatch(/^Groups:\s*$/m);
      const uid = first.uid!;
      // The server's environment (the provider key lives there) and a file of the server's.
      const secret = path.join(dir, 'server-secret');
      await writeFile(secret, 'sk-secret', { mode: 0o600 });
      expect(asUser(uid, `cat /proc/${process.pid}/environ`).ok).toBe(false);
      expect(asUser(uid, `cat ${secret}`).ok).toBe(false);
      // Another sandbox's working copy, and the server's files in its own folder.
      expect(asUser(uid, `ls ${second.workspace}/src`).ok).toBe(false);
      expect(asUser(uid, `cat ${path.join(dir, 'sandboxes', first.id, 'sandbox.json')}`).ok).toBe(false);
      // Its own working copy: readable and writable; its git folder: the server's alone.
      expect(asUser(uid, `cat ${first.workspace}/src/Root.tsx && touch ${first.workspace}/src/new.ts ${first.workspace}/top.txt`).ok).toBe(true);
      expect(asUser(uid, `mv ${first.workspace}/.git ${first.workspace}/old-git`).ok).toBe(false);
      // The shared dependency cache: readable, not writable.
      if (existsSync(settings().sharedCacheDir)) {
        expect(asUser(uid, `ls ${settings().sharedCacheDir}/deps`).ok).toBe(true);
        expect(asUser(uid, `touch ${settings().sharedCacheDir}/deps/injected.js`).ok).toBe(false);
      }
    } finally {
      await driver.destroy(first.id);
      await driver.destroy(second.id);
    }
  });

  it.runIf(process.getuid?.() === 0)('adopt hands what the server wrote to the sandbox user, and keeps .git the server’s', async () => {
    const driver = createLocalDriver(settings());
    const sandbox = await driver.start();
    try {
      // As the server does when it checks out a project or restores the agent's state.
      await mkdir(path.join(sandbox.workspace, '.git'), { recursive: true });
      await writeFile(path.join(sandbox.workspace, 'src', 'restored.ts'), 'export {};\n');
      await writeFile(path.join(sandbox.agentStateDir, 'state.json'), '{}');
      expect(asUser(sandbox.uid!, `echo x >> ${sandbox.workspace}/src/restored.ts`).ok).toBe(false);
      await driver.adopt!(sandbox.id);
      expect(asUser(sandbox.uid!, `echo x >> ${sandbox.workspace}/src/restored.ts && cat ${sandbox.agentStateDir}/state.json`).ok).toBe(true);
      expect((await stat(path.join(sandbox.workspace, '.git'))).uid).toBe(0);
    } finally {
      await driver.destroy(sandbox.id);
    }
  });

  it.runIf(process.getuid?.() === 0)("a process of the sandbox's user that left its process group ends with the sandbox", async () => {
    const driver = createLocalDriver(settings());
    const sandbox = await driver.start();
    expect(sandbox.uid).toBeDefined();
    // As a daemonizing command run by the agent's shell would: its own session, its own group
    // (not a group leader when it calls setsid, so setsid does not fork: the pid stays the sleep's).
    const escapee = spawn('/usr/bin/setpriv', [`--reuid=${sandbox.uid}`, `--regid=${sandbox.uid}`, '--clear-groups', '--', 'setsid', 'sleep', '300'], { stdio: 'ignore' });
    const ended = new Promise((resolve) => escapee.once('exit', (_code, signal) => resolve(signal)));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(isAlive(escapee.pid!)).toBe(true);
    await driver.destroy(sandbox.id);
    expect(await Promise.race([ended, new Promise((resolve) => setTimeout(() => resolve('still running'), 5_000))])).toBe('SIGKILL');
  });
});
