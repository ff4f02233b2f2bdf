import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PROTOCOL_VERSION } from '@cutroom/protocol';
import { type Scenario, type ScriptedModelServer, startScriptedModelServer } from '@cutroom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../e2e/harness.js';
import { type Socket, callApi, newProject, openSocket, signUp } from './attacker.js';

const TITLE_FILE = 'src/scenes/TitleScene.tsx';

const scenario: Scenario = {
  rules: [
    {
      // An edit, then a reply slow enough to crash the server in the middle of it.
      match: 'title, then talk slowly',
      steps: [
        { tools: [{ tool: 'edit', path: TITLE_FILE, old: 'Your video starts here', new: 'Written before the crash' }] },
        { text: 'One. Two. Three. Four. Five. Six. Seven. Eight. Nine. Ten.', delayMs: 3_000 },
      ],
    },
  ],
  fallback: [{ text: 'Done.' }],
};

/**
 * Sessions as an attacker and a fault tester use them (issue 9, items 4, 5, 11, 17): a
 * deleted project's session and preview, another user's session id in a reconnect, and
 * a server killed in the middle of a turn.
 */
describe('sessions under attack and faults', () => {
  let model: ScriptedModelServer;
  let server: RunningServer;

  const signup = async () => (await signUp(server, { email: `s-${randomBytes(4).toString('hex')}@example.com`, name: 'Sessions' })).cookie;
  /** A `/ws` client whose waits time out after a minute. */
  const connect = (cookie: string) => openSocket(server, cookie, { waitMs: 60_000 });
  const start = (client: Socket, projectId: string, resume: object = {}) =>
    client.send({ type: 'session:start', projectId, protocolVersion: PROTOCOL_VERSION, ...resume });
  const sandboxPid = async (previewUrl: string) => {
    const sandboxId = new URL(previewUrl).pathname.split('/')[2]!;
    return { sandboxId, pid: (JSON.parse(await readFile(path.join(server.dataDir, 'sandboxes', sandboxId, 'sandbox.json'), 'utf8')) as { pid: number }).pid };
  };
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const until = async (check: () => boolean, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error('condition not reached in time');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  beforeAll(async () => {
    model = await startScriptedModelServer({ scenario });
    server = await startServer({ ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: 'scripted', SESSION_POOL_SIZE: '0', SESSION_GRACE_MS: '30000' });
  });
  afterAll(async () => {
    await server?.stop();
    await model?.close();
  });

  it("a deleted project's session ends at once: its preview is gone, its sandbox too, and chat gets a typed error", async () => {
    const cookie = await signup();
    const projectId = await newProject(server, cookie, 'Deleted while open');
    const client = await connect(cookie);
    start(client, projectId);
    const ready = await client.waitFor((message) => message.type === 'session:ready');
    const { sandboxId, pid } = await sandboxPid(ready.previewUrl);
    expect((await fetch(ready.previewUrl)).status).toBe(200);

    expect((await callApi(server, 'DELETE', `/api/projects/${projectId}`, { cookie })).status).toBeLessThan(300);
    const ended = await client.waitFor((message) => message.type === 'session:ended');
    expect(ended.reason).toMatch(/deleted/);
    // The preview link (and the path without it) serve nothing any more.
    for (const url of [ready.previewUrl, ready.previewUrl.split('?')[0]!, `${ready.previewUrl.split('?')[0]!}src/index.ts`]) {
      expect([403, 404]).toContain((await fetch(url)).status);
    }
    await until(() => !alive(pid));
    await until(() => !existsSync(path.join(server.dataDir, 'sandboxes', sandboxId)));

    client.send({ type: 'message:send', text: 'Still there?', clientMessageId: 'late' });
    const refused = await client.waitFor((message) => message.type === 'error' && message.clientMessageId === 'late');
    expect(refused.code).toBe('no_session');
    start(client, projectId);
    expect(await client.waitFor((message) => message.type === 'error' && message.clientMessageId === undefined)).toMatchObject({ code: 'not_found' });
    client.close();
  });

  it("a reconnect that names another user's session and lastSeq 0 gets its own session's snapshot, nothing of the other", async () => {
    const victimCookie = await signup();
    const victim = await connect(victimCookie);
    start(victim, await newProject(server, victimCookie, 'Victim'));
    const victimReady = await victim.waitFor((message) => message.type === 'session:ready');

    const attackerCookie = await signup();
    const attacker = await connect(attackerCookie);
    start(attacker, await newProject(server, attackerCookie, 'Attacker'), { sessionId: victimReady.sessionId, lastSeq: 0 });
    const joined = await attacker.waitFor((message) => message.type === 'session:joined');
    expect(joined.sessionId).not.toBe(victimReady.sessionId);
    expect(joined.replay).toBe('snapshot');
    expect(attacker.messages.every((message) => message.sessionId === undefined || message.sessionId === joined.sessionId)).toBe(true);
    for (const client of [victim, attacker]) {
      client.send({ type: 'session:end' });
      client.close();
    }
  });

  it('a server killed mid-turn: the reconnect gets a snapshot of the new life, and the chat its reply, naming the version saved', async () => {
    const cookie = await signup();
    const projectId = await newProject(server, cookie, 'Crash mid-turn');
    const client = await connect(cookie);
    start(client, projectId);
    await client.waitFor((message) => message.type === 'session:ready', 90_000);
    client.send({ type: 'message:send', text: 'Change the title, then talk slowly', clientMessageId: 'doomed' });
    const saved = await client.waitFor((message) => message.type === 'message:saved' && message.clientMessageId === 'doomed');
    await client.waitFor((message) => message.type === 'agent:message' && message.event.kind === 'action' && message.event.action.status === 'done', 90_000);
    await client.waitFor((message) => message.type === 'agent:message' && message.event.kind === 'text', 30_000);
    const resume = {
      sessionId: saved.sessionId,
      lastSeq: Math.max(...client.messages.filter((message) => typeof message.seq === 'number').map((message) => message.seq)),
    };
    expect(resume.lastSeq).toBeGreaterThan(3);

    const exited = once(server.child, 'exit');
    server.child.kill('SIGKILL');
    await exited;
    client.close();
    await server.restart();

    const back = await connect(cookie);
    start(back, projectId, resume);
    const joined = await back.waitFor((message) => message.type === 'session:joined');
    // A new life: not a replay from a seq this server never gave, but a snapshot that says so.
    expect(joined.sessionId).not.toBe(resume.sessionId);
    expect(joined).toMatchObject({ replay: 'snapshot', lastSeq: 1 });
    const beforeJoined = back.messages.slice(0, back.messages.indexOf(joined));
    expect(beforeJoined.map((message) => message.seq)).toEqual([1]);
    // What the client reloads on a snapshot: the turn's reply, naming the version its work was saved as.
    const { json: project } = await callApi(server, 'GET', `/api/projects/${projectId}`, { cookie });
    const version: string = project.project.currentVersion;
    const reply = project.messages.at(-1);
    expect(project.messages.at(-2).id).toBe(saved.message.id);
    expect(reply).toMatchObject({ role: 'assistant', status: 'failed', version });
    expect(reply.content).toContain(`saved as version ${version.slice(0, 7)}`);
    // Later events of the new life carry on from the joined lastSeq, with no gap.
    const ready = await back.waitFor((message) => message.type === 'session:ready', 90_000);
    expect(ready.seq).toBeGreaterThan(1);
    back.send({ type: 'session:end' });
    back.close();
  }, 300_000);
});
