import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PROTOCOL_VERSION, assetFilePath, assetsPath } from '@cutroom/protocol';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extract } from 'tar-stream';
import { waitFor } from '../testing/processes.js';
import { type TestServer, startTestServer } from '../testing/test-server.js';
import { type TestClient, connectClient } from '../testing/ws-client.js';

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Names of a tar stream's entries. */
async function names(stream: NodeJS.ReadableStream): Promise<string[]> {
  const reader = extract();
  stream.pipe(reader as unknown as NodeJS.WritableStream);
  const found: string[] = [];
  for await (const entry of reader) {
    found.push(entry.header.name);
    entry.resume();
  }
  return found;
}

/**
 * Media and a live session (local driver, a real runtime): an upload lands in the open
 * working copy while the session goes on (nothing held), a commit's read of the working
 * copy leaves the pinned file out, and a removal takes it out of the working copy.
 */
describe('media with a live session', () => {
  let server: TestServer;
  let owner: { cookie: string; projectId: string };
  let client: TestClient;
  let workspace = '';
  let sandboxId = '';
  let image: Buffer;

  beforeAll(async () => {
    server = await startTestServer({ sessions: { poolSize: 0 } });
    owner = await server.signupWithProject('Live media');
    client = await connectClient(server.baseUrl, owner.cookie);
    client.send({ type: 'session:start', projectId: owner.projectId, protocolVersion: PROTOCOL_VERSION });
    const ready = await client.next((message) => message.type === 'session:ready');
    sandboxId = new URL(ready.previewUrl).pathname.split('/')[2]!;
    workspace = path.join(server.dataDir, 'sandboxes', sandboxId, 'workspace');
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
    expect(sha(await readFile(path.join(workspace, 'public', 'photo.png')))).toBe(sha(image));
    expect(JSON.parse(await readFile(path.join(workspace, '.cutroom', 'media.json'), 'utf8')).media.map((asset: { name: string }) => asset.name)).toEqual(['photo.png']);
    // The session went on: still running, not held.
    expect(server.sessions!.list()[0]?.state).toBe('running');

    const full = await names(await server.driver!.readFiles(sandboxId, 'workspace'));
    const forCommit = await names(await server.driver!.readFiles(sandboxId, 'workspace', { leaveOutMedia: true }));
    expect(full).toContain('public/photo.png');
    expect(forCommit).not.toContain('public/photo.png');
    expect(forCommit).toContain('.cutroom/media.json');
  });

  it('takes a removed file out of the working copy', async () => {
    const response = await fetch(server.baseUrl + assetFilePath(owner.projectId, 'photo.png'), { method: 'DELETE', headers: { origin: server.baseUrl, cookie: owner.cookie } });
    expect(response.status).toBe(200);
    await waitFor(() => !existsSync(path.join(workspace, 'public', 'photo.png')), 10_000);
    expect(JSON.parse(await readFile(path.join(workspace, '.cutroom', 'media.json'), 'utf8')).media).toEqual([]);
  });
});
