import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type ScriptedModelServer, startScriptedModelServer } from '@cutroom/testkit';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, modelProvider } from '../config.js';
import { type ModelProxy, createModelProxy } from './model-proxy.js';

const execFileAsync = promisify(execFile);

/** A folder for sockets, removed after the run. */
const socketDirs: string[] = [];
async function socketDir() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'model-proxy-'));
  socketDirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(socketDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/**
 * What the runtime does inside a sandbox: a loopback port piped to the proxy's socket.
 * Returns the agent's base URL (`http://127.0.0.1:<port>/m/<token>`).
 */
const forwarders: net.Server[] = [];
async function through(socketPath: string, endpoint: { path: string }) {
  const forwarder = net.createServer((client) => {
    const upstream = net.connect(socketPath);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => forwarder.listen(0, '127.0.0.1', resolve));
  forwarders.push(forwarder);
  return `http://127.0.0.1:${(forwarder.address() as net.AddressInfo).port}${endpoint.path}`;
}
afterAll(() => {
  for (const forwarder of forwarders) forwarder.close();
});

/** A proxy endpoint for a session on a fresh socket, and the base URL its agent would use. */
async function open(proxy: ModelProxy, sessionId: string) {
  const socketPath = path.join(await socketDir(), 'model.sock');
  const endpoint = (await proxy.endpointFor(sessionId, { socketPath }))!;
  return { socketPath, endpoint, baseUrl: await through(socketPath, endpoint) };
}

/** The model proxy against a stand-in provider that records what reaches it. */
describe('model proxy', () => {
  let upstream: http.Server;
  let proxy: ModelProxy;
  const seen: { url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];

  beforeAll(async () => {
    upstream = http.createServer(async (request, response) => {
      let body = '';
      for await (const chunk of request) body += String(chunk);
      seen.push({ url: request.url ?? '', headers: request.headers, body });
      response.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'a=b' }).end('{"ok":true}');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as { port: number }).port;
    const provider = modelProvider(
      loadConfig({ AGENT_RUNNER: 'ai-sdk', OPENAI_BASE_URL: `http://127.0.0.1:${port}/gateway/v1`, OPENAI_API_KEY: 'sk-real', MODEL: 'm' }),
    );
    proxy = createModelProxy({ provider, logger: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    await proxy.close();
    upstream.close();
  });

  it('forwards with the real key, drops the caller\'s credentials, and refuses paths out of the base URL', async () => {
    const { endpoint: socketEndpoint, baseUrl, socketPath } = await open(proxy, 'session-1');
    expect(socketEndpoint).toMatchObject({ wire: 'openai', socket: true, model: 'm' });
    expect(socketEndpoint.path).toMatch(/^\/m\/[A-Za-z0-9_-]{20,}$/);
    // Any uid may connect (the sandbox runs as its own); the folder around it is what guards it.
    expect((await stat(socketPath)).mode & 0o777).toBe(0o666);
    const endpoint = { baseUrl };
    const ok = await fetch(`${endpoint.baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer from-sandbox', cookie: 'x=y', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('set-cookie')).toBeNull();
    expect(seen.at(-1)).toMatchObject({ url: '/gateway/v1/chat/completions', headers: { authorization: 'Bearer sk-real' } });
    expect(seen.at(-1)!.headers.cookie).toBeUndefined();

    const before = seen.length;
    // Sent raw (fetch would normalise them away on our side already).
    const raw = (pathname: string) =>
      new Promise<number>((resolve, reject) => {
        const url = new URL(endpoint.baseUrl);
        const request = http.request({ host: url.hostname, port: url.port, method: 'POST', path: `${url.pathname}${pathname}` }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        request.on('error', reject);
        request.end('{}');
      });
    for (const sneaky of ['/%2e%2e/%2e%2e/admin', '/.%2e/x', '/..\\x', '/a/../../../admin', '/%2E%2E/admin']) {
      expect(await raw(sneaky), sneaky).toBe(400);
    }
    expect(seen.length).toBe(before);
    // Only model requests: no batches, files, other endpoints, or GETs of results by id.
    for (const [method, pathname] of [['POST', '/batches'], ['POST', '/files'], ['POST', '/responses'], ['GET', '/chat/completions'], ['GET', '/models'], ['POST', '/chat/completions/x']]) {
      const response = await fetch(`${endpoint.baseUrl}${pathname}`, { method, ...(method === 'POST' ? { body: '{}' } : {}) });
      expect(response.status, `${method} ${pathname}`).toBe(404);
    }
    expect(seen.length).toBe(before);
    // One answer per request: `n` would multiply what max_tokens allows.
    expect((await fetch(`${endpoint.baseUrl}/chat/completions`, { method: 'POST', body: JSON.stringify({ n: 64 }) })).status).toBe(200);
    expect(JSON.parse(seen.at(-1)!.body)).toMatchObject({ n: 1 });
    const forwarded = seen.length;

    // A made-up token gets nothing.
    expect((await fetch(`${endpoint.baseUrl.replace(/\/m\/.*/, `/m/${'x'.repeat(32)}`)}/chat/completions`, { method: 'POST', body: '{}' })).status).toBe(401);
    // The session ended: its socket is closed and gone.
    await proxy.revoke('session-1');
    expect(existsSync(socketPath)).toBe(false);
    await expect(fetch(`${endpoint.baseUrl}/chat/completions`, { method: 'POST', body: '{}' })).rejects.toThrow();
    expect(seen.length).toBe(forwarded);
  });
});

/** The proxy in front of the scripted model server (Anthropic wire), as the Claude runner uses it. */
describe('model proxy limits', () => {
  let model: ScriptedModelServer;
  const proxies: ModelProxy[] = [];
  const messages = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({ model: 'claude-opus-4-1', max_tokens: 1_000_000, messages: [{ role: 'user', content: 'hi' }], ...extra });
  const post = (url: string, body: string) => fetch(`${url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  const startProxy = async (environment: Record<string, string>, upstream = model, maxTokens?: number) => {
    const config = loadConfig({ ANTHROPIC_BASE_URL: upstream.url, ANTHROPIC_API_KEY: 'sk-real', ...environment });
    const proxy = createModelProxy({ provider: modelProvider(config), logger: pino({ level: 'silent' }), maxTokens: maxTokens ?? config.modelMaxTokens });
    proxies.push(proxy);
    return proxy;
  };

  beforeAll(async () => {
    model = await startScriptedModelServer({ scenario: { rules: [], fallback: [{ text: 'Hello.' }] }, requireApiKey: 'sk-real' });
  });
  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  });
  afterAll(async () => {
    await model?.close();
  });

  it('replaces the model with MODEL, caps max_tokens at MODEL_MAX_TOKENS, and refuses bodies that are not JSON objects', async () => {
    const proxy = await startProxy({ MODEL: 'claude-configured', MODEL_MAX_TOKENS: '4096' });
    const { baseUrl } = await open(proxy, 'session-limits');
    const ok = await post(baseUrl, messages({ thinking: { type: 'enabled', budget_tokens: 10_000 } }));
    expect(ok.status).toBe(200);
    expect(model.requests.at(-1)!.body).toMatchObject({ model: 'claude-configured', max_tokens: 4096, thinking: { budget_tokens: 4095 } });

    // Below the cap: left as asked.
    expect((await post(baseUrl, messages({ max_tokens: 100 }))).status).toBe(200);
    expect(model.requests.at(-1)!.body).toMatchObject({ model: 'claude-configured', max_tokens: 100 });

    const before = model.requests.length;
    for (const body of ['not json', '[1,2]', '"text"', messages({ max_tokens: '99999999' }), messages({ max_tokens: -5 })]) {
      const refused = await post(baseUrl, body);
      expect(refused.status, body.slice(0, 40)).toBe(400);
      expect(await refused.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    }
    // Bounded: a body over the limit is refused before it is read whole.
    const tooLarge = await post(baseUrl, messages({ padding: 'p'.repeat(33 * 1024 * 1024) }));
    expect(tooLarge.status).toBe(413);
    expect(model.requests.length).toBe(before);
  });

  it('without MODEL, passes the model through but still caps max_tokens (default 32000)', async () => {
    const proxy = await startProxy({});
    const ok = await post((await open(proxy, 'session-default')).baseUrl, messages());
    expect(ok.status).toBe(200);
    expect(model.requests.at(-1)!.body).toMatchObject({ model: 'claude-opus-4-1', max_tokens: 32_000 });
  });

  it('accepts a token only on its own sandbox\'s socket, and moves with a restarted sandbox', async () => {
    const proxy = await startProxy({});
    const first = await open(proxy, 'session-a');
    const second = await open(proxy, 'session-b');
    // Each token works on its own socket.
    expect((await post(first.baseUrl, messages())).status).toBe(200);
    expect((await post(second.baseUrl, messages())).status).toBe(200);

    // Session A's token on session B's socket (copied out of its sandbox into another): refused.
    const before = model.requests.length;
    const stolen = await post(await through(second.socketPath, first.endpoint), messages());
    expect(stolen.status).toBe(403);
    expect(await stolen.json()).toMatchObject({ error: { type: 'permission_error' } });
    expect(model.requests.length).toBe(before);

    // From another uid (the sandbox's own), straight on the socket: the mode lets it in.
    const client = `const request = require('node:http').request({ socketPath: process.argv[1], method: 'POST', path: process.argv[2] + '/v1/messages', headers: { 'content-type': 'application/json' } }, (response) => { process.stdout.write(String(response.statusCode)); response.resume(); });
      request.on('error', (error) => process.stdout.write('error ' + error.message)); request.end(process.argv[3]);`;
    // The folder must let that uid through (as a sandbox's hardened sock/ does: root's, 0755).
    await chmod(path.dirname(first.socketPath), 0o755);
    const run = (uid: number, socketPath: string, endpoint: { path: string }) =>
      execFileAsync('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', process.execPath, '-e', client, socketPath, endpoint.path, messages()]);
    expect((await run(54_321, first.socketPath, first.endpoint)).stdout).toBe('200');

    // Session A's sandbox restarted with a new socket: the same token follows it there; the old socket is gone.
    const movedTo = path.join(await socketDir(), 'model.sock');
    const moved = (await proxy.endpointFor('session-a', { socketPath: movedTo }))!;
    expect(moved.path).toBe(first.endpoint.path);
    expect(existsSync(first.socketPath)).toBe(false);
    expect((await post(await through(movedTo, moved), messages())).status).toBe(200);
    expect((await post(await through(second.socketPath, moved), messages())).status).toBe(403);
  });

  it('replaces a stale file at the socket path, and refuses a path longer than a socket allows', async () => {
    const proxy = await startProxy({});
    const dir = await socketDir();
    const stale = path.join(dir, 'model.sock');
    // What a crash can leave: the file itself, or (planted) a link to something else.
    await writeFile(stale, 'left over');
    const first = (await proxy.endpointFor('session-stale', { socketPath: stale }))!;
    expect((await post(await through(stale, first), messages())).status).toBe(200);
    await proxy.revoke('session-stale');
    const precious = path.join(dir, 'precious');
    await writeFile(precious, 'keep');
    await symlink(precious, stale);
    const second = (await proxy.endpointFor('session-stale-2', { socketPath: stale }))!;
    expect((await post(await through(stale, second), messages())).status).toBe(200);
    expect(await readFile(precious, 'utf8')).toBe('keep');

    const tooLong = path.join(dir, 'x'.repeat(120), 'model.sock');
    await expect(proxy.endpointFor('session-long', { socketPath: tooLong })).rejects.toThrow(tooLong);
  });

  it('sends a request again when the provider closes a reused keep-alive connection before answering', async () => {
    const flaky = await startScriptedModelServer({ scenario: { rules: [], fallback: [{ text: 'Hello.' }] }, dropReusedConnections: true });
    try {
      const proxy = await startProxy({}, flaky);
      const { baseUrl } = await open(proxy, 'session-retry');
      // One after another: each reuses the connection the one before left idle.
      for (let index = 0; index < 4; index += 1) {
        const response = await post(baseUrl, messages({ stream: true }));
        expect(response.status, `request ${index}`).toBe(200);
        expect(await response.text()).toContain('message_stop');
      }
      expect(flaky.dropped).toBeGreaterThan(0);
      expect(flaky.requests.length).toBe(4);
    } finally {
      await flaky.close();
    }
  });
});
