import { describe, expect, it } from 'vitest';
import { decodeMessage } from './decode.js';
import { SandboxToServer } from './sandbox.js';

describe('decodeMessage', () => {
  it('returns the message for valid JSON of the schema, null for anything else', () => {
    expect(decodeMessage(SandboxToServer, '{"type":"workspace:reset:done","requestId":"r1"}')).toEqual({
      type: 'workspace:reset:done',
      requestId: 'r1',
    });
    for (const text of ['', 'not json', '[]', 'null', '{"type":"nope"}', '{"type":"workspace:reset:done"}']) {
      expect(decodeMessage(SandboxToServer, text), text).toBeNull();
    }
  });
});
