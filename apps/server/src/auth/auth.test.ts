import { describe, expect, it } from 'vitest';
import { createBackoff } from './backoff.js';
import { COMMON_PASSWORDS } from './common-passwords.js';
import { passwordWeakness } from './password-policy.js';
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

describe('sign-in backoff', () => {
  const options = { freeFailures: 3, baseDelayMs: 1_000, maxDelayMs: 60_000, forgetAfterMs: 600_000 };

  it('lets the first failures through, then doubles the wait per failure up to the cap', () => {
    let now = 0;
    const backoff = createBackoff({ ...options, now: () => now });
    const waits: number[] = [];
    for (let failure = 1; failure <= 10; failure++) {
      backoff.fail('a');
      waits.push(backoff.retryAfter('a'));
      now += backoff.retryAfter('a');
    }
    expect(waits).toEqual([0, 0, 0, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000]);
    // Never more than the cap, however many failures: a wait, never a lockout.
    for (let failure = 0; failure < 2_000; failure++) backoff.fail('a');
    expect(backoff.retryAfter('a')).toBe(60_000);
    now += 60_000;
    expect(backoff.retryAfter('a')).toBe(0);
  });

  it('keys are independent, and a key is forgotten after a quiet while', () => {
    let now = 0;
    const backoff = createBackoff({ ...options, now: () => now });
    for (let failure = 0; failure < 5; failure++) backoff.fail('attacker');
    expect(backoff.retryAfter('attacker')).toBeGreaterThan(0);
    expect(backoff.retryAfter('owner')).toBe(0);
    now = 600_000;
    expect(backoff.retryAfter('attacker')).toBe(0);
    backoff.fail('attacker');
    expect(backoff.retryAfter('attacker')).toBe(0);
    backoff.reset('attacker');
    now = 2_000_000;
    backoff.fail('other');
    now = 3_000_000;
    backoff.prune();
    expect(backoff.size).toBe(0);
  });
});

describe('password policy', () => {
  const account = { email: 'ada.lovelace@example.com', name: 'Ada Lovelace' };

  it('ships a list of several hundred common passwords', () => {
    expect(COMMON_PASSWORDS.size).toBeGreaterThan(500);
    expect(COMMON_PASSWORDS.has('password')).toBe(true);
  });

  it.each(['password', 'Password1!', 'PASSWORD123', 'qwertyuiop', '1q2w3e4r5t', 'iloveyou2', 'monkey2024!', 'letmein!!', '123456789'])(
    'refuses the common %j',
    (password) => expect(passwordWeakness(password, account)).toMatch(/most common passwords/),
  );

  it.each(['        ', ' \t  \n   '])('refuses whitespace only (%j)', (password) => {
    expect(passwordWeakness(password, account)).toMatch(/spaces/);
  });

  it.each(['ada.lovelace@example.com', 'ADA.LOVELACE@EXAMPLE.COM', 'ada.lovelace', 'Ada Lovelace', 'adalovelace'])(
    'refuses the email or name (%j)',
    (password) => expect(passwordWeakness(password, account)).toMatch(/email address or your name/),
  );

  it('refuses one or two repeated characters', () => {
    expect(passwordWeakness('zzzzzzzzzz', account)).toMatch(/repeats/);
    expect(passwordWeakness('xyxyxyxyxy', account)).toMatch(/repeats/);
  });

  it.each(['correct horse battery', 'chat password 1', 'Tr0ub4dor&3x', 'analytical engine 1843'])('accepts %j', (password) => {
    expect(passwordWeakness(password, account)).toBeNull();
  });
});
