import http from 'node:http';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { sandboxFilesEntry } from '@cutroom/runtime';
import { extract, pack } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type * as FilesServer from '../../../../../packages/runtime/src/files-server.js';
import { FILES_KEY_HEADER, RuntimeFilesError, packViaRuntime, unpackViaRuntime } from './runtime-files.js';

const KEY = 'files-key-0123456789abcdef';

/** The runtime's files server as built (what a sandbox's runtime runs). */
type FilesServerModule = typeof FilesServer;
const filesServerModule = pathToFileURL(path.join(path.dirname(sandboxFilesEntry), 'files-server.js')).href;

function tarOf(entries: { name: string; content: string }[]): Readable {
  const archive = pack();
  for (const { name, content } of entries) archive.entry({ name }, Buffer.from(content));
  archive.finalize();
  return Readable.from(archive as unknown as AsyncIterable<Buffer>);
}

async function bytesOf(stream: Readable) {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

async function namesOf(tar: Buffer) {
  const reader = extract();
  Readable.from([tar]).pipe(reader as unknown as NodeJS.WritableStream);
  const out: string[] = [];
  for await (const entry of reader) {
    entry.resume();
    out.push(entry.header.name);
  }
  return out;
}

let dir: string;
let workspace: string;
let agent: string;
const cleanups: (() => Promise<unknown>)[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'runtime-files-'));
  workspace = path.join(dir, 'workspace');
  agent = path.join(dir, 'agent');
  await mkdir(workspace);
  await mkdir(agent);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await rm(dir, { recursive: true, force: true });
});

async function runtimeFiles(limits: { maxFileBytes?: number; maxTotalBytes?: number } = {}) {
  const { startFilesServer } = (await import(filesServerModule)) as FilesServerModule;
  const socketPath = path.join(dir, 'files.sock');
  const server = await startFilesServer({ key: KEY, folders: { workspace, agent }, ...limits }, { socketPath });
  cleanups.push(() => server.close());
  return { socketPath };
}

/** A stand-in files server that misbehaves: answers a pack with `body`, then does `then`. */
async function brokenServer(body: Buffer, then: 'end' | 'cut') {
  const socketPath = path.join(dir, 'broken.sock');
  const server = http.createServer((request, response) => {
    expect(request.headers[FILES_KEY_HEADER]).toBe(KEY);
    response.writeHead(200, { 'content-type': 'application/x-tar' });
    response.write(body, () => {
      if (then === 'end') response.end();
      else response.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return { socketPath };
}

describe('files through a running sandbox\'s runtime', () => {
  it('reads an area and writes one (replace keeps node_modules)', async () => {
    const endpoint = await runtimeFiles();
    await mkdir(path.join(workspace, 'src'));
    await writeFile(path.join(workspace, 'src', 'a.ts'), 'a');
    const tar = await bytesOf(await packViaRuntime(endpoint, KEY, 'workspace'));
    expect(await namesOf(tar)).toEqual(['src/', 'src/a.ts']);

    await mkdir(path.join(agent, 'node_modules'));
    await writeFile(path.join(agent, 'stale'), 'x');
    await unpackViaRuntime(endpoint, KEY, 'agent', Readable.from([tar]), { replace: true });
    expect((await readdir(agent)).sort()).toEqual(['node_modules', 'src']);
    expect(await readFile(path.join(agent, 'src', 'a.ts'), 'utf8')).toBe('a');
  });

  it('fails with the reason on a refused archive, a wrong key, or no server', async () => {
    const endpoint = await runtimeFiles({ maxFileBytes: 10 });
    const refused = unpackViaRuntime(endpoint, KEY, 'workspace', tarOf([{ name: '../escaped', content: 'x' }]));
    await expect(refused).rejects.toBeInstanceOf(RuntimeFilesError);
    await expect(refused).rejects.toThrow(/leads out of the folder/);
    await expect(unpackViaRuntime(endpoint, KEY, 'workspace', tarOf([{ name: 'big', content: 'x'.repeat(100) }]))).rejects.toThrow(/over the limit/);
    await expect(packViaRuntime(endpoint, 'wrong-key-0123456789abcdef', 'workspace')).rejects.toThrow(/files key/);
    await expect(packViaRuntime({ socketPath: path.join(dir, 'none.sock') }, KEY, 'workspace')).rejects.toThrow(/could not be reached/);
    await expect(readdir(workspace)).resolves.toEqual([]);
  });

  it('fails when the archive it sends fails, never writing a silently short one', async () => {
    const endpoint = await runtimeFiles();
    const failing = new Readable({
      read() {
        this.destroy(new Error('git broke'));
      },
    });
    await expect(unpackViaRuntime(endpoint, KEY, 'workspace', failing)).rejects.toThrow(/git broke/);
  });

  it('fails, rather than ends, on an archive cut off (connection broken, or ended short)', async () => {
    const whole = await bytesOf(tarOf([{ name: 'a.txt', content: 'a'.repeat(5000) }, { name: 'b.txt', content: 'b' }]));
    const cut = whole.subarray(0, 2048);
    for (const then of ['cut', 'end'] as const) {
      const endpoint = await brokenServer(cut, then);
      const stream = await packViaRuntime(endpoint, KEY, 'workspace');
      await expect(bytesOf(stream)).rejects.toThrow(/cut off|aborted|socket hang up|ECONNRESET/);
      await cleanups.pop()!();
    }
    // The same stand-in sending the whole tar passes (the check is not what fails).
    const endpoint = await brokenServer(whole, 'end');
    expect((await bytesOf(await packViaRuntime(endpoint, KEY, 'workspace'))).equals(whole)).toBe(true);
  });
});
