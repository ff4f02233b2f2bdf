import { describe, expect, it } from 'vitest';
import { exceedsJsonDepth } from './json-depth.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('exceedsJsonDepth', () => {
  it('counts objects and arrays together, up to the limit and one past it', () => {
    expect(exceedsJsonDepth(bytes(nested(32)), 32)).toBe(false);
    expect(exceedsJsonDepth(bytes(nested(33)), 32)).toBe(true);
    expect(exceedsJsonDepth(bytes('{"a":[{"b":[1]}]}'), 4)).toBe(false);
    expect(exceedsJsonDepth(bytes('{"a":[{"b":[1]}]}'), 3)).toBe(true);
    expect(exceedsJsonDepth(bytes('{"type":' + '{"a":'.repeat(40) + '1' + '}'.repeat(41)), 32)).toBe(true);
  });

  it('measures depth, not the number of brackets', () => {
    expect(exceedsJsonDepth(bytes(JSON.stringify(Array.from({ length: 10_000 }, () => [[1]]))), 3)).toBe(false);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(exceedsJsonDepth(bytes(JSON.stringify({ text: '[[[[[[[[[[{{{{{{' })), 2)).toBe(false);
    expect(exceedsJsonDepth(bytes(JSON.stringify({ text: 'say "[[[[" \\ [[[[' })), 2)).toBe(false);
    expect(exceedsJsonDepth(bytes(JSON.stringify({ text: 'ends in a backslash \\' }) + nested(3)), 2)).toBe(true);
    expect(exceedsJsonDepth(bytes(JSON.stringify({ text: 'é 日本 😀 [[[[' })), 1)).toBe(false);
  });

  it('answers quickly for a very deep frame (the parser would overflow its stack)', () => {
    expect(exceedsJsonDepth(bytes(nested(1_000_000)), 32)).toBe(true);
    expect(exceedsJsonDepth(bytes('{"a":'.repeat(100_000)), 32)).toBe(true);
  });

  it('leaves text that is not JSON to the parser', () => {
    expect(exceedsJsonDepth(bytes('not json ]]]]'), 32)).toBe(false);
    expect(exceedsJsonDepth(bytes(''), 32)).toBe(false);
  });
});
