import { existsSync } from 'node:fs';
import http from 'node:http';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listTemplateFiles } from '@cutroom/template';
import { git } from '../repos/git.js';
import { type TestServer, startTestServer } from '../testing/test-server.js';

/**
 * A request with its path sent exactly as written (fetch would normalise `/./` and `..`),
 * answering the status; an upgrade that is accepted answers 101.
 */
function rawRequest(baseUrl: string, method: string, rawPath: string, headers: Record<string, string>, body?: string) {
  return new Promise<number>((resolve, reject) => {
    const request = http.request(baseUrl, { method, path: rawPath, headers, agent: false });
    request.on('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('upgrade', (_response, socket) => {
      socket.destroy();
      resolve(101);
    });
    request.on('error', reject);
    request.end(body);
  });
}

describe('REST API', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      authLimits: {
        accountAddress: { freeFailures: 2, baseDelayMs: 60_000, maxDelayMs: 60_000, forgetAfterMs: 60_000 },
        address: { freeFailures: 1_000, baseDelayMs: 1_000, maxDelayMs: 1_000, forgetAfterMs: 60_000 },
      },
    });
  });
  afterAll(async () => server.close());

  it('reports health: that it works to anyone, the store and the provider only to a signed-in user', async () => {
    const anonymous = await server.request('GET', '/api/health');
    expect(anonymous.status).toBe(200);
    expect(anonymous.json).toEqual({ status: 'ok', version: '0.0.0-test', protocolVersion: 1, agent: { configured: false, message: expect.any(String) } });
    expect(anonymous.headers.get('x-request-id')).toBeTruthy();
    const { cookie } = await server.signup();
    const signedIn = await server.request('GET', '/api/health', { cookie });
    expect(signedIn.json).toEqual({
      status: 'ok',
      version: '0.0.0-test',
      protocolVersion: 1,
      store: { kind: 'pglite', ok: true },
      agent: { runner: 'claude-agent-sdk', configured: false, message: expect.any(String) },
    });
  });

  it('echoes a well-formed request id and replaces a malformed one', async () => {
    const given = await server.request('GET', '/api/health', { headers: { 'x-request-id': 'trace-123' } });
    expect(given.headers.get('x-request-id')).toBe('trace-123');
    const bad = await server.request('GET', '/api/health', { headers: { 'x-request-id': 'a b<script>' } });
    expect(bad.headers.get('x-request-id')).not.toBe('a b<script>');
  });

  describe('accounts', () => {
    it('signs up with an httpOnly SameSite=Lax cookie, knows the user, signs out', async () => {
      const { cookie, setCookie, user } = await server.signup('Ada@Example.com');
      expect(user.email).toBe('ada@example.com');
      expect(setCookie).toMatch(/HttpOnly/i);
      expect(setCookie).toMatch(/SameSite=Lax/i);
      expect(setCookie).toMatch(/Path=\//);

      const me = await server.request('GET', '/api/auth/me', { cookie });
      expect(me.status).toBe(200);
      expect(me.json.user).toMatchObject({ email: 'ada@example.com', name: 'Test User' });
      expect(me.json.user.passwordHash).toBeUndefined();

      expect((await server.request('POST', '/api/auth/logout', { cookie })).status).toBe(204);
      expect((await server.request('GET', '/api/auth/me', { cookie })).status).toBe(401);
    });

    it('stores a scrypt hash, never the password', async () => {
      await server.signup('hash@example.com', 'my secret password');
      const user = await server.store.users.findByEmail('hash@example.com');
      expect(user?.passwordHash).toMatch(/^scrypt\$32768\$8\$1\$/);
      expect(user?.passwordHash).not.toContain('my secret password');
    });

    it('refuses a second account for the same email', async () => {
      await server.signup('twice@example.com');
      const again = await server.request('POST', '/api/auth/signup', {
        body: { email: 'TWICE@example.com', password: 'another password', name: 'X' },
      });
      expect(again.status).toBe(409);
      expect(again.json.error.code).toBe('email_taken');
    });

    it('signs in with the right password only, and rate-limits repeated failures', async () => {
      await server.signup('login@example.com', 'the right password');
      const good = await server.request('POST', '/api/auth/login', { body: { email: 'login@example.com', password: 'the right password' } });
      expect(good.status).toBe(200);
      expect(good.headers.get('set-cookie')).toMatch(/cutroom_session=/);

      for (let i = 0; i < 3; i++) {
        const bad = await server.request('POST', '/api/auth/login', { body: { email: 'login@example.com', password: 'wrong password' } });
        expect(bad.status).toBe(401);
        expect(bad.json.error.code).toBe('invalid_credentials');
      }
      const limited = await server.request('POST', '/api/auth/login', { body: { email: 'login@example.com', password: 'the right password' } });
      expect(limited.status).toBe(429);
      expect(limited.json.error.code).toBe('rate_limited');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    });

    it('answers an unknown email exactly like a wrong password', async () => {
      const response = await server.request('POST', '/api/auth/login', { body: { email: 'nobody@example.com', password: 'whatever123' } });
      expect(response.status).toBe(401);
      expect(response.json.error.code).toBe('invalid_credentials');
    });

    it('ignores a forged or unknown session cookie', async () => {
      const response = await server.request('GET', '/api/projects', { cookie: 'cutroom_session=forged-token' });
      expect(response.status).toBe(401);
      expect(response.json.error.code).toBe('unauthenticated');
    });
  });

  describe('projects', () => {
    it('creates a project with a git repo holding the template as its first commit', async () => {
      const { cookie } = await server.signup();
      const created = await server.request('POST', '/api/projects', { cookie, body: { name: '  Launch video  ' } });
      expect(created.status).toBe(201);
      const project = created.json.project;
      expect(project.name).toBe('Launch video');
      expect(project.currentVersion).toMatch(/^[0-9a-f]{40}$/);

      const repo = server.repos.repoPath(project.id);
      expect(await server.repos.head(project.id)).toBe(project.currentVersion);
      const files = await server.repos.listFiles(project.id);
      expect(files).toEqual(await listTemplateFiles());
      expect(files).toEqual(expect.arrayContaining(['package.json', 'src/index.ts', 'src/Root.tsx', 'src/scenes/TitleScene.tsx']));
      const log = await git(['--git-dir', repo, 'log', '--format=%s']);
      expect(log.trim().split('\n')).toEqual(['Create project from the template']);
    });

    it('lists, gets (with messages), renames and deletes, and remembers across requests', async () => {
      const { cookie } = await server.signup();
      const first = (await server.request('POST', '/api/projects', { cookie, body: { name: 'First' } })).json.project;
      const second = (await server.request('POST', '/api/projects', { cookie, body: { name: 'Second' } })).json.project;

      const list = await server.request('GET', '/api/projects', { cookie });
      expect(list.json.projects.map((p: { name: string }) => p.name)).toEqual(['Second', 'First']);

      const renamed = await server.request('PATCH', `/api/projects/${first.id}`, { cookie, body: { name: 'Renamed' } });
      expect(renamed.status).toBe(200);
      expect(renamed.json.project.name).toBe('Renamed');

      const got = await server.request('GET', `/api/projects/${first.id}`, { cookie });
      expect(got.json).toMatchObject({ project: { id: first.id, name: 'Renamed' }, messages: [] });
      expect((await server.request('GET', `/api/projects/${first.id}/messages`, { cookie })).json).toEqual({ messages: [] });

      const repo = server.repos.repoPath(second.id);
      expect(existsSync(repo)).toBe(true);
      expect((await server.request('DELETE', `/api/projects/${second.id}`, { cookie })).status).toBe(204);
      expect(existsSync(repo)).toBe(false);
      expect((await server.request('GET', `/api/projects/${second.id}`, { cookie })).status).toBe(404);
      expect((await server.request('DELETE', `/api/projects/${second.id}`, { cookie })).status).toBe(404);
    });

    it("answers 404 for another user's project on every route, and changes nothing", async () => {
      const owner = await server.signup();
      const intruder = await server.signup();
      const project = (await server.request('POST', '/api/projects', { cookie: owner.cookie, body: { name: 'Private' } })).json.project;

      for (const [method, url, body] of [
        ['GET', `/api/projects/${project.id}`],
        ['GET', `/api/projects/${project.id}/messages`],
        ['PATCH', `/api/projects/${project.id}`, { name: 'Mine now' }],
        ['DELETE', `/api/projects/${project.id}`],
      ] as const) {
        const response = await server.request(method, url, { cookie: intruder.cookie, body });
        expect(response.status, `${method} ${url}`).toBe(404);
        expect(response.json.error.code).toBe('not_found');
      }
      expect((await server.request('GET', '/api/projects', { cookie: intruder.cookie })).json.projects).toEqual([]);
      const still = await server.request('GET', `/api/projects/${project.id}`, { cookie: owner.cookie });
      expect(still.json.project.name).toBe('Private');
      expect(existsSync(server.repos.repoPath(project.id))).toBe(true);
    });
  });

  describe('origin checks (CSRF)', () => {
    it('refuses state-changing requests from another origin, with no Origin, or Origin: null', async () => {
      const { cookie } = await server.signup();
      for (const origin of ['https://evil.example', 'null', null]) {
        const response = await server.request('POST', '/api/projects', { cookie, origin, body: { name: 'CSRF' } });
        expect(response.status, String(origin)).toBe(403);
        expect(response.json.error.code).toBe('forbidden_origin');
      }
      const signup = await server.request('POST', '/api/auth/signup', {
        origin: 'https://evil.example',
        body: { email: 'csrf@example.com', password: 'long enough', name: 'X' },
      });
      expect(signup.status).toBe(403);
      expect((await server.request('GET', '/api/projects', { cookie })).json.projects).toEqual([]);
    });

    it('guards every state-changing method and every upgrade whatever the spelling of its path', async () => {
      const { cookie } = await server.signup();
      const spellings = ['/%61pi/projects', '/api/%70rojects', '/%61%70%69/%70%72%6f%6a%65%63%74%73', '/API/projects', '//api/projects', '/api/./projects', '/api/x/../projects', '/api%2Fprojects', '/nowhere'];
      const json = { cookie, 'content-type': 'application/json' };
      for (const url of spellings) {
        for (const origin of [{ origin: 'https://evil.example' }, { origin: 'null' }, {}]) {
          const status = await rawRequest(server.baseUrl, 'POST', url, { ...json, ...origin }, JSON.stringify({ name: 'CSRF' }));
          expect(status, `${url} ${JSON.stringify(origin)}`).toBe(403);
        }
      }
      for (const method of ['PUT', 'PATCH', 'DELETE', 'PROPFIND']) {
        expect(await rawRequest(server.baseUrl, method, '/%61pi/projects', { cookie, origin: 'https://evil.example' }), method).toBe(403);
      }
      const upgrade = { cookie, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };
      for (const url of ['/ws', '/%77s', '/%77%73', '/WS', '//ws', '/ws/', '/./ws', '/ws?x=1', '/anything']) {
        for (const origin of [{ origin: 'https://evil.example' }, { origin: 'null' }, {}]) {
          const status = await rawRequest(server.baseUrl, 'GET', url, { ...upgrade, ...origin }).catch((error: Error) => error.message);
          expect(status, `${url} ${JSON.stringify(origin)}`).toBe(403);
        }
      }
      // The app's own origin still gets its WebSocket.
      expect(await rawRequest(server.baseUrl, 'GET', '/ws', { ...upgrade, origin: server.baseUrl })).toBe(101);
      expect((await server.request('GET', '/api/projects', { cookie })).json.projects).toEqual([]);
    });

    it('lets safe requests through from anywhere (they change nothing)', async () => {
      expect((await server.request('GET', '/api/health', { origin: 'https://evil.example' })).status).toBe(200);
    });
  });

  it('serves nothing but JSON errors under /api for unknown paths', async () => {
    const response = await server.request('GET', '/api/nope', { headers: { accept: 'text/html' } });
    expect(response.status).toBe(404);
    expect(response.json.error.code).toBe('not_found');
  });

  it('leaves no temporary folders behind after creates and deletes', async () => {
    const entries = await readdir(path.join(server.dataDir, 'repos'));
    expect(entries.filter((entry) => entry.startsWith('.'))).toEqual([]);
  });
});
