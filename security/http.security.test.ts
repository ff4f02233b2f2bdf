import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import pg from 'pg';
import { PROTOCOL_VERSION, type RouteKey, apiRoutes, splitRouteKey } from '@cutroom/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../e2e/harness.js';
import { callApi, openSocket, signUp } from './attacker.js';

/**
 * The HTTP edge as an outsider attacks it (issue 9, items 2, 7, 8, 15, 16), against the
 * built server: foreign, null and missing Origins on every route of the protocol's table
 * and on the WebSocket upgrade, under every spelling of their paths; NUL bytes and lone
 * surrogates in every string field; forged X-Forwarded-For; what an anonymous health
 * check tells; and what a failed SQL statement leaves in the logs (PostgreSQL).
 */

/** A request whose path goes out exactly as written (fetch and `ws` normalise `/./`, `..`). */
function rawRequest(baseUrl: string, method: string, rawPath: string, headers: Record<string, string>, body?: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const length = body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) };
    const request = http.request(baseUrl, { method, path: rawPath, headers: { ...headers, ...length }, agent: false });
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    request.on('upgrade', (_response, socket) => {
      socket.destroy();
      resolve({ status: 101, body: '' });
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** The users this suite signs up: the email is random, the rest as written. */
const SAM = { password: 'a fine long passphrase', name: 'Secure Sam' };

const hex = (character: string) => `%${character.charCodeAt(0).toString(16).padStart(2, '0')}`;

/** Ways to write one path that a router may decode or normalise to the same route. */
function spellings(path: string): string[] {
  const [, first = '', ...rest] = path.split('/');
  const tail = rest.length ? `/${rest.join('/')}` : '';
  const second = rest[0] ?? '';
  return [
    path,
    `/${hex(first[0]!)}${first.slice(1)}${tail}`,
    `/${hex(first[0]!).toUpperCase()}${first.slice(1)}${tail}`,
    second ? `/${first}/${hex(second[0]!)}${second.slice(1)}${rest.length > 1 ? `/${rest.slice(1).join('/')}` : ''}` : `/${first}/`,
    path.replace(/[a-z]/g, hex),
    `/${path}`,
    `/${first}/.${tail || '/'}`,
    `/${first}/x/..${tail || '/'}`,
    `/%25${hex(first[0]!).slice(1)}${first.slice(1)}${tail}`,
    tail ? `/${first}%2F${tail.slice(1)}` : `/${first}%2F`,
    tail ? `/${first}%2f${tail.slice(1)}` : `/${first}%2f`,
    `/${first.toUpperCase()}${tail}`,
    `${path}/`,
    `${path}?x=1`,
    `${path}#fragment`,
  ];
}

const UNSTORABLE = { nul: 'a\u0000b', lone: 'a\uD800b' };

/** Percent-encoding of a query value; a lone surrogate has no UTF-8 form, so it goes as the bytes a careless client would send. */
const queryValue = (value: string) => value.split('\uD800').map(encodeURIComponent).join('%ED%A0%80');

/** Every string field of every REST body and query, with a valid request around it. */
function badFieldRequests(projectId: string, versionId: string, value: string) {
  const signupBody = { email: 'field@example.com', password: 'a fine long passphrase', name: 'Field' };
  const requests: { field: string; method: string; path: string; body?: unknown }[] = [
    { field: 'email', method: 'POST', path: '/api/auth/signup', body: { ...signupBody, email: `fi${value}eld@example.com` } },
    { field: 'password', method: 'POST', path: '/api/auth/signup', body: { ...signupBody, password: `a fine ${value} passphrase` } },
    { field: 'name', method: 'POST', path: '/api/auth/signup', body: { ...signupBody, name: `Fi${value}eld` } },
    { field: 'email', method: 'POST', path: '/api/auth/login', body: { email: `fi${value}eld@example.com`, password: 'whatever it is' } },
    { field: 'password', method: 'POST', path: '/api/auth/login', body: { email: 'field@example.com', password: `what${value}ever` } },
    { field: 'name', method: 'POST', path: '/api/projects', body: { name: `Pro${value}ject` } },
    { field: 'name', method: 'PATCH', path: `/api/projects/${projectId}`, body: { name: `Re${value}named` } },
    { field: 'compositionId', method: 'POST', path: `/api/projects/${projectId}/exports`, body: { compositionId: `Title${value}Scene`, format: 'png' } },
    { field: 'before', method: 'GET', path: `/api/projects/${projectId}/versions?before=${queryValue(versionId.slice(0, 39) + value)}` },
    { field: 'against', method: 'GET', path: `/api/projects/${projectId}/versions/${versionId}/diff?against=${queryValue(value)}` },
  ];
  return requests;
}

describe('the HTTP edge (PGlite, a configured provider)', () => {
  let server: RunningServer;
  let owner: { email: string; cookie: string };
  let projectId: string;
  let versionId: string;

  beforeAll(async () => {
    server = await startServer({
      SESSION_POOL_SIZE: '0',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:9/secret-provider-path',
      ANTHROPIC_API_KEY: 'sk-secret-key-value',
      MODEL: 'secret-model-name',
    });
    owner = await signUp(server, SAM);
    const created = await callApi(server, 'POST', '/api/projects', { cookie: owner.cookie, body: { name: 'Original' } });
    expect(created.status).toBe(201);
    projectId = created.json.project.id;
    versionId = created.json.project.currentVersion;
  });
  afterAll(async () => server?.stop());

  describe('Origin guard (CSRF, WebSocket hijacking)', () => {
    const badOrigins = (baseUrl: string): Record<string, string>[] => [
      { origin: 'https://evil.example' },
      { origin: 'null' },
      {},
      { origin: 'http://127.0.0.1:1' },
      { origin: `${baseUrl}.evil.example` },
      { origin: `${baseUrl}/` },
    ];
    const sampleBodies: Partial<Record<RouteKey, unknown>> = {
      'POST /api/auth/signup': { email: 'csrf-victim@example.com', password: 'a fine long passphrase', name: 'Victim' },
      'POST /api/auth/login': { email: 'csrf-victim@example.com', password: 'a fine long passphrase' },
      'POST /api/projects': { name: 'Made by CSRF' },
      'PATCH /api/projects/:id': { name: 'Renamed by CSRF' },
      'POST /api/projects/:id/exports': { compositionId: 'TitleScene', format: 'png' },
    };

    it('refuses every state-changing route of the table, under every spelling, from a foreign, null or missing Origin', async () => {
      const routes = (Object.keys(apiRoutes) as RouteKey[]).filter((key) => !key.startsWith('GET '));
      expect(routes.length).toBeGreaterThan(5);
      let attempts = 0;
      for (const key of routes) {
        const { method, path } = splitRouteKey(key);
        const concrete = path.replace(':id', projectId).replace(':versionId', versionId).replace(':exportId', randomUUID());
        const body = JSON.stringify(sampleBodies[key] ?? {});
        for (const spelling of spellings(concrete)) {
          for (const origin of badOrigins(server.baseUrl)) {
            const response = await rawRequest(server.baseUrl, method, spelling, { cookie: owner.cookie, 'content-type': 'application/json', ...origin }, body);
            expect(response.status, `${method} ${spelling} ${JSON.stringify(origin)}: ${response.body}`).toBe(403);
            expect(JSON.parse(response.body).error.code).toBe('forbidden_origin');
            attempts++;
          }
        }
      }
      expect(attempts).toBeGreaterThan(500);
    });

    it('refuses the WebSocket upgrade under every spelling of /ws, and on any other path, from a foreign, null or missing Origin', async () => {
      const upgrade = {
        cookie: owner.cookie,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
      };
      for (const spelling of [...spellings('/ws'), '/%2577s', '/api/projects', '/', '/s/anything']) {
        for (const origin of badOrigins(server.baseUrl)) {
          const response = await rawRequest(server.baseUrl, 'GET', spelling, { ...upgrade, ...origin });
          expect(response.status, `${spelling} ${JSON.stringify(origin)}`).toBe(403);
        }
      }
      // The app itself still connects.
      expect((await rawRequest(server.baseUrl, 'GET', '/ws', { ...upgrade, origin: server.baseUrl })).status).toBe(101);
    });

    it('changed nothing: no account, project, rename, delete or export came of it', async () => {
      const list = await callApi(server, 'GET', '/api/projects', { cookie: owner.cookie });
      expect(list.json.projects.map((project: { name: string }) => project.name)).toEqual(['Original']);
      const exports = await callApi(server, 'GET', `/api/projects/${projectId}/exports`, { cookie: owner.cookie });
      expect(exports.json.exports).toEqual([]);
      const victim = await callApi(server, 'POST', '/api/auth/login', { body: { email: 'csrf-victim@example.com', password: 'a fine long passphrase' } });
      expect(victim.status).toBe(401);
      expect((await callApi(server, 'GET', '/api/auth/me', { cookie: owner.cookie })).status).toBe(200);
    });
  });

  describe('unstorable text (NUL, lone surrogates)', () => {
    for (const [kind, value] of Object.entries(UNSTORABLE)) {
      it(`refuses ${kind} in every string field of bodies and queries with a typed 400`, async () => {
        for (const request of badFieldRequests(projectId, versionId, value)) {
          const response = await callApi(server, request.method, request.path, { cookie: owner.cookie, body: request.body });
          expect(response.status, `${request.method} ${request.path} ${request.field}: ${response.text}`).toBe(400);
          expect(response.json.error.code).toBe('validation_failed');
          expect(response.json.error.issues.map((issue: { path: string }) => issue.path)).toContain(request.field);
        }
      });
    }

    it('answers a NUL in a path parameter as not found, never a 500', async () => {
      for (const path of [`/api/projects/%00`, `/api/projects/${projectId}/versions/%00/diff`, `/api/projects/${projectId}/exports/a%00b`]) {
        expect((await callApi(server, 'GET', path, { cookie: owner.cookie })).status, path).toBe(404);
      }
    });

    it('refuses them in every string of a WebSocket message with invalid_message', async () => {
      const socket = await openSocket(server, owner.cookie);
      try {
        for (const value of Object.values(UNSTORABLE)) {
          for (const frame of [
            { type: 'message:send', text: `make it ${value} blue`, clientMessageId: 'c1' },
            { type: 'message:send', text: 'make it blue', clientMessageId: `c${value}1` },
            { type: 'session:start', projectId: `${projectId}${value}`, protocolVersion: PROTOCOL_VERSION },
          ]) {
            const reply = await socket.exchange(frame);
            expect(reply, JSON.stringify(frame)).toMatchObject({ type: 'error', code: 'invalid_message' });
          }
        }
      } finally {
        socket.close();
      }
    });

    it('kept nothing of it', async () => {
      const project = await callApi(server, 'GET', `/api/projects/${projectId}`, { cookie: owner.cookie });
      expect(project.json.project.name).toBe('Original');
      expect(project.json.messages).toEqual([]);
      expect((await callApi(server, 'GET', '/api/projects', { cookie: owner.cookie })).json.projects).toHaveLength(1);
    });
  });

  describe('health', () => {
    it('tells an anonymous caller that it works, not what it runs on or talks to', async () => {
      const response = await fetch(`${server.baseUrl}/api/health`);
      const text = await response.text();
      expect(response.status).toBe(200);
      for (const secret of ['127.0.0.1:9', 'secret-provider-path', 'secret-model-name', 'sk-secret', 'pglite', 'Anthropic', 'claude-agent-sdk']) {
        expect(text, secret).not.toContain(secret);
      }
      expect(JSON.parse(text)).toMatchObject({ status: 'ok', agent: { configured: true } });
    });

    it('tells a signed-in user which provider chat uses (the composer shows it), and still no key', async () => {
      const response = await callApi(server, 'GET', '/api/health', { cookie: owner.cookie });
      expect(response.json.agent).toMatchObject({ configured: true, runner: 'claude-agent-sdk', message: expect.stringContaining('127.0.0.1:9') });
      expect(response.text).not.toContain('sk-secret');
    });
  });

  describe('forwarded addresses (no TRUSTED_PROXIES)', () => {
    it('a forged X-Forwarded-For does not give a throttled client a new address', async () => {
      const victim = await signUp(server, SAM);
      const login = (password: string, forwardedFor: string) =>
        fetch(`${server.baseUrl}/api/auth/login`, {
          method: 'POST',
          headers: { origin: server.baseUrl, 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
          body: JSON.stringify({ email: victim.email, password }),
        });
      // Trusted, each forged address would be a fresh start and this would never be throttled.
      let throttled: Response | undefined;
      for (let attempt = 1; attempt <= 10 && !throttled; attempt++) {
        const response = await login('wrong guess', `203.0.113.${attempt}`);
        if (response.status === 429) throttled = response;
        else expect(response.status).toBe(401);
      }
      expect(throttled?.status).toBe(429);
      expect(Number(throttled!.headers.get('retry-after'))).toBeGreaterThan(0);
    });
  });
});

const postgresUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function postgresAdmin() {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    return client;
  } catch {
    await client.end().catch(() => {});
    return null;
  }
}

const admin = await postgresAdmin();
if (!admin) console.warn(`[security] PostgreSQL not reachable at ${postgresUrl}: skipping the PostgreSQL run.`);

describe.skipIf(!admin)('the HTTP edge on PostgreSQL', () => {
  const database = `cutroom_security_${randomBytes(6).toString('hex')}`;
  let server: RunningServer;
  let owner: { email: string; cookie: string };
  let projectId: string;
  let versionId: string;
  const databaseUrl = () => {
    const url = new URL(postgresUrl);
    url.pathname = `/${database}`;
    return url.toString();
  };

  beforeAll(async () => {
    await admin!.query(`CREATE DATABASE ${database}`);
    server = await startServer({ SESSION_POOL_SIZE: '0', DATABASE_URL: databaseUrl(), ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' });
    owner = await signUp(server, SAM);
    const created = await callApi(server, 'POST', '/api/projects', { cookie: owner.cookie, body: { name: 'Original' } });
    projectId = created.json.project.id;
    versionId = created.json.project.currentVersion;
  });
  afterAll(async () => {
    await server?.stop();
    await admin!.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
    await admin!.end();
  });

  it('refuses NUL and lone surrogates in every field before PostgreSQL sees them', async () => {
    for (const value of Object.values(UNSTORABLE)) {
      for (const request of badFieldRequests(projectId, versionId, value)) {
        const response = await callApi(server, request.method, request.path, { cookie: owner.cookie, body: request.body });
        expect(response.status, `${request.method} ${request.path} ${request.field}: ${response.text}`).toBe(400);
      }
    }
    expect(server.output.join('')).not.toContain('request failed');
  });

  it('logs no statement values when PostgreSQL refuses a sign-up or a chat message', async () => {
    const database = new pg.Client({ connectionString: databaseUrl() });
    await database.connect();
    try {
      // From here on PostgreSQL itself fails every new user and message, with the row in its `detail`.
      await database.query('ALTER TABLE users ADD CONSTRAINT refuse_new_users CHECK (false) NOT VALID');
      await database.query('ALTER TABLE messages ADD CONSTRAINT refuse_new_messages CHECK (false) NOT VALID');
    } finally {
      await database.end();
    }
    const failed = await callApi(server, 'POST', '/api/auth/signup', {
      body: { email: 'leaky.larry@example.com', password: 'a secret passphrase of larry', name: 'Larry Leaky' },
    });
    expect(failed.status).toBe(500);
    expect(failed.json.error.code).toBe('internal');

    const socket = await openSocket(server, owner.cookie);
    try {
      socket.send({ type: 'session:start', projectId, protocolVersion: PROTOCOL_VERSION });
      await socket.waitFor((message) => message.type === 'session:joined');
      // A message is saved first, whatever the session is doing; the save is what fails here.
      socket.send({ type: 'message:send', text: 'the secret words of the chat 4242', clientMessageId: 'm1' });
      const reply = await socket.waitFor((message) => message.type === 'error' && message.clientMessageId === 'm1');
      expect(reply.code).toBe('internal');
    } finally {
      socket.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const logs = server.output.join('');
    expect(logs).toContain('refuse_new_users');
    expect(logs).toContain('refuse_new_messages');
    for (const secret of ['scrypt$', 'leaky.larry', 'Larry Leaky', 'secret passphrase', 'secret words of the chat']) {
      expect(logs, secret).not.toContain(secret);
    }
  });
});
