import http from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, modelProvider } from '../config.js';
import { type ModelProxy, createModelProxy } from './model-proxy.js';

/** The model proxy against a stand-in provider that records what reaches it. */
describe('model proxy', () => {
  let upstream: http.Server;
  let proxy: ModelProxy;
  const seen: { url: string; headers: http.IncomingHttpHeaders }[] = [];

  beforeAll(async () => {
    upstream = http.createServer((request, response) => {
      seen.push({ url: request.url ?? '', headers: request.headers });
      response.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'a=b' }).end('{"ok":true}');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as { port: number }).port;
    const provider = modelProvider(
      loadConfig({ AGENT_RUNNER: 'ai-sdk', OPENAI_BASE_URL: `http://127.0.0.1:${port}/gateway/v1`, OPENAI_API_KEY: 'sk-real', MODEL: 'm' }),
    );
    proxy = createModelProxy({ provider, logger: pino({ level: 'silent' }) });
    await proxy.listen();
  });
  afterAll(async () => {
    await proxy.close();
    upstream.close();
  });

  it('forwards with the real key, drops the caller\'s credentials, and refuses paths out of the base URL', async () => {
    const endpoint = proxy.endpointFor('session-1')!;
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

    // A revoked token (the session ended) and a made-up one get nothing.
    proxy.revoke('session-1');
    expect((await fetch(`${endpoint.baseUrl}/chat/completions`, { method: 'POST', body: '{}' })).status).toBe(401);
    expect(seen.length).toBe(before);
  });
});
