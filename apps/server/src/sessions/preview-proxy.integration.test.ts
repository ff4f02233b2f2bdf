import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PREVIEW_KEY_HEADER } from '@cutroom/protocol';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Endpoint } from './drivers/driver.js';
import { PREVIEW_COOKIE, type LivePreview } from './preview-access.js';
import { createPreviewProxy } from './preview-proxy.js';
import { createPreviewTokens } from './preview-tokens.js';

const SANDBOX_ID = 'abcdefghijklmnopqrstuvwx';
const PREVIEW_KEY = 'preview-key-for-the-test-0123456789';

/** The proxy in front of a stand-in preview server (HTTP and a WebSocket-like upgrade), on a socket and on a port. */
describe.each(['socket', 'port'] as const)('the preview proxy to a sandbox on a %s', (kind) => {
  let dir: string;
  let upstream: http.Server;
  let proxy: http.Server;
  let proxyPort: number;
  let cookie: string;
  const seen: http.IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'proxy-'));
    upstream = http.createServer((request, response) => {
      seen.push(request.headers);
      response.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': 'sneaky=1' }).end(`served ${request.url}`);
    });
    upstream.on('upgrade', (request, socket: net.Socket) => {
      seen.push(request.headers);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      // Echoes what comes after the handshake, upper-cased.
      socket.on('data', (data) => socket.write(String(data).toUpperCase()));
    });
    let target: Endpoint;
    if (kind === 'socket') {
      const socketPath = path.join(dir, 'preview.sock');
      await new Promise<void>((resolve) => upstream.listen(socketPath, resolve));
      target = { socketPath };
    } else {
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      target = { host: '127.0.0.1', port: (upstream.address() as net.AddressInfo).port };
    }
    const live: LivePreview = { sessionId: 'session-1', ownerId: 'owner-1', target, previewKey: PREVIEW_KEY };
    const previewTokens = createPreviewTokens({ ttlMs: 60_000 });
    cookie = `${PREVIEW_COOKIE}=${previewTokens.grant(SANDBOX_ID, live.sessionId, live.ownerId)}`;
    proxy = createPreviewProxy({
      sessions: { livePreview: (sandboxId) => (sandboxId === SANDBOX_ID ? live : null), previewTokens },
      userForCookie: async () => null,
      logger: pino({ level: 'silent' }),
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyPort = (proxy.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    proxy?.closeAllConnections();
    proxy?.close();
    upstream?.closeAllConnections();
    upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('forwards a request with the preview key added and the cookie and the answer\'s cookies taken off', async () => {
    const response = await fetch(`http://127.0.0.1:${proxyPort}/s/${SANDBOX_ID}/main.tsx?import`, { headers: { cookie } });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(`served /s/${SANDBOX_ID}/main.tsx?import`);
    expect(response.headers.get('set-cookie')).toBeNull();
    const headers = seen.at(-1)!;
    expect(headers[PREVIEW_KEY_HEADER]).toBe(PREVIEW_KEY);
    expect(headers.cookie).toBeUndefined();
    // Vite's host check admits it.
    expect(headers.host).toMatch(/^(localhost|127\.0\.0\.1:\d+)$/);
    // Without the cookie, nothing reaches the sandbox.
    const before = seen.length;
    expect((await fetch(`http://127.0.0.1:${proxyPort}/s/${SANDBOX_ID}/main.tsx`)).status).toBe(403);
    expect(seen.length).toBe(before);
  });

  it('pipes the HMR upgrade through, both ways', async () => {
    const socket = net.connect(proxyPort, '127.0.0.1');
    let received = '';
    socket.on('data', (data) => (received += String(data)));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `GET /s/${SANDBOX_ID}/?token=x HTTP/1.1\r\nHost: 127.0.0.1:${proxyPort}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nCookie: ${cookie}\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: vite-hmr\r\n\r\n',
    );
    for (let wait = 0; wait < 100 && !received.includes('\r\n\r\n'); wait++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(received).toMatch(/^HTTP\/1\.1 101/);
    expect(seen.at(-1)![PREVIEW_KEY_HEADER]).toBe(PREVIEW_KEY);
    socket.write('ping');
    for (let wait = 0; wait < 100 && !received.endsWith('PING'); wait++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(received.endsWith('PING')).toBe(true);
    socket.destroy();
  });
});
