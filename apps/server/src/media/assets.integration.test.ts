import { randomBytes } from 'node:crypto';
import { stat, utimes } from 'node:fs/promises';
import sharp from 'sharp';
import path from 'node:path';
import { type AssetCreatedResponse, type AssetListResponse, assetFilePath, assetUploadsPath, assetsPath, projectArchivePath } from '@cutroom/protocol';
import { makeVideo, pngBomb, pngBytes } from '@cutroom/testkit';
import * as tus from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filesUnder } from '../testing/files-under.js';
import { type TestServer, startTestServer } from '../testing/test-server.js';
import { zipEntries } from '../testing/zip.js';


/** The assets routes on a real server: real git, PGlite, sharp, ffprobe, the tus server. */
describe('project media: /api/projects/:id/assets and resumable uploads', () => {
  let server: TestServer;
  let owner: { cookie: string; projectId: string };
  let video: Buffer;

  const upload = async (name: string, bytes: Buffer | string, cookie = owner.cookie, projectId = owner.projectId) => {
    const form = new FormData();
    form.append('file', new Blob([typeof bytes === 'string' ? bytes : new Uint8Array(bytes)]), name);
    const response = await fetch(server.baseUrl + assetsPath(projectId), { method: 'POST', headers: { origin: server.baseUrl, cookie }, body: form });
    return { status: response.status, json: (await response.json()) as AssetCreatedResponse & { error?: { code: string; message: string } } };
  };
  const list = async () => (await (await fetch(server.baseUrl + assetsPath(owner.projectId), { headers: { cookie: owner.cookie } })).json()) as AssetListResponse;
  const leftovers = async () => [...(await filesUnder(path.join(server.dataDir, 'uploads'))), ...(await filesUnder(path.join(server.dataDir, 'tmp', 'media-uploads'))), ...(await filesUnder(path.join(server.dataDir, 'storage', 'media', 'staging')))];

  beforeAll(async () => {
    server = await startTestServer({ environment: { MEDIA_MAX_FILE_MB: '8', MEDIA_MAX_PROJECT_MB: '12' } });
    owner = await server.signupWithProject('Media');
    const scratch = path.join(server.dataDir, 'clip.mp4');
    await makeVideo(scratch, { seconds: 1 });
    video = await import('node:fs/promises').then((fs) => fs.readFile(scratch));
  });
  afterAll(async () => server?.close());

  it('takes an image by multipart: a new version pins it, the list and the bytes (with ranges) come back', async () => {
    const before = await list();
    expect(before.assets).toEqual([]);
    const png = pngBytes(30, 20);
    const created = await upload('logo.png', png);
    expect(created.status).toBe(201);
    expect(created.json.asset).toMatchObject({ name: 'logo.png', path: 'public/logo.png', kind: 'image', mime: 'image/png', size: png.length, width: 30, height: 20 });
    expect(created.json.version).not.toBe(before.version);
    const after = await list();
    expect(after.version).toBe(created.json.version);
    expect(after.assets.map((asset) => asset.name)).toEqual(['logo.png']);
    const project = await (await fetch(`${server.baseUrl}/api/projects/${owner.projectId}`, { headers: { cookie: owner.cookie } })).json();
    expect(project.project.currentVersion).toBe(created.json.version);

    const whole = await fetch(server.baseUrl + assetFilePath(owner.projectId, 'logo.png'), { headers: { cookie: owner.cookie } });
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toBe('image/png');
    expect(whole.headers.get('content-security-policy')).toContain('sandbox');
    expect(Buffer.from(await whole.arrayBuffer())).toEqual(png);
    const part = await fetch(server.baseUrl + assetFilePath(owner.projectId, 'logo.png'), { headers: { cookie: owner.cookie, range: 'bytes=1-3' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 1-3/${png.length}`);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(png.subarray(1, 4));
    const outside = await fetch(server.baseUrl + assetFilePath(owner.projectId, 'logo.png'), { headers: { cookie: owner.cookie, range: `bytes=${png.length + 5}-` } });
    expect(outside.status).toBe(416);

    // The download holds it.
    const zip = await zipEntries((await fetch(server.baseUrl + projectArchivePath(owner.projectId), { headers: { cookie: owner.cookie } })).body!);
    expect([...zip.entries()].find(([name]) => name.endsWith('/public/logo.png'))?.[1]).toEqual(png);
  });

  it('takes a video by a resumable upload (tus), in chunks, and answers the finishing request with the asset', async () => {
    const done = await new Promise<{ body: string; progress: number[] }>((resolve, reject) => {
      const progress: number[] = [];
      const upload = new tus.Upload(video, {
        endpoint: server.baseUrl + assetUploadsPath(owner.projectId),
        chunkSize: 8 * 1024,
        metadata: { filename: 'clip.mp4' },
        headers: { cookie: owner.cookie, origin: server.baseUrl },
        retryDelays: [],
        onProgress: (sent) => progress.push(sent),
        onError: reject,
        onSuccess: ({ lastResponse }) => resolve({ body: lastResponse.getBody(), progress }),
      });
      upload.start();
    });
    expect(done.progress.length).toBeGreaterThan(1);
    const created = JSON.parse(done.body) as AssetCreatedResponse;
    expect(created.asset).toMatchObject({ name: 'clip.mp4', kind: 'video', mime: 'video/mp4', width: 320, height: 240, fps: 30, hasAudio: true, size: video.length });
    expect((await list()).assets.map((asset) => asset.name)).toEqual(['clip.mp4', 'logo.png']);
    expect(await leftovers()).toEqual([]);
  });

  it('refuses bad input with a typed error and leaves nothing behind', async () => {
    const namesBefore = (await list()).assets.map((asset) => asset.name);
    const cases: [string, Buffer | string, number, string][] = [
      ['page.png', '<html><script>alert(1)</script></html>', 415, 'media_type_refused'],
      ['logo.jpg', pngBytes(4, 4), 415, 'media_type_refused'],
      ['empty.png', '', 422, 'media_unreadable'],
      ['cut.mp4', video.subarray(0, Math.floor(video.length / 2)), 422, 'media_unreadable'],
      ['bomb.png', pngBomb(), 413, 'media_too_large'],
      ['..', pngBytes(4, 4), 400, 'media_name_refused'],
      ['.env', pngBytes(4, 4), 400, 'media_name_refused'],
      ['a\u0001b.png', pngBytes(4, 4), 400, 'media_name_refused'],
      ['big.mp4', Buffer.alloc(9 * 1024 * 1024, 1), 413, 'media_too_large'],
    ];
    for (const [name, bytes, status, code] of cases) {
      const answer = await upload(name, bytes);
      expect([name, answer.status, answer.json.error?.code]).toEqual([name, status, code]);
      expect(answer.json.error?.message.length).toBeGreaterThan(10);
    }
    // A multipart filename with a path in it is cut to its last segment: it lands in public/, nowhere else.
    const traversal = await upload('../../etc/passwd.png', pngBytes(4, 4));
    expect(traversal.json.asset?.path).toBe('public/passwd.png');
    await fetch(server.baseUrl + assetFilePath(owner.projectId, 'passwd.png'), { method: 'DELETE', headers: { cookie: owner.cookie, origin: server.baseUrl } });
    // A NUL in the name.
    const nul = await upload('a\u0000.png', pngBytes(4, 4));
    expect([400, 415]).toContain(nul.status);

    // A resumable upload whose declared size is over the limit is refused at creation.
    const tooBig = await fetch(server.baseUrl + assetUploadsPath(owner.projectId), {
      method: 'POST',
      headers: { cookie: owner.cookie, origin: server.baseUrl, 'tus-resumable': '1.0.0', 'upload-length': String(100 * 1024 * 1024), 'upload-metadata': `filename ${Buffer.from('huge.mp4').toString('base64')}` },
    });
    expect(tooBig.status).toBe(413);
    // One refused when it finishes (not an image), and one cancelled halfway: neither leaves a file.
    const refused = await new Promise<string>((resolve) => {
      new tus.Upload(Buffer.from('not an image at all'), {
        endpoint: server.baseUrl + assetUploadsPath(owner.projectId),
        metadata: { filename: 'fake.png' },
        headers: { cookie: owner.cookie, origin: server.baseUrl },
        retryDelays: [],
        onError: (error) => resolve(String((error as tus.DetailedError).originalResponse?.getBody())),
        onSuccess: () => resolve('accepted'),
      }).start();
    });
    expect(JSON.parse(refused).error.code).toBe('media_type_refused');
    const cancelled = new tus.Upload(video, {
      endpoint: server.baseUrl + assetUploadsPath(owner.projectId),
      chunkSize: 4 * 1024,
      metadata: { filename: 'half.mp4' },
      headers: { cookie: owner.cookie, origin: server.baseUrl },
      retryDelays: [],
    });
    await new Promise<void>((resolve) => {
      cancelled.options.onProgress = (sent) => {
        if (sent >= 8 * 1024) resolve();
      };
      cancelled.start();
    });
    await cancelled.abort(true);
    expect(await leftovers()).toEqual([]);
    expect((await list()).assets.map((asset) => asset.name)).toEqual(namesBefore);
  });

  it('keeps each project to its owner, and its uploads to their project', async () => {
    const other = await server.signupWithProject('Other');
    const denied = await upload('x.png', pngBytes(4, 4), other.cookie, owner.projectId);
    expect(denied.status).toBe(404);
    const read = await fetch(server.baseUrl + assetFilePath(owner.projectId, 'logo.png'), { headers: { cookie: other.cookie } });
    expect(read.status).toBe(404);
    const created = await fetch(server.baseUrl + assetUploadsPath(owner.projectId), {
      method: 'POST',
      headers: { cookie: owner.cookie, origin: server.baseUrl, 'tus-resumable': '1.0.0', 'upload-length': '10', 'upload-metadata': `filename ${Buffer.from('a.png').toString('base64')}` },
    });
    expect(created.status).toBe(201);
    const location = created.headers.get('location')!;
    expect(location).toContain(assetUploadsPath(owner.projectId));
    const uploadId = location.split('/').at(-1)!;
    // The same upload through the other user's project: not found.
    const hijack = await fetch(`${server.baseUrl}${assetUploadsPath(other.projectId)}/${uploadId}`, {
      method: 'PATCH',
      headers: { cookie: other.cookie, origin: server.baseUrl, 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body: 'abcdefghij',
    });
    expect(hijack.status).toBe(404);
    const crossSite = await upload('y.png', pngBytes(4, 4));
    expect(crossSite.status).toBe(201);
    const evil = await fetch(server.baseUrl + assetsPath(owner.projectId), { method: 'POST', headers: { origin: 'https://evil.example', cookie: owner.cookie }, body: new FormData() });
    expect(evil.status).toBe(403);
    await fetch(server.baseUrl + location, { method: 'DELETE', headers: { cookie: owner.cookie, origin: server.baseUrl, 'tus-resumable': '1.0.0' } });
  });

  it('removes a file as a new version; the older version still has it; the project limit counts', async () => {
    const before = await list();
    const removed = await fetch(server.baseUrl + assetFilePath(owner.projectId, 'logo.png'), { method: 'DELETE', headers: { cookie: owner.cookie, origin: server.baseUrl } });
    expect(removed.status).toBe(200);
    expect((await list()).assets.map((asset) => asset.name)).not.toContain('logo.png');
    const old = await fetch(`${server.baseUrl}${assetFilePath(owner.projectId, 'logo.png')}?version=${before.version}`, { headers: { cookie: owner.cookie } });
    expect(old.status).toBe(200);
    const again = await fetch(server.baseUrl + assetFilePath(owner.projectId, 'logo.png'), { method: 'DELETE', headers: { cookie: owner.cookie, origin: server.baseUrl } });
    expect(again.status).toBe(404);
    // 12 MiB a project: one 6.5 MiB image fits, a second does not; the same name replaced counts once.
    const noise = await sharp(randomBytes(1500 * 1500 * 3), { raw: { width: 1500, height: 1500, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
    expect((await upload('noise-a.png', noise)).status).toBe(201);
    const second = await upload('noise-b.png', noise);
    expect([second.status, second.json.error?.code]).toEqual([413, 'media_limit_reached']);
    expect((await upload('noise-a.png', noise)).status).toBe(201);
    expect(await leftovers()).toEqual([]);
  });

  it("deleting a project removes the media only it pinned, and keeps what another project pins", async () => {
    const other = await server.signupWithProject('Other');
    const logo = pngBytes(32, 16, [9, 99, 199]);
    const mine = pngBytes(32, 16, [199, 9, 99]);
    const shared = await upload('shared.png', logo, other.cookie, other.projectId);
    const own = await upload('own.png', mine, other.cookie, other.projectId);
    await upload('shared.png', logo);
    const file = (sha256: string) => path.join(server.dataDir, 'storage', 'media', 'sha256', sha256.slice(0, 2), sha256);
    // Older than the grace (a minute here, an hour by default): no upload is on its way.
    for (const asset of [shared.json.asset, own.json.asset]) await utimes(file(asset.sha256), new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    const deleted = await fetch(`${server.baseUrl}/api/projects/${other.projectId}`, { method: 'DELETE', headers: { cookie: other.cookie, origin: server.baseUrl } });
    expect(deleted.status).toBeLessThan(300);
    await expect.poll(() => stat(file(own.json.asset.sha256)).then(() => true, () => false), { timeout: 20_000 }).toBe(false);
    expect((await stat(file(shared.json.asset.sha256))).isFile()).toBe(true);
  });
});
