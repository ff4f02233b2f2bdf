import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type AgentEvent, AgentEvent as AgentEventSchema } from '@cutroom/protocol';
import { type ScriptedModelServer, startScriptedModelServer } from '@cutroom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClaudeRunner } from './claude-runner.js';
import type { AgentRunner } from './runner.js';

/**
 * Four times the per-file cap of the test's runner (64 KiB). Not megabytes: a refused
 * write stays in Claude Code's conversation, and one over its context window makes it
 * compact (slowly, against a scripted model) — the cap is what is under test.
 */
const HUGE_BYTES = 256 * 1024;
const FILE_CAP = 64 * 1024;

/** The real Claude Agent SDK against the scripted model server. */
describe('Claude Agent SDK runner', () => {
  let dir: string;
  let workspace: string;
  let model: ScriptedModelServer;
  let runner: AgentRunner;
  const secret = () => path.join(dir, 'secret.txt');

  const turn = async (prompt: string) => {
    const events: AgentEvent[] = [];
    const result = await runner.turn(prompt, (event) => {
      expect(AgentEventSchema.safeParse(event).success).toBe(true);
      events.push(event);
    });
    const actions = events.flatMap((event) => (event.kind === 'action' ? [event.action] : []));
    const text = events.flatMap((event) => (event.kind === 'text' ? [event.delta] : [])).join('');
    return { result, actions, text };
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'claude-runner-'));
    workspace = path.join(dir, 'work');
    await mkdir(path.join(workspace, 'src'), { recursive: true });
    await writeFile(path.join(workspace, 'src', 'Title.tsx'), "export const title = 'Old';\n");
    await writeFile(secret(), 'secret');
    await symlink(dir, path.join(workspace, 'src', 'up'));
    model = await startScriptedModelServer({
      scenario: {
        rules: [
          {
            match: 'rename',
            steps: [
              { text: 'Reading. ', tools: [{ tool: 'read', path: 'src/Title.tsx' }] },
              { tools: [{ tool: 'edit', path: 'src/Title.tsx', old: "'Old'", new: "'New'" }, { tool: 'write', path: 'src/Extra.ts', content: 'export {};\n' }] },
              { text: 'Renamed.' },
            ],
          },
          {
            match: 'escape',
            steps: [
              {
                tools: [
                  { tool: 'write', path: path.join(dir, 'escaped.txt'), content: 'x' },
                  { tool: 'write', path: '{{cwd}}/../escaped2.txt', content: 'x' },
                  { tool: 'write', path: 'src/up/escaped3.txt', content: 'x' },
                  { tool: 'read', path: 'src/up/secret.txt' },
                  { name: 'Bash', input: { command: `touch ${path.join(dir, 'shell-ran')}` } },
                ],
              },
              { text: 'All refused.' },
            ],
          },
          {
            match: 'huge',
            steps: [
              { tools: [{ tool: 'write', path: 'src/Huge.ts', content: 'x', repeat: HUGE_BYTES }] },
              { text: 'That was too big.' },
            ],
          },
          {
            match: 'many',
            steps: [
              {
                tools: [
                  { tool: 'write', path: 'src/Many1.ts', content: 'a', repeat: 40_000 },
                  { tool: 'write', path: 'src/Many2.ts', content: 'b', repeat: 40_000 },
                  { tool: 'write', path: 'src/Many3.ts', content: 'c', repeat: 40_000 },
                ],
              },
              { text: 'Wrote what I could.' },
            ],
          },
          { match: 'slow', steps: [{ text: 'a b c d e f g h i j k l m n o p', delayMs: 300 }] },
          { match: '^Now break$', steps: [{ error: { status: 500, message: 'the model broke' } }] },
        ],
        fallback: [{ text: 'Fine.' }],
      },
    });
    runner = createClaudeRunner({ workspace, stateDir: path.join(dir, 'state'), endpoint: { wire: 'anthropic', baseUrl: model.url } });
    await runner.start();
  });
  afterAll(async () => {
    await runner?.close();
    await model?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('streams text and file actions with diffs, and edits the working copy', async () => {
    const { result, actions, text } = await turn('Please rename the title');
    expect(result).toEqual({ status: 'done' });
    expect(text).toBe('Reading. Renamed.');
    const done = actions.filter((action) => action.status !== 'running');
    expect(done.map((action) => [action.tool, action.path, action.status])).toEqual([
      ['read', 'src/Title.tsx', 'done'],
      ['edit', 'src/Title.tsx', 'done'],
      ['write', 'src/Extra.ts', 'done'],
    ]);
    expect(done[1]!.diff).toContain("-export const title = 'Old';");
    expect(done[1]!.diff).toContain("+export const title = 'New';");
    expect(done[2]!.diff).toContain('--- /dev/null');
    expect(await readFile(path.join(workspace, 'src', 'Title.tsx'), 'utf8')).toBe("export const title = 'New';\n");
    expect(runner.sessionId()).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses every file tool call that leaves the working copy, and the turn goes on', async () => {
    const { result, actions } = await turn('Try to escape');
    expect(result.status).toBe('done');
    const failed = actions.filter((action) => action.status === 'failed');
    expect(failed).toHaveLength(5);
    for (const action of failed.filter((call) => call.name !== 'Bash')) expect(action.error).toMatch(/outside the project folder/);
    // No shell unless AGENT_SHELL is set.
    expect(failed.find((call) => call.name === 'Bash')).toBeDefined();
    expect(existsSync(path.join(dir, 'shell-ran'))).toBe(false);
    expect(existsSync(path.join(dir, 'escaped.txt'))).toBe(false);
    expect(existsSync(path.join(dir, 'escaped2.txt'))).toBe(false);
  });

  it('refuses a write over the per-file cap before anything is written, and the agent goes on', async () => {
    const own = createClaudeRunner({
      workspace,
      stateDir: path.join(dir, 'state-huge'),
      endpoint: { wire: 'anthropic', baseUrl: model.url },
      limits: { maxFileBytes: FILE_CAP },
    });
    try {
      const before = model.requests.length;
      const events: AgentEvent[] = [];
      expect(await own.turn('Write something huge', (event) => events.push(event))).toEqual({ status: 'done' });
      const write = events.find((event) => event.kind === 'action' && event.action.name === 'Write' && event.action.status !== 'running');
      expect(write).toMatchObject({ action: { path: 'src/Huge.ts', status: 'failed', error: expect.stringMatching(/256\.0 KiB; one file may be at most 64\.0 KiB/) } });
      expect(existsSync(path.join(workspace, 'src', 'Huge.ts'))).toBe(false);
      // The refusal is what the model heard as the tool's result.
      expect(model.requests.slice(before).some((request) => JSON.stringify(request.body).includes('one file may be at most 64.0 KiB'))).toBe(true);
      expect(await own.turn('Hello after that', () => {})).toEqual({ status: 'done' });
    } finally {
      await own.close();
    }
  });

  it('refuses writes past the turn\'s budget, and starts the next turn with a fresh one', async () => {
    const limited = createClaudeRunner({
      workspace,
      stateDir: path.join(dir, 'state-limited'),
      endpoint: { wire: 'anthropic', baseUrl: model.url },
      limits: { maxTurnBytes: 100_000 },
    });
    try {
      const events: AgentEvent[] = [];
      expect(await limited.turn('Write many files', (event) => events.push(event))).toEqual({ status: 'done' });
      const finished = events.flatMap((event) => (event.kind === 'action' && event.action.status !== 'running' ? [event.action] : []));
      expect(finished.map((action) => [action.path, action.status])).toEqual([
        ['src/Many1.ts', 'done'],
        ['src/Many2.ts', 'done'],
        ['src/Many3.ts', 'failed'],
      ]);
      expect(finished[2]!.error).toMatch(/this turn has written 78\.1 KiB already/);
      expect(existsSync(path.join(workspace, 'src', 'Many3.ts'))).toBe(false);
      // A new turn, a new budget.
      const again: AgentEvent[] = [];
      expect(await limited.turn('Write many files again', (event) => again.push(event))).toEqual({ status: 'done' });
      expect(again.some((event) => event.kind === 'action' && event.action.path === 'src/Many1.ts' && event.action.status === 'done')).toBe(true);
    } finally {
      await limited.close();
    }
  });

  it('cancels a turn, and the same agent takes the next one', async () => {
    const running = turn('Count slow');
    await new Promise((resolve) => setTimeout(resolve, 700));
    runner.cancel();
    expect((await running).result.status).toBe('cancelled');
    expect((await turn('Hello again')).result).toEqual({ status: 'done' });
  });

  it('fails a turn on a provider error, then goes on with the same conversation', async () => {
    const id = runner.sessionId();
    const broken = await turn('Now break');
    expect(broken.result.status).toBe('failed');
    expect(broken.result.error).toContain('the model broke');
    const before = model.requests.length;
    expect((await turn('Still there?')).result).toEqual({ status: 'done' });
    expect(runner.sessionId()).toBe(id);
    expect(JSON.stringify(model.requests.slice(before).at(-1)!.body)).toContain('Please rename the title');
  });

  it('runs a shell only when configured (AGENT_SHELL)', async () => {
    model.setScenario({
      rules: [{ match: 'shell', steps: [{ tools: [{ name: 'Bash', input: { command: 'echo ran > src/shell.txt' } }] }, { text: 'Ran it.' }] }],
    });
    const shellRunner = createClaudeRunner({ workspace, stateDir: path.join(dir, 'state-shell'), endpoint: { wire: 'anthropic', baseUrl: model.url }, shell: true });
    try {
      const result = await shellRunner.turn('Use the shell', () => {});
      expect(result.status).toBe('done');
      expect(await readFile(path.join(workspace, 'src', 'shell.txt'), 'utf8')).toBe('ran\n');
    } finally {
      await shellRunner.close();
    }
  });
});
