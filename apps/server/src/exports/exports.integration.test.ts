import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { dir as compositorDir } from '@remotion/compositor-linux-x64-gnu';
import { PNG } from 'pngjs';
import { testProjectDir } from '@cutroom/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { git } from '../repos/git.js';
import { type TestServer, startTestServer } from '../testing/test-server.js';
import { type TestClient, connectClient } from '../testing/ws-client.js';
import { livePids, processGroupMembers, processTree } from './render-process.js';

const execFileAsync = promisify(execFile);

// Renders run in sandboxes at a lower CPU weight than everything else: on a busy machine
// (other test files at once) they take minutes, which these waits allow for.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

/** Live processes whose real user is `uid`. */
async function processesOf(uid: number): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const status = await readFile(`/proc/${entry}/status`, 'utf8').catch(() => '');
    const real = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    if (real === String(uid) && !/^State:\s+Z/m.test(status)) found.push(Number(entry));
  }
  return found;
}
/** ffmpeg and ffprobe as Remotion ships them (their libraries sit beside them). */
const tool = (name: 'ffmpeg' | 'ffprobe', args: string[]) =>
  execFileAsync(path.join(compositorDir, name), args, { env: { ...process.env, LD_LIBRARY_PATH: compositorDir }, maxBuffer: 64 * 1024 * 1024 });

type Rgb = [number, number, number];
const hex = (value: string): Rgb => [1, 3, 5].map((i) => parseInt(value.slice(i, i + 2), 16)) as Rgb;
const near = (a: Rgb, b: Rgb, tolerance = 12) => a.every((channel, i) => Math.abs(channel - b[i]!) <= tolerance);
const background = hex('#0B1021');
const accent = hex('#FF5A36');

function pixels(data: Buffer) {
  const png = PNG.sync.read(data);
  const at = (x: number, y: number): Rgb => {
    const offset = (png.width * y + x) * 4;
    return [png.data[offset]!, png.data[offset + 1]!, png.data[offset + 2]!];
  };
  /** How many pixels of the box [x0, x1) × [y0, y1) are near `colour`. */
  const count = (x0: number, x1: number, y0: number, y1: number, colour: Rgb, tolerance: number) => {
    let matching = 0;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (near(at(x, y), colour, tolerance)) matching++;
    return matching;
  };
  return { width: png.width, height: png.height, at, count };
}

/** Corners of a `width`×`height` image, 5 px in. */
const corners = (width: number, height: number) =>
  [
    [5, 5],
    [width - 6, 5],
    [5, height - 6],
    [width - 6, height - 6],
  ] as const;

describe('exports', () => {
  let server: TestServer;
  let owner: Awaited<ReturnType<TestServer['signupWithProject']>>;
  let stranger: Awaited<ReturnType<TestServer['signup']>>;
  let socket: TestClient;
  const base = () => `/api/projects/${owner.projectId}/exports`;

  beforeAll(async () => {
    server = await startTestServer();
    owner = await server.signupWithProject('Launch "video": A/B');
    stranger = await server.signup();
    socket = await connectClient(server.baseUrl, owner.cookie);
  });
  afterAll(async () => {
    await socket?.close();
    await server?.close();
  });

  const create = async (body: Record<string, unknown>) => {
    const response = await server.request('POST', base(), { cookie: owner.cookie, body });
    expect(response.status, response.text).toBe(201);
    return response.json.export as { id: string; version: string; status: string };
  };
  const finished = (id: string, timeoutMs = 280_000) =>
    socket.next(
      (message) => message.type === 'export:progress' && message.export.id === id && ['done', 'failed', 'cancelled'].includes(message.export.status),
      timeoutMs,
    );

  it('renders an MP4 of the template at half size, with progress over /ws, downloadable by its owner only', async () => {
    const project = (await server.request('GET', `/api/projects/${owner.projectId}`, { cookie: owner.cookie })).json.project;
    const created = await create({ compositionId: 'TitleScene', format: 'mp4', scale: 0.5 });
    expect(created).toMatchObject({ status: 'queued', version: project.currentVersion, format: 'mp4', scale: 0.5, frame: null, downloadUrl: null });

    const end = await finished(created.id);
    expect(end.export, JSON.stringify(end.export)).toMatchObject({ status: 'done', progress: 1, totalFrames: 150, renderedFrames: 150, error: null });
    const events = socket.messages.filter((message) => message.type === 'export:progress' && message.export.id === created.id).map((message) => message.export);
    const statuses = [...new Set(events.map((event) => event.status))];
    expect(statuses).toEqual(['queued', 'preparing', 'rendering', 'done']);
    expect(events.filter((event) => event.status === 'rendering' && event.progress > 0 && event.progress < 1).length).toBeGreaterThan(0);
    // The first render of a version builds its bundle.
    expect(server.exports.inspect(created.id)?.bundleCached).toBe(false);

    const got = await server.request('GET', `${base()}/${created.id}`, { cookie: owner.cookie });
    expect(got.json.export).toMatchObject({ status: 'done', downloadUrl: `${base()}/${created.id}/download` });
    expect(got.json.export.sizeBytes).toBeGreaterThan(1_000);
    const list = await server.request('GET', base(), { cookie: owner.cookie });
    expect(list.json.exports.map((entry: { id: string }) => entry.id)).toEqual([created.id]);

    // The file as stored, checked with the ffprobe and ffmpeg that ship with Remotion.
    const file = path.join(server.dataDir, 'storage', 'exports', owner.projectId, `${created.id}.mp4`);
    const probe = JSON.parse(
      (await tool('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'json', file])).stdout,
    ).streams[0];
    expect(probe).toMatchObject({ codec_name: 'h264', width: 640, height: 360, nb_read_frames: '150' });
    const frameFile = path.join(server.dataDir, 'frame60.png');
    // Frame 60 at 30 fps starts at 2 s (an input seek decodes up to it exactly).
    await tool('ffmpeg', ['-v', 'error', '-ss', '2', '-i', file, '-frames:v', '1', '-y', frameFile]);
    const frame = pixels(await readFile(frameFile));
    expect([frame.width, frame.height]).toEqual([640, 360]);
    for (const [x, y] of corners(640, 360)) expect(near(frame.at(x, y), background, 16), `corner ${x},${y} is ${frame.at(x, y).join(',')}`).toBe(true);
    // The accent bar (480×16 at full size, centred under the title) is 240×8 around y≈199 here.
    expect(frame.count(280, 360, 190, 210, accent, 40)).toBeGreaterThan(80 * 5);

    const download = await fetch(`${server.baseUrl}${base()}/${created.id}/download`, { headers: { cookie: owner.cookie } });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('video/mp4');
    expect(download.headers.get('content-disposition')).toBe(
      `attachment; filename="Launch -video- A-B-${created.version.slice(0, 7)}.mp4"; filename*=UTF-8''${encodeURIComponent(`Launch -video- A-B-${created.version.slice(0, 7)}.mp4`)}`,
    );
    expect(Buffer.from(await download.arrayBuffer()).equals(await readFile(file))).toBe(true);

    // Anyone else: the same 404 as for an export that does not exist.
    for (const [method, url] of [
      ['GET', `${base()}/${created.id}`],
      ['GET', `${base()}/${created.id}/download`],
      ['POST', `${base()}/${created.id}/cancel`],
      ['GET', base()],
      ['POST', base()],
    ] as const) {
      const response = await server.request(method, url, { cookie: stranger.cookie, ...(method === 'POST' && url === base() ? { body: { compositionId: 'TitleScene', format: 'mp4' } } : {}) });
      expect(response.status, `${method} ${url}`).toBe(404);
      expect(response.json.error.code).toBe('not_found');
    }
    expect((await server.request('GET', `${base()}/${created.id}/download`)).status).toBe(401);
  });

  it('renders a PNG still of a frame from the cached bundle, and fails a frame past the end with why', async () => {
    const still = await create({ compositionId: 'TitleScene', format: 'png', frame: 60 });
    expect((await finished(still.id)).export).toMatchObject({ status: 'done', totalFrames: 1, frame: 60 });
    // The second export of the version starts from its cached bundle.
    expect(server.exports.inspect(still.id)?.bundleCached).toBe(true);

    const download = await fetch(`${server.baseUrl}${base()}/${still.id}/download`, { headers: { cookie: owner.cookie } });
    expect(download.headers.get('content-type')).toBe('image/png');
    expect(download.headers.get('content-disposition')).toContain(`-frame60.png"`);
    const image = pixels(Buffer.from(await download.arrayBuffer()));
    expect([image.width, image.height]).toEqual([1280, 720]);
    for (const [x, y] of corners(1280, 720)) expect(near(image.at(x, y), background), `corner ${x},${y}`).toBe(true);
    expect(image.count(560, 720, 380, 420, accent, 20)).toBeGreaterThan(160 * 8);

    const late = await create({ compositionId: 'TitleScene', format: 'png', frame: 150 });
    expect((await finished(late.id)).export).toMatchObject({
      status: 'failed',
      error: 'Frame 150 is past the end of "TitleScene": it has 150 frames (0–149).',
      downloadUrl: null,
    });
    const missing = await create({ compositionId: 'Nope', format: 'gif' });
    expect((await finished(missing.id)).export.error).toBe('There is no composition "Nope" in this version (it has: TitleScene).');
    const notReady = await server.request('GET', `${base()}/${missing.id}/download`, { cookie: owner.cookie });
    expect(notReady.status).toBe(409);
    expect(notReady.json.error.code).toBe('export_not_ready');
  });

  it('refuses bad requests', async () => {
    for (const body of [
      { compositionId: 'TitleScene', format: 'avi' },
      { compositionId: 'TitleScene', format: 'mp4', scale: 3 },
      { compositionId: 'TitleScene', format: 'mp4', frame: 3 },
      { compositionId: 'TitleScene', format: 'png', frame: -1 },
      { compositionId: '', format: 'png' },
      { compositionId: 'TitleScene', format: 'png', extra: true },
    ]) {
      const response = await server.request('POST', base(), { cookie: owner.cookie, body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.json.error.code).toBe('validation_failed');
    }
  });

  it('refuses more than 20 waiting exports of one user, and cancels waiting ones at once', async () => {
    const made: string[] = [];
    try {
      // One renders (the per-user limit is 1), up to 20 wait; the next is refused.
      let refused: { status: number; json: { error: { code: string } } } | null = null;
      for (let i = 0; i < 25 && !refused; i++) {
        const response = await server.request('POST', base(), { cookie: owner.cookie, body: { compositionId: 'TitleScene', format: 'png', frame: 1, scale: 0.25 } });
        if (response.status === 201) made.push(response.json.export.id);
        else refused = response;
      }
      expect(refused?.status).toBe(429);
      expect(refused?.json.error.code).toBe('too_many_exports');
      expect(made.length).toBeGreaterThanOrEqual(20);
    } finally {
      for (const id of made.reverse()) await server.request('POST', `${base()}/${id}/cancel`, { cookie: owner.cookie });
    }
    const listed = (await server.request('GET', base(), { cookie: owner.cookie })).json.exports as { id: string; status: string }[];
    for (const id of made) expect(['cancelled', 'done']).toContain(listed.find((entry) => entry.id === id)?.status);
  });

  it('cancels a running render: its processes, folder and partial file are gone', async () => {
    const created = await create({ compositionId: 'TitleScene', format: 'mp4', scale: 0.5 });
    await socket.next((message) => message.type === 'export:progress' && message.export.id === created.id && message.export.renderedFrames > 0, 280_000);
    const job = server.exports.inspect(created.id)!;
    expect(job.pid).toBeGreaterThan(0);
    // The worker's processes: the compositor in its group, Chromium and its helpers in another.
    const tree = await processTree(job.pid!);
    expect(tree.pids.length).toBeGreaterThan(2);
    expect(tree.groups.length).toBeGreaterThan(1);
    expect(existsSync(job.jobDir)).toBe(true);
    // In bubblewrap the worker's /tmp is its own (nothing on the host); else a folder of its own.
    if (job.tmpDir) expect(existsSync(job.tmpDir)).toBe(true);
    // A user of its own, where the server switches users (root).
    if (process.getuid?.() === 0) expect(job.uid).toBeGreaterThanOrEqual(1_300_000);

    const cancelled = await server.request('POST', `${base()}/${created.id}/cancel`, { cookie: owner.cookie });
    expect(cancelled.status).toBe(200);
    expect(cancelled.json.export).toMatchObject({ status: 'cancelled', downloadUrl: null });
    expect(cancelled.json.export.finishedAt).toBeTruthy();
    for (const group of [job.pid!, ...tree.groups]) expect(await processGroupMembers(group), `group ${group}`).toEqual([]);
    expect(await livePids([job.pid!, ...tree.pids])).toEqual([]);
    expect(existsSync(job.jobDir)).toBe(false);
    if (job.tmpDir) expect(existsSync(job.tmpDir)).toBe(false);
    if (job.uid !== null) expect(await processesOf(job.uid)).toEqual([]);
    expect(await readdir(path.join(server.dataDir, 'tmp', 'renders'))).toEqual([]);
    expect(existsSync(path.join(server.dataDir, 'storage', 'exports', owner.projectId, `${created.id}.mp4`))).toBe(false);
    expect((await server.request('GET', `${base()}/${created.id}`, { cookie: owner.cookie })).json.export.status).toBe('cancelled');
    // Cancelling again answers the export as it is.
    expect((await server.request('POST', `${base()}/${created.id}/cancel`, { cookie: owner.cookie })).json.export.status).toBe('cancelled');
  });

  it('renders the version that was current when asked, not a later one', async () => {
    const before = (await server.request('GET', `/api/projects/${owner.projectId}`, { cookie: owner.cookie })).json.project.currentVersion;
    const asked = await create({ compositionId: 'TitleScene', format: 'png', frame: 0, scale: 0.25 });

    // A new version lands right after: the background turns white.
    const workspace = await mkdtemp(path.join(os.tmpdir(), 'cutroom-export-edit-'));
    try {
      await server.repos.checkout(owner.projectId, workspace);
      const scene = path.join(workspace, 'src', 'scenes', 'TitleScene.tsx');
      await writeFile(scene, (await readFile(scene, 'utf8')).replace("background = '#0B1021'", "background = '#FFFFFF'"));
      const commit = await server.repos.commitWorkspace(owner.projectId, workspace, { message: 'White background', author: 'user' });
      expect(commit.changed).toBe(true);
      await server.store.projects.update(owner.user.id, owner.projectId, { currentVersion: commit.version });

      const old = (await finished(asked.id)).export;
      expect(old).toMatchObject({ status: 'done', version: before });
      const oldImage = pixels(Buffer.from(await (await fetch(`${server.baseUrl}${old.downloadUrl}`, { headers: { cookie: owner.cookie } })).arrayBuffer()));
      expect([oldImage.width, oldImage.height]).toEqual([320, 180]);
      expect(near(oldImage.at(5, 5), background)).toBe(true);

      const later = await create({ compositionId: 'TitleScene', format: 'png', frame: 0, scale: 0.25 });
      expect(later.version).toBe(commit.version);
      const fresh = (await finished(later.id)).export;
      const freshImage = pixels(Buffer.from(await (await fetch(`${server.baseUrl}${fresh.downloadUrl}`, { headers: { cookie: owner.cookie } })).arrayBuffer()));
      expect(near(freshImage.at(5, 5), [255, 255, 255])).toBe(true);
      expect(server.exports.inspect(later.id)?.bundleCached).toBe(false);
    } finally {
      await rm(workspace, { recursive: true, force: true });
    }
  });

  it("refuses to bundle a file from outside the version's files (another project's data, say)", async () => {
    const secretDir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-secret-'));
    const workspace = await mkdtemp(path.join(os.tmpdir(), 'cutroom-export-leak-'));
    try {
      await writeFile(path.join(secretDir, 'data.json'), JSON.stringify({ secret: 'TOP-SECRET-VALUE' }));
      await server.repos.checkout(owner.projectId, workspace);
      const root = path.join(workspace, 'src', 'Root.tsx');
      await writeFile(root, `import leaked from '${secretDir}/data.json';\nconsole.log(leaked);\n${await readFile(root, 'utf8')}`);
      const commit = await server.repos.commitWorkspace(owner.projectId, workspace, { message: 'Leak', author: 'agent' });
      await server.store.projects.update(owner.user.id, owner.projectId, { currentVersion: commit.version });
      const asked = await create({ compositionId: 'TitleScene', format: 'png', frame: 0, scale: 0.25 });
      const result = (await finished(asked.id)).export;
      expect(result.status).toBe('failed');
      expect(result.error).toMatch(/Bundling failed/);
      expect(JSON.stringify(result)).not.toContain('TOP-SECRET-VALUE');
    } finally {
      // Put the project back as it was for the next tests.
      await rm(path.join(workspace, 'src', 'Root.tsx'));
      await server.repos.checkout(owner.projectId, workspace).catch(() => {});
      const root = path.join(workspace, 'src', 'Root.tsx');
      const source = await readFile(root, 'utf8');
      await writeFile(root, source.split('\n').slice(2).join('\n'));
      const commit = await server.repos.commitWorkspace(owner.projectId, workspace, { message: 'Unleak', author: 'user' });
      await server.store.projects.update(owner.user.id, owner.projectId, { currentVersion: commit.version });
      await rm(secretDir, { recursive: true, force: true });
      await rm(workspace, { recursive: true, force: true });
    }
  });

  it('marks exports a crash left unfinished as failed, and removes their job folders, at start', async () => {
    const record = await server.store.exports.create({
      id: randomUUID(),
      ownerId: owner.user.id,
      projectId: owner.projectId,
      version: (await git(['--git-dir', server.repos.repoPath(owner.projectId), 'rev-parse', 'HEAD'])).trim(),
      compositionId: 'TitleScene',
      format: 'mp4',
      scale: 1,
      frame: null,
    });
    await server.store.exports.update(record.id, { status: 'rendering', started: true });
    const leftover = path.join(server.dataDir, 'tmp', 'renders', randomUUID());
    await mkdir(leftover, { recursive: true });
    await writeFile(path.join(leftover, 'worker.json'), JSON.stringify({ pid: 999_999_999 }));

    await server.exports.start();
    const after = (await server.request('GET', `${base()}/${record.id}`, { cookie: owner.cookie })).json.export;
    expect(after).toMatchObject({ status: 'failed', error: 'The server restarted during the render.' });
    expect(existsSync(leftover)).toBe(false);
  });

  it('deleting a project removes its exports\' files', async () => {
    const dir = path.join(server.dataDir, 'storage', 'exports', owner.projectId);
    expect((await readdir(dir)).length).toBeGreaterThan(0);
    expect((await server.request('DELETE', `/api/projects/${owner.projectId}`, { cookie: owner.cookie })).status).toBe(204);
    expect(existsSync(dir)).toBe(false);
    // The bundles only this project used went with it (bundles are shared by identical trees).
    expect((await server.exports.bundles.usage()).bundles).toEqual([]);
  });
});

describe('thumbnails', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ exports: { thumbnails: true } });
  });
  afterAll(async () => server?.close());

  it('renders a still of a new project\'s current version, served to its owner only', async () => {
    const account = await server.signup();
    const socket = await connectClient(server.baseUrl, account.cookie);
    try {
      const created = await server.request('POST', '/api/projects', { cookie: account.cookie, body: { name: 'Thumbs' } });
      const project = created.json.project;
      expect(project.thumbnailVersion).toBeNull();
      const ready = await socket.next((message) => message.type === 'thumbnail:ready' && message.projectId === project.id, 280_000);
      expect(ready.thumbnailVersion).toBe(project.currentVersion);

      const listed = (await server.request('GET', '/api/projects', { cookie: account.cookie })).json.projects[0];
      expect(listed).toMatchObject({ id: project.id, thumbnailVersion: project.currentVersion, updatedAt: project.updatedAt });

      const url = `/api/projects/${project.id}/thumbnail?v=${project.currentVersion}`;
      const response = await fetch(`${server.baseUrl}${url}`, { headers: { cookie: account.cookie } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/png');
      expect(response.headers.get('etag')).toBe(`"${project.currentVersion}"`);
      expect(response.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
      const image = pixels(Buffer.from(await response.arrayBuffer()));
      expect([image.width, image.height]).toEqual([640, 360]);
      for (const [x, y] of corners(640, 360)) expect(near(image.at(x, y), background), `corner ${x},${y}`).toBe(true);

      const again = await fetch(`${server.baseUrl}/api/projects/${project.id}/thumbnail`, {
        headers: { cookie: account.cookie, 'if-none-match': `"${project.currentVersion}"` },
      });
      expect(again.status).toBe(304);
      expect(again.headers.get('cache-control')).toBe('private, no-cache');

      const stranger = await server.signup();
      const refused = await server.request('GET', `/api/projects/${project.id}/thumbnail`, { cookie: stranger.cookie });
      expect(refused.status).toBe(404);
      expect((await server.request('GET', `/api/projects/${project.id}/thumbnail`)).status).toBe(401);
      expect(existsSync(path.join(server.dataDir, 'storage', 'thumbnails', `${project.id}.png`))).toBe(true);
    } finally {
      await socket.close();
    }
  });

  it('renders only the newest of versions that land in quick succession', async () => {
    const account = await server.signupWithProject('Busy');
    const socket = await connectClient(server.baseUrl, account.cookie);
    const workspace = await mkdtemp(path.join(os.tmpdir(), 'cutroom-thumbnail-edit-'));
    try {
      await server.repos.checkout(account.projectId, workspace);
      const versions: string[] = [];
      for (const colour of ['#222222', '#FFFFFF']) {
        const scene = path.join(workspace, 'src', 'scenes', 'TitleScene.tsx');
        await writeFile(scene, (await readFile(scene, 'utf8')).replace(/background = '#[0-9A-F]{6}'/, `background = '${colour}'`));
        const commit = await server.repos.commitWorkspace(account.projectId, workspace, { message: colour, author: 'user' });
        versions.push(commit.version);
      }
      await server.store.projects.update(account.user.id, account.projectId, { currentVersion: versions[1]! });
      // As chat turns (or restores) report their new versions, one right after the other.
      for (const version of versions) server.exports.versionLanded(account.projectId, account.user.id, version);
      await socket.next((message) => message.type === 'thumbnail:ready' && message.thumbnailVersion === versions[1], 280_000);
      const rendered = socket.messages.filter((message) => message.type === 'thumbnail:ready').map((message) => message.thumbnailVersion);
      // The first of the two was overtaken before its render began (a thumbnail waits for a
      // pause in new versions). The project's first version (from its creation) may have
      // rendered already on a slow machine: the commits above can outlast the pause.
      expect(rendered).not.toContain(versions[0]);
      expect(rendered.at(-1)).toBe(versions[1]);
      const image = await fetch(`${server.baseUrl}/api/projects/${account.projectId}/thumbnail?v=${versions[1]}`, { headers: { cookie: account.cookie } });
      expect(near(pixels(Buffer.from(await image.arrayBuffer())).at(5, 5), [255, 255, 255])).toBe(true);
    } finally {
      await socket.close();
      await rm(workspace, { recursive: true, force: true });
    }
  });
  it('shows the composition its owner chose, and follows a new choice', async () => {
    const account = await server.signupWithProject('Folders');
    const socket = await connectClient(server.baseUrl, account.cookie);
    try {
      const version = await server.commitProjectFiles(account, 'Folders and a still', async (dir) => {
        for (const entry of await readdir(dir)) if (entry !== '.git') await rm(path.join(dir, entry), { recursive: true, force: true });
        await cp(testProjectDir('folders-and-stills'), dir, { recursive: true });
      });
      const shown = async (composition: string | null) => {
        const ready = await socket.next(
          (message) => message.type === 'thumbnail:ready' && message.thumbnailVersion === version && message.thumbnailComposition === composition,
          280_000,
        );
        const image = await fetch(`${server.baseUrl}/api/projects/${account.projectId}/thumbnail?v=${version}${composition ? `.${composition}` : ''}`, { headers: { cookie: account.cookie } });
        expect(image.headers.get('cache-control')).toContain('immutable');
        const png = PNG.sync.read(Buffer.from(await image.arrayBuffer()));
        return { ready, width: png.width, height: png.height };
      };
      server.exports.versionLanded(account.projectId, account.user.id, version);
      // None chosen: the Root's first composition (Slate, 640×360: landscape).
      const first = await shown(null);
      expect(first.width).toBeGreaterThan(first.height);
      // The owner picks the <Still> (Poster, 400×600): the project keeps it, the thumbnail follows.
      const chosen = await server.request('PATCH', `/api/projects/${account.projectId}`, { cookie: account.cookie, body: { compositionId: 'Poster' } });
      expect(chosen.status, chosen.text).toBe(200);
      expect(chosen.json.project).toMatchObject({ compositionId: 'Poster', name: 'Folders' });
      const poster = await shown('Poster');
      expect(poster.height).toBeGreaterThan(poster.width);
      const listed = await server.request('GET', '/api/projects', { cookie: account.cookie });
      expect(listed.json.projects.find((project: { id: string }) => project.id === account.projectId)).toMatchObject({
        compositionId: 'Poster',
        thumbnailVersion: version,
        thumbnailComposition: 'Poster',
      });
      // A choice the version does not have: the first again (nothing fails).
      expect((await server.request('PATCH', `/api/projects/${account.projectId}`, { cookie: account.cookie, body: { compositionId: 'Gone' } })).status).toBe(200);
      const gone = await shown('Gone');
      expect(gone.width).toBeGreaterThan(gone.height);
      // What a choice may be.
      for (const body of [{ compositionId: '' }, { compositionId: '../x' }, { compositionId: 'a'.repeat(201) }, { compositionId: 5 }, {}, { compositionId: 'Poster', extra: 1 }]) {
        const refused = await server.request('PATCH', `/api/projects/${account.projectId}`, { cookie: account.cookie, body });
        expect(refused.status, JSON.stringify(body)).toBe(400);
      }
      const stranger = await server.signup();
      expect((await server.request('PATCH', `/api/projects/${account.projectId}`, { cookie: stranger.cookie, body: { compositionId: 'Poster' } })).status).toBe(404);
    } finally {
      await socket.close();
    }
  });
});
