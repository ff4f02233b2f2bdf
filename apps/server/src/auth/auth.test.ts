import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from './passwords.js';
import { createRateLimiter } from './rate-limiter.js';

describe('passwords', () => {
  it('verifies the right password and refuses others', async () => {
    const hash = await hashPassword('correct horse');
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('correct horsE', hash)).toBe(false);
    expect(await verifyPassword('correct horse', 'garbage')).toBe(false);
  });

  it('salts every hash', async () => {
    expect(await hashPassword('same')).not.toBe(await hashPassword('same'));
  });
});

describe('rate limiter', () => {
  it('limits a key after its budget, per window, and forgets after the window', () => {
    let now = 0;
    const limiter = createRateLimiter({ limit: 2, windowMs: 1_000, now: () => now });
    expect(limiter.retryAfter('a')).toBe(0);
    limiter.hit('a');
    limiter.hit('a');
    expect(limiter.retryAfter('a')).toBe(1_000);
    expect(limiter.retryAfter('b')).toBe(0);
    now = 400;
    expect(limiter.retryAfter('a')).toBe(600);
    now = 1_000;
    expect(limiter.retryAfter('a')).toBe(0);
    limiter.hit('b');
    now = 5_000;
    limiter.prune();
    expect(limiter.size).toBe(0);
  });

  it('reset clears a key', () => {
    const limiter = createRateLimiter({ limit: 1, windowMs: 1_000 });
    limiter.hit('a');
    expect(limiter.retryAfter('a')).toBeGreaterThan(0);
    limiter.reset('a');
    expect(limiter.retryAfter('a')).toBe(0);
  });
});
