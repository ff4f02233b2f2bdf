import { createHash, randomBytes } from 'node:crypto';
import { PROTOCOL_VERSION, assetFilePath, assetsPath } from '@cutroom/protocol';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extract } from 'tar-stream';
import { sandboxDriversForTests } from '../testing/docker-engine.js';
import { type TestServer, startTestServer } from '../testing/test-server.js';
import { type TestClient, connectClient } from '../testing/ws-client.js';

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A tar stream's files: name → bytes. */
async function filesOf(stream: NodeJS.ReadableStream): Promise<Map<string, Buffer>> {
  const reader = extract();
  stream.pipe(reader as unknown as NodeJS.WritableStream);
  const found = new Map<string, Buffer>();
  for await (const entry of reader) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(Buffer.from(chunk as Buffer));
    found.set(entry.header.name, Buffer.concat(chunks));
  }
  return found;
}

const drivers = await sandboxDriversForTests();

/**
 * Media and a live session (local driver, a real runtime): an upload lands in the open
 * working copy while the session goes on (nothing held), a commit's read of the working
 * copy leaves the pinned file out, and a removal takes it out of the working copy.
 */
describe.each(drivers)('media with a live session ($name driver)', ({ environment }) => {
  let server: TestServer;
  let owner: { cookie: string; projectId: string };
  let client: TestClient;
  let sandboxId = '';
  let image: Buffer;
  const workingCopy = async (options: { leaveOutMedia?: boolean } = {}) => filesOf(await server.driver!.readFiles(sandboxId, 'workspace', options));

  beforeAll(async () => {
    server = await startTestServer({ environment, sessions: { poolSize: 0 } });
    owner = await server.signupWithProject('Live media');
    client = await connectClient(server.baseUrl, owner.cookie);
    client.send({ type: 'session:start', projectId: owner.projectId, protocolVersion: PROTOCOL_VERSION });
    const ready = await client.next((message) => message.type === 'session:ready');
    sandboxId = new URL(ready.previewUrl).pathname.split('/')[2]!;
    // About 6 MB of noise: over the commit's per-file cap, as real footage is.
    image = await sharp(randomBytes(1400 * 1400 * 3), { raw: { width: 1400, height: 1400, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
  }, 120_000);
  afterAll(async () => {
    client?.close();
    await server?.close();
  });

  it('puts an upload into the open working copy, and a commit read leaves it out', async () => {
    const form = new FormData();
    form.append('file', new Blob([image]), 'photo.png');
    const response = await fetch(server.baseUrl + assetsPath(owner.projectId), { method: 'POST', headers: { origin: server.baseUrl, cookie: owner.cookie }, body: form });
    expect(response.status).toBe(201);
    // In the working copy when the answer comes.
    const files = await workingCopy();
    expect(sha(files.get('public/photo.png')!)).toBe(sha(image));
    expect(JSON.parse(files.get('.cutroom/media.json')!.toString()).media.map((asset: { name: string }) => asset.name)).toEqual(['photo.png']);
    // The session went on: still running, not held.
    expect(server.sessions!.list()[0]?.state).toBe('running');
    // What a commit reads leaves it out (the server has it).
    const forCommit = await workingCopy({ leaveOutMedia: true });
    expect(forCommit.has('public/photo.png')).toBe(false);
    expect(forCommit.has('.cutroom/media.json')).toBe(true);
  });

  it('takes a removed file out of the working copy', async () => {
    const response = await fetch(server.baseUrl + assetFilePath(owner.projectId, 'photo.png'), { method: 'DELETE', headers: { origin: server.baseUrl, cookie: owner.cookie } });
    expect(response.status).toBe(200);
    const files = await workingCopy();
    expect(files.has('public/photo.png')).toBe(false);
    expect(JSON.parse(files.get('.cutroom/media.json')!.toString()).media).toEqual([]);
  });
});
