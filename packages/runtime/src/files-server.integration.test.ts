import http from 'node:http';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { type Header, extract, pack } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { packDirectory } from './file-archive.js';
import { FILES_KEY_HEADER, startFilesServer } from './files-server.js';

const KEY = 'files-key-0123456789abcdef';

type Entry = Partial<Header> & { name: string; content?: string };

/** A tar built by hand, whatever the rules say. */
function tarOf(entries: Entry[]): Readable {
  const archive = pack();
  void (async () => {
    for (const { content, ...header } of entries) {
      await new Promise<void>((resolve, reject) => {
        const done = (error?: Error | null) => (error ? reject(error) : resolve());
        if (content !== undefined) archive.entry({ type: 'file', ...header }, Buffer.from(content), done);
        else archive.entry(header, done);
      });
    }
    archive.finalize();
  })();
  return Readable.from(archive as unknown as AsyncIterable<Buffer>);
}

async function names(tar: Buffer) {
  const reader = extract();
  Readable.from([tar]).pipe(reader as unknown as NodeJS.WritableStream);
  const out: string[] = [];
  for await (const entry of reader) {
    entry.resume();
    out.push(entry.header.name);
  }
  return out;
}

async function bytesOf(stream: Readable) {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

let dir: string;
let workspace: string;
let agent: string;
let server: Awaited<ReturnType<typeof startFilesServer>>;
let socketPath: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'files-server-'));
  workspace = path.join(dir, 'workspace');
  agent = path.join(dir, 'agent');
  await mkdir(workspace);
  await mkdir(agent);
  await mkdir(path.join(dir, 'sock'));
  socketPath = path.join(dir, 'sock', 'files.sock');
  server = await startFilesServer({ key: KEY, folders: { workspace, agent }, maxFileBytes: 1024, maxTotalBytes: 4096 }, { socketPath });
});
afterEach(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

/** One request on the socket: status, body and whether the answer came whole. */
function call(method: string, pathAndQuery: string, options: { key?: string | null; body?: Readable } = {}) {
  return new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (options.key !== null) headers[FILES_KEY_HEADER] = options.key ?? KEY;
    const request = http.request({ socketPath, method, path: pathAndQuery, headers, agent: false }, (response) => {
      void bytesOf(response).then((body) => resolve({ status: response.statusCode ?? 0, body }), reject);
    });
    request.on('error', reject);
    if (options.body) options.body.pipe(request);
    else request.end();
  });
}

describe('the runtime\'s files server', () => {
  it('answers only requests that carry the key, on its two routes, with their methods', async () => {
    await writeFile(path.join(workspace, 'a.txt'), 'A');
    expect((await call('GET', '/pack?area=workspace', { key: null })).status).toBe(403);
    expect((await call('GET', '/pack?area=workspace', { key: `${KEY}x` })).status).toBe(403);
    expect((await call('GET', '/pack?area=workspace', { key: 'short' })).status).toBe(403);
    expect((await call('GET', '/pack?area=home')).status).toBe(404);
    expect((await call('GET', '/pack?area=../workspace')).status).toBe(404);
    expect((await call('GET', '/other?area=workspace')).status).toBe(404);
    expect((await call('POST', '/pack?area=workspace')).status).toBe(405);
    expect((await call('GET', '/unpack?area=workspace')).status).toBe(405);
    const refused = await call('PUT', '/unpack?area=workspace', { key: null, body: tarOf([{ name: 'b.txt', content: 'B' }]) });
    expect(refused.status).toBe(403);
    await expect(readdir(workspace)).resolves.toEqual(['a.txt']);
  });

  it('packs an area as packDirectory does, and unpacks into the other (round trip)', async () => {
    await mkdir(path.join(workspace, 'src'));
    await writeFile(path.join(workspace, 'src', 'Main.tsx'), 'export const x = 1;\n');
    await symlink('/etc/passwd', path.join(workspace, 'link'));
    await mkdir(path.join(workspace, 'node_modules'));
    await writeFile(path.join(workspace, 'node_modules', 'dep.js'), 'no');
    const packed = await call('GET', '/pack?area=workspace');
    expect(packed.status).toBe(200);
    expect(packed.body.equals(await bytesOf(packDirectory(workspace)))).toBe(true);
    expect(await names(packed.body)).toEqual(['link', 'src/', 'src/Main.tsx']);

    const written = await call('PUT', '/unpack?area=agent', { body: Readable.from([packed.body]) });
    expect(written.status).toBe(204);
    expect(await readFile(path.join(agent, 'src', 'Main.tsx'), 'utf8')).toBe('export const x = 1;\n');
    // The link comes back as a file holding its text, never as a link to follow.
    expect(await readFile(path.join(agent, 'link'), 'utf8')).toBe('/etc/passwd');
  });

  it('with replace=1, removes what the archive lacks (node_modules kept); without, keeps it', async () => {
    await writeFile(path.join(workspace, 'old.txt'), 'old');
    await mkdir(path.join(workspace, 'node_modules'));
    await writeFile(path.join(workspace, 'node_modules', 'dep.js'), 'dep');
    expect((await call('PUT', '/unpack?area=workspace', { body: tarOf([{ name: 'new.txt', content: 'new' }]) })).status).toBe(204);
    expect((await readdir(workspace)).sort()).toEqual(['new.txt', 'node_modules', 'old.txt']);
    expect((await call('PUT', '/unpack?area=workspace&replace=1', { body: tarOf([{ name: 'new.txt', content: 'newer' }]) })).status).toBe(204);
    expect((await readdir(workspace)).sort()).toEqual(['new.txt', 'node_modules']);
    expect(await readFile(path.join(workspace, 'new.txt'), 'utf8')).toBe('newer');
  });

  it('refuses a hostile archive with the reason, and removes nothing', async () => {
    await writeFile(path.join(workspace, 'keep.txt'), 'keep');
    const refusals: [Entry[], number, RegExp][] = [
      [[{ name: '../escaped', content: 'x' }], 400, /leads out of the folder/],
      [[{ name: '/etc/cron.d/x', content: 'x' }], 400, /absolute path/],
      [[{ name: 'dev', type: 'character-device', devmajor: 1, devminor: 3 }], 400, /only files, folders and links/],
      [[{ name: 'big.bin', content: 'x'.repeat(2048) }], 413, /over the limit/],
    ];
    for (const [entries, status, message] of refusals) {
      const answer = await call('PUT', '/unpack?area=workspace&replace=1', { body: tarOf(entries) });
      expect(answer.status).toBe(status);
      const body = JSON.parse(answer.body.toString()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('archive_refused');
      expect(body.error.message).toMatch(message);
    }
    await expect(readdir(workspace)).resolves.toEqual(['keep.txt']);
    await expect(readFile(path.join(dir, 'escaped'))).rejects.toThrow();
  });

  it('serves one request at a time per area: a pack never sees half an unpack', async () => {
    const names = Array.from({ length: 40 }, (_, index) => `f${String(index).padStart(2, '0')}.txt`);
    await Promise.all(names.map((name) => writeFile(path.join(workspace, name), 'old')));
    // An unpack whose archive arrives in two halves: the first half is written, then it waits.
    const archive = pack();
    const entry = (name: string) => new Promise<void>((resolve, reject) => archive.entry({ name }, Buffer.from('new'), (error) => (error ? reject(error) : resolve())));
    const unpacked = call('PUT', '/unpack?area=workspace', { body: Readable.from(archive as unknown as AsyncIterable<Buffer>) });
    for (const name of names.slice(0, 20)) await entry(name);
    const half = path.join(workspace, names[19]!);
    while ((await readFile(half, 'utf8')) !== 'new') await new Promise((resolve) => setTimeout(resolve, 10));
    // Halfway through the unpack: a pack asked now must wait for its end.
    const packed = call('GET', '/pack?area=workspace');
    // (Time enough for a pack that did not wait to finish with half the files new.)
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const name of names.slice(20)) await entry(name);
    archive.finalize();
    expect((await unpacked).status).toBe(204);
    const answer = await packed;
    expect(answer.status).toBe(200);
    const reader = extract();
    Readable.from([answer.body]).pipe(reader as unknown as NodeJS.WritableStream);
    const contents: string[] = [];
    for await (const file of reader) contents.push((await bytesOf(file as unknown as Readable)).toString());
    expect(contents).toEqual(names.map(() => 'new'));
  });
});
