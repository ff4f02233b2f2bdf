import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AgentEvent } from '@cutroom/protocol';
import { type ScriptedModelServer, pngBytes, startScriptedModelServer } from '@cutroom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAiSdkRunner } from './ai-sdk-runner.js';
import { createClaudeRunner } from './claude-runner.js';
import type { AgentRunner, FrameView, FrameViewRequest } from './runner.js';

const LOGO = pngBytes(24, 12, [16, 192, 64]);
/** A 16×9 JPEG, as the server's frame renders answer (made once with sharp). */
const FRAME_JPEG =
  '/9j/2wBDAAYEBQYFBAYGBQYHBwYIChAKCgkJChQODwwQFxQYGBcUFhYaHSUfGhsjHBYWICwgIyYnKSopGR8tMC0oMCUoKSj/2wBDAQcHBwoIChMKChMoGhYaKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCj/wAARCAAJABADASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAP/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFQEBAQAAAAAAAAAAAAAAAAAABgf/xAAUEQEAAAAAAAAAAAAAAAAAAAAA/9oADAMBAAIRAxEAPwCYAwkz/9k=';

/**
 * The agent sees images: a `view` of an uploaded image reaches the model as an image (the
 * scripted server checks its bytes and answers only if it came), for the Claude Agent SDK
 * (its Read) and the AI SDK runner (view_image) on both wires. A file that is not an image
 * is refused with why, and a later turn does not carry the image's bytes again. view_frame
 * (the runtime's frames, here a stand-in for the server's render) reaches the model the
 * same way, and a frame that cannot be rendered reaches it as the reason.
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
  const frameRequests: FrameViewRequest[] = [];

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
          { match: 'check frame 30', steps: [{ tools: [{ tool: 'frame', frame: 30, composition: 'Intro' }] }, { expectImage: true, text: 'The frame looks right.' }] },
          { match: 'check frame 9999', steps: [{ tools: [{ tool: 'frame', frame: 9999 }] }, { text: 'That frame is not there.' }] },
        ],
        fallback: [{ text: 'Nothing to look at.' }],
      },
    });
    const stateDir = path.join(dir, 'state');
    const viewFrame = async (request: FrameViewRequest): Promise<FrameView> => {
      frameRequests.push(request);
      if (request.frame > 149) return { ok: false, error: 'Frame 9999 is past the end of "Intro": it has 150 frames (0–149).' };
      return { ok: true, compositionId: request.compositionId ?? 'Intro', frame: request.frame, width: 16, height: 9, fps: 30, durationInFrames: 150, mediaType: 'image/jpeg', data: FRAME_JPEG };
    };
    runner =
      kind === 'claude-agent-sdk'
        ? createClaudeRunner({ workspace, stateDir, endpoint: { wire: 'anthropic', baseUrl: model.url }, viewFrame })
        : createAiSdkRunner(
            {
              workspace,
              stateDir,
              endpoint: wire === 'openai' ? { wire: 'openai', baseUrl: `${model.url}/v1`, model: 'scripted' } : { wire: 'anthropic', baseUrl: model.url, model: 'claude-scripted' },
              viewFrame,
            },
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

  it('looks at a frame of its video with view_frame: the picture reaches the model, with what it shows', async () => {
    const { result, text } = await turn('Please check frame 30 of the intro');
    expect(result).toEqual({ status: 'done' });
    expect(text).toContain('The frame looks right.');
    expect(frameRequests.at(-1)).toEqual({ frame: 30, compositionId: 'Intro' });
    const answered = model.requests.find((request) => request.rule === 'check frame 30' && request.step === 1);
    const sha256 = createHash('sha256').update(Buffer.from(FRAME_JPEG, 'base64')).digest('hex');
    expect(answered?.images).toContainEqual(expect.objectContaining({ mediaType: 'image/jpeg', sha256, valid: true }));
    expect(JSON.stringify(answered?.body)).toContain('Frame 30 of \\"Intro\\" (150 frames at 30 fps)');
  });

  it("hands the model the reason when a frame cannot be rendered, and the turn goes on", async () => {
    const { result, text } = await turn('Now check frame 9999');
    expect(result).toEqual({ status: 'done' });
    expect(text).toContain('That frame is not there.');
    expect(frameRequests.at(-1)).toEqual({ frame: 9999 });
    const last = model.requests.filter((request) => request.rule === 'check frame 9999').at(-1)!;
    expect(JSON.stringify(last.body)).toContain('past the end of');
    expect(last.images.filter((image) => image.message === (last.body as { messages: unknown[] }).messages.length - 1)).toEqual([]);
  });
});
