import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startModelForwarder } from './model-forwarder.js';

describe('the model forwarder', () => {
  const closers: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function socketServer(handler: http.RequestListener) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'forwarder-'));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const socketPath = path.join(dir, 'model.sock');
    const server = http.createServer(handler);
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    closers.push(() => new Promise((resolve) => server.close(resolve)));
    return socketPath;
  }

  it('carries requests and streamed answers from its loopback port to the socket, unchanged', async () => {
    const seen: { url: string; body: string }[] = [];
    const socketPath = await socketServer(async (request, response) => {
      let body = '';
      for await (const chunk of request) body += String(chunk);
      seen.push({ url: request.url ?? '', body });
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write('data: one\n\n');
      setTimeout(() => response.end('data: two\n\n'), 20);
    });
    const forwarder = await startModelForwarder(socketPath);
    closers.push(() => forwarder.close());
    expect(forwarder.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const response = await fetch(`${forwarder.origin}/m/token/v1/messages`, { method: 'POST', body: '{"a":1}' });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('data: one\n\ndata: two\n\n');
    expect(seen).toEqual([{ url: '/m/token/v1/messages', body: '{"a":1}' }]);
  });

  it('drops the connection when nothing listens on the socket, and stops listening when closed', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'forwarder-'));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const forwarder = await startModelForwarder(path.join(dir, 'model.sock'));
    await expect(fetch(`${forwarder.origin}/m/x`, { method: 'POST', body: '{}' })).rejects.toThrow();
    await forwarder.close();
    await expect(fetch(`${forwarder.origin}/m/x`)).rejects.toThrow();
  });

  it('refuses a socket path the kernel would cut short', async () => {
    await expect(startModelForwarder(`/tmp/${'x'.repeat(120)}/model.sock`)).rejects.toThrow(/at most 107/);
  });
});
