import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pino } from 'pino';
import tar from 'tar-stream';
import { PREVIEW_KEY_HEADER } from '@cutroom/protocol';
import { templateProjectDir } from '@cutroom/template';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerEngine } from '../../../testing/docker-engine.js';
import type { Orphan, Sandbox, SandboxExit } from '../driver.js';
import { type DockerDriver, LABELS, createDockerDriver, serverLabel } from './docker-driver.js';
import { dockerClient, engineStatus } from './docker-engine-client.js';

/**
 * The docker driver against a real engine (testing/docker-engine.ts starts one when it
 * can; under CI=true a missing engine fails these tests instead of skipping them). What
 * every driver must do is in the contract suite (driver.contract.test.ts); here, what is
 * the docker driver's own: the container really is walled in as asked, the preview
 * answers over the socket, and reap removes what a dead server left.
 */
const engine = await dockerEngine();
const available = !('unavailable' in engine);
if (!available) console.warn(`docker driver tests skipped: ${engine.unavailable}`);

const LIMITS = { memoryMb: 768, pids: 256, cpus: 1, diskMb: 512 };

/** A tar stream's entries: name → content (files) or `-> target` (links) or '/' (folders). */
async function entriesOf(stream: Readable): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const extract = tar.extract();
  extract.on('entry', (header, body, next) => {
    const chunks: Buffer[] = [];
    body.on('data', (chunk: Buffer) => chunks.push(chunk));
    body.on('end', () => {
      found.set(header.name.replace(/\/$/, ''), header.type === 'symlink' ? `-> ${header.linkname}` : header.type === 'directory' ? '/' : Buffer.concat(chunks).toString('utf8'));
      next();
    });
  });
  const finished = new Promise<void>((resolve, reject) => {
    extract.on('finish', resolve);
    extract.on('error', reject);
    stream.on('error', reject);
  });
  stream.pipe(extract);
  await finished;
  return found;
}

function archiveOf(files: Record<string, string>): Readable {
  const pack = tar.pack();
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mode: 0o644 }, content);
  pack.finalize();
  return pack as unknown as Readable;
}

function getOverSocket(socketPath: string, requestPath: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ socketPath, path: requestPath, headers, timeout: 30_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', reject);
  });
}

describe.skipIf(!available)('docker driver', () => {
  const { dockerHost, image } = engine as { dockerHost: string; image: string };
  const docker = dockerClient(dockerHost);
  let dir = '';
  let driver: DockerDriver;
  let sandbox: Sandbox;
  const exits: SandboxExit[] = [];
  const settings = (dataDir = dir) => ({
    sandboxesDir: path.join(dataDir, 'sandboxes'),
    sharedCacheDir: path.join(dataDir, 'cache', 'vite-deps'),
    templateDir: templateProjectDir,
    limits: LIMITS,
    image,
    dockerHost,
    logger: pino({ level: 'silent' }),
  });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-docker-'));
    driver = createDockerDriver(settings());
    driver.onExit((exit) => exits.push(exit));
    sandbox = await driver.start();
  });
  afterAll(async () => {
    await driver?.close?.();
    for (const { id } of driver?.list() ?? []) await driver.destroy(id);
    await rm(dir, { recursive: true, force: true });
  });

  it('walls the container in as asked: no network, read-only root, no capabilities, a non-root user, limits, labels', async () => {
    expect(driver.status(sandbox.id)).toBe('running');
    expect(sandbox.confinement).toBe('container');
    const info = await docker.getContainer(driver.containerId(sandbox.id)!).inspect();
    const host = info.HostConfig;
    expect(host.NetworkMode).toBe('none');
    expect(host.ReadonlyRootfs).toBe(true);
    // Docker keeps the request as it was (`ALL`); Podman lists every capability it dropped.
    // Either way none is left inside (checked below from /proc).
    expect(host.CapDrop?.includes('ALL') || (host.CapDrop ?? []).length >= 14).toBe(true);
    expect(host.CapAdd ?? []).toEqual([]);
    expect(host.Privileged).toBe(false);
    expect(host.SecurityOpt).toContain('no-new-privileges');
    expect(host.PidsLimit).toBe(LIMITS.pids);
    expect(host.Memory).toBe(LIMITS.memoryMb * 1024 * 1024);
    expect(host.MemorySwap).toBe(LIMITS.memoryMb * 1024 * 1024);
    expect(host.NanoCpus).toBe(LIMITS.cpus * 1e9);
    expect(host.CpuShares).toBe(256);
    // Ours is /tmp; Podman adds /run and /var/tmp to a read-only root (tmpfs: held to the container's memory limit).
    expect(Object.keys(host.Tmpfs ?? {}).filter((where) => !['/run', '/var/tmp'].includes(where))).toEqual(['/tmp']);
    // Only its own folders (one by one: the server's note beside them stays unseen) and the shared cache, read-only.
    // Podman spells out the propagation it applied (`:rw,rprivate,rbind`): only the mode is ours.
    const binds = (host.Binds ?? []).map((bind) => bind.replace(/:(ro|rw),.*$/, ':$1')).sort();
    const folder = path.join(dir, 'sandboxes', sandbox.id);
    expect(binds).toEqual(
      [
        ...['agent', 'home', 'sock', 'vite', 'workspace'].map((area) => `${folder}/${area}:/sandbox/${area}:rw`),
        // The project's installed packages: the server links them in, the sandbox only reads them.
        `${folder}/packages:/sandbox/packages:ro`,
        `${path.join(dir, 'cache', 'vite-deps')}:/cache/vite-deps:ro`,
      ].sort(),
    );
    expect(info.Config.User).toMatch(/^\d+:\d+$/);
    expect(info.Config.User.startsWith('0:')).toBe(false);
    expect(info.Config.Labels[LABELS.sandbox]).toBe(sandbox.id);
    expect(info.Config.Labels[LABELS.server]).toBe(serverLabel(path.join(dir, 'sandboxes')));
    // The network namespace really holds nothing but its own loopback.
    const inside = await driver.execInside(sandbox.id, [
      '/usr/bin/node',
      '-e',
      'const status = Object.fromEntries(require("fs").readFileSync("/proc/self/status", "utf8").split("\\n").map((line) => [line.split(":")[0], line.split(":").slice(1).join(":").trim()])); const field = (name) => status[name];' +
        'console.log(JSON.stringify({uid: process.getuid(), interfaces: Object.keys(require("os").networkInterfaces()), caps: ["CapEff", "CapPrm", "CapBnd", "CapAmb"].map(field), noNewPrivs: field("NoNewPrivs")}))',
    ]);
    expect(inside.code).toBe(0);
    const seen = JSON.parse(inside.stdout) as { uid: number; interfaces: string[]; caps: string[]; noNewPrivs: string };
    expect(seen.uid).not.toBe(0);
    expect(seen.interfaces).toEqual(['lo']);
    // No capability at all, not even in the bounding set; and no way to gain one.
    expect(seen.caps.map((mask) => BigInt(`0x${mask}`))).toEqual([0n, 0n, 0n, 0n]);
    expect(seen.noNewPrivs).toBe('1');
  });

  it('serves the preview over its socket, only with the preview key', async () => {
    const socketPath = (sandbox.preview as { socketPath: string }).socketPath;
    expect(socketPath).toBe(path.join(dir, 'sandboxes', sandbox.id, 'sock', 'preview.sock'));
    const page = await getOverSocket(socketPath, sandbox.base, { [PREVIEW_KEY_HEADER]: sandbox.previewKey });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<script');
    const refused = await getOverSocket(socketPath, sandbox.base);
    expect(refused.status).not.toBe(200);
    expect(sandbox.modelSocketPath).toBe(path.join(dir, 'sandboxes', sandbox.id, 'sock', 'model.sock'));
  });

  it('moves files in and out inside the container, and the socket folder is no longer the sandbox’s', async () => {
    const before = await entriesOf(await driver.readFiles(sandbox.id, 'workspace'));
    expect(before.get('src/Root.tsx')).toContain('Composition');
    expect([...before.keys()].some((name) => name.startsWith('node_modules'))).toBe(false);

    await driver.writeFiles(sandbox.id, 'workspace', archiveOf({ 'src/Extra.ts': 'export const extra = 1;\n' }));
    const after = await entriesOf(await driver.readFiles(sandbox.id, 'workspace'));
    expect(after.get('src/Extra.ts')).toBe('export const extra = 1;\n');
    expect(after.get('src/Root.tsx')).toBe(before.get('src/Root.tsx'));

    // A hostile archive is refused inside, and nothing lands outside the area.
    await expect(driver.writeFiles(sandbox.id, 'workspace', archiveOf({ '../agent/planted.txt': 'x' }))).rejects.toThrow();
    expect(existsSync(path.join(dir, 'sandboxes', sandbox.id, 'agent', 'planted.txt'))).toBe(false);

    const folder = await driver.execInside(sandbox.id, ['/usr/bin/node', '-e', 'const s=require("fs").statSync("/sandbox/sock"); console.log(s.uid, (s.mode & 0o777).toString(8))']);
    expect(folder.stdout.trim()).toBe('0 755');
    const replace = await driver.execInside(sandbox.id, ['/usr/bin/node', '-e', 'require("fs").writeFileSync("/sandbox/sock/evil", "x")']);
    expect(replace.code).not.toBe(0);
  });

  it('stops a sandbox (an expected exit) and still reads its files from the stopped container', async () => {
    const second = await driver.start();
    await driver.writeFiles(second.id, 'agent', archiveOf({ 'state.json': '{"kept":true}' }));
    await driver.stop(second.id);
    expect(driver.status(second.id)).toBe('stopped');
    await expect.poll(() => exits.find((exit) => exit.id === second.id)).toMatchObject({ id: second.id, expected: true });
    const files = await entriesOf(await driver.readFiles(second.id, 'agent'));
    expect(files.get('state.json')).toBe('{"kept":true}');
    await driver.destroy(second.id);
    expect(driver.status(second.id)).toBe('missing');
    expect(existsSync(path.join(dir, 'sandboxes', second.id))).toBe(false);
  });

  it('reap ends and removes what a dead server left (containers and folders), after recovering labelled work, and leaves other servers’ containers alone', async () => {
    const crashedDir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-docker-crashed-'));
    const otherDir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-docker-other-'));
    try {
      // The "crashed" server: its driver object is simply dropped, its containers keep running.
      const crashed = createDockerDriver(settings(crashedDir));
      const labelled = await crashed.start();
      const unlabelled = await crashed.start();
      await crashed.label(labelled.id, { projectId: 'project-1', ownerId: 'user-1' });
      await crashed.writeFiles(labelled.id, 'workspace', archiveOf({ 'src/Unsaved.tsx': 'export const unsaved = true;\n' }));
      const labelledContainer = crashed.containerId(labelled.id)!;
      const unlabelledContainer = crashed.containerId(unlabelled.id)!;
      const other = createDockerDriver(settings(otherDir));
      const othersSandbox = await other.start();

      const restarted = createDockerDriver(settings(crashedDir));
      const recovered: { orphan: Orphan; files: Map<string, string> }[] = [];
      const reaped = await restarted.reap(async (orphan) => {
        recovered.push({ orphan, files: await entriesOf(await orphan.readFiles('workspace')) });
      });
      expect(reaped.sort()).toEqual([labelled.id, unlabelled.id].sort());
      expect(recovered.map(({ orphan }) => orphan.id)).toEqual([labelled.id]);
      expect(recovered[0]!.orphan.owner).toEqual({ projectId: 'project-1', ownerId: 'user-1' });
      expect(recovered[0]!.files.get('src/Unsaved.tsx')).toBe('export const unsaved = true;\n');
      expect([...recovered[0]!.files.keys()].some((name) => name.startsWith('node_modules') || name.startsWith('workspace/'))).toBe(false);
      for (const id of [labelledContainer, unlabelledContainer]) {
        const gone = await docker.getContainer(id).inspect().then(() => 200, (error: unknown) => engineStatus(error));
        expect(gone).toBe(404);
      }
      for (const id of [labelled.id, unlabelled.id]) expect(existsSync(path.join(crashedDir, 'sandboxes', id))).toBe(false);
      // Another server's sandbox on the same engine is untouched.
      expect(other.status(othersSandbox.id)).toBe('running');
      expect((await docker.getContainer(other.containerId(othersSandbox.id)!).inspect()).State.Running).toBe(true);
      await other.destroy(othersSandbox.id);
    } finally {
      await rm(crashedDir, { recursive: true, force: true });
      await rm(otherDir, { recursive: true, force: true });
    }
  });
});
