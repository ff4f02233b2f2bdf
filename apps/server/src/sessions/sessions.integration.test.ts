import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { isAlive, waitFor } from '../testing/processes.js';
import path from 'node:path';
import { PROTOCOL_VERSION } from '@cutroom/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantPreviewCookie } from '../testing/preview-cookie.js';
import { type TestServer, startTestServer } from '../testing/test-server.js';
import { type TestClient, connectClient } from '../testing/ws-client.js';

/** Live sessions against real runtime processes, real Vite, real git, over the real proxy. */
describe('live sessions', () => {
  let server: TestServer;
  let owner: { cookie: string; projectId: string; user: { id: string } };
  let client: TestClient;
  let ready: { sessionId: string; previewUrl: string; seq: number };

  const start = (target: TestClient, lastSeq?: number, sessionId = ready?.sessionId) =>
    target.send({ type: 'session:start', projectId: owner.projectId, protocolVersion: PROTOCOL_VERSION, ...(lastSeq === undefined ? {} : { lastSeq, sessionId }) });
  const sandboxOf = (previewUrl: string) => new URL(previewUrl).pathname.split('/')[2]!;
  /** The preview cookie, as the preview page's bootstrap gets it: its link's token traded at the grant path. */
  const sandboxInfo = async (sandboxId: string) =>
    JSON.parse(await readFile(path.join(server.dataDir, 'sandboxes', sandboxId, 'sandbox.json'), 'utf8')) as { pid: number };
  /** Where the sandbox's runtime listens (its preview and its bridge), as the server reaches it. */
  const socketOf = (sandboxId: string, name: 'preview' | 'bridge') => path.join(server.dataDir, 'sandboxes', sandboxId, 'sock', `${name}.sock`);
  /** Whether something answers on a Unix socket. */
  const socketOpen = (socketPath: string) =>
    new Promise<boolean>((resolve) => {
      const socket = net.connect(socketPath, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });

  beforeAll(async () => {
    process.env.ANTHROPIC_API_KEY = 'sk-test-server-secret';
    server = await startTestServer({ sessions: { graceMs: 1_500, poolSize: 1 } });
    owner = await server.signupWithProject('Live');
    client = await connectClient(server.baseUrl, owner.cookie);
    start(client);
    ready = await client.next((message) => message.type === 'session:ready');
  });
  afterAll(async () => {
    delete process.env.ANTHROPIC_API_KEY;
    await client?.close();
    await server?.close();
  });

  it('starts a session: status starting, then ready with a preview URL on the preview origin; every event has a seq', async () => {
    const statuses = client.messages.filter((message) => message.type === 'session:status').map((message) => message.state);
    expect(statuses.slice(0, 2)).toEqual(['starting', 'running']);
    expect(ready.previewUrl.startsWith(`${server.previewOrigin}/s/`)).toBe(true);
    expect(ready.previewUrl).toContain('?t=');
    // Every event of the session has a seq; session:joined is the answer to session:start, not an event.
    const events = client.messages.filter((message) => message.type !== 'session:joined' && message.type !== 'session:queued');
    expect(client.messages.filter((message) => message.type === 'session:joined')).toHaveLength(1);
    const seqs = events.map((message) => message.seq);
    expect(seqs.every((seq) => Number.isInteger(seq))).toBe(true);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
  });

  it('serves the Player page with the token, and the working copy is the project checked out from its repo', async () => {
    // The token opens the bootstrap page, which trades it for the preview cookie.
    const bootstrap = await fetch(ready.previewUrl);
    expect(bootstrap.status).toBe(200);
    expect(await bootstrap.text()).toContain('__cutroom/grant');
    const page = await fetch(ready.previewUrl.split('?')[0]!, { headers: { cookie: await grantPreviewCookie(ready.previewUrl) } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('main.tsx');
    const sandboxId = sandboxOf(ready.previewUrl);
    const workspace = path.join(server.dataDir, 'sandboxes', sandboxId, 'workspace');
    // Written through the driver from the project's repo: its files, and no git folder.
    expect(existsSync(path.join(workspace, '.git'))).toBe(false);
    const files = await server.repos.listFiles(owner.projectId);
    expect(files).toContain('src/Root.tsx');
    for (const file of files) expect(existsSync(path.join(workspace, file)), file).toBe(true);
  });

  it('refuses the page without a token, with a forged one, and to another signed-in user', async () => {
    const base = ready.previewUrl.split('?')[0]!;
    expect((await fetch(base)).status).toBe(403);
    expect((await fetch(`${base}?t=${'x'.repeat(20)}.${'y'.repeat(43)}`)).status).toBe(403);
    const intruder = await server.signup();
    const stolen = await fetch(ready.previewUrl, { headers: { cookie: intruder.cookie } });
    expect(stolen.status).toBe(403);
    expect((await fetch(`${server.previewOrigin}/s/${'A'.repeat(24)}/?t=x`)).status).toBe(404);
  });

  it('returns no file contents for path tricks, /@fs escapes, raw imports, .env, .git or vite.config', async () => {
    const sandboxId = sandboxOf(ready.previewUrl);
    const workspace = path.join(server.dataDir, 'sandboxes', sandboxId, 'workspace');
    await writeFile(path.join(workspace, '.env'), 'SECRET_TOKEN=do-not-serve\n');
    await writeFile(path.join(workspace, 'vite.config.ts'), '// SECRET_TOKEN=do-not-serve\n');
    const prefix = `${server.previewOrigin}/s/${sandboxId}`;
    // With the preview cookie: these must be refused by the proxy's and Vite's own guards.
    const cookie = await grantPreviewCookie(ready.previewUrl);
    const attempts = [
      '/@fs/etc/passwd',
      '/@fs/etc/passwd?raw??',
      '/@fs/etc/passwd?import&raw??',
      '/@fs/etc/passwd?import&?raw',
      `/@fs${workspace}/.env`,
      `/@fs${workspace}/.env?raw`,
      `/@fs${workspace}/.env?import&raw??`,
      `/@fs${workspace}/.git/config?raw`,
      `/@fs${workspace}/vite.config.ts?raw`,
      '/../../../../etc/passwd',
      '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/%252e%252e/%252e%252e/etc/passwd',
      '/..%5c..%5c..%5cetc/passwd',
      `/@fs${path.join(server.dataDir, 'db')}/PG_VERSION?raw`,
      '/%3F/../../../@fs/etc/passwd',
      '/__open-in-editor?file=/etc/passwd',
      '/__OPEN-IN-EDITOR?file=/etc/passwd',
      '/%5F%5Fopen-in-editor?file=/etc/passwd',
      '/__Open-In-Editor/?file=/etc/passwd',
    ];
    for (const attempt of attempts) {
      const response = await fetch(prefix + attempt, { headers: { cookie } });
      const body = await response.text();
      expect(body, attempt).not.toMatch(/root:x:0:0|SECRET_TOKEN|repositoryformatversion|^18$/m);
      expect([400, 403, 404], `${attempt} → ${response.status}`).toContain(response.status);
    }
    // The raw HTTP request line, which fetch() would normalise.
    const raw = await new Promise<string>((resolve) => {
      const socket = net.connect(new URL(server.previewOrigin).port as unknown as number, '127.0.0.1', () => {
        socket.write(`GET /s/${sandboxId}/../../../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      });
      let data = '';
      socket.on('data', (chunk) => (data += chunk));
      socket.on('close', () => resolve(data));
    });
    expect(raw).toMatch(/^HTTP\/1\.1 404/);
    expect(raw).not.toContain('root:x:0:0');
  });

  it("the sandbox's Vite answers nothing without the proxy's key, not even its base path", async () => {
    const previewSocket = socketOf(sandboxOf(ready.previewUrl), 'preview');
    for (const url of ['/', `/s/${sandboxOf(ready.previewUrl)}/`, `/s/${sandboxOf(ready.previewUrl)}/main.tsx`, '/@vite/client']) {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        http
          .get({ socketPath: previewSocket, path: url, headers: { host: 'localhost' } }, (response) => {
            let body = '';
            response.on('data', (chunk) => (body += String(chunk)));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
          })
          .on('error', reject);
      });
      expect(answer.status, url).toBe(403);
      expect(answer.body, url).toBe('');
    }
    const upgrade = await new Promise<string>((resolve) => {
      const socket = net.connect(previewSocket, () => {
        socket.write(
          `GET /s/${sandboxOf(ready.previewUrl)}/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: vite-hmr\r\n\r\n',
        );
      });
      let data = '';
      socket.on('data', (chunk) => (data += chunk));
      socket.on('close', () => resolve(data));
      setTimeout(() => socket.destroy(), 3_000);
    });
    expect(upgrade).toMatch(/^HTTP\/1\.1 403/);
  });

  it('a second tab joins the same session', async () => {
    const tab = await connectClient(server.baseUrl, owner.cookie);
    start(tab);
    const second = await tab.next((message) => message.type === 'session:ready');
    expect(second.sessionId).toBe(ready.sessionId);
    expect(sandboxOf(second.previewUrl)).toBe(sandboxOf(ready.previewUrl));
    await tab.close();
  });

  it('a reconnect with lastSeq gets only what it missed, nothing twice', async () => {
    const lastSeen = Math.max(...client.messages.filter((message) => message.seq !== undefined).map((message) => message.seq));
    const again = await connectClient(server.baseUrl, owner.cookie);
    start(again, lastSeen);
    const joined = await again.next((message) => message.type === 'session:joined');
    expect(joined).toMatchObject({ sessionId: ready.sessionId, state: 'running', replay: 'events', lastSeq: lastSeen });
    expect(again.messages.filter((message) => message.type !== 'session:joined' && message.type !== 'session:queued')).toEqual([]);

    const fromStart = await connectClient(server.baseUrl, owner.cookie);
    const firstSeq = client.messages[0].seq;
    start(fromStart, firstSeq);
    const replayed = await fromStart.next((message) => message.type === 'session:ready');
    await fromStart.next((message) => message.type === 'session:joined');
    expect(replayed.seq).toBe(ready.seq);
    const seqOf = (messages: any[]) => messages.filter((m) => m.type !== 'session:joined').map((m) => m.seq);
    expect(seqOf(fromStart.messages)).toEqual(seqOf(client.messages).filter((seq) => seq > firstSeq));
    await again.close();
    await fromStart.close();
  });

  it("numbers each session's events on its own, from 1, with no gaps", async () => {
    const seqs = client.messages.filter((message) => typeof message.seq === 'number').map((message) => message.seq);
    expect(seqs.slice(0, 3)).toEqual([1, 2, 3]);
    // Another project's session, started after this one's events: its own numbers.
    const other = await server.signupWithProject('Other');
    const tab = await connectClient(server.baseUrl, other.cookie);
    tab.send({ type: 'session:start', projectId: other.projectId, protocolVersion: PROTOCOL_VERSION });
    const joined = await tab.next((message) => message.type === 'session:joined');
    expect(joined).toMatchObject({ replay: 'snapshot', lastSeq: 1 });
    expect(tab.messages.filter((message) => typeof message.seq === 'number').map((message) => message.seq)).toEqual([1]);
    tab.send({ type: 'session:end' });
    await tab.close();
  });

  it("a reconnect whose lastSeq is another session's (a restarted server's) gets a snapshot, marked so, never a silent gap", async () => {
    const current = Math.max(...client.messages.filter((message) => typeof message.seq === 'number').map((message) => message.seq));
    for (const resume of [
      { lastSeq: current + 500, sessionId: 'a-session-of-an-earlier-server-life' }, // a restarted server
      { lastSeq: current + 500, sessionId: ready.sessionId }, // a seq this session never gave
      { lastSeq: 1 }, // no session named: the seq means nothing
    ]) {
      const tab = await connectClient(server.baseUrl, owner.cookie);
      tab.send({ type: 'session:start', projectId: owner.projectId, protocolVersion: PROTOCOL_VERSION, ...resume });
      const joined = await tab.next((message) => message.type === 'session:joined');
      expect(joined).toMatchObject({ sessionId: ready.sessionId, state: 'running', replay: 'snapshot', lastSeq: current });
      // The snapshot: the session's status and its preview, as they are now.
      const types = tab.messages.filter((message) => message.type !== 'session:joined' && message.type !== 'session:queued').map((message) => message.type);
      expect(types).toEqual(['session:status', 'session:ready']);
      await tab.close();
    }
  });

  it('keeps no server secret in the sandbox environment', async () => {
    const { pid } = await sandboxInfo(sandboxOf(ready.previewUrl));
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
    expect(environ).not.toContain('sk-test-server-secret');
    expect(environ).not.toContain('ANTHROPIC');
    expect(environ).not.toContain('RUNTIME_BRIDGE_TOKEN');
    expect(environ).not.toContain('DATABASE_URL');
    expect(environ).toContain('RUNTIME_WORKSPACE=');
  });

  it('kill -9 of the runtime: the client is told, and a restart brings a new preview', async () => {
    const { pid } = await sandboxInfo(sandboxOf(ready.previewUrl));
    process.kill(pid, 'SIGKILL');
    const failure = await client.next((message) => message.type === 'session:status' && message.state === 'error');
    expect(failure.reason).toMatch(/killed|exited/);
    await client.next((message) => message.type === 'error' && message.code === 'session_failed');
    const before = client.messages.length;
    client.send({ type: 'session:restart' });
    const restarted = await client.next((message) => message.type === 'session:ready' && message.seq > ready.seq);
    expect(restarted.sessionId).toBe(ready.sessionId);
    expect(sandboxOf(restarted.previewUrl)).not.toBe(sandboxOf(ready.previewUrl));
    expect((await fetch(restarted.previewUrl)).status).toBe(200);
    expect(client.messages.length).toBeGreaterThan(before);
    ready = restarted;
  });

  it('grace: a reconnect within it keeps the session; after it the process, its sockets and its folder are gone', async () => {
    const sandboxId = sandboxOf(ready.previewUrl);
    const info = await sandboxInfo(sandboxId);
    expect(await socketOpen(socketOf(sandboxId, 'preview'))).toBe(true);
    await client.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server.sessions!.list()[0]!.state).toBe('grace');
    client = await connectClient(server.baseUrl, owner.cookie);
    start(client);
    const back = await client.next((message) => message.type === 'session:ready');
    expect(back.sessionId).toBe(ready.sessionId);
    expect(server.sessions!.list()[0]!.state).toBe('running');

    client.send({ type: 'session:end' });
    await waitFor(() => server.sessions!.list().length === 0, 10_000);
    await waitFor(() => !isAlive(info.pid));
    expect(await socketOpen(socketOf(sandboxId, 'preview'))).toBe(false);
    expect(await socketOpen(socketOf(sandboxId, 'bridge'))).toBe(false);
    await waitFor(() => !existsSync(path.join(server.dataDir, 'sandboxes', sandboxId)));
  });
});

describe('session lifecycle races and limits', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ sessions: { graceMs: 1_000, poolSize: 0, maxPerUser: 2 } });
  });
  afterAll(async () => server?.close());
  const start = (client: TestClient, projectId: string) =>
    client.send({ type: 'session:start', projectId, protocolVersion: PROTOCOL_VERSION });

  it('two restarts in a row end with one running sandbox and no error shown', async () => {
    const owner = await server.signupWithProject('Restarts');
    const client = await connectClient(server.baseUrl, owner.cookie);
    start(client, owner.projectId);
    const first = await client.next((message) => message.type === 'session:ready');
    client.send({ type: 'session:restart' });
    client.send({ type: 'session:restart' });
    await client.next((message) => message.type === 'session:ready' && message.seq > first.seq);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(client.messages.filter((message) => message.type === 'session:status' && message.state === 'error')).toEqual([]);
    const [session] = server.sessions!.list();
    expect(session!.state).toBe('running');
    expect(server.driver!.list().filter((sandbox) => sandbox.status === 'running')).toEqual([{ id: session!.sandboxId, status: 'running' }]);

    // A tab that joins now sees the session as it is: one ready, for the current sandbox.
    const tab = await connectClient(server.baseUrl, owner.cookie);
    start(tab, owner.projectId);
    await tab.next((message) => message.type === 'session:joined');
    const readies = tab.messages.filter((message) => message.type === 'session:ready');
    expect(readies).toHaveLength(1);
    expect(new URL(readies[0].previewUrl).pathname).toBe(`/s/${session!.sandboxId}/`);
    await tab.close();
    await client.close();
  });

  it('a socket that closes right after session:start leaves a session that ends after its grace', async () => {
    const owner = await server.signupWithProject('Gone at once');
    const client = await connectClient(server.baseUrl, owner.cookie);
    start(client, owner.projectId);
    client.socket.terminate();
    const deadline = Date.now() + 20_000;
    while (server.sessions!.list().some((session) => session.projectId === owner.projectId) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(server.sessions!.list().filter((session) => session.projectId === owner.projectId)).toEqual([]);
  });

  it('refuses a session beyond the per-user limit, with a typed error', async () => {
    const owner = await server.signup();
    const projects = [];
    for (let i = 0; i < 3; i++) {
      projects.push((await server.request('POST', '/api/projects', { cookie: owner.cookie, body: { name: `P${i}` } })).json.project.id);
    }
    const clients = [];
    for (const projectId of projects.slice(0, 2)) {
      const client = await connectClient(server.baseUrl, owner.cookie);
      start(client, projectId);
      await client.next((message) => message.type === 'session:joined');
      clients.push(client);
    }
    const third = await connectClient(server.baseUrl, owner.cookie);
    start(third, projects[2]);
    const refused = await third.next((message) => message.type === 'error');
    expect(refused.code).toBe('too_many_sessions');
    for (const client of [...clients, third]) await client.close();
  });
});

describe('idle sessions', () => {
  it('are ended after the idle time, with the client told why', async () => {
    const server = await startTestServer({ sessions: { graceMs: 60_000, idleMs: 1_500, poolSize: 0 } });
    try {
      const owner = await server.signupWithProject('Idle');
      const client = await connectClient(server.baseUrl, owner.cookie);
      client.send({ type: 'session:start', projectId: owner.projectId, protocolVersion: PROTOCOL_VERSION });
      const ready = await client.next((message) => message.type === 'session:ready');
      const ended = await client.next((message) => message.type === 'session:ended', 15_000);
      expect(ended.reason).toMatch(/without activity/);
      expect(ended.seq).toBeGreaterThan(ready.seq);
      expect(server.sessions!.list()).toEqual([]);
      await client.close();
    } finally {
      await server.close();
    }
  });
});

describe('deleting a project', () => {
  it('ends its session: the tab is told, the preview and the sandbox are gone, and chat answers a typed error', async () => {
    // A configured provider: a message to a live session of a deleted project used to fail in the database (`internal`).
    const server = await startTestServer({
      environment: { ANTHROPIC_BASE_URL: 'http://127.0.0.1:9', ANTHROPIC_API_KEY: 'sk-unused' },
      sessions: { graceMs: 30_000, poolSize: 0 },
    });
    try {
      const owner = await server.signupWithProject('Doomed');
      const client = await connectClient(server.baseUrl, owner.cookie);
      const start = () => client.send({ type: 'session:start', projectId: owner.projectId, protocolVersion: PROTOCOL_VERSION });
      start();
      const ready = await client.next((message) => message.type === 'session:ready');
      const { pid } = server.sessions!.list()[0]!;
      expect((await fetch(ready.previewUrl)).status).toBe(200);

      const deleted = await server.request('DELETE', `/api/projects/${owner.projectId}`, { cookie: owner.cookie });
      expect(deleted.status).toBeLessThan(300);
      const ended = await client.next((message) => message.type === 'session:ended');
      expect(ended).toMatchObject({ sessionId: ready.sessionId, reason: 'This project was deleted.' });
      expect(server.sessions!.list()).toEqual([]);
      expect([403, 404]).toContain((await fetch(ready.previewUrl)).status);
      await waitFor(() => !isAlive(pid!));

      client.send({ type: 'message:send', text: 'Are you still there?', clientMessageId: 'after-delete' });
      const refused = await client.next((message) => message.type === 'error' && message.clientMessageId === 'after-delete');
      expect(refused.code).toBe('no_session');
      expect(refused.message).toMatch(/deleted/);
      start();
      expect(await client.next((message) => message.type === 'error' && message.code !== 'no_session')).toMatchObject({ code: 'not_found' });
      await client.close();
    } finally {
      await server.close();
    }
  });
});
