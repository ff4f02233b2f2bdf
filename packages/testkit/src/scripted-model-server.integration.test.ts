import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { query, type SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import { type LanguageModel, stepCountIs, streamText, tool } from 'ai';
import { mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startScriptedModelServer, type ScriptedModelServer } from './index.js';

/**
 * The real agent SDKs against the scripted server: the Claude Agent SDK (its native CLI
 * process) and the Vercel AI SDK over both wires. No mocks.
 */

let server: ScriptedModelServer;
let dirs: string[] = [];
async function tempDir(prefix: string): Promise<string> {
  // realpath: the agent reports its working directory resolved.
  const dir = await realpath(await mkdtemp(join(tmpdir(), prefix)));
  dirs.push(dir);
  return dir;
}
beforeEach(() => {
  dirs = [];
});
afterEach(async () => {
  await server?.close();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('Claude Agent SDK', () => {
  // An unrecognised model name makes the SDK put the environment (working directory) in a
  // `role: "system"` message; a known one puts it in a system reminder of the user turn.
  it.each(['scripted', 'claude-sonnet-4-5'])('writes then edits a file through Write and Edit (model %s)', async (model) => {
    server = await startScriptedModelServer({
      requireApiKey: 'test',
      scenario: {
        rules: [
          {
            match: 'greeting file',
            steps: [
              { text: 'I will write the file.', tools: [{ tool: 'write', path: 'notes/hello.txt', content: 'Hello world from {{cwd}}\n' }] },
              { tools: [{ tool: 'edit', path: 'notes/hello.txt', old: 'world', new: 'Cutroom' }] },
              { text: 'Wrote and edited notes/hello.txt.' },
            ],
          },
        ],
      },
    });
    const cwd = await tempDir('scripted-cwd-');
    const configDir = await tempDir('scripted-config-');

    const messages: SDKMessage[] = [];
    for await (const message of query({
      prompt: 'Please create the greeting file',
      options: {
        cwd,
        model,
        tools: ['Read', 'Write', 'Edit'],
        allowedTools: ['Read', 'Write', 'Edit'],
        permissionMode: 'acceptEdits',
        env: {
          ...process.env,
          ANTHROPIC_BASE_URL: server.url,
          ANTHROPIC_API_KEY: 'test',
          CLAUDE_CONFIG_DIR: configDir,
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        },
      },
    })) {
      messages.push(message);
    }

    const result = messages.at(-1);
    expect(result).toMatchObject({ type: 'result', subtype: 'success', is_error: false, result: 'Wrote and edited notes/hello.txt.' });
    expect(await readFile(join(cwd, 'notes/hello.txt'), 'utf8')).toBe(`Hello Cutroom from ${cwd}\n`);

    const requests = server.requests;
    expect(requests.map((r) => [r.path, r.step, r.rule, r.userText])).toEqual(
      [0, 1, 2].map((step) => ['/v1/messages?beta=true', step, 'greeting file', 'Please create the greeting file']),
    );
    expect(requests[0]!.headers['anthropic-beta']).toContain('claude-code-20250219');
    // The second request carries the Write call's result, for the id the server made up.
    const toolUse = messages.flatMap((m) => (m.type === 'assistant' ? m.message.content : [])).find((block) => block.type === 'tool_use');
    expect(toolUse).toMatchObject({ name: 'Write', input: { file_path: join(cwd, 'notes/hello.txt') } });
    const secondBody = requests[1]!.body as { messages: { role: string; content: unknown }[] };
    const toolResults = secondBody.messages
      .flatMap((m) => (Array.isArray(m.content) ? (m.content as { type: string; tool_use_id?: string; is_error?: boolean }[]) : []))
      .filter((block) => block.type === 'tool_result');
    expect(toolResults).toEqual([expect.objectContaining({ tool_use_id: (toolUse as { id: string }).id })]);
    expect(toolResults[0]!.is_error).not.toBe(true);
    for (const request of requests) expect(request.finishedAt).toBeGreaterThanOrEqual(request.receivedAt);
  });
});

describe('Vercel AI SDK', () => {
  const scenario = {
    rules: [
      {
        match: 'intro',
        steps: [
          { text: 'Writing the intro.', tools: [{ tool: 'write' as const, path: 'src/intro.txt', content: 'Intro for {{cwd}}' }] },
          { text: 'The intro is written.' },
        ],
      },
    ],
  };
  const providers: [string, (url: string) => LanguageModel, string][] = [
    [
      'openai-compatible',
      (url) => createOpenAICompatible({ baseURL: `${url}/v1`, name: 'scripted', apiKey: 'x', includeUsage: true }).chatModel('scripted'),
      '/v1/chat/completions',
    ],
    ['anthropic', (url) => createAnthropic({ baseURL: `${url}/v1`, apiKey: 'x' })('scripted'), '/v1/messages'],
  ];

  it.each(providers)('runs a write_file tool loop over %s', async (_name, makeModel, path) => {
    server = await startScriptedModelServer({ scenario });
    const calls: unknown[] = [];
    const result = streamText({
      model: makeModel(server.url),
      // Cutroom's instructions name the project folder; the server reads {{cwd}} from it.
      system: 'You edit videos. The project folder is /work/sessions/s1.',
      prompt: 'Write the intro please',
      stopWhen: stepCountIs(5),
      maxOutputTokens: 1024, // an unknown model name otherwise draws a warning
      tools: {
        write_file: tool({
          description: 'Write a file',
          inputSchema: z.object({ path: z.string(), content: z.string() }),
          execute: async (input) => {
            calls.push(input);
            return 'written';
          },
        }),
      },
    });
    let streamed = '';
    for await (const delta of result.textStream) streamed += delta;

    expect(calls).toEqual([{ path: 'src/intro.txt', content: 'Intro for /work/sessions/s1' }]);
    expect(streamed).toBe('Writing the intro.The intro is written.');
    expect(await result.text).toBe('The intro is written.');
    expect(await result.finishReason).toBe('stop');
    expect((await result.totalUsage).inputTokens).toBeGreaterThan(0);
    expect(server.requests.map((r) => [r.path, r.step, r.userText])).toEqual([
      [path, 0, 'Write the intro please'],
      [path, 1, 'Write the intro please'],
    ]);
  });
});
