import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { PROTOCOL_VERSION } from '@cutroom/protocol';
import { type Scenario, type ScriptedModelServer, startScriptedModelServer } from '@cutroom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git } from '../repos/git.js';
import { waitFor } from '../testing/processes.js';
import { type TestServer, startTestServer } from '../testing/test-server.js';
import { type TestClient, connectClient } from '../testing/ws-client.js';

const REAL_KEY = 'sk-ant-test-real-key-7f3a9c1e5b';
const TITLE_FILE = 'src/scenes/TitleScene.tsx';
const ORIGINAL_TITLE = 'Your video starts here';

const scenario = (outside: string): Scenario => ({
  rules: [
    {
      match: 'title say Hello',
      steps: [
        { text: 'Let me look at the title scene.', tools: [{ tool: 'read', path: TITLE_FILE }] },
        { tools: [{ tool: 'edit', path: TITLE_FILE, old: ORIGINAL_TITLE, new: 'Hello from the agent' }] },
        { text: 'The title now says "Hello from the agent".' },
      ],
    },
    {
      match: 'slowly',
      steps: [{ text: 'One. Two. Three. Four. Five. Six. Seven. Eight. Nine. Ten. Eleven. Twelve.', delayMs: 400 }],
    },
    { match: 'escape', steps: [{ tools: [{ tool: 'write', path: outside, content: 'escaped' }] }, { text: 'I could not write there.' }] },
    { match: 'remember', steps: [{ text: 'Yes, I remember.' }] },
  ],
  fallback: [{ text: 'Done.' }],
});

/**
 * The chat end to end on the server: the real Claude Agent SDK in a real sandbox,
 * reaching the scripted model server only through the server's model proxy.
 */
describe('chat with the agent', () => {
  let model: ScriptedModelServer;
  let server: TestServer;
  let owner: { cookie: string; projectId: string; user: { id: string } };
  let client: TestClient;
  let outside: string;
  let counter = 0;

  const start = (target: TestClient, resume: { lastSeq: number; sessionId: string } | Record<string, never> = {}) =>
    target.send({ type: 'session:start', projectId: owner.projectId, protocolVersion: PROTOCOL_VERSION, ...resume });
  const say = (target: TestClient, text: string, extra: Record<string, unknown> = {}) => {
    const clientMessageId = `c${++counter}`;
    target.send({ type: 'message:send', text, clientMessageId, ...extra });
    return clientMessageId;
  };
  /** Waits for the turn of the user message sent as `clientMessageId` to complete. */
  const turnOf = async (target: TestClient, clientMessageId: string) => {
    const saved = await target.next((message) => message.type === 'message:saved' && message.clientMessageId === clientMessageId);
    const turn = await target.next((message) => message.type === 'agent:turn' && message.userMessageId === saved.message.id);
    const complete = await target.next((message) => message.type === 'agent:complete' && message.turnId === turn.turnId);
    return { saved, turn, complete, events: target.messages.filter((message) => message.turnId === turn.turnId) };
  };

  beforeAll(async () => {
    model = await startScriptedModelServer({ scenario: { rules: [] }, requireApiKey: REAL_KEY });
    server = await startTestServer({
      environment: { ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: REAL_KEY },
      sessions: { graceMs: 1_000, poolSize: 1 },
    });
    outside = path.join(server.dataDir, '..', `cutroom-escape-${Date.now()}.txt`);
    model.setScenario(scenario(outside));
    owner = await server.signupWithProject('Chat');
    client = await connectClient(server.baseUrl, owner.cookie);
    start(client);
    await client.next((message) => message.type === 'session:ready');
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
    await model?.close();
  });

  it('runs a turn: the message is saved first, text and edits stream, the turn becomes a version', async () => {
    const id = say(client, 'Make the title say Hello');
    const { saved, complete, events } = await turnOf(client, id);
    expect(saved.message).toMatchObject({ role: 'user', content: 'Make the title say Hello', autoFix: false });

    const text = events.filter((m) => m.type === 'agent:message' && m.event.kind === 'text').map((m) => m.event.delta).join('');
    expect(text).toContain('Let me look at the title scene.');
    expect(text).toContain('Hello from the agent');
    const actions = events.filter((m) => m.type === 'agent:message' && m.event.kind === 'action').map((m) => m.event.action);
    expect(actions.map((action) => [action.tool, action.path, action.status])).toEqual([
      ['read', TITLE_FILE, 'running'],
      ['read', TITLE_FILE, 'done'],
      ['edit', TITLE_FILE, 'running'],
      ['edit', TITLE_FILE, 'done'],
    ]);
    expect(actions[3].diff).toContain(`-  title = '${ORIGINAL_TITLE}',`);
    expect(actions[3].diff).toContain("+  title = 'Hello from the agent',");

    expect(complete).toMatchObject({ status: 'done', newVersion: true });
    const show = await git(['--git-dir', server.repos.repoPath(owner.projectId), 'show', `${complete.version}:${TITLE_FILE}`]);
    expect(show).toContain('Hello from the agent');

    // Saved: both messages, the project's version and the agent's conversation id.
    const { json } = await server.request('GET', `/api/projects/${owner.projectId}`, { cookie: owner.cookie });
    expect(json.project.currentVersion).toBe(complete.version);
    expect(json.project.agentSessionId).toMatch(/^[0-9a-f-]{36}$/);
    const [user, assistant] = json.messages.slice(-2);
    expect(user.id).toBe(saved.message.id);
    expect(assistant).toMatchObject({ id: complete.messageId, role: 'assistant', status: 'done', version: complete.version });
    expect(assistant.content).toContain('Hello from the agent');
    expect(assistant.actions.map((action: { tool: string; status: string }) => `${action.tool}:${action.status}`)).toEqual(['read:done', 'edit:done']);
  });

  it('reaches the model only through the proxy, which adds the key; the key is nowhere in the sandbox', async () => {
    expect(model.requests.length).toBeGreaterThan(0);
    expect(model.requests.every((request) => request.headers['x-api-key'] === REAL_KEY)).toBe(true);
    const [session] = server.sessions!.list();
    const pids = [session!.pid!, ...descendants(session!.pid!)];
    expect(pids.length).toBeGreaterThan(1); // the runtime and the agent's process
    for (const pid of pids) {
      const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
      expect(environ).not.toContain(REAL_KEY);
    }
    const sandboxDir = path.join(server.dataDir, 'sandboxes', session!.sandboxId!);
    for (const file of await filesUnder(sandboxDir)) {
      const content = await readFile(file).catch(() => Buffer.alloc(0));
      expect(content.includes(REAL_KEY), file).toBe(false);
    }
  });

  it('queues a message sent while a turn runs, and runs it next', async () => {
    const first = say(client, 'Count slowly');
    const second = say(client, 'Anything else?');
    const queued = await client.next((message) => message.type === 'message:saved' && message.clientMessageId === second);
    expect(queued.queued).toBe(true);
    const a = await turnOf(client, first);
    const b = await turnOf(client, second);
    expect(b.turn.seq).toBeGreaterThan(a.complete.seq);
    expect(b.complete.status).toBe('done');
  });

  it('cancels a running turn; the agent takes the next one', async () => {
    const id = say(client, 'Count slowly again');
    const saved = await client.next((message) => message.type === 'message:saved' && message.clientMessageId === id);
    const turn = await client.next((message) => message.type === 'agent:turn' && message.userMessageId === saved.message.id);
    await client.next((message) => message.type === 'agent:message' && message.turnId === turn.turnId);
    client.send({ type: 'message:cancel' });
    const complete = await client.next((message) => message.type === 'agent:complete' && message.turnId === turn.turnId);
    expect(complete.status).toBe('cancelled');
    const next = await turnOf(client, say(client, 'Are you there?'));
    expect(next.complete.status).toBe('done');
  });

  it('refuses a write outside the working copy; the turn goes on', async () => {
    const { events, complete } = await turnOf(client, say(client, 'Try to escape'));
    const write = events.filter((m) => m.type === 'agent:message' && m.event.kind === 'action').map((m) => m.event.action);
    expect(write.at(-1)).toMatchObject({ tool: 'write', status: 'failed' });
    expect(write.at(-1).error).toMatch(/outside/);
    expect(existsSync(outside)).toBe(false);
    expect(complete.status).toBe('done');
  });

  it('replays exactly what a dropped connection missed in the middle of a turn', async () => {
    const id = say(client, 'Count slowly once more');
    const saved = await client.next((message) => message.type === 'message:saved' && message.clientMessageId === id);
    const turn = await client.next((message) => message.type === 'agent:turn' && message.userMessageId === saved.message.id);
    await client.next((message) => message.type === 'agent:message' && message.turnId === turn.turnId);
    const before = client.messages.filter((message) => typeof message.seq === 'number');
    const lastSeq = Math.max(...before.map((message) => message.seq));
    client.socket.terminate();

    client = await connectClient(server.baseUrl, owner.cookie);
    start(client, { lastSeq, sessionId: turn.sessionId });
    await client.next((message) => message.type === 'agent:complete' && message.turnId === turn.turnId);
    expect(client.messages.find((message) => message.type === 'session:joined')).toMatchObject({ replay: 'events' });
    const after = client.messages.filter((message) => typeof message.seq === 'number');
    const seqs = [...before, ...after].map((message) => message.seq);
    expect(new Set(seqs).size).toBe(seqs.length); // nothing twice
    expect(after[0].seq).toBe(lastSeq + 1); // nothing lost
    const text = [...before, ...after]
      .filter((message) => message.type === 'agent:message' && message.turnId === turn.turnId && message.event.kind === 'text')
      .map((message) => message.event.delta)
      .join('');
    expect(text).toBe('One. Two. Three. Four. Five. Six. Seven. Eight. Nine. Ten. Eleven. Twelve.');
  });

  it('resumes the conversation in the next session of the project', async () => {
    client.send({ type: 'session:end' });
    await client.close();
    await waitFor(async () => server.sessions!.list().length === 0, 20_000);
    const earlier = model.requests.length;

    client = await connectClient(server.baseUrl, owner.cookie);
    start(client);
    await client.next((message) => message.type === 'session:ready');
    const { complete } = await turnOf(client, say(client, 'Do you remember the title?'));
    expect(complete.status).toBe('done');
    const request = model.requests.slice(earlier).find((entry) => entry.userText.includes('remember'));
    expect(JSON.stringify(request!.body)).toContain('Make the title say Hello');
  });

  it('saves a turn whose sandbox dies as failed, keeping the user\'s message', async () => {
    const id = say(client, 'Count slowly, then die');
    const saved = await client.next((message) => message.type === 'message:saved' && message.clientMessageId === id);
    const turn = await client.next((message) => message.type === 'agent:turn' && message.userMessageId === saved.message.id);
    await client.next((message) => message.type === 'agent:message' && message.turnId === turn.turnId);
    const [session] = server.sessions!.list();
    const agentPids = descendants(session!.pid!);
    process.kill(session!.pid!, 'SIGKILL');
    const complete = await client.next((message) => message.type === 'agent:complete' && message.turnId === turn.turnId);
    expect(complete.status).toBe('failed');
    const { json } = await server.request('GET', `/api/projects/${owner.projectId}/messages`, { cookie: owner.cookie });
    expect(json.messages.some((message: { id: string }) => message.id === saved.message.id)).toBe(true);
    expect(json.messages.find((message: { id: string }) => message.id === complete.messageId)).toMatchObject({ status: 'failed' });
    // The agent died with its runtime.
    await waitFor(async () => agentPids.every((pid) => !existsSync(`/proc/${pid}`)), 5_000);
  });

  it('answers every saved message: one an earlier life left, one queued while booting, one queued while in error', async () => {
    client.send({ type: 'session:end' });
    await client.close();
    await waitFor(async () => server.sessions!.list().length === 0, 20_000);
    // An earlier server life saved this message and died before any sandbox of it was known.
    const left = await server.store.messages.add({ id: crypto.randomUUID(), projectId: owner.projectId, role: 'user', content: 'Left by a crash' });

    client = await connectClient(server.baseUrl, owner.cookie);
    start(client);
    const booting = say(client, 'Count slowly while it boots');
    const behind = say(client, 'Anything after the boot?');
    const first = await client.next((message) => message.type === 'message:saved' && message.clientMessageId === booting);
    expect(first.queued).toBe(true);
    const turn = await client.next((message) => message.type === 'agent:turn' && message.userMessageId === first.message.id);
    await client.next((message) => message.type === 'agent:message' && message.turnId === turn.turnId);
    process.kill(server.sessions!.list()[0]!.pid!, 'SIGKILL');
    await client.next((message) => message.type === 'agent:complete' && message.turnId === turn.turnId);
    await client.next((message) => message.type === 'session:status' && message.state === 'error');
    const inError = say(client, 'Queued while in error');
    await client.next((message) => message.type === 'message:saved' && message.clientMessageId === inError);
    // Everyone leaves the failed session: it ends after its grace, with two messages still waiting.
    client.send({ type: 'session:end' });
    await waitFor(async () => server.sessions!.list().length === 0, 20_000);
    await client.close();

    const { json } = await server.request('GET', `/api/projects/${owner.projectId}/messages`, { cookie: owner.cookie });
    const messages: { id: string; role: string; content: string; status: string }[] = json.messages;
    const sent = [left.id, ...[booting, behind, inError].map((id) => client.messages.find((m) => m.type === 'message:saved' && m.clientMessageId === id).message.id)];
    // Turns answer in order: each user message is followed, in turn, by exactly one reply.
    const replies: Record<string, { content: string; status: string }> = {};
    const waiting: string[] = [];
    for (const message of messages) {
      if (message.role === 'user') waiting.push(message.id);
      else if (message.role === 'assistant') replies[waiting.shift()!] = message;
    }
    expect(waiting).toEqual([]);
    expect(replies[sent[0]!]).toMatchObject({ status: 'failed' });
    expect(replies[sent[0]!]!.content).toContain('Left by a crash');
    expect(replies[sent[1]!]).toMatchObject({ status: 'failed' });
    expect(replies[sent[1]!]!.content).toMatch(/sandbox stopped/);
    expect(replies[sent[2]!]).toMatchObject({ status: 'cancelled' });
    expect(replies[sent[2]!]!.content).toMatch(/Not answered: the session ended before the agent got to “Anything after the boot\?” \(The session ended after everyone left\)/);
    expect(replies[sent[3]!]).toMatchObject({ status: 'cancelled' });
    expect(replies[sent[3]!]!.content).toContain('Queued while in error');
  });
});

describe('chat with the AI SDK runner on an OpenAI-compatible endpoint', () => {
  it('edits, is refused outside the project, commits, and keeps its conversation for the next session', async () => {
    const model = await startScriptedModelServer({ scenario: scenario('/etc/cutroom-escape'), requireApiKey: 'sk-openai-real' });
    const server = await startTestServer({
      environment: { AGENT_RUNNER: 'ai-sdk', OPENAI_BASE_URL: `${model.url}/v1`, OPENAI_API_KEY: 'sk-openai-real', MODEL: 'scripted' },
      sessions: { graceMs: 500, poolSize: 0 },
    });
    try {
      const owner = await server.signupWithProject('AI SDK');
      const open = async () => {
        const client = await connectClient(server.baseUrl, owner.cookie);
        client.send({ type: 'session:start', projectId: owner.projectId, protocolVersion: PROTOCOL_VERSION });
        await client.next((message) => message.type === 'session:ready');
        return client;
      };
      const run = async (client: TestClient, text: string) => {
        client.send({ type: 'message:send', text, clientMessageId: text });
        const saved = await client.next((message) => message.type === 'message:saved' && message.clientMessageId === text);
        const turn = await client.next((message) => message.type === 'agent:turn' && message.userMessageId === saved.message.id);
        const complete = await client.next((message) => message.type === 'agent:complete' && message.turnId === turn.turnId);
        const actions = client.messages.filter((m) => m.turnId === turn.turnId && m.type === 'agent:message' && m.event.kind === 'action');
        return { complete, actions: actions.map((m) => m.event.action) };
      };
      let client = await open();
      const edit = await run(client, 'Make the title say Hello');
      expect(edit.complete).toMatchObject({ status: 'done', newVersion: true });
      expect(edit.actions.filter((action) => action.status === 'done').map((action) => action.name)).toEqual(['read_file', 'edit_file']);
      expect(model.requests.every((request) => request.wire === 'openai' && request.headers.authorization === 'Bearer sk-openai-real')).toBe(true);
      const escape = await run(client, 'Try to escape');
      expect(escape.actions.at(-1)).toMatchObject({ name: 'write_file', status: 'failed' });

      client.send({ type: 'session:end' });
      await client.close();
      await waitFor(async () => server.sessions!.list().length === 0, 20_000);
      client = await open();
      const before = model.requests.length;
      await run(client, 'Do you remember?');
      const request = model.requests.slice(before).find((entry) => entry.userText.includes('remember'));
      expect(JSON.stringify(request!.body)).toContain('Make the title say Hello');
      await client.close();
    } finally {
      await server.close();
      await model.close();
    }
  });
});

describe('chat without a model provider', () => {
  it('says exactly how to configure one, and saves nothing', async () => {
    const server = await startTestServer({ sessions: { graceMs: 500 } });
    try {
      const owner = await server.signupWithProject('No provider');
      const health = await server.request('GET', '/api/health');
      expect(health.json.agent).toMatchObject({ configured: false, message: expect.stringContaining('ANTHROPIC_API_KEY') });
      const client = await connectClient(server.baseUrl, owner.cookie);
      client.send({ type: 'session:start', projectId: owner.projectId, protocolVersion: PROTOCOL_VERSION });
      await client.next((message) => message.type === 'session:joined');
      client.send({ type: 'message:send', text: 'Hello', clientMessageId: 'x1' });
      const error = await client.next((message) => message.type === 'error' && message.clientMessageId === 'x1');
      expect(error.code).toBe('agent_unavailable');
      expect(error.message).toContain('OPENAI_BASE_URL');
      const { json } = await server.request('GET', `/api/projects/${owner.projectId}/messages`, { cookie: owner.cookie });
      expect(json.messages).toEqual([]);
      await client.close();
    } finally {
      await server.close();
    }
  });
});

/** Every process below `pid` (from /proc's parent links). */
function descendants(pid: number): number[] {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  const children = new Map<number, number[]>();
  for (const line of out.trim().split('\n')) {
    const [child, parent] = line.trim().split(/\s+/).map(Number);
    children.set(parent!, [...(children.get(parent!) ?? []), child!]);
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const child of children.get(parent) ?? []) {
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}
