import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { currentTurn, openaiConversation } from './conversation.js';
import { loadScenario, Scenario, startScriptedModelServer, type ScriptedModelServer } from './index.js';

/** Request bodies shaped like what the Claude Agent SDK 0.3.x really sends (trimmed). */
const CWD = '/work/projects/demo';
const ENVIRONMENT = `# Environment\nYou have been invoked in the following environment: \n - Primary working directory: ${CWD}\n - Is a git repository: false\n - Platform: linux`;
const claudeTools = ['Edit', 'Read', 'DeferredToolPlaceholder', 'Write'].map((name) => ({
  name,
  description: `${name} tool`,
  input_schema: { type: 'object', properties: {} },
  ...(name === 'DeferredToolPlaceholder' ? { defer_loading: true } : {}),
}));
function claudeBody(messages: unknown[], extra: Record<string, unknown> = {}) {
  return {
    model: 'scripted',
    max_tokens: 32000,
    stream: true,
    system: [
      { type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.330.b2c; cc_entrypoint=sdk-ts;' },
      { type: 'text', text: "You are a Claude agent, built on Anthropic's Claude Agent SDK.", cache_control: { type: 'ephemeral' } },
    ],
    tools: claudeTools,
    metadata: { user_id: '{"device_id":"x"}' },
    thinking: { type: 'adaptive', display: 'updates' },
    context_management: { edits: [] },
    output_config: { effort: 'high' },
    ...extra,
    messages,
  };
}
/** First user turn with the environment in a system reminder (known model names). */
const userWithReminder = (text: string) => ({
  role: 'user',
  content: [
    { type: 'text', text: `<system-reminder>\n${ENVIRONMENT}\n</system-reminder>` },
    { type: 'text', text: "<system-reminder>\nToday's date is 2026-11-24.\n</system-reminder>\n" },
    { type: 'text', text, cache_control: { type: 'ephemeral' } },
  ],
});
/** Environment as a `role: "system"` entry (unknown model names). */
const systemEntry = { role: 'system', content: ENVIRONMENT };

const CLAUDE_HEADERS = {
  'content-type': 'application/json',
  'x-api-key': 'test',
  'anthropic-version': '2023-06-01',
  'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27',
};

type SseEvent = { event: string | null; data: any };
async function readSse(response: Response): Promise<SseEvent[]> {
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((frame) => frame.trim() !== '')
    .map((frame) => {
      const event = /^event: (.*)$/m.exec(frame)?.[1] ?? null;
      const data = /^data: (.*)$/m.exec(frame)![1]!;
      return { event, data: data === '[DONE]' ? '[DONE]' : JSON.parse(data) };
    });
}

let server: ScriptedModelServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});
async function serve(scenario: Scenario, options: { requireApiKey?: string } = {}) {
  server = await startScriptedModelServer({ scenario, ...options });
  return server;
}
const post = (path: string, body: unknown, headers: Record<string, string> = CLAUDE_HEADERS) =>
  fetch(server!.url + path, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('Anthropic wire', () => {
  it('streams text and a Write call as Anthropic SSE, with a relative path made absolute', async () => {
    await serve({
      rules: [{ match: 'make a file', steps: [{ text: 'Creating the file you asked for now.', tools: [{ tool: 'write', path: 'src/a.ts', content: 'export const a = "ä😀";\n' }] }] }],
    });
    const response = await post('/v1/messages?beta=true', claudeBody([userWithReminder('Please make a file')]));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await readSse(response);

    for (const { event, data } of events) expect(data.type).toBe(event);
    const types = events.map((e) => e.event).filter((type) => type !== 'content_block_delta');
    expect(types).toEqual([
      'message_start',
      'ping',
      'content_block_start',
      'content_block_stop',
      'content_block_start',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(events[0]!.data.message).toMatchObject({ role: 'assistant', model: 'scripted', content: [] });

    const textDeltas = events.filter((e) => e.data.delta?.type === 'text_delta').map((e) => e.data.delta.text);
    expect(textDeltas.length).toBeGreaterThan(1);
    expect(textDeltas.join('')).toBe('Creating the file you asked for now.');

    const toolStart = events.find((e) => e.data.content_block?.type === 'tool_use')!.data;
    expect(toolStart.index).toBe(1);
    expect(toolStart.content_block).toMatchObject({ name: 'Write', input: {} });
    expect(toolStart.content_block.id).toMatch(/^toolu_[A-Za-z0-9_]+$/);
    const jsonPieces = events.filter((e) => e.data.delta?.type === 'input_json_delta').map((e) => e.data.delta.partial_json);
    expect(jsonPieces.length).toBeGreaterThan(1);
    expect(JSON.parse(jsonPieces.join(''))).toEqual({ file_path: `${CWD}/src/a.ts`, content: 'export const a = "ä😀";\n' });
    expect(events.find((e) => e.event === 'message_delta')!.data).toMatchObject({
      delta: { stop_reason: 'tool_use' },
      usage: { output_tokens: expect.any(Number) },
    });

    const [recorded] = server!.requests;
    expect(recorded).toMatchObject({ wire: 'anthropic', path: '/v1/messages?beta=true', userText: 'Please make a file', step: 0, rule: 'make a file' });
    expect(recorded!.headers['anthropic-beta']).toContain('claude-code-20250219');
    expect((recorded!.body as { model: string }).model).toBe('scripted');
    expect(recorded!.finishedAt).toBeGreaterThanOrEqual(recorded!.receivedAt);
  });

  it('answers JSON when not streaming; maps edit and read; {{cwd}} everywhere; absolute paths kept', async () => {
    await serve({
      rules: [
        {
          match: '^fix',
          steps: [
            {
              text: 'Working in {{cwd}}.',
              tools: [
                { tool: 'read', path: 'src/Root.tsx' },
                { tool: 'edit', path: '/etc/outside.txt', old: 'a', new: 'root is {{cwd}}' },
                { name: 'Glob', input: { pattern: '**/*.tsx', options: { path: '{{cwd}}/src', depth: [1, '{{cwd}}'] } } },
              ],
            },
          ],
        },
      ],
    });
    const response = await post('/v1/messages', claudeBody([{ role: 'user', content: 'Fix it' }, systemEntry], { stream: false }));
    const message = (await response.json()) as any;
    expect(message).toMatchObject({ type: 'message', role: 'assistant', stop_reason: 'tool_use', stop_sequence: null });
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(message.content).toEqual([
      { type: 'text', text: `Working in ${CWD}.` },
      { type: 'tool_use', id: expect.any(String), name: 'Read', input: { file_path: `${CWD}/src/Root.tsx` } },
      { type: 'tool_use', id: expect.any(String), name: 'Edit', input: { file_path: '/etc/outside.txt', old_string: 'a', new_string: `root is ${CWD}` } },
      { type: 'tool_use', id: expect.any(String), name: 'Glob', input: { pattern: '**/*.tsx', options: { path: `${CWD}/src`, depth: [1, CWD] } } },
    ]);
    const ids = message.content.slice(1).map((block: { id: string }) => block.id);
    expect(new Set(ids).size).toBe(3);
  });

  it('takes the newest working directory when the SDK announces a change', async () => {
    await serve({ rules: [{ match: '', steps: [{ text: 'first' }, { tools: [{ tool: 'read', path: 'a.txt' }] }] }] });
    const moved = { role: 'system', content: ' - Primary working directory: /new/place with space (was /work/projects/demo)' };
    const echoed = { role: 'assistant', content: 'Working directory: /from/the/model' };
    const response = await post('/v1/messages', claudeBody([userWithReminder('go'), moved, echoed], { stream: false }));
    const message = (await response.json()) as any;
    expect(message.content[0].input).toEqual({ file_path: '/new/place with space/a.txt' });
  });

  it('counts steps from the last real user text, skipping tool results and system reminders', async () => {
    await serve({
      rules: [{ match: 'title', steps: [{ text: 'zero', tools: [{ tool: 'read', path: 'x' }] }, { text: 'one', tools: [{ tool: 'read', path: 'x' }] }, { text: 'two' }] }],
      fallback: [{ text: 'I am the fallback.' }],
    });
    const toolUse = (id: string) => ({ role: 'assistant', content: [{ type: 'text', text: 'ok' }, { type: 'tool_use', id, name: 'Read', input: {} }] });
    const toolResult = (id: string) => ({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: id, content: 'file text' },
        { type: 'text', text: '<system-reminder>\nThe file changed.\n</system-reminder>' },
      ],
    });
    const history = [userWithReminder('Change the title'), systemEntry, toolUse('t1'), toolResult('t1'), toolUse('t2'), toolResult('t2')];

    const answer = async (messages: unknown[]) => ((await (await post('/v1/messages', claudeBody(messages, { stream: false }))).json()) as any);
    expect((await answer(history)).content).toEqual([{ type: 'text', text: 'two' }]);
    // Past the last step: a short end_turn text so agent loops end.
    const after = await answer([...history, { role: 'assistant', content: [{ type: 'text', text: 'two' }] }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'x', content: '' }] }]);
    expect(after).toMatchObject({ stop_reason: 'end_turn', content: [{ type: 'text', text: 'Done.' }] });
    // A new user turn starts over; it matches no rule, so the fallback answers.
    const next = await answer([...history, { role: 'assistant', content: 'two' }, { role: 'user', content: 'Something else' }]);
    expect(next.content).toEqual([{ type: 'text', text: 'I am the fallback.' }]);

    expect(server!.requests.map((r) => [r.userText, r.step, r.rule])).toEqual([
      ['Change the title', 2, 'title'],
      ['Change the title', 3, 'title'],
      ['Something else', 0, null],
    ]);
  });

  it('answers "Done." without a matching rule or fallback', async () => {
    await serve({ rules: [{ match: 'never', steps: [{ text: 'no' }] }] });
    const message = (await (await post('/v1/messages', claudeBody([userWithReminder('hi')], { stream: false }))).json()) as any;
    expect(message).toMatchObject({ stop_reason: 'end_turn', content: [{ type: 'text', text: 'Done.' }] });
    expect(server!.requests[0]).toMatchObject({ rule: null, step: 0 });
  });

  it('fails loudly in the answer when the working directory or the tool is missing', async () => {
    await serve({ rules: [{ match: 'write', steps: [{ tools: [{ tool: 'write', path: 'rel.txt', content: '' }] }] }] });
    const noCwd = (await (await post('/v1/messages', claudeBody([{ role: 'user', content: 'write' }], { stream: false }))).json()) as any;
    expect(noCwd.stop_reason).toBe('end_turn');
    expect(noCwd.content[0].text).toMatch(/rule \/write\/, step 0: relative path "rel.txt" needs the agent's working directory/);

    const noTool = (await (await post('/v1/messages', claudeBody([userWithReminder('write')], { stream: false, tools: [{ name: 'Bash' }] }))).json()) as any;
    expect(noTool.content[0].text).toMatch(/offers neither Write nor write_file \(tools: Bash\)/);
  });

  it('answers count_tokens, probes, unknown paths and wrong methods', async () => {
    await serve({ rules: [] });
    const count = await post('/v1/messages/count_tokens?beta=true', { model: 'scripted', messages: [userWithReminder('hi')] });
    expect(((await count.json()) as any).input_tokens).toBeGreaterThan(0);
    expect((await fetch(server!.url + '/', { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(server!.url + '/api/hello')).status).toBe(200);
    const missing = await fetch(server!.url + '/v1/models', { method: 'POST', body: 'not json' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error', message: expect.stringContaining('/v1/models') } });
    const wrongMethod = await fetch(server!.url + '/v1/messages');
    expect(wrongMethod.status).toBe(405);
    expect(server!.requests.map((r) => r.path)).toEqual(['/v1/messages/count_tokens?beta=true', '/', '/api/hello', '/v1/models', '/v1/messages']);
    expect(server!.requests[3]!.body).toBe('not json');
  });
});

describe('OpenAI wire', () => {
  const scenario: Scenario = {
    rules: [{ match: 'logo', steps: [{ text: 'Adding the logo scene.', tools: [{ tool: 'write', path: 'src/scenes/Logo.tsx', content: 'x' }, { tool: 'read', path: 'src/Root.tsx' }] }, { text: 'All done now.' }] }],
  };
  const openaiTools = ['write_file', 'edit_file', 'read_file'].map((name) => ({ type: 'function', function: { name, parameters: { type: 'object' } } }));
  const headers = { 'content-type': 'application/json', authorization: 'Bearer x' };

  it('streams content and tool_calls chunks with usage and [DONE], on /v1 and without', async () => {
    await serve(scenario);
    const body = {
      model: 'scripted',
      stream: true,
      stream_options: { include_usage: true },
      tools: openaiTools,
      messages: [
        { role: 'system', content: 'You edit videos.' },
        { role: 'user', content: [{ type: 'text', text: 'Add a logo' }] },
      ],
    };
    for (const path of ['/v1/chat/completions', '/chat/completions']) {
      const events = await readSse(await post(path, body, headers));
      expect(events.at(-1)!.data).toBe('[DONE]');
      const chunks = events.slice(0, -1).map((e) => e.data);
      for (const chunk of chunks) expect(chunk).toMatchObject({ object: 'chat.completion.chunk', model: 'scripted' });
      const deltas = chunks.filter((c) => c.choices.length > 0).map((c) => c.choices[0].delta);
      expect(deltas[0]).toEqual({ role: 'assistant', content: '' });
      const text = deltas.flatMap((d) => (d.content ? [d.content] : []));
      expect(text.length).toBeGreaterThan(1);
      expect(text.join('')).toBe('Adding the logo scene.');

      const toolDeltas = deltas.flatMap((d) => d.tool_calls ?? []);
      const calls = [0, 1].map((index) => {
        const parts = toolDeltas.filter((t: any) => t.index === index);
        expect(parts[0]).toMatchObject({ id: expect.stringMatching(/^call_/), type: 'function', function: { arguments: '' } });
        expect(parts.length).toBeGreaterThan(2);
        return { name: parts[0].function.name, args: JSON.parse(parts.map((p: any) => p.function.arguments).join('')) };
      });
      expect(calls).toEqual([
        { name: 'write_file', args: { path: 'src/scenes/Logo.tsx', content: 'x' } },
        { name: 'read_file', args: { path: 'src/Root.tsx' } },
      ]);
      const finish = chunks.find((c) => c.choices[0]?.finish_reason);
      expect(finish.choices[0]).toMatchObject({ finish_reason: 'tool_calls', delta: {} });
      expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) } });
    }
    expect(server!.requests.map((r) => [r.wire, r.path, r.userText, r.step])).toEqual([
      ['openai', '/v1/chat/completions', 'Add a logo', 0],
      ['openai', '/chat/completions', 'Add a logo', 0],
    ]);
  });

  it('answers JSON when not streaming, counting steps past role "tool" messages; no usage chunk unless asked', async () => {
    await serve(scenario);
    const messages = [
      { role: 'user', content: 'Add a logo' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'write_file', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'written' },
    ];
    const response = await post('/v1/chat/completions', { model: 'm', tools: openaiTools, messages }, headers);
    expect(await response.json()).toMatchObject({
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: 'All done now.' }, finish_reason: 'stop' }],
      usage: { total_tokens: expect.any(Number) },
    });
    const events = await readSse(await post('/v1/chat/completions', { model: 'm', stream: true, tools: openaiTools, messages }, headers));
    expect(events.slice(0, -1).every((e) => !('usage' in e.data))).toBe(true);
    expect(events.at(-2)!.data.choices[0].finish_reason).toBe('stop');
    expect(server!.requests.map((r) => r.step)).toEqual([1, 1]);
  });

  it('answers a non-streamed tool call with content null and arguments as a string', async () => {
    await serve(scenario);
    server!.setScenario({ rules: [{ match: '', steps: [{ tools: [{ tool: 'edit', path: 'src/a.ts', old: 'a', new: 'b' }] }] }] });
    const response = await post('/chat/completions', { model: 'm', tools: openaiTools, messages: [{ role: 'user', content: 'x' }] }, headers);
    const { choices } = (await response.json()) as any;
    expect(choices[0].message.content).toBeNull();
    expect(JSON.parse(choices[0].message.tool_calls[0].function.arguments)).toEqual({ path: 'src/a.ts', old_string: 'a', new_string: 'b' });
    expect(() => server!.setScenario({ rules: [{ match: '(', steps: [] }] })).toThrow(/rules.0.match: not a valid regular expression/);
  });
});

describe('current user turn', () => {
  it('counts a run of assistant messages as one answer, and skips system, developer and tool entries', () => {
    const conversation = openaiConversation({
      model: 'm',
      messages: [
        { role: 'user', content: 'first turn' },
        { role: 'assistant', content: 'old answer' },
        { role: 'developer', content: 'be brief' },
        { role: 'user', content: [{ type: 'text', text: 'second' }, { type: 'image_url' }, { type: 'text', text: 'turn' }] },
        { role: 'assistant', content: 'text part' },
        { role: 'system', content: 'note' },
        { role: 'assistant', content: null },
        { role: 'tool', content: 'result' },
        { role: 'assistant', content: 'again' },
        { role: 'tool', content: 'result' },
        { role: 'user', content: '  <system-reminder>only a reminder</system-reminder> ' },
      ],
    });
    expect(currentTurn(conversation)).toEqual({ userText: 'second\nturn', step: 2 });
  });
});

describe('errors, keys and bad input', () => {
  it('answers a scripted error in each provider format, marked not to retry', async () => {
    await serve({ rules: [{ match: 'fail', steps: [{ error: { status: 529, message: 'Overloaded' } }] }] });
    const anthropic = await post('/v1/messages', claudeBody([userWithReminder('fail please')]));
    expect(anthropic.status).toBe(529);
    expect(anthropic.headers.get('x-should-retry')).toBe('false');
    expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    const openai = await post('/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'fail' }] });
    expect(openai.status).toBe(529);
    expect(await openai.json()).toEqual({ error: { message: 'Overloaded', type: 'server_error', param: null, code: null } });
    expect(server!.requests.map((r) => [r.rule, r.step, r.finishedAt !== undefined])).toEqual([
      ['fail', 0, true],
      ['fail', 0, true],
    ]);
  });

  it('refuses a wrong or missing key with 401 when requireApiKey is set', async () => {
    await serve({ rules: [] }, { requireApiKey: 'real-key' });
    const body = claudeBody([userWithReminder('hi')], { stream: false });
    const wrong = await post('/v1/messages', body, { ...CLAUDE_HEADERS, 'x-api-key': 'test' });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    expect((await post('/v1/messages', body, { ...CLAUDE_HEADERS, 'x-api-key': 'real-key' })).status).toBe(200);
    expect((await post('/v1/messages', body, { 'content-type': 'application/json', authorization: 'Bearer real-key' })).status).toBe(200);

    const openaiBody = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    const missing = await post('/v1/chat/completions', openaiBody, { 'content-type': 'application/json' });
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ error: { code: 'invalid_api_key' } });
    expect((await post('/v1/chat/completions', openaiBody, { authorization: 'Bearer real-key' })).status).toBe(200);
    // Refused requests are recorded too, with the key they carried.
    expect(server!.requests[0]!.headers['x-api-key']).toBe('test');
    expect(server!.requests).toHaveLength(5);
  });

  it('answers bad JSON and malformed bodies with a provider-style 400', async () => {
    await serve({ rules: [] });
    const anthropic = await post('/v1/messages?beta=true', '{"model": ');
    expect(anthropic.status).toBe(400);
    expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringMatching(/JSON/) } });
    const openai = await post('/v1/chat/completions', 'not json');
    expect(openai.status).toBe(400);
    expect(await openai.json()).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringMatching(/JSON/) } });
    const empty = await post('/v1/messages', '');
    expect(empty.status).toBe(400);

    const noMessages = await post('/v1/messages', { model: 'm' });
    expect(await noMessages.json()).toMatchObject({ error: { message: expect.stringContaining('messages') } });
    const badContent = await post('/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 5 }] });
    expect(badContent.status).toBe(400);
    expect(((await badContent.json()) as any).error.message).toContain('messages.0.content');
    expect((await post('/v1/messages', [1, 2])).status).toBe(400);

    expect(server!.requests.map((r) => r.body)).toEqual(['{"model": ', 'not json', undefined, { model: 'm' }, { model: 'm', messages: [{ role: 'user', content: 5 }] }, [1, 2]]);
    // Still serving.
    expect((await post('/v1/messages', claudeBody([userWithReminder('hi')], { stream: false }))).status).toBe(200);
  });
});

describe('timing', () => {
  it('pauses delayMs between chunks, and survives a client that leaves mid-stream', async () => {
    await serve({ rules: [{ match: '', steps: [{ text: 'one two three four five six', delayMs: 40 }] }] });
    const body = claudeBody([userWithReminder('go')]);
    const started = performance.now();
    const response = await post('/v1/messages', body);
    const reader = response.body!.getReader();
    await reader.read(); // message_start has come; the text is still to come
    expect(server!.requests[0]!.finishedAt).toBeUndefined();
    await reader.cancel();

    const events = await readSse(await post('/v1/messages', body));
    // Four text chunks, each after a 40 ms pause.
    expect(events.filter((e) => e.event === 'content_block_delta')).toHaveLength(4);
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    // The abandoned answer was never completed, so it has no finishedAt.
    expect(server!.requests[0]!.finishedAt).toBeUndefined();
    const second = server!.requests[1]!;
    expect(second.finishedAt! - second.receivedAt).toBeGreaterThanOrEqual(150);
    expect(second.receivedAt).toBeGreaterThan(performance.timeOrigin);
  });

  it('closes at once even while a slow stream is being written', async () => {
    await serve({ rules: [{ match: '', steps: [{ text: 'slow words here', delayMs: 10_000 }] }] });
    const response = await post('/v1/messages', claudeBody([userWithReminder('go')]));
    await response.body!.getReader().read();
    const started = performance.now();
    await server!.close();
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('scenario files', () => {
  it('loads the demo scenario, whose edit matches the template file exactly once', async () => {
    const demo = await loadScenario(new URL('../scenarios/demo.json', import.meta.url).pathname);
    const titleScene = await readFile(new URL('../../template/project/src/scenes/TitleScene.tsx', import.meta.url), 'utf8');
    const edit = demo.rules[0]!.steps.flatMap((step) => step.tools ?? []).find((call) => 'tool' in call && call.tool === 'edit');
    expect(edit).toBeDefined();
    const old = (edit as { old: string }).old;
    expect(titleScene.split(old)).toHaveLength(2);
    expect(demo.fallback?.[0]?.text).toMatch(/scripted/);
    expect(Scenario.safeParse(demo).success).toBe(true);
  });

  it('loads the huge-write scenario: a Write of 100 MB, made from a repeated content', async () => {
    const huge = await loadScenario(new URL('../scenarios/huge-write.json', import.meta.url).pathname);
    expect(huge.rules[0]!.steps[0]!.tools).toEqual([{ tool: 'write', path: 'src/Huge.ts', content: 'x', repeat: 100 * 1024 * 1024 }]);
  });

  it('names the file in errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'scenario-'));
    try {
      const broken = join(dir, 'broken.json');
      await writeFile(broken, '{"rules": [');
      await expect(loadScenario(broken)).rejects.toThrow(`Scenario file ${broken} is not valid JSON`);
      const invalid = join(dir, 'invalid.json');
      await writeFile(invalid, JSON.stringify({ rules: [{ match: 'x', steps: [{ tools: [{ tool: 'write', path: 'a' }] }, { delayMs: 5 }] }] }));
      await expect(loadScenario(invalid)).rejects.toThrow(
        `Invalid scenario file ${invalid}:\n  rules.0.steps.0.tools.0.content: Invalid input: expected string, received undefined\n  rules.0.steps.1: a step needs text, tools or error`,
      );
      await expect(loadScenario(join(dir, 'missing.json'))).rejects.toThrow(`Cannot read scenario file ${join(dir, 'missing.json')}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
