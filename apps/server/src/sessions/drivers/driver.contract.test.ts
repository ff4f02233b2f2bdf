/**
 * The sandbox driver contract: one suite, run against every driver in
 * `testing/drivers-under-test.ts` (`SANDBOX_DRIVERS_UNDER_TEST=local,docker` picks). Real
 * sandboxes, real processes, real walls: what a session relies on (start, the preview
 * through its endpoint, hot reload, files in and out, stop, destroy, the reap after a
 * crash), and what a stranger's code must not get (its limits end it and only it; it
 * cannot read the server's secrets or another sandbox, reach loopback services, or write
 * outside its folder).
 *
 * Sandboxes are shared between cases where one does not spoil the next: `main` and
 * `other` live for the whole suite; each limit case and the reap get their own.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pino } from 'pino';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { PREVIEW_KEY_HEADER } from '@cutroom/protocol';
import type { Endpoint, Sandbox, SandboxDriver, SandboxExit } from './driver.js';
import { type DriverUnderTest, STARTUP_MS, driversUnderTest } from './testing/drivers-under-test.js';

/** A value only the server's environment holds: no sandbox may ever read it. */
const SERVER_SECRET = `contract-secret-${randomBytes(12).toString('hex')}`;
process.env.CUTROOM_CONTRACT_SECRET = SERVER_SECRET;

const LIMITS = { memoryMb: 1_024, pids: 256, cpus: 1, diskMb: 256 };
const sharedCacheDir = path.join(os.tmpdir(), 'cutroom-test-vite-deps');
const inCi = process.env.CI === 'true';

const candidates = driversUnderTest();
const unavailable = new Map<string, string | undefined>();
for (const candidate of candidates) unavailable.set(candidate.name, await candidate.unavailable());

/** One HTTP request to an endpoint (a Unix socket or a host and port). */
function request(endpoint: Endpoint, urlPath: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const where = 'socketPath' in endpoint ? { socketPath: endpoint.socketPath } : { host: endpoint.host, port: endpoint.port };
  return new Promise((resolve, reject) => {
    const outgoing = http.request({ ...where, path: urlPath, headers: { host: 'localhost', ...headers } }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.once('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    outgoing.once('error', reject);
    outgoing.end();
  });
}

const previewPage = (sandbox: Sandbox) => request(sandbox.preview, sandbox.base, { [PREVIEW_KEY_HEADER]: sandbox.previewKey });

/** The files of a tar stream: path → content (folders and links left out). */
async function untar(stream: Readable): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, body, next) => {
      const chunks: Buffer[] = [];
      body.on('data', (chunk: Buffer) => chunks.push(chunk));
      body.on('end', () => {
        if (header.type === 'file') files.set(header.name.replace(/^\.\//, ''), Buffer.concat(chunks).toString('utf8'));
        next();
      });
      body.resume();
    });
    extract.once('finish', resolve);
    extract.once('error', reject);
    stream.once('error', reject);
  });
  stream.pipe(extract);
  await done;
  return files;
}

/** A tar stream holding `files` (path → content). */
function tarOf(files: Map<string, string>): Readable {
  const pack = tar.pack();
  for (const [name, content] of files) pack.entry({ name, mode: 0o644 }, content);
  pack.finalize();
  return pack as unknown as Readable;
}

for (const underTest of candidates) {
  const reason = unavailable.get(underTest.name);
  if (reason && underTest.required) {
    describe(`sandbox driver contract: ${underTest.name}`, () => {
      it('can run here (required)', () => {
        throw new Error(`the ${underTest.name} driver is required here but cannot run: ${reason}`);
      });
    });
    continue;
  }
  describe.skipIf(reason !== undefined)(`sandbox driver contract: ${underTest.name}${reason ? ` (skipped: ${reason})` : ''}`, () => contract(underTest));
}

function contract(underTest: DriverUnderTest) {
  let dataDir = '';
  let driver: SandboxDriver;
  let main: Sandbox;
  let other: Sandbox;
  const exits: SandboxExit[] = [];
  const exitOf = (id: string) =>
    new Promise<SandboxExit>((resolve) => {
      const seen = exits.find((exit) => exit.id === id);
      if (seen) return resolve(seen);
      driver.onExit((exit) => {
        if (exit.id === id) resolve(exit);
      });
    });
  const exec = (sandbox: Sandbox, script: string, timeoutMs?: number) => underTest.exec(driver, sandbox.id, ['/bin/sh', '-c', script], { timeoutMs });
  const inside = (sandbox: Sandbox, file = '') => path.join(underTest.workspaceInside(dataDir, sandbox.id), file);

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-contract-'));
    driver = underTest.create({ dataDir, sharedCacheDir, limits: LIMITS, logger: pino({ level: process.env.CONTRACT_LOG_LEVEL ?? 'silent' }) });
    driver.onExit((exit) => exits.push(exit));
    [main, other] = await Promise.all([driver.start(), driver.start()]);
  }, STARTUP_MS + 30_000);
  afterAll(async () => {
    if (driver) await Promise.all(driver.list().map(({ id }) => driver.destroy(id)));
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('starts sandboxes that are ready, walled in, and told apart', () => {
    expect(main.id).not.toBe(other.id);
    expect(main.base).toBe(`/s/${main.id}/`);
    expect(driver.status(main.id)).toBe('running');
    expect(driver.list()).toEqual(expect.arrayContaining([{ id: main.id, status: 'running' }, { id: other.id, status: 'running' }]));
    expect(main.confinement).toBe(driver.confinement);
    // CI installs bubblewrap and Docker: there, a driver that walls nothing in is a failure.
    if (inCi) expect(driver.confinement).not.toBe('none');
  });

  it('serves the preview through its endpoint, only with the preview key', async () => {
    const page = await previewPage(main);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<script');
    expect((await request(main.preview, main.base)).status).toBe(403);
  });

  it('hot-reloads: a file written through the driver reaches the HMR socket', async () => {
    const target = 'socketPath' in main.preview ? `ws+unix://${main.preview.socketPath}:${main.base}` : `ws://${main.preview.host}:${main.preview.port}${main.base}`;
    const socket = new WebSocket(target, 'vite-hmr', { headers: { host: 'localhost', [PREVIEW_KEY_HEADER]: main.previewKey } });
    const messages: { type: string }[] = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data)) as { type: string }));
    try {
      await new Promise((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      });
      // As a browser would: the page's module, and with it what it imports, is in Vite's graph.
      expect((await request(main.preview, `${main.base}main.tsx`, { [PREVIEW_KEY_HEADER]: main.previewKey })).status).toBe(200);
      const files = await untar(await driver.readFiles(main.id, 'workspace'));
      // The page imports the entry point (src/index.ts): it is in the graph.
      const entry = files.get('src/index.ts')!;
      await driver.writeFiles(main.id, 'workspace', tarOf(new Map([['src/index.ts', `${entry}\n// edited by the contract suite\n`]])));
      await expect.poll(() => messages.some((message) => message.type === 'update' || message.type === 'full-reload'), { timeout: 20_000 }).toBe(true);
    } finally {
      socket.close();
    }
  });

  it('moves files out and in as tar streams: replace removes, unchanged files are not rewritten', async () => {
    const files = await untar(await driver.readFiles(main.id, 'workspace'));
    expect(files.has('src/Root.tsx')).toBe(true);
    expect([...files.keys()].some((name) => name.startsWith('node_modules/') || name.startsWith('.git/'))).toBe(false);

    await driver.writeFiles(main.id, 'workspace', tarOf(new Map([['src/extra.ts', 'export const extra = 1;\n']])));
    // Full-precision modification times, read inside: a rewrite of the same bytes changes it.
    const mtime = async () => (await exec(main, `stat -c %y ${inside(main, 'src/index.ts')}`)).stdout.trim();
    const mtimeBefore = await mtime();
    expect(mtimeBefore).toMatch(/^\d{4}-/);
    expect((await exec(main, `cat ${inside(main, 'src/extra.ts')}`)).stdout).toContain('extra = 1');

    // The whole tree again, without the extra file: it goes, the rest stays untouched.
    const again = await untar(await driver.readFiles(main.id, 'workspace'));
    again.delete('src/extra.ts');
    await driver.writeFiles(main.id, 'workspace', tarOf(again), { replace: true });
    expect((await exec(main, `test -e ${inside(main, 'src/extra.ts')}`)).code).not.toBe(0);
    expect(await mtime()).toBe(mtimeBefore);
    expect((await untar(await driver.readFiles(main.id, 'workspace'))).get('src/Root.tsx')).toBe(again.get('src/Root.tsx'));

    // The agent's state is an area of its own.
    await driver.writeFiles(main.id, 'agent', tarOf(new Map([['state.json', '{"turns":1}']])));
    expect((await untar(await driver.readFiles(main.id, 'agent'))).get('state.json')).toBe('{"turns":1}');
  });

  describe('escapes fail from inside', () => {
    // An unconfined driver (the local one without bubblewrap) walls nothing in: these cases
    // would only show that. The first case fails such a driver under CI.
    const unwalled = () => driver.confinement === 'none';

    it('code inside runs at all (the control for the cases below)', async () => {
      const own = await exec(main, `cat ${inside(main, 'src/Root.tsx')} && echo written > ${inside(main, 'src/own.txt')} && cat ${inside(main, 'src/own.txt')}`);
      expect(own.stderr).toBe('');
      expect(own.code).toBe(0);
      expect(own.stdout).toContain('written');
      const node = await exec(main, `${process.execPath} -e "console.log(1 + 1)"`);
      expect(node.stdout.trim()).toBe('2');
    });

    it('cannot read /etc/shadow or any environment of the server', async (context) => {
      if (unwalled()) context.skip();
      expect((await exec(main, 'cat /etc/shadow')).code).not.toBe(0);
      const environments = await exec(main, `cat /proc/1/environ /proc/${process.pid}/environ /proc/*/environ 2>/dev/null | tr '\\0' '\\n'; env`);
      expect(environments.stdout).not.toContain(SERVER_SECRET);
      expect(environments.stdout).not.toContain('CUTROOM_CONTRACT_SECRET');
    });

    it("cannot read another sandbox's files", async (context) => {
      if (unwalled()) context.skip();
      // Where its files are on the host, and (for drivers that show each sandbox its own
      // copy at one path) where they are as that sandbox sees them, if that differs.
      const targets = [path.join(dataDir, 'sandboxes', other.id, 'workspace'), inside(other)].filter((target) => target !== inside(main));
      for (const target of [...new Set(targets)]) {
        const attempt = await exec(main, `cat ${target}/src/Root.tsx || ls ${target} || ls ${path.dirname(target)}`);
        expect(attempt.code, target).not.toBe(0);
        expect(attempt.stdout, target).not.toContain('export');
      }
    });

    it('cannot connect to services on the host’s loopback (PostgreSQL, the server’s ports)', async (context) => {
      if (unwalled()) context.skip();
      // A listener of the server's, to know the attempt could succeed were the wall not there.
      const listener = net.createServer((socket) => socket.end('hello from the host\n'));
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      const port = (listener.address() as net.AddressInfo).port;
      try {
        const probe = (target: number) =>
          `const s=require('net').connect(${target},'127.0.0.1');s.on('connect',()=>{console.log('connected');process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(1)});setTimeout(()=>{console.log('timeout');process.exit(1)},5000)`;
        for (const target of [port, 5432]) {
          const result = await underTest.exec(driver, main.id, [process.execPath, '-e', probe(target)]);
          expect(result.stdout.trim(), `port ${target}`).not.toBe('connected');
          expect(result.code, `port ${target}`).not.toBe(0);
        }
      } finally {
        listener.close();
      }
    });

    it('cannot write outside its own folder', async (context) => {
      if (unwalled()) context.skip();
      const marker = `escape-${randomBytes(6).toString('hex')}`;
      const targets = [path.join(os.tmpdir(), marker), path.join('/dev/shm', marker), path.join(dataDir, marker), path.join(dataDir, 'sandboxes', marker), path.join(path.dirname(inside(other)), marker)];
      await exec(main, targets.map((target) => `echo x > ${target}`).join('; '));
      for (const target of targets) expect(existsSync(target), target).toBe(false);
    });
  });

  describe('limits end the sandbox that hits them, and only it', () => {
    let enforced = false;
    beforeAll(async () => {
      enforced = await underTest.enforcesLimits(driver);
      if (inCi && !enforced) throw new Error(`the ${underTest.name} driver enforces no limits here`);
    });

    const attacks: [string, NonNullable<SandboxExit['reason']>, (sandbox: Sandbox) => string[]][] = [
      ['a fork bomb', 'pids', () => ['/bin/sh', '-c', 'while :; do sleep 600 & done']],
      ['a memory hog', 'memory', () => [process.execPath, '-e', 'const held = []; for (;;) held.push(Buffer.alloc(64 << 20, 1));']],
      ['a disk filler', 'disk', (sandbox) => ['/bin/sh', '-c', `i=0; while [ $i -lt 100 ]; do head -c 20000000 /dev/zero > ${inside(sandbox, 'fill-$i.bin')} || exit 1; i=$((i+1)); sleep 0.1; done`]],
      // Empty files take no blocks: only their count stops them spending the host's inodes.
      ['an inode filler (empty files)', 'disk', (sandbox) => [process.execPath, '-e', `const fs = require('fs'); const dir = ${JSON.stringify(inside(sandbox, 'many'))}; fs.mkdirSync(dir); for (let i = 0; i < 400000; i++) fs.writeFileSync(dir + '/' + i, '');`]],
    ];
    for (const [name, expected, command] of attacks) {
      it(`${name} ends that sandbox (${expected}); another keeps answering`, async (context) => {
        if (!enforced) context.skip();
        const victim = await driver.start();
        const tracked = await underTest.track(dataDir, victim);
        const ended = exitOf(victim.id);
        const attack = underTest.exec(driver, victim.id, command(victim), { timeoutMs: 90_000 });
        const exit = await ended;
        expect(exit).toMatchObject({ id: victim.id, expected: false, reason: expected });
        expect(driver.status(victim.id)).toBe('error');
        await attack;
        expect((await previewPage(other)).status).toBe(200);
        await driver.destroy(victim.id);
        expect(await tracked.leftovers()).toEqual([]);
      }, STARTUP_MS + 90_000);
    }
  });

  it('stops (files kept, exit reported as expected), then destroys leaving nothing', async () => {
    const tracked = await underTest.track(dataDir, main);
    const ended = exitOf(main.id);
    await driver.stop(main.id);
    expect(await ended).toMatchObject({ id: main.id, expected: true });
    expect(driver.status(main.id)).toBe('stopped');
    expect((await untar(await driver.readFiles(main.id, 'workspace'))).has('src/Root.tsx')).toBe(true);
    await driver.destroy(main.id);
    expect(driver.status(main.id)).toBe('missing');
    expect(driver.list().map(({ id }) => id)).not.toContain(main.id);
    expect(await tracked.leftovers()).toEqual([]);
  });

  it('a second driver reaps what a crashed one left, and recovery sees its files first', async () => {
    const crashDir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-contract-reap-'));
    const settings = { dataDir: crashDir, sharedCacheDir, limits: LIMITS, logger: pino({ level: 'silent' }) };
    const first = underTest.create(settings);
    try {
      const left = await first.start();
      await first.label(left.id, { projectId: 'project-1', ownerId: 'user-1' });
      await first.writeFiles(left.id, 'workspace', tarOf(new Map([['src/unsaved.ts', 'export const unsaved = true;\n']])));
      const tracked = await underTest.track(crashDir, left);

      const next = underTest.create(settings);
      const recovered: { id: string; owner: unknown; files: string[] }[] = [];
      const reaped = await next.reap(async (orphan) => {
        recovered.push({ id: orphan.id, owner: orphan.owner, files: [...(await untar(await orphan.readFiles('workspace'))).keys()] });
      });
      expect(reaped).toEqual([left.id]);
      expect(recovered).toEqual([{ id: left.id, owner: { projectId: 'project-1', ownerId: 'user-1' }, files: expect.arrayContaining(['src/unsaved.ts', 'src/Root.tsx']) }]);
      expect(await tracked.leftovers()).toEqual([]);
      expect(await next.reap()).toEqual([]);
    } finally {
      await Promise.all(first.list().map(({ id }) => first.destroy(id)));
      await rm(crashDir, { recursive: true, force: true });
    }
  }, STARTUP_MS + 60_000);
}
