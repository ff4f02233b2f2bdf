import { describe, expect, it } from 'vitest';
import { imagesOf, lastMessageHasImage } from './images.js';
import { pngBytes } from './media.js';
import { compileScenario, resolveReply } from './script.js';

const png = pngBytes(2, 2).toString('base64');

describe('images in requests', () => {
  it('finds Anthropic image blocks (also in tool results) and OpenAI data URLs, and checks their bytes', () => {
    const anthropic = {
      messages: [
        { role: 'user', content: 'look' },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } }] }] },
      ],
    };
    expect(imagesOf(anthropic)).toEqual([expect.objectContaining({ mediaType: 'image/png', valid: true, message: 1 })]);
    expect(lastMessageHasImage(anthropic)).toBe(true);
    const openai = { messages: [{ role: 'tool', content: 'see next' }, { role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] }] };
    expect(lastMessageHasImage(openai)).toBe(true);
    const lying = { messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: Buffer.from('text').toString('base64') } }] }] };
    expect(imagesOf(lying)[0]?.valid).toBe(false);
    expect(lastMessageHasImage(lying)).toBe(false);
    // An image further back does not count for the last message.
    expect(lastMessageHasImage({ messages: [...anthropic.messages, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'next' }] })).toBe(false);
  });

  it('answers an expectImage step with a 400 when no image came', () => {
    const scenario = compileScenario({ rules: [{ match: 'look', steps: [{ tools: [{ tool: 'view', path: '/w/a.png' }] }, { expectImage: true, text: 'Seen.' }] }] });
    const conversation = (lastHasImage: boolean) => ({
      system: [],
      toolNames: ['Read'],
      messages: [
        { role: 'user', text: 'look' },
        { role: 'assistant', text: '' },
        { role: 'user', text: '' },
      ],
      lastHasImage,
    });
    expect(resolveReply(scenario, conversation(false), 'id').reply).toMatchObject({ kind: 'error', status: 400 });
    expect(resolveReply(scenario, conversation(true), 'id').reply).toMatchObject({ kind: 'message', text: 'Seen.' });
  });
});
