import { describe, expect, it } from 'vitest';
import { waitingText } from './waiting-text';

describe('waiting text', () => {
  it('says how many are ahead, and why the line waits', () => {
    expect(waitingText({ position: 4, reason: 'slots' })).toBe('Waiting for a sandbox: 3 ahead of you');
    expect(waitingText({ position: 1, reason: 'slots' })).toBe('Waiting for a sandbox: you are next');
    expect(waitingText({ position: 2, reason: 'memory' })).toBe('Waiting for memory on the server: 1 ahead of you');
  });
});
