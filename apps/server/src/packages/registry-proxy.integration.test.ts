import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RegistryProxy, machineRegistry, startRegistryProxy } from './registry-proxy.js';

/** The tarball: big enough that buffering or a lost chunk would show. */
const tarball = randomBytes(5 * 1024 * 1024);
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

type Response = { status: number; headers: http.IncomingHttpHeaders; body: Buffer };

/** One request through a port, on a connection of its own. */
function request(port: number, target: string, options: { method?: string; headers?: http.OutgoingHttpHeaders } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request({ host: '127.0.0.1', port, path: target, method: options.method ?? 'GET', headers: options.headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

/** Bytes written as they are (a request line Node's client would not send), and all that comes back. */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let answer = '';
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy());
  });
}

const errorCode = (response: Response) => (JSON.parse(response.body.toString('utf8')) as { error: { code: string } }).error.code;

describe('registry proxy', () => {
  let upstream: http.Server;
  let upstreamOrigin: string;
  let forwarder: net.Server;
  let port: number;
  let proxy: RegistryProxy;
  let dir: string;
  const seen: { method: string; url: string; headers: http.IncomingHttpHeaders }[] = [];

  beforeAll(async () => {
    // A stand-in registry that records what reaches it, and gzips metadata when asked.
    upstream = http.createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      if (req.url === '/lodash') {
        const body = Buffer.from(
          JSON.stringify({
            name: 'lodash',
            'dist-tags': { latest: '1.0.0' },
            versions: { '1.0.0': { name: 'lodash', version: '1.0.0', dist: { tarball: `${upstreamOrigin}/lodash/-/lodash-1.0.0.tgz`, shasum: 'x' } } },
          }),
        );
        const gzip = String(req.headers['accept-encoding'] ?? '').includes('gzip');
        res.writeHead(200, {
          'content-type': 'application/vnd.npm.install-v1+json; charset=utf-8',
          'set-cookie': 'registry=1',
          ...(gzip ? { 'content-encoding': 'gzip' } : {}),
        });
        res.end(gzip ? gzipSync(body) : body);
      } else if (req.url === '/lodash/-/lodash-1.0.0.tgz') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': tarball.length });
        res.end(tarball);
      } else if (req.url === '/moved-away') {
        res.writeHead(302, { location: 'http://evil.example/x' }).end();
      } else if (req.url === '/moved-here') {
        res.writeHead(301, { location: `${upstreamOrigin}/lodash` }).end();
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}');
      }
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamOrigin = `http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}`;

    dir = await mkdtemp(path.join(os.tmpdir(), 'registry-proxy-'));
    const socketPath = path.join(dir, 'registry.sock');
    await writeFile(socketPath, 'left by an earlier run');
    proxy = await startRegistryProxy({ socketPath, registry: `${upstreamOrigin}/`, logger: pino({ level: 'silent' }) });

    // What the install worker does inside the wall: a loopback port piped to the socket.
    forwarder = net.createServer((client) => {
      const socket = net.connect(socketPath);
      client.pipe(socket).pipe(client);
      client.on('error', () => socket.destroy());
      socket.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => forwarder.listen(0, '127.0.0.1', resolve));
    port = (forwarder.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    forwarder?.close();
    await proxy?.close();
    upstream?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    seen.length = 0;
  });

  it('listens on a socket anyone may connect to, in place of a stale file', async () => {
    expect((await stat(proxy.socketPath)).isSocket()).toBe(true);
    expect((await stat(proxy.socketPath)).mode & 0o777).toBe(0o666);
  });

  it('rewrites metadata tarball URLs to the forwarder, and the tarball comes through byte for byte', async () => {
    const metadata = await request(port, '/lodash', { headers: { accept: 'application/vnd.npm.install-v1+json' } });
    expect(metadata.status).toBe(200);
    expect(metadata.headers['set-cookie']).toBeUndefined();
    expect(metadata.headers['content-encoding']).toBeUndefined();
    expect(Number(metadata.headers['content-length'])).toBe(metadata.body.length);
    const document = JSON.parse(metadata.body.toString('utf8'));
    const url = document.versions['1.0.0'].dist.tarball as string;
    expect(url).toBe(`http://127.0.0.1:${port}/lodash/-/lodash-1.0.0.tgz`);

    const download = await request(port, new URL(url).pathname);
    expect(download.status).toBe(200);
    expect(download.body.length).toBe(tarball.length);
    expect(sha(download.body)).toBe(sha(tarball));

    // `localhost:<port>` is the forwarder too.
    const named = await request(port, '/lodash', { headers: { host: `localhost:${port}` } });
    expect(JSON.parse(named.body.toString('utf8')).versions['1.0.0'].dist.tarball).toBe(`http://localhost:${port}/lodash/-/lodash-1.0.0.tgz`);

    const head = await request(port, '/lodash/-/lodash-1.0.0.tgz', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /lodash', 'GET /lodash/-/lodash-1.0.0.tgz', 'GET /lodash', 'HEAD /lodash/-/lodash-1.0.0.tgz']);
  });

  it('refuses other methods', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const response = await request(port, '/lodash', { method });
      expect(response.status).toBe(405);
      expect(errorCode(response)).toBe('method_refused');
    }
    const connect = await raw(port, 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n');
    expect(connect).toMatch(/^HTTP\/1\.1 405 /);
    expect(seen).toEqual([]);
  });

  it('refuses paths that do not stay on the registry', async () => {
    for (const target of ['/../etc/passwd', '/lodash/../../x', '/%2e%2e/x', '/lodash/%2E%2E/%2e%2e/x', '/%252e%252e/x', '//evil.example/x', '/a\\b', '/a%5c..%5cb', '/a%00b', `/${'a'.repeat(2_048)}`]) {
      const response = await request(port, target);
      expect(response.status, target).toBe(400);
      expect(errorCode(response)).toBe('path_refused');
    }
    const absolute = await raw(port, 'GET http://evil/ HTTP/1.1\r\nHost: evil\r\nConnection: close\r\n\r\n');
    expect(absolute).toMatch(/^HTTP\/1\.1 400 /);
    expect(absolute).toContain('path_refused');
    expect(seen).toEqual([]);
    // What is legitimate passes: a scoped package's encoded slash, as it was written.
    expect((await request(port, '/@types%2fnode')).status).toBe(404);
    expect(seen.map((r) => r.url)).toEqual(['/@types%2fnode']);
  });

  it('passes back redirects on the registry, as its own paths, and refuses the others', async () => {
    const away = await request(port, '/moved-away');
    expect(away.status).toBe(502);
    expect(errorCode(away)).toBe('redirect_refused');
    const here = await request(port, '/moved-here');
    expect(here.status).toBe(301);
    expect(here.headers.location).toBe('/lodash');
  });

  it('goes to the registry whatever the Host header says, and rewrites only for the forwarder', async () => {
    for (const host of ['evil.example', '127.0.0.1:1@evil.example', `localhost:${port}.evil.example`]) {
      seen.length = 0;
      const response = await request(port, '/lodash', { headers: { host } });
      expect(response.status).toBe(200);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.headers.host).toBe(new URL(upstreamOrigin).host);
      const url = JSON.parse(response.body.toString('utf8')).versions['1.0.0'].dist.tarball as string;
      expect(url).toBe(`${upstreamOrigin}/lodash/-/lodash-1.0.0.tgz`);
      expect(url).not.toContain('evil');
    }
  });

  it('forwards only the whitelisted request headers: never credentials or cookies', async () => {
    await request(port, '/lodash', {
      headers: {
        accept: 'application/json',
        'user-agent': 'pnpm/10',
        'npm-command': 'install',
        'pnpm-session': 'abc',
        'if-none-match': '"e"',
        authorization: 'Bearer secret',
        cookie: 'session=secret',
        'proxy-authorization': 'Basic secret',
        'x-forwarded-for': '1.2.3.4',
      },
    });
    expect(seen).toHaveLength(1);
    const headers = seen[0]!.headers;
    expect(headers).toMatchObject({ accept: 'application/json', 'user-agent': 'pnpm/10', 'npm-command': 'install', 'pnpm-session': 'abc', 'if-none-match': '"e"' });
    for (const name of ['authorization', 'cookie', 'proxy-authorization', 'x-forwarded-for']) expect(headers[name], name).toBeUndefined();
    expect(JSON.stringify(headers)).not.toContain('secret');
  });

  it('counts what it forwarded and refused, and removes its socket on close', async () => {
    const before = proxy.stats();
    await request(port, '/lodash');
    await request(port, '/lodash', { method: 'POST' });
    expect(proxy.stats()).toEqual({ forwarded: before.forwarded + 1, refused: before.refused + 1 });

    const other = await startRegistryProxy({ socketPath: path.join(dir, 'other.sock'), registry: `${upstreamOrigin}/` });
    await other.close();
    expect(existsSync(other.socketPath)).toBe(false);
  });
});

describe('machineRegistry', () => {
  it("reads this machine's npm configuration", async () => {
    const machine = await machineRegistry();
    expect(new URL(machine.registry).protocol).toBe('https:');
    expect(await machineRegistry()).toBe(machine);
    if (machine.ca) expect(machine.ca.toString('utf8')).toContain('BEGIN CERTIFICATE');
  });
});
