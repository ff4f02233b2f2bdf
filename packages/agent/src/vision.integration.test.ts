import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AgentEvent } from '@cutroom/protocol';
import { type ScriptedModelServer, pngBytes, startScriptedModelServer } from '@cutroom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAiSdkRunner } from './ai-sdk-runner.js';
import { createClaudeRunner } from './claude-runner.js';
import type { AgentRunner } from './runner.js';

const LOGO = pngBytes(24, 12, [16, 192, 64]);

/**
 * The agent sees images: a `view` of an uploaded image reaches the model as an image (the
 * scripted server checks its bytes and answers only if it came), for the Claude Agent SDK
 * (its Read) and the AI SDK runner (view_image) on both wires. A file that is not an image
 * is refused with why, and a later turn does not carry the image's bytes again.
 */
describe.each([
  ['claude-agent-sdk', 'anthropic'],
  ['ai-sdk', 'openai'],
  ['ai-sdk', 'anthropic'],
] as const)('the %s runner (%s wire) looking at an image', (kind, wire) => {
  let dir = '';
  let workspace = '';
  let model: ScriptedModelServer;
  let runner: AgentRunner;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), `vision-${kind}-${wire}-`));
    workspace = path.join(dir, 'work');
    await mkdir(path.join(workspace, 'public'), { recursive: true });
    await writeFile(path.join(workspace, 'public', 'logo.png'), LOGO);
    await writeFile(path.join(workspace, 'public', 'notes.png'), 'not a picture');
    model = await startScriptedModelServer({
      scenario: {
        rules: [
          { match: 'look at the logo', steps: [{ tools: [{ tool: 'view', path: 'public/logo.png' }] }, { expectImage: true, text: 'A green rectangle.' }] },
          { match: 'look at the notes', steps: [{ tools: [{ tool: 'view', path: 'public/notes.png' }] }, { text: 'That was no picture.' }] },
        ],
        fallback: [{ text: 'Nothing to look at.' }],
      },
    });
    const stateDir = path.join(dir, 'state');
    runner =
      kind === 'claude-agent-sdk'
        ? createClaudeRunner({ workspace, stateDir, endpoint: { wire: 'anthropic', baseUrl: model.url } })
        : createAiSdkRunner(
            { workspace, stateDir, endpoint: wire === 'openai' ? { wire: 'openai', baseUrl: `${model.url}/v1`, model: 'scripted' } : { wire: 'anthropic', baseUrl: model.url, model: 'claude-scripted' } },
            { maxRetries: 0 },
          );
    await runner.start();
  });
  afterAll(async () => {
    await runner?.close();
    await model?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const turn = async (prompt: string) => {
    const events: AgentEvent[] = [];
    const result = await runner.turn(prompt, (event) => events.push(AgentEvent.parse(event)));
    return { result, text: events.flatMap((event) => (event.kind === 'text' ? [event.delta] : [])).join('') };
  };

  it('sends the image itself to the model, which answers only because it came', async () => {
    const { result, text } = await turn('Please look at the logo');
    expect(result).toEqual({ status: 'done' });
    expect(text).toContain('A green rectangle.');
    const answered = model.requests.find((request) => request.rule === 'look at the logo' && request.step === 1);
    const sha256 = createHash('sha256').update(LOGO).digest('hex');
    expect(answered?.images).toContainEqual(expect.objectContaining({ mediaType: 'image/png', bytes: LOGO.length, sha256, valid: true }));
  });

  it('says why a file that is not an image cannot be viewed; later turns do not resend the picture', async () => {
    const { result, text } = await turn('Now look at the notes');
    expect(result).toEqual({ status: 'done' });
    expect(text).toContain('That was no picture.');
    const after = model.requests.filter((request) => request.rule === 'look at the notes');
    expect(after.length).toBeGreaterThan(1);
    const last = after.at(-1)!;
    expect(JSON.stringify(last.body)).toMatch(/not a PNG, JPEG, GIF or WebP|image|cannot|Unsupported|not.*valid/i);
    // Cutroom's runner keeps a note in place of a picture once its turn is over (the Claude
    // Agent SDK keeps its own history, pictures and all).
    if (kind === 'ai-sdk') expect(last.images).toEqual([]);
  });
});
