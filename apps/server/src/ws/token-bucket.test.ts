import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.js';

/** A clock the test moves by hand. */
function manualClock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('TokenBucket', () => {
  it('allows a burst at once, then the rate', () => {
    const clock = manualClock();
    const bucket = new TokenBucket(50, 10, clock.now);
    for (let index = 0; index < 10; index++) expect(bucket.take()).toBe(0);
    expect(bucket.take()).toBe(20);
    clock.advance(20);
    expect(bucket.take()).toBe(0);
    expect(bucket.take()).toBeGreaterThan(0);
  });

  it('says how long until the next token', () => {
    const clock = manualClock();
    const bucket = new TokenBucket(4, 1, clock.now);
    expect(bucket.take()).toBe(0);
    expect(bucket.take()).toBe(250);
    clock.advance(100);
    expect(bucket.take()).toBe(150);
    clock.advance(150);
    expect(bucket.take()).toBe(0);
  });

  it('refills to the burst and no further', () => {
    const clock = manualClock();
    const bucket = new TokenBucket(50, 5, clock.now);
    for (let index = 0; index < 5; index++) bucket.take();
    clock.advance(60_000);
    let taken = 0;
    while (bucket.take() === 0) taken++;
    expect(taken).toBe(5);
  });

  it('holds a flood to the rate over time', () => {
    const clock = manualClock();
    const bucket = new TokenBucket(50, 100, clock.now);
    let taken = 0;
    // 10 s of a client trying every millisecond.
    for (let ms = 0; ms < 10_000; ms++) {
      while (bucket.take() === 0) taken++;
      clock.advance(1);
    }
    expect(taken).toBeGreaterThanOrEqual(100 + 50 * 10 - 1);
    expect(taken).toBeLessThanOrEqual(100 + 50 * 10 + 1);
  });
});
