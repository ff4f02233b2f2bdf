import { existsSync } from 'node:fs';
import path from 'node:path';
import { assetFilePath, assetUploadsPath, assetsPath } from '@cutroom/protocol';
import { pngBomb, pngBytes } from '@cutroom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filesUnder } from '../apps/server/src/testing/files-under.js';
import { type RunningServer, startServer } from '../e2e/harness.js';
import { callApi, newProject, signUp } from './attacker.js';


/**
 * The media routes under an outsider's hands: other spellings of a path out of `public/`
 * (encoded, doubled, NUL, backslashes), a script in an SVG, another user's project and
 * upload ids, a resumable upload's id that names a file elsewhere, a bomb and a lie about
 * a size. Nothing is read from or written outside the project's media, and nothing a
 * refused upload sent is left on the server.
 */
describe('media routes under attack', () => {
  let server: RunningServer;
  let owner: { cookie: string };
  let projectId: string;
  let other: { cookie: string };
  let otherProject: string;

  const upload = async (name: string, bytes: Buffer | string, cookie = owner.cookie, project = projectId) => {
    const form = new FormData();
    form.append('file', new Blob([typeof bytes === 'string' ? bytes : new Uint8Array(bytes)]), name);
    const response = await fetch(server.baseUrl + assetsPath(project), { method: 'POST', headers: { origin: server.baseUrl, cookie }, body: form });
    return { status: response.status, json: (await response.json()) as { asset?: { name: string; path: string }; error?: { code: string } } };
  };
  const get = (route: string, cookie = owner.cookie, headers: Record<string, string> = {}) => fetch(server.baseUrl + route, { headers: { cookie, ...headers } });
  const leftovers = async () => [
    ...(await filesUnder(path.join(server.dataDir, 'uploads'))),
    ...(await filesUnder(path.join(server.dataDir, 'tmp', 'media-uploads'))),
    ...(await filesUnder(path.join(server.dataDir, 'storage', 'media', 'staging'))),
  ];

  beforeAll(async () => {
    server = await startServer({ SESSION_POOL_SIZE: '0', MEDIA_MAX_FILE_MB: '4' });
    owner = await signUp(server);
    projectId = await newProject(server, owner.cookie, 'Mine');
    other = await signUp(server);
    otherProject = await newProject(server, other.cookie, 'Theirs');
    expect((await upload('logo.png', pngBytes(8, 8))).status).toBe(201);
    expect((await upload('secret.png', pngBytes(9, 9), other.cookie, otherProject)).status).toBe(201);
  });
  afterAll(async () => server?.stop());

  it('reads no file but a media file of the project, however the name is spelt', async () => {
    const spellings = [
      '..%2F..%2Fpackage.json',
      '%2e%2e%2f%2e%2e%2fpackage.json',
      '..%5C..%5Cpackage.json',
      '%2E%2E',
      'logo.png%00.txt',
      '..%252F..%252Fpackage.json',
      '%2Fetc%2Fpasswd',
      '.cutroom%2Fmedia.json',
      'src%2FRoot.tsx',
    ];
    for (const spelling of spellings) {
      const response = await get(`${assetsPath(projectId)}/${spelling}`);
      expect([400, 404], spelling).toContain(response.status);
      const body = await response.text();
      expect(body, spelling).not.toMatch(/"dependencies"|root:x:|registerRoot/);
    }
    // Plain traversal is normalised away by the router: it lands on another route, never on a file.
    const plain = await get(`${assetsPath(projectId)}/../../../package.json`);
    expect(await plain.text()).not.toMatch(/"dependencies"/);
    // Another project's file, through mine or through theirs.
    expect((await get(assetFilePath(projectId, 'secret.png'))).status).toBe(404);
    expect((await get(assetFilePath(otherProject, 'secret.png'))).status).toBe(404);
    expect((await callApi(server, 'DELETE', assetFilePath(otherProject, 'secret.png'), { cookie: owner.cookie })).status).toBe(404);
    expect((await get(assetsPath(otherProject))).status).toBe(404);
    expect((await get(assetFilePath(projectId, 'logo.png'), '')).status).toBe(401);
  });

  it('stores an SVG with a script as a picture that never runs on the app origin', async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>fetch("/api/auth/me")</script><image href="file:///etc/passwd" width="10" height="10"/><rect width="10" height="10"/></svg>';
    const created = await upload('evil.svg', svg);
    expect(created.status).toBe(201);
    const response = await get(assetFilePath(projectId, 'evil.svg'));
    expect(response.headers.get('content-type')).toBe('image/svg+xml');
    expect(response.headers.get('content-security-policy')).toMatch(/^sandbox;/);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    // An HTML file dressed as SVG is no SVG.
    expect((await upload('page.svg', '<!DOCTYPE html><html><script>alert(1)</script></html>')).json.error?.code).toBe('media_type_refused');
  });

  it('takes names only as one segment of public/, refusing the rest with a typed error', async () => {
    for (const name of ['..', '.htaccess', '.cutroom', 'a\u0000b.png', 'tab\there.png', 'x.png.', '\u202Egnp.svg']) {
      const answer = await upload(name, pngBytes(4, 4));
      expect([name, answer.status]).toEqual([name, 400]);
      expect(answer.json.error?.code).toBe('media_name_refused');
    }
    // A browser-made path: only its last segment counts.
    const nested = await upload('fonts\\..\\..\\x.png', pngBytes(4, 4));
    expect(nested.json.asset?.path).toBe('public/x.png');
    expect(await leftovers()).toEqual([]);
  });

  it('keeps resumable uploads to their project, their ids to their folder, and refuses lies about size', async () => {
    const create = (project: string, cookie: string, length: number, filename = 'a.png') =>
      fetch(server.baseUrl + assetUploadsPath(project), {
        method: 'POST',
        headers: { cookie, origin: server.baseUrl, 'tus-resumable': '1.0.0', 'upload-length': String(length), 'upload-metadata': `filename ${Buffer.from(filename).toString('base64')}` },
      });
    // Mine, not theirs.
    expect((await create(otherProject, owner.cookie, 10)).status).toBe(404);
    expect((await create(projectId, owner.cookie, 10, '../x.png')).status).toBe(400);
    expect((await create(projectId, owner.cookie, 5 * 1024 * 1024)).status).toBe(413);
    const mine = await create(projectId, owner.cookie, 16);
    expect(mine.status).toBe(201);
    const id = mine.headers.get('location')!.split('/').at(-1)!;
    // Ids that name something else: a path, another project's prefix, an encoded traversal.
    for (const forged of ['..%2F..%2Frepos', `${otherProject}.${id.split('.')[1]}`, `${projectId}.${'0'.repeat(8)}-0000-0000-0000-000000000000%2F..`, encodeURIComponent(`${projectId}.x/../../db`)]) {
      const response = await fetch(`${server.baseUrl}${assetUploadsPath(projectId)}/${forged}`, {
        method: 'PATCH',
        headers: { cookie: owner.cookie, origin: server.baseUrl, 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
        body: 'x'.repeat(16),
      });
      expect([400, 404], forged).toContain(response.status);
    }
    // More bytes than it said: refused, and the upload stays whole or goes.
    const over = await fetch(`${server.baseUrl}${assetUploadsPath(projectId)}/${id}`, {
      method: 'PATCH',
      headers: { cookie: owner.cookie, origin: server.baseUrl, 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body: 'x'.repeat(64),
    });
    expect(over.status).toBeGreaterThanOrEqual(400);
    // Someone else cannot read or end it.
    expect((await fetch(`${server.baseUrl}${assetUploadsPath(projectId)}/${id}`, { method: 'HEAD', headers: { cookie: other.cookie, 'tus-resumable': '1.0.0' } })).status).toBe(404);
    expect((await fetch(`${server.baseUrl}${assetUploadsPath(projectId)}/${id}`, { method: 'DELETE', headers: { cookie: other.cookie, origin: server.baseUrl, 'tus-resumable': '1.0.0' } })).status).toBe(404);
    await fetch(`${server.baseUrl}${assetUploadsPath(projectId)}/${id}`, { method: 'DELETE', headers: { cookie: owner.cookie, origin: server.baseUrl, 'tus-resumable': '1.0.0' } });
    expect(await leftovers()).toEqual([]);
    expect(existsSync(path.join(server.dataDir, 'repos', 'x'))).toBe(false);
  });

  it('refuses a decompression bomb before expanding it', async () => {
    const answer = await upload('bomb.png', pngBomb());
    expect([answer.status, answer.json.error?.code]).toEqual([413, 'media_too_large']);
    expect((await callApi(server, 'GET', '/api/health')).status).toBe(200);
    expect(await leftovers()).toEqual([]);
  });
});
