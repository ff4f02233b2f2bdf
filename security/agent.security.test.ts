import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, readdir, readlink } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROTOCOL_VERSION } from '@cutroom/protocol';
import { type Scenario, type ScriptedModelServer, startScriptedModelServer } from '@cutroom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../e2e/harness.js';
import { type Socket, newProject, openSocket, signUp } from './attacker.js';

const execFileAsync = promisify(execFile);

/** The per-file cap the server runs with here: small, so the oversized write is small too (the cap is what is tested). */
const FILE_CAP = 64 * 1024;

const scenario: Scenario = {
  rules: [
    {
      match: 'huge files',
      steps: [
        {
          tools: [
            // Over the cap through the file tool: refused before anything is written.
            { tool: 'write', path: 'src/Huge.ts', content: 'x', repeat: 4 * FILE_CAP },
            // Over the cap through a shell (AGENT_SHELL): written, but never committed.
            { name: 'Bash', input: { command: `head -c ${3 * FILE_CAP} /dev/zero > public/big.bin && echo 'export const ok = 1;' > src/Ok.ts` } },
          ],
        },
        { text: 'Done trying.' },
      ],
    },
  ],
  fallback: [{ text: 'Hello again.' }],
};

/** The agent processes of this server's sandboxes: their pid, uid, sandbox folder and model URL (with the session's token). */
async function agentProcesses(dataDir: string) {
  const found: { pid: number; uid: number; sandboxDir: string; baseUrl: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const environ = await readFile(`/proc/${entry}/environ`, 'utf8').catch(() => '');
    const variables = new Map(environ.split('\0').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
    const baseUrl = variables.get('ANTHROPIC_BASE_URL');
    const configDir = variables.get('CLAUDE_CONFIG_DIR') ?? '';
    const sandboxDir = /^(.*\/sandboxes\/[^/]+)\//.exec(configDir)?.[1];
    if (!baseUrl?.includes('/m/') || !configDir.startsWith(dataDir) || !sandboxDir) continue;
    const status = await readFile(`/proc/${entry}/status`, 'utf8').catch(() => '');
    found.push({ pid: Number(entry), uid: Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1), sandboxDir, baseUrl });
  }
  return found;
}

/**
 * The agent as an attacker drives it (issue 9, items 10 and 12): a tool input far over
 * the size cap, an oversized file left by a shell, and the session's model token copied
 * out of the sandbox and used from another process, and after the session.
 */
describe('the agent and its model token', () => {
  let model: ScriptedModelServer;
  let server: RunningServer;
  let cookie: string;

  const openSession = async (name: string) => {
    const projectId = await newProject(server, cookie, name);
    const client = await openSocket(server, cookie);
    client.send({ type: 'session:start', projectId, protocolVersion: PROTOCOL_VERSION });
    await client.waitFor((message) => message.type === 'session:ready');
    return { projectId, client };
  };
  /** Sends a chat message and waits for its turn's end: the turn's events and its reply. */
  const say = async (client: Socket, text: string) => {
    const clientMessageId = randomBytes(4).toString('hex');
    client.send({ type: 'message:send', text, clientMessageId });
    const saved = await client.waitFor((message) => message.type === 'message:saved' && message.clientMessageId === clientMessageId);
    const turn = await client.waitFor((message) => message.type === 'agent:turn' && message.userMessageId === saved.message.id);
    const complete = await client.waitFor((message) => message.type === 'agent:complete' && message.turnId === turn.turnId, 120_000);
    const reply = await client.waitFor((message) => message.type === 'message:saved' && message.message.id === complete.messageId);
    const actions = client.messages.filter((message) => message.turnId === turn.turnId && message.type === 'agent:message' && message.event.kind === 'action');
    return { complete, reply: reply.message, actions: actions.map((message) => message.event.action) };
  };

  beforeAll(async () => {
    model = await startScriptedModelServer({ scenario });
    server = await startServer({
      ANTHROPIC_BASE_URL: model.url,
      ANTHROPIC_API_KEY: 'scripted',
      AGENT_SHELL: 'true',
      AGENT_MAX_FILE_BYTES: String(FILE_CAP),
      SESSION_POOL_SIZE: '0',
      SESSION_GRACE_MS: '500',
    });
    ({ cookie } = await signUp(server, { email: `a-${randomBytes(4).toString('hex')}@example.com`, name: 'Agent' }));
  });
  afterAll(async () => {
    await server?.stop();
    await model?.close();
  });

  it('an oversized write is refused, an oversized file from a shell stays out of the version, and the session goes on', async () => {
    const { projectId, client } = await openSession('Huge writes');
    const { complete, reply, actions } = await say(client, 'Write huge files');

    const write = actions.find((action) => action.name === 'Write' && action.status !== 'running');
    expect(write).toMatchObject({ path: 'src/Huge.ts', status: 'failed', error: expect.stringMatching(/256\.0 KiB; one file may be at most 64\.0 KiB/) });
    expect(complete).toMatchObject({ status: 'done', newVersion: true });
    const tree = await execFileAsync('git', ['--git-dir', path.join(server.dataDir, 'repos', `${projectId}.git`), 'ls-tree', '-r', '--name-only', complete.version]);
    expect(tree.stdout).toContain('src/Ok.ts');
    expect(tree.stdout).not.toContain('src/Huge.ts');
    expect(tree.stdout).not.toContain('public/big.bin');
    // The reply says what was left out.
    expect(reply.content).toContain(`public/big.bin (${3 * FILE_CAP} bytes)`);

    // The runtime and the session live on: the next turn runs.
    expect((await say(client, 'Anyone there?')).complete.status).toBe('done');
    client.send({ type: 'session:end' });
    client.close();
  });

  it("the session's model token works only on its own sandbox's socket, and not at all once the session has ended", async () => {
    const findAgent = async (except?: string) => {
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 200))) {
        const found = (await agentProcesses(server.dataDir)).find((candidate) => candidate.sandboxDir !== except);
        if (found) return found;
      }
      throw new Error('no agent process appeared');
    };
    const { client } = await openSession('Token theft');
    // The agent's process starts right after the session is ready.
    const agent = await findAgent();
    const tokenPath = new URL(agent.baseUrl).pathname;
    const body = JSON.stringify({ model: 'any', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    const onSocket = (socketPath: string) =>
      new Promise<number>((resolve, reject) => {
        const request = http.request({ socketPath, method: 'POST', path: `${tokenPath}/v1/messages`, headers: { 'content-type': 'application/json' } }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        request.on('error', reject);
        request.end(body);
      });
    const ownSocket = path.join(agent.sandboxDir, 'sock', 'model.sock');

    // The URL the agent was given is a port of the sandbox's own loopback: from outside its
    // network (here, the server's machine) it leads nowhere.
    const network = async (pid: number | 'self') => readlink(`/proc/${pid}/ns/net`).catch(() => null);
    if ((await network(agent.pid)) !== (await network('self'))) {
      await expect(fetch(`${agent.baseUrl}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).rejects.toThrow();
    }
    // On its own sandbox's socket it works…
    expect(await onSocket(ownSocket)).toBe(200);
    // …and on another sandbox's (copied into another project's sandbox) it is refused.
    const other = await openSession('Another sandbox');
    const otherAgent = await findAgent(agent.sandboxDir);
    expect(await onSocket(path.join(otherAgent.sandboxDir, 'sock', 'model.sock'))).toBe(403);
    other.client.close();

    // The tab leaves; the session ends after its grace period (500 ms here): its socket goes, and nothing answers the token.
    client.send({ type: 'session:end' });
    const deadline = Date.now() + 30_000;
    let status = await onSocket(ownSocket).catch(() => 0);
    while (status !== 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await onSocket(ownSocket).catch(() => 0);
    }
    expect(status).toBe(0);
    client.close();
  });
});
