import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { AgentEvent, type ModelEndpoint } from '@cutroom/protocol';
import { startScriptedModelServer } from '@cutroom/testkit';
import type { ModelMessage } from 'ai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { trimConversation } from './ai-sdk-conversation.js';
import { type AiSdkRunnerSettings, createAiSdkRunner } from './ai-sdk-runner.js';
import type { AgentRunner, TurnResult } from './runner.js';

/**
 * The runner against a real `streamText` loop and a tiny scripted model server (OpenAI
 * chat completions and Anthropic messages, both streaming SSE). Each request takes the
 * next reply of the script; the server keeps every request body for the assertions.
 */

type ToolCall = { id: string; name: string; input: unknown };
type Reply =
  | { kind: 'answer'; text?: string; toolCalls?: ToolCall[] }
  /** Sends the text, then never finishes (for cancel). */
  | { kind: 'hang'; text: string }
  | { kind: 'status'; status: number; body: unknown };

type Wire = ModelEndpoint['wire'];

class ScriptedModel {
  readonly requests: { path: string; headers: IncomingMessage['headers']; body: any }[] = [];
  readonly #server: Server;
  #script: Reply[] = [];

  constructor(readonly wire: Wire) {
    this.#server = createServer((request, response) => void this.#handle(request, response));
  }

  async listen(): Promise<ModelEndpoint> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    // Like OPENAI_BASE_URL (with /v1) and ANTHROPIC_BASE_URL (without).
    return this.wire === 'openai'
      ? { wire: 'openai', baseUrl: `http://127.0.0.1:${port}/v1`, model: 'scripted' }
      : { wire: 'anthropic', baseUrl: `http://127.0.0.1:${port}`, model: 'claude-scripted' };
  }

  script(...replies: Reply[]) {
    this.#script.push(...replies);
  }

  async close() {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  async #handle(request: IncomingMessage, response: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    this.requests.push({ path: request.url ?? '', headers: request.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
    const reply = this.#script.shift() ?? { kind: 'status', status: 400, body: { error: { message: 'the script is over' } } };
    if (reply.kind === 'status') {
      response.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
      return;
    }
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const events = this.wire === 'openai' ? openaiEvents(reply) : anthropicEvents(reply);
    for (const event of events) response.write(event);
    if (reply.kind !== 'hang') response.end();
  }
}

/** Splits text in two deltas, so the test sees streaming rather than one piece. */
const halves = (text: string) => [text.slice(0, Math.ceil(text.length / 2)), text.slice(Math.ceil(text.length / 2))].filter(Boolean);

function openaiEvents(reply: Exclude<Reply, { kind: 'status' }>): string[] {
  const chunk = (delta: object, finish: string | null = null) =>
    `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'scripted', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  const events = [chunk({ role: 'assistant', content: '' })];
  for (const piece of halves(reply.text ?? '')) events.push(chunk({ content: piece }));
  if (reply.kind === 'hang') return events;
  (reply.toolCalls ?? []).forEach((call, index) => {
    const args = JSON.stringify(call.input);
    events.push(chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: args.slice(0, 5) } }] }));
    events.push(chunk({ tool_calls: [{ index, function: { arguments: args.slice(5) } }] }));
  });
  events.push(chunk({}, reply.toolCalls?.length ? 'tool_calls' : 'stop'));
  events.push(`data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'scripted', choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } })}\n\n`);
  events.push('data: [DONE]\n\n');
  return events;
}

function anthropicEvents(reply: Exclude<Reply, { kind: 'status' }>): string[] {
  const event = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const events = [
    event('message_start', {
      message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-scripted', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } },
    }),
  ];
  let index = 0;
  if (reply.text) {
    events.push(event('content_block_start', { index, content_block: { type: 'text', text: '' } }));
    for (const piece of halves(reply.text)) events.push(event('content_block_delta', { index, delta: { type: 'text_delta', text: piece } }));
    if (reply.kind === 'hang') return events;
    events.push(event('content_block_stop', { index }));
    index += 1;
  }
  if (reply.kind === 'hang') return events;
  for (const call of reply.toolCalls ?? []) {
    events.push(event('content_block_start', { index, content_block: { type: 'tool_use', id: call.id, name: call.name, input: {} } }));
    events.push(event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(call.input) } }));
    events.push(event('content_block_stop', { index }));
    index += 1;
  }
  events.push(event('message_delta', { delta: { stop_reason: reply.toolCalls?.length ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: 5 } }));
  events.push(event('message_stop', {}));
  return events;
}

const INTRO = 'export const Intro = () => <h1 style={{fontSize: 40}}>Hello</h1>;\n';

let dir: string;
let workspace: string;
let stateDir: string;
let model: ScriptedModel;
let endpoint: ModelEndpoint;
let logs: string[];
const runners: AgentRunner[] = [];

async function setUp(wire: Wire) {
  model = new ScriptedModel(wire);
  endpoint = await model.listen();
}

function newRunner(extra: { resumeSessionId?: string; settings?: AiSdkRunnerSettings } = {}) {
  const runner = createAiSdkRunner(
    { workspace, stateDir, endpoint, resumeSessionId: extra.resumeSessionId, log: (message) => logs.push(message) },
    { maxRetries: 0, ...extra.settings },
  );
  runners.push(runner);
  return runner;
}

/** Runs a turn, collecting its events (each checked against the protocol's schema). */
async function runTurn(runner: AgentRunner, prompt: string, onEvent?: (event: AgentEvent) => void) {
  const events: AgentEvent[] = [];
  const result = await runner.turn(prompt, (event) => {
    events.push(AgentEvent.parse(event));
    onEvent?.(event);
  });
  return { result, events, text: events.flatMap((event) => (event.kind === 'text' ? [event.delta] : [])).join('') };
}

const actions = (events: AgentEvent[]) => events.flatMap((event) => (event.kind === 'action' ? [event.action] : []));

/** The roles and (short) contents of the messages a request sent, to compare whole conversations. */
function openaiTranscript(body: any): string[] {
  return body.messages.map((message: any) => {
    if (message.role === 'system') return 'system';
    if (message.tool_calls) return `assistant calls ${message.tool_calls.map((call: any) => call.function.name).join(',')}`;
    return `${message.role}: ${String(message.content).slice(0, 60)}`;
  });
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ai-sdk-runner-'));
  workspace = path.join(dir, 'workspace');
  stateDir = path.join(dir, 'state');
  await mkdir(path.join(workspace, 'src', 'scenes'), { recursive: true });
  await writeFile(path.join(workspace, 'src', 'scenes', 'Intro.tsx'), INTRO);
  logs = [];
});

afterEach(async () => {
  await Promise.all(runners.splice(0).map((runner) => runner.close()));
  await model?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('AI SDK runner on the OpenAI wire', () => {
  beforeEach(() => setUp('openai'));

  it('reads, then edits a file, streaming text and actions in order', async () => {
    model.script(
      { kind: 'answer', text: 'Let me look.', toolCalls: [{ id: 'call_read', name: 'read_file', input: { path: 'src/scenes/Intro.tsx' } }] },
      {
        kind: 'answer',
        toolCalls: [{ id: 'call_edit', name: 'edit_file', input: { path: './src/scenes/Intro.tsx', old_string: 'fontSize: 40', new_string: 'fontSize: 80' } }],
      },
      { kind: 'answer', text: 'Made the title twice as big.' },
    );
    const runner = newRunner();
    const ids: string[] = [];
    runner.onSessionId((id) => ids.push(id));
    await runner.start();
    expect(ids).toEqual([runner.sessionId()]);

    const { result, events, text } = await runTurn(runner, 'Make the title bigger');

    expect(result).toEqual({ status: 'done' });
    expect(await readFile(path.join(workspace, 'src/scenes/Intro.tsx'), 'utf8')).toBe(INTRO.replace('fontSize: 40', 'fontSize: 80'));
    expect(text).toBe('Let me look.Made the title twice as big.');
    expect(events.filter((event) => event.kind === 'text').length).toBeGreaterThan(2);
    // Order: the first text, the read, the edit, the final text.
    const order = events.map((event) => (event.kind === 'text' ? 'text' : `${event.action.tool}:${event.action.status}`));
    expect(order.filter((entry, index) => entry !== order[index - 1])).toEqual(['text', 'read:running', 'read:done', 'edit:running', 'edit:done', 'text']);
    expect(actions(events)).toEqual([
      { id: 'call_read', tool: 'read', name: 'read_file', path: 'src/scenes/Intro.tsx', status: 'running' },
      { id: 'call_read', tool: 'read', name: 'read_file', path: 'src/scenes/Intro.tsx', status: 'done' },
      { id: 'call_edit', tool: 'edit', name: 'edit_file', path: 'src/scenes/Intro.tsx', status: 'running' },
      { id: 'call_edit', tool: 'edit', name: 'edit_file', path: 'src/scenes/Intro.tsx', status: 'done', diff: expect.stringContaining('+export const Intro') },
    ]);
    expect(actions(events)[3]?.diff).toContain('-export const Intro = () => <h1 style={{fontSize: 40}}>Hello</h1>;');

    // What the model saw: the instructions, the file's text as the read's result, the edit's short confirmation.
    expect(model.requests.map((request) => request.path)).toEqual(['/v1/chat/completions', '/v1/chat/completions', '/v1/chat/completions']);
    expect(model.requests[0]?.headers.authorization).toBe('Bearer cutroom-proxy');
    const last = model.requests[2]?.body;
    expect(last.model).toBe('scripted');
    expect(last.messages[0]).toMatchObject({ role: 'system', content: expect.stringContaining('list_files, search_files and read_file') });
    expect(last.tools.map((entry: any) => entry.function.name).sort()).toEqual(['edit_file', 'list_files', 'read_file', 'search_files', 'view_image', 'write_file']);
    expect(last.messages.filter((message: any) => message.role === 'tool').map((message: any) => message.content)).toEqual([INTRO, 'Edited src/scenes/Intro.tsx.']);

    // The conversation is saved after the turn.
    const saved = JSON.parse(await readFile(path.join(stateDir, 'ai-sdk', `${runner.sessionId()}.json`), 'utf8'));
    expect(saved.version).toBe(1);
    expect(saved.messages.map((message: ModelMessage) => message.role)).toEqual(['user', 'assistant', 'tool', 'assistant', 'tool', 'assistant']);
    expect(await readdir(path.join(stateDir, 'ai-sdk'))).toEqual([`${runner.sessionId()}.json`]);
  });

  it('refuses a write outside the project; the model hears why and the turn completes', async () => {
    model.script(
      { kind: 'answer', toolCalls: [{ id: 'call_escape', name: 'write_file', input: { path: '../escape.txt', content: 'out' } }] },
      { kind: 'answer', toolCalls: [{ id: 'call_ghost', name: 'delete_everything', input: {} }] },
      { kind: 'answer', text: 'I can only change files in src/ and public/.' },
    );
    const { result, events, text } = await runTurn(newRunner(), 'Write a file next to the project');

    expect(result).toEqual({ status: 'done' });
    expect(text).toBe('I can only change files in src/ and public/.');
    await expect(stat(path.join(dir, 'escape.txt'))).rejects.toThrow();
    expect(actions(events)).toEqual([
      { id: 'call_escape', tool: 'write', name: 'write_file', path: '../escape.txt', status: 'running' },
      { id: 'call_escape', tool: 'write', name: 'write_file', path: '../escape.txt', status: 'failed', error: expect.stringContaining('outside the project folder') },
      { id: 'call_ghost', tool: 'other', name: 'delete_everything', status: 'running' },
      { id: 'call_ghost', tool: 'other', name: 'delete_everything', status: 'failed', error: expect.stringContaining('delete_everything') },
    ]);
    const toolResults = model.requests[2]?.body.messages.filter((message: any) => message.role === 'tool');
    expect(toolResults.map((message: any) => message.tool_call_id)).toEqual(['call_escape', 'call_ghost']);
    expect(toolResults[0].content).toContain('outside the project folder');
  });

  it('cancels mid-stream and stays usable', async () => {
    model.script({ kind: 'hang', text: 'Thinking about it for a long time' }, { kind: 'answer', text: 'Done now.' });
    const runner = newRunner();
    let cancelled = false;
    const first = await runTurn(runner, 'First request', () => {
      if (!cancelled) {
        cancelled = true;
        runner.cancel();
      }
    });
    expect(first.result).toEqual({ status: 'cancelled' });
    expect(first.text.length).toBeGreaterThan(0);

    const second = await runTurn(runner, 'Second request');
    expect(second.result).toEqual({ status: 'done' });
    expect(second.text).toBe('Done now.');
    // The cancelled prompt stays in the conversation; its unfinished answer does not.
    expect(openaiTranscript(model.requests[1]?.body)).toEqual(['system', 'user: First request', 'user: Second request']);
  });

  it('marks a tool call that never finished as failed when cancelled', async () => {
    model.script({ kind: 'answer', toolCalls: [{ id: 'call_list', name: 'list_files', input: {} }] }, { kind: 'hang', text: 'Hmm' });
    const runner = newRunner();
    const { result, events } = await runTurn(runner, 'What is there?', (event) => {
      if (event.kind === 'text') runner.cancel();
    });
    expect(result).toEqual({ status: 'cancelled' });
    expect(actions(events).map((action) => `${action.name}:${action.status}`)).toEqual(['list_files:running', 'list_files:done']);
    // The finished step (call and result) is kept for the next turn.
    const saved = JSON.parse(await readFile(path.join(stateDir, 'ai-sdk', `${runner.sessionId()}.json`), 'utf8'));
    expect(saved.messages.map((message: ModelMessage) => message.role)).toEqual(['user', 'assistant', 'tool']);
  });

  it('resumes the conversation in a new runner', async () => {
    model.script(
      { kind: 'answer', toolCalls: [{ id: 'call_read', name: 'read_file', input: { path: 'src/scenes/Intro.tsx' } }] },
      { kind: 'answer', text: 'It says Hello.' },
      { kind: 'answer', text: 'You asked what the title says.' },
    );
    const first = newRunner();
    await first.start();
    expect((await runTurn(first, 'What does the title say?')).result.status).toBe('done');
    const sessionId = first.sessionId()!;
    await first.close();

    const second = newRunner({ resumeSessionId: sessionId });
    const ids: string[] = [];
    second.onSessionId((id) => ids.push(id));
    await second.start();
    expect(ids).toEqual([sessionId]);
    const { result, text } = await runTurn(second, 'What did I ask?');
    expect(result).toEqual({ status: 'done' });
    expect(text).toBe('You asked what the title says.');
    expect(openaiTranscript(model.requests[2]?.body)).toEqual([
      'system',
      'user: What does the title say?',
      'assistant calls read_file',
      `tool: ${INTRO.slice(0, 60)}`,
      'assistant: It says Hello.',
      'user: What did I ask?',
    ]);
  });

  it('starts a new conversation when the saved one is missing, corrupt or not an id', async () => {
    await mkdir(path.join(stateDir, 'ai-sdk'), { recursive: true });
    await writeFile(path.join(stateDir, 'ai-sdk', 'corrupt.json'), '{"version":1,"messages":[{"role":"wizard"}]');
    await writeFile(path.join(stateDir, 'ai-sdk', 'wrong.json'), JSON.stringify({ version: 1, sessionId: 'wrong', messages: [{ role: 'wizard' }] }));
    for (const resumeSessionId of ['missing', 'corrupt', 'wrong', '../../etc/passwd']) {
      const runner = newRunner({ resumeSessionId });
      await runner.start();
      expect(runner.sessionId()).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(logs.filter((line) => line.includes('cannot resume'))).toHaveLength(4);

    model.script({ kind: 'answer', text: 'Fresh start.' });
    const runner = newRunner({ resumeSessionId: 'corrupt' });
    expect((await runTurn(runner, 'Hello')).result).toEqual({ status: 'done' });
    expect(openaiTranscript(model.requests[0]?.body)).toEqual(['system', 'user: Hello']);
  });

  it('fails the turn with a message on a provider error, keeping the prompt', async () => {
    model.script(
      { kind: 'status', status: 500, body: { error: { message: 'the GPU caught fire', type: 'server_error' } } },
      { kind: 'answer', text: 'Back again.' },
    );
    const runner = newRunner();
    const failed = await runTurn(runner, 'Make it blue');
    expect(failed.result.status).toBe('failed');
    expect(failed.result.error).toMatch(/HTTP 500/);
    expect(failed.result.error).toContain('the GPU caught fire');
    expect(failed.result.error!.length).toBeLessThan(400);

    const next = await runTurn(runner, 'Try again');
    expect(next.result).toEqual({ status: 'done' });
    expect(openaiTranscript(model.requests[1]?.body)).toEqual(['system', 'user: Make it blue', 'user: Try again']);
  });

  it('fails the turn when the model cannot be reached or is not named', async () => {
    await model.close();
    const unreachable = await runTurn(newRunner(), 'Hello');
    expect(unreachable).toMatchObject({ result: { status: 'failed', error: expect.stringMatching(/^Could not reach the model/) } });

    endpoint = { ...endpoint, model: undefined };
    const unnamed = await runTurn(newRunner(), 'Hello');
    expect(unnamed.result).toEqual({ status: 'failed', error: expect.stringContaining('set MODEL') });
    model = new ScriptedModel('openai'); // for afterEach
    await model.listen();
  });

  it('fails the turn when the model stops sending', async () => {
    model.script({ kind: 'hang', text: 'Starting' }, { kind: 'answer', text: 'Here again.' });
    const runner = newRunner({ settings: { chunkTimeoutMs: 300 } });
    const stalled = await runTurn(runner, 'Hello');
    expect(stalled.result).toEqual({ status: 'failed', error: 'The model stopped answering; try again.' });
    expect((await runTurn(runner, 'Hello again')).result).toEqual({ status: 'done' });
  });

  it('runs one turn at a time and none after close', async () => {
    model.script({ kind: 'hang', text: 'Working' });
    const runner = newRunner();
    let started!: () => void;
    const textSeen = new Promise<void>((resolve) => (started = resolve));
    const first = runner.turn('One', () => started());
    await textSeen;
    expect(await runner.turn('Two', () => undefined)).toEqual({ status: 'failed', error: 'Another turn is still running.' });
    await runner.close();
    expect(await first).toEqual<TurnResult>({ status: 'cancelled' });
    expect(await runner.turn('Three', () => undefined)).toMatchObject({ status: 'failed' });
  });

  it('keeps the saved conversation bounded, dropping the oldest whole turns', async () => {
    const runner = newRunner({ settings: { maxConversationChars: 1_500 } });
    for (let turn = 1; turn <= 4; turn += 1) {
      model.script(
        { kind: 'answer', toolCalls: [{ id: `call_${turn}`, name: 'read_file', input: { path: 'src/scenes/Intro.tsx' } }] },
        { kind: 'answer', text: `Answer ${turn}: ${'words '.repeat(40)}` },
      );
      expect((await runTurn(runner, `Question ${turn}`)).result.status).toBe('done');
    }
    const saved = JSON.parse(await readFile(path.join(stateDir, 'ai-sdk', `${runner.sessionId()}.json`), 'utf8'));
    expect(JSON.stringify(saved.messages).length).toBeLessThanOrEqual(1_500);
    expect(saved.messages[0]).toMatchObject({ role: 'user' });
    expect(saved.messages.at(-4)).toMatchObject({ role: 'user', content: 'Question 4' });
    expect(saved.messages.some((message: any) => message.content === 'Question 1')).toBe(false);
  });
});

describe('AI SDK runner on the Anthropic wire', () => {
  beforeEach(() => setUp('anthropic'));

  it('runs a tool loop against the messages API', async () => {
    model.script(
      {
        kind: 'answer',
        text: 'Writing the scene.',
        toolCalls: [{ id: 'toolu_write', name: 'write_file', input: { path: 'src/scenes/Outro.tsx', content: 'export const Outro = () => null;\n' } }],
      },
      { kind: 'answer', text: 'Added an outro scene.' },
    );
    const { result, events, text } = await runTurn(newRunner(), 'Add an outro');

    expect(result).toEqual({ status: 'done' });
    expect(text).toBe('Writing the scene.Added an outro scene.');
    expect(await readFile(path.join(workspace, 'src/scenes/Outro.tsx'), 'utf8')).toBe('export const Outro = () => null;\n');
    expect(actions(events)).toEqual([
      { id: 'toolu_write', tool: 'write', name: 'write_file', path: 'src/scenes/Outro.tsx', status: 'running' },
      { id: 'toolu_write', tool: 'write', name: 'write_file', path: 'src/scenes/Outro.tsx', status: 'done', diff: expect.stringContaining('--- /dev/null') },
    ]);
    expect(model.requests.map((request) => request.path)).toEqual(['/v1/messages', '/v1/messages']);
    expect(model.requests[0]?.headers['x-api-key']).toBe('cutroom-proxy');
    const second = model.requests[1]?.body;
    expect(second.model).toBe('claude-scripted');
    expect(second.system).toEqual([expect.objectContaining({ type: 'text', text: expect.stringContaining('You are the video editor inside Cutroom') })]);
    expect(second.messages.at(-1)).toMatchObject({
      role: 'user',
      content: [expect.objectContaining({ type: 'tool_result', tool_use_id: 'toolu_write', content: 'Created src/scenes/Outro.tsx.' })],
    });
  });
});

/** Write limits, driven by the testkit's scripted model server (OpenAI wire). */
describe('AI SDK runner write limits', () => {
  const HUGE_BYTES = 5 * 1024 * 1024;

  it('refuses a write over the per-file cap and a turn over its budget; the refused content is not sent again', async () => {
    const scripted = await startScriptedModelServer({
      scenario: {
        rules: [
          {
            match: 'huge',
            steps: [{ tools: [{ tool: 'write', path: 'src/Huge.ts', content: 'x', repeat: HUGE_BYTES }] }, { text: 'That was too big.' }],
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
        ],
      },
    });
    try {
      const runner = createAiSdkRunner(
        { workspace, stateDir, endpoint: { wire: 'openai', baseUrl: `${scripted.url}/v1`, model: 'scripted' }, limits: { maxTurnBytes: 100_000 } },
        { maxRetries: 0 },
      );
      runners.push(runner);

      const huge = await runTurn(runner, 'Write something huge');
      expect(huge.result).toEqual({ status: 'done' });
      expect(huge.text).toBe('That was too big.');
      expect(actions(huge.events).at(-1)).toMatchObject({ name: 'write_file', path: 'src/Huge.ts', status: 'failed', error: expect.stringMatching(/5\.0 MiB; one file may be at most 1\.0 MiB/) });
      await expect(stat(path.join(workspace, 'src', 'Huge.ts'))).rejects.toThrow();
      // The model heard the refusal, and the 5 MB did not go back to it.
      const after = scripted.requests.at(-1)!;
      expect(JSON.stringify(after.body)).toContain('one file may be at most 1.0 MiB');
      expect(JSON.stringify(after.body).length).toBeLessThan(100_000);
      const saved = await readFile(path.join(stateDir, 'ai-sdk', `${runner.sessionId()}.json`), 'utf8');
      expect(saved.length).toBeLessThan(100_000);

      const many = await runTurn(runner, 'Write many files');
      expect(many.result).toEqual({ status: 'done' });
      // The SDK runs a step's tool calls side by side: whichever comes last is refused.
      const finished = actions(many.events).filter((action) => action.status !== 'running');
      expect(finished.map((action) => action.status).sort()).toEqual(['done', 'done', 'failed']);
      const refused = finished.find((action) => action.status === 'failed')!;
      expect(refused.error).toMatch(/this turn has written 78\.1 KiB already/);
      await expect(stat(path.join(workspace, refused.path!))).rejects.toThrow();
    } finally {
      await scripted.close();
    }
  });
});

describe('trimConversation', () => {
  const turn = (n: number, size: number): ModelMessage[] => [
    { role: 'user', content: `question ${n}` },
    { role: 'assistant', content: [{ type: 'tool-call', toolCallId: `c${n}`, toolName: 'read_file', input: { path: 'x' } }] },
    { role: 'tool', content: [{ type: 'tool-result', toolCallId: `c${n}`, toolName: 'read_file', output: { type: 'text', value: 'x'.repeat(size) } }] },
    { role: 'assistant', content: `answer ${n}` },
  ];

  it('keeps a small conversation as it is', () => {
    const messages = [...turn(1, 10), ...turn(2, 10)];
    expect(trimConversation(messages, 10_000)).toBe(messages);
  });

  it('drops the oldest whole turns, never the last one', () => {
    const messages = [...turn(1, 1_000), ...turn(2, 1_000), ...turn(3, 1_000)];
    const trimmed = trimConversation(messages, 2_800);
    expect(trimmed).toEqual([...turn(2, 1_000), ...turn(3, 1_000)]);
    expect(trimConversation(messages, 10)).toEqual(turn(3, 1_000));
  });
});
