import { describe, expect, it } from 'vitest';
import { CreateExportRequest } from './exports.js';
import { CreateProjectRequest, LoginRequest, SignupRequest } from './rest.js';
import { isStorableText } from './text.js';
import { ClientMessage } from './ws.js';

const unstorable = ['a\u0000b', '\u0000', 'lone \uD800 high', 'lone \uDC00 low', 'reversed \uDC00\uD800'];

describe('storable text', () => {
  it('refuses NUL and lone surrogates, keeps every real character', () => {
    for (const value of unstorable) expect(isStorableText(value), JSON.stringify(value)).toBe(false);
    for (const value of ['', 'plain', 'emoji 🎬', 'ünïcödé', '\t\n', '\uD83C\uDFAC']) expect(isStorableText(value), value).toBe(true);
  });

  it('is part of every string field the server receives', () => {
    for (const value of unstorable) {
      expect(SignupRequest.safeParse({ email: `a${value}@example.com`, password: 'long enough', name: 'A' }).success).toBe(false);
      expect(SignupRequest.safeParse({ email: 'a@example.com', password: `long enough${value}`, name: 'A' }).success).toBe(false);
      expect(SignupRequest.safeParse({ email: 'a@example.com', password: 'long enough', name: `A${value}` }).success).toBe(false);
      expect(LoginRequest.safeParse({ email: 'a@example.com', password: `x${value}` }).success).toBe(false);
      expect(CreateProjectRequest.safeParse({ name: `P${value}` }).success).toBe(false);
      expect(CreateExportRequest.safeParse({ compositionId: `C${value}`, format: 'mp4' }).success).toBe(false);
      expect(ClientMessage.safeParse({ type: 'message:send', text: `hi${value}`, clientMessageId: 'c' }).success).toBe(false);
      expect(ClientMessage.safeParse({ type: 'message:send', text: 'hi', clientMessageId: `c${value}` }).success).toBe(false);
      expect(ClientMessage.safeParse({ type: 'session:start', projectId: `p${value}`, protocolVersion: 1 }).success).toBe(false);
    }
    expect(SignupRequest.safeParse({ email: ' A@Example.com ', password: 'long enough', name: ' Ada 🎬 ' }).data).toEqual({
      email: 'a@example.com',
      password: 'long enough',
      name: 'Ada 🎬',
    });
  });
});
