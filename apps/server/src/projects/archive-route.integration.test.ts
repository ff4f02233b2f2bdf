import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { projectArchivePath } from '@cutroom/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, startTestServer } from '../testing/test-server.js';
import { archiveFolderName } from './archive-route.js';

/**
 * A zip's files by path (stored or deflated entries; what `git archive` writes), read from
 * its central directory, each entry's bytes checked against its size: a cut or malformed
 * archive fails here instead of passing as a smaller one.
 */
function unzip(zip: Buffer): Map<string, Buffer> {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error('no end of central directory');
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const files = new Map<string, Buffer>();
  for (let index = 0; index < count; index++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('bad central directory entry');
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    at += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith('/')) continue;
    const dataStart = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(dataStart, dataStart + compressed);
    const content = method === 8 ? inflateRawSync(data) : data;
    if (content.length !== size) throw new Error(`${name}: ${content.length} bytes, ${size} expected`);
    files.set(name, content);
  }
  return files;
}

/** The archive route on a real server: real git (`git archive`), real PGlite. */
describe('GET /api/projects/:id/archive', () => {
  let server: TestServer;
  let owner: { cookie: string; projectId: string };
  const versions: string[] = [];
  const download = (url: string, cookie?: string) => fetch(server.baseUrl + url, cookie ? { headers: { cookie } } : {});

  beforeAll(async () => {
    server = await startTestServer();
    owner = await server.signupWithProject('Été: a “demo” / reel');
    const workspace = path.join(server.dataDir, 'work');
    await mkdir(workspace);
    versions.push(await server.repos.checkout(owner.projectId, workspace));
    await mkdir(path.join(workspace, 'public'), { recursive: true });
    await writeFile(path.join(workspace, 'public', 'logo.bin'), Buffer.from([0, 1, 2, 255, 254]));
    await writeFile(path.join(workspace, 'src', 'Extra.tsx'), 'export const Extra = () => null;\n');
    versions.push((await server.repos.commitWorkspace(owner.projectId, workspace, { message: 'Add a logo and a scene', author: 'agent' })).version);
  });
  afterAll(async () => server?.close());

  it('answers the current version as a zip under one folder named after the project, bytes intact', async () => {
    const response = await download(projectArchivePath(owner.projectId), owner.cookie);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/zip');
    const folder = archiveFolderName('Été: a “demo” / reel');
    expect(folder).toBe('ete-a-demo-reel');
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="${folder}-${versions[1]!.slice(0, 7)}.zip"; filename*=UTF-8''${folder}-${versions[1]!.slice(0, 7)}.zip`);
    const files = unzip(Buffer.from(await response.arrayBuffer()));
    expect([...files.keys()].every((name) => name.startsWith(`${folder}/`))).toBe(true);
    const workspace = path.join(server.dataDir, 'work');
    for (const file of ['package.json', 'src/index.ts', 'src/Root.tsx', 'src/Extra.tsx', 'public/logo.bin']) {
      expect(files.get(`${folder}/${file}`), file).toEqual(await readFile(path.join(workspace, file)));
    }
    expect([...files.keys()].some((name) => name.includes('.git/') || name.includes('node_modules/'))).toBe(false);
  });

  it('answers an earlier version as it was', async () => {
    const response = await download(projectArchivePath(owner.projectId, versions[0]), owner.cookie);
    expect(response.status).toBe(200);
    const files = unzip(Buffer.from(await response.arrayBuffer()));
    expect(files.has('ete-a-demo-reel/src/index.ts')).toBe(true);
    expect(files.has('ete-a-demo-reel/src/Extra.tsx')).toBe(false);
    expect(files.has('ete-a-demo-reel/public/logo.bin')).toBe(false);
  });

  it('refuses strangers, other users, and versions that are not the project’s, before any byte', async () => {
    expect((await download(projectArchivePath(owner.projectId))).status).toBe(401);
    const other = await server.signupWithProject('Other');
    const stranger = await download(projectArchivePath(owner.projectId), other.cookie);
    expect(stranger.status).toBe(404);
    expect((await stranger.json()).error.code).toBe('not_found');
    // Another project's version is not this project's. (Its first version, made from the
    // template in the same second, can be the very same commit as ours: git ids are content.)
    const otherWork = path.join(server.dataDir, 'other-work');
    await mkdir(otherWork);
    await server.repos.checkout(other.projectId, otherWork);
    await writeFile(path.join(otherWork, 'src', 'Other.tsx'), 'export const Other = () => null;\n');
    const othersVersion = (await server.repos.commitWorkspace(other.projectId, otherWork, { message: 'Only the other project has this', author: 'agent' })).version;
    for (const version of [othersVersion, 'e'.repeat(40)]) {
      const response = await download(projectArchivePath(owner.projectId, version), owner.cookie);
      expect(response.status, version).toBe(404);
      expect((await response.json()).error.code).toBe('not_found');
    }
    for (const query of ['?version=abc', `?version=${versions[0]!.toUpperCase()}`, '?version=HEAD', '?version=main', '?version=--output=/tmp/x', '?other=1']) {
      const response = await download(`/api/projects/${owner.projectId}/archive${query}`, owner.cookie);
      expect(response.status, query).toBe(400);
      expect((await response.json()).error.code).toBe('validation_failed');
    }
    expect((await download('/api/projects/not-a-uuid/archive', owner.cookie)).status).toBe(404);
  });
});
