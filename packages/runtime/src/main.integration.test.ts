import { type ChildProcess, spawn } from 'node:child_process';
import { cp, lstat, mkdir, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { PREVIEW_KEY_HEADER, RuntimeReady, SandboxToServer } from '@cutroom/protocol';
import { isTemplateFile, templateProjectDir } from '@cutroom/template';
import { type ScriptedModelServer, startScriptedModelServer } from '@cutroom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { runtimeEntry } from '@cutroom/runtime';

const BRIDGE_TOKEN = 'bridge-token-for-the-test-0123456789';
const PREVIEW_KEY = 'preview-key-for-the-test-0123456789';
const MODEL_TOKEN = 'M'.repeat(32);

/** A sandbox folder as a driver makes it: the template's working copy, empty agent/vite/home/sock. */
async function sandboxFolder() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rt-'));
  await cp(templateProjectDir, path.join(dir, 'workspace'), { recursive: true, filter: (source) => isTemplateFile(path.relative(templateProjectDir, source)) });
  for (const folder of ['agent', 'vite', 'home', 'sock']) await mkdir(path.join(dir, folder));
  return dir;
}

/** The built runtime as a driver with no IPC starts it (a container): secrets in its env, ready on stdout. */
async function startRuntime(dir: string, listen: 'unix' | 'tcp', extraEnv: Record<string, string> = {}) {
  const child = spawn(process.execPath, [runtimeEntry], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      HOME: path.join(dir, 'home'),
      NODE_ENV: 'development',
      RUNTIME_DIR: dir,
      RUNTIME_WORKSPACE: path.join(dir, 'workspace'),
      RUNTIME_BASE: '/s/abcdefghijklmnopqrstuvwx/',
      RUNTIME_LISTEN: listen,
      RUNTIME_BRIDGE_TOKEN: BRIDGE_TOKEN,
      RUNTIME_PREVIEW_KEY: PREVIEW_KEY,
      ...extraEnv,
    },
  });
  let output = '';
  child.stderr!.on('data', (chunk) => (output += String(chunk)));
  const ready = await new Promise<RuntimeReady>((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (chunk) => {
      buffered += String(chunk);
      const line = buffered.split('\n').find((candidate) => candidate.includes('runtime:ready'));
      if (line) resolve(RuntimeReady.parse(JSON.parse(line)));
    });
    child.once('exit', (code) => reject(new Error(`the runtime exited with ${code}: ${output}`)));
  });
  return { child, ready };
}

function stopRuntime(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

type Where = { socketPath: string } | { host: string; port: number };
function get(where: Where, url: string, headers: http.OutgoingHttpHeaders = {}) {
  return new Promise<number>((resolve, reject) => {
    http
      .get({ ...where, path: url, headers: { host: 'localhost', ...headers } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

describe('the runtime on Unix sockets', () => {
  let dir: string;
  let child: ChildProcess;
  let ready: RuntimeReady;
  let model: ScriptedModelServer;
  let modelSocket: http.Server;
  const modelPaths: string[] = [];

  beforeAll(async () => {
    dir = await sandboxFolder();
    ({ child, ready } = await startRuntime(dir, 'unix'));
    model = await startScriptedModelServer({ scenario: { rules: [], fallback: [{ text: 'Hello through the socket.' }] } });
    // The server's end of `sock/model.sock`: it takes the token off the path, as the model proxy does.
    modelSocket = http.createServer((request, response) => {
      modelPaths.push(request.url ?? '');
      const upstream = http.request(`${model.url}${(request.url ?? '').replace(`/m/${MODEL_TOKEN}`, '')}`, { method: request.method, headers: request.headers }, (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      });
      request.pipe(upstream);
    });
    await new Promise<void>((resolve) => modelSocket.listen(path.join(dir, 'sock', 'model.sock'), resolve));
  });
  afterAll(async () => {
    if (child) await stopRuntime(child);
    modelSocket?.close();
    await model?.close();
    await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it('says so when ready, and serves the preview (with its key only) on sock/preview.sock', async () => {
    expect(ready.listen).toEqual({ kind: 'unix' });
    for (const name of ['preview.sock', 'bridge.sock']) expect((await lstat(path.join(dir, 'sock', name))).isSocket()).toBe(true);
    const preview = { socketPath: path.join(dir, 'sock', 'preview.sock') };
    expect(await get(preview, '/s/abcdefghijklmnopqrstuvwx/', { [PREVIEW_KEY_HEADER]: PREVIEW_KEY })).toBe(200);
    expect(await get(preview, '/s/abcdefghijklmnopqrstuvwx/')).toBe(403);
  });

  it('runs an agent turn whose model requests go out through sock/model.sock only', async () => {
    const bridge = new WebSocket(`ws+unix:${path.join(dir, 'sock', 'bridge.sock')}:/`, { headers: { authorization: `Bearer ${BRIDGE_TOKEN}` } });
    await new Promise((resolve, reject) => bridge.once('open', resolve).once('error', reject));
    const messages: SandboxToServer[] = [];
    bridge.on('message', (data) => messages.push(SandboxToServer.parse(JSON.parse(String(data)))));
    bridge.send(JSON.stringify({ type: 'agent:start', runner: 'ai-sdk', endpoint: { wire: 'anthropic', socket: true, path: `/m/${MODEL_TOKEN}`, model: 'scripted' } }));
    // Right behind agent:start, as the server sends a session's first message: the prompt
    // waits for the agent to start (the forwarder to open) instead of being refused.
    bridge.send(JSON.stringify({ type: 'prompt', turnId: 't1', text: 'Say hello.' }));
    for (let wait = 0; wait < 300 && !messages.some((message) => message.type === 'complete'); wait++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const complete = messages.find((message) => message.type === 'complete');
    bridge.terminate();
    expect(complete).toMatchObject({ turnId: 't1', status: 'done' });
    const text = messages.flatMap((message) => (message.type === 'agent_message' && message.event.kind === 'text' ? [message.event.delta] : [])).join('');
    expect(text).toContain('Hello through the socket.');
    expect(modelPaths.length).toBeGreaterThan(0);
    expect(modelPaths.every((url) => url.startsWith(`/m/${MODEL_TOKEN}/`))).toBe(true);
  });
});

describe('a reset of the working copy', () => {
  it('reloads the pages that are open, never hands the next visitor a reload meant for nobody, and reloads a page that connects knowing an older project', async () => {
    const dir = await sandboxFolder();
    const { child } = await startRuntime(dir, 'unix');
    const bridge = new WebSocket(`ws+unix:${path.join(dir, 'sock', 'bridge.sock')}:/`, { headers: { authorization: `Bearer ${BRIDGE_TOKEN}` } });
    try {
      await new Promise((resolve, reject) => bridge.once('open', resolve).once('error', reject));
      const answers: SandboxToServer[] = [];
      bridge.on('message', (data) => answers.push(SandboxToServer.parse(JSON.parse(String(data)))));
      const reset = async (requestId: string) => {
        bridge.send(JSON.stringify({ type: 'workspace:reset', requestId }));
        for (let wait = 0; wait < 100 && !answers.some((answer) => answer.type === 'workspace:reset:done' && answer.requestId === requestId); wait++) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      };
      const preview = path.join(dir, 'sock', 'preview.sock');
      const clientCode = await new Promise<string>((resolve, reject) => {
        http.get({ socketPath: preview, path: '/s/abcdefghijklmnopqrstuvwx/@vite/client', headers: { host: 'localhost', [PREVIEW_KEY_HEADER]: PREVIEW_KEY } }, (response) => {
          let body = '';
          response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve(body));
        }).on('error', reject);
      });
      const token = /wsToken = "([^"]+)"/.exec(clientCode)?.[1] ?? '';
      // Nobody watches: the session hands a new sandbox its project before anyone opens it.
      await reset('before-anyone');
      const hmr = new WebSocket(`ws+unix:${preview}:/s/abcdefghijklmnopqrstuvwx/?token=${token}`, 'vite-hmr', { headers: { [PREVIEW_KEY_HEADER]: PREVIEW_KEY } });
      const payloads: string[] = [];
      hmr.on('message', (data) => payloads.push(String(data)));
      await new Promise((resolve, reject) => hmr.once('open', resolve).once('error', reject));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(payloads.some((payload) => payload.includes('full-reload'))).toBe(false);
      // Someone watches: a restore while the preview is open reloads it.
      await reset('while-open');
      for (let wait = 0; wait < 100 && !payloads.some((payload) => payload.includes('full-reload')); wait++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(payloads.some((payload) => payload.includes('full-reload'))).toBe(true);

      // A page that loaded what the project was before a change, and connected after the
      // reload for it went out, says so on connecting and is reloaded; a current one is not.
      const info = await new Promise<string>((resolve, reject) => {
        http.get({ socketPath: preview, path: '/s/abcdefghijklmnopqrstuvwx/@id/__x00__cutroom:project-info', headers: { host: 'localhost', [PREVIEW_KEY_HEADER]: PREVIEW_KEY } }, (response) => {
          let body = '';
          response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve(body));
        }).on('error', reject);
      });
      const generation = Number(/infoGeneration = (\d+)/.exec(info)?.[1]);
      expect(Number.isInteger(generation)).toBe(true);
      payloads.length = 0;
      hmr.send(JSON.stringify({ type: 'custom', event: 'cutroom:project-info', data: { generation } }));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(payloads.some((payload) => payload.includes('full-reload'))).toBe(false);
      for (const stale of [generation - 1, 'x', null]) {
        payloads.length = 0;
        hmr.send(JSON.stringify({ type: 'custom', event: 'cutroom:project-info', data: { generation: stale } }));
        for (let wait = 0; wait < 100 && !payloads.some((payload) => payload.includes('full-reload')); wait++) await new Promise((resolve) => setTimeout(resolve, 50));
        expect(payloads.some((payload) => payload.includes('full-reload'))).toBe(true);
      }
      hmr.terminate();
    } finally {
      bridge.terminate();
      await stopRuntime(child);
      await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  });
});

describe('the runtime on loopback ports', () => {
  it('says which ports, serves them, and makes no socket', async () => {
    const dir = await sandboxFolder();
    const { child, ready } = await startRuntime(dir, 'tcp');
    try {
      expect(ready.listen.kind).toBe('tcp');
      if (ready.listen.kind !== 'tcp') return;
      expect(await get({ host: '127.0.0.1', port: ready.listen.previewPort }, '/s/abcdefghijklmnopqrstuvwx/', { [PREVIEW_KEY_HEADER]: PREVIEW_KEY })).toBe(200);
      expect(await get({ host: '127.0.0.1', port: ready.listen.bridgePort }, '/health', { authorization: `Bearer ${BRIDGE_TOKEN}` })).toBe(200);
      await expect(lstat(path.join(dir, 'sock', 'preview.sock'))).rejects.toThrow();
    } finally {
      await stopRuntime(child);
      await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  });
});

describe('when the preview is warmed (RUNTIME_WARM)', () => {
  it('after-ready: says ready, then serves the page and its entry', async () => {
    const dir = await sandboxFolder();
    const { child } = await startRuntime(dir, 'unix', { RUNTIME_WARM: 'after-ready' });
    try {
      const preview = { socketPath: path.join(dir, 'sock', 'preview.sock') };
      expect(await get(preview, '/s/abcdefghijklmnopqrstuvwx/', { [PREVIEW_KEY_HEADER]: PREVIEW_KEY })).toBe(200);
      expect(await get(preview, '/s/abcdefghijklmnopqrstuvwx/main.tsx', { [PREVIEW_KEY_HEADER]: PREVIEW_KEY })).toBe(200);
    } finally {
      await stopRuntime(child);
      await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  });

  it('refuses a value it does not know, before it starts anything', async () => {
    const dir = await sandboxFolder();
    try {
      const failure = await startRuntime(dir, 'unix', { RUNTIME_WARM: 'sometimes' }).then(
        ({ child }) => stopRuntime(child).then(() => null),
        (error: Error) => error,
      );
      expect(failure?.message).toMatch(/exited with 64.*RUNTIME_WARM must be before-ready or after-ready/s);
      await expect(lstat(path.join(dir, 'sock', 'preview.sock'))).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  });
});
