import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, startTestServer } from '../testing/test-server.js';

/**
 * Sign-in throttling (issue 9, items 9 and 15): failures slow down the (account, address)
 * pair and the address with growing waits, never lock the owner out from elsewhere, and
 * the address is the socket's peer unless TRUSTED_PROXIES names the proxy in front.
 */
const limits = (clock: { now: number }) => ({
  accountAddress: { freeFailures: 2, baseDelayMs: 10_000, maxDelayMs: 40_000, forgetAfterMs: 600_000 },
  address: { freeFailures: 6, baseDelayMs: 10_000, maxDelayMs: 40_000, forgetAfterMs: 600_000 },
  now: () => clock.now,
});

const login = (server: TestServer, email: string, password: string, forwardedFor?: string) =>
  server.request('POST', '/api/auth/login', {
    body: { email, password },
    headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
  });

describe('behind a trusted proxy (TRUSTED_PROXIES=127.0.0.1)', () => {
  const clock = { now: 1_000_000 };
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ environment: { TRUSTED_PROXIES: '127.0.0.1' }, authLimits: limits(clock) });
    await server.signup('owner@example.com', 'the owner passphrase');
  });
  afterAll(async () => server.close());

  it("an attacker's failures slow the attacker down, never the owner from another address", async () => {
    const attacker = '203.0.113.9';
    for (let attempt = 0; attempt < 3; attempt++) expect((await login(server, 'owner@example.com', 'guess number one', attacker)).status).toBe(401);
    const refused = await login(server, 'owner@example.com', 'the owner passphrase', attacker);
    expect(refused.status).toBe(429);
    expect(refused.json.error.code).toBe('rate_limited');
    expect(Number(refused.headers.get('retry-after'))).toBe(10);
    // The owner, elsewhere, is not touched by it.
    expect((await login(server, 'owner@example.com', 'the owner passphrase', '198.51.100.7')).status).toBe(200);
    // Waits grow, up to the cap: never a lockout.
    for (let round = 0; round < 6; round++) {
      clock.now += 60_000;
      expect((await login(server, 'owner@example.com', 'another guess', attacker)).status).toBe(401);
    }
    expect(Number((await login(server, 'owner@example.com', 'x', attacker)).headers.get('retry-after'))).toBe(40);
    expect((await login(server, 'owner@example.com', 'the owner passphrase', '198.51.100.7')).status).toBe(200);
  });

  it('the owner on the same address gets in with the right password once the wait is over', async () => {
    const shared = '192.0.2.44';
    for (let attempt = 0; attempt < 3; attempt++) await login(server, 'owner@example.com', 'typo in it', shared);
    expect((await login(server, 'owner@example.com', 'the owner passphrase', shared)).status).toBe(429);
    clock.now += 10_000;
    expect((await login(server, 'owner@example.com', 'the owner passphrase', shared)).status).toBe(200);
    // Success forgets the pair's failures: the next typo is free again.
    expect((await login(server, 'owner@example.com', 'typo in it', shared)).status).toBe(401);
    expect((await login(server, 'owner@example.com', 'the owner passphrase', shared)).status).toBe(200);
  });

  it('a password spray from one address slows that address down, for every account', async () => {
    const sprayer = '203.0.113.77';
    for (let account = 0; account < 7; account++) {
      expect((await login(server, `nobody-${account}@example.com`, 'password guess', sprayer)).status).toBe(401);
    }
    expect((await login(server, 'someone-else@example.com', 'password guess', sprayer)).status).toBe(429);
    expect((await login(server, 'owner@example.com', 'the owner passphrase', '198.51.100.8')).status).toBe(200);
  });
});

describe('without TRUSTED_PROXIES', () => {
  const clock = { now: 1_000_000 };
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ authLimits: limits(clock) });
    await server.signup('owner@example.com', 'the owner passphrase');
  });
  afterAll(async () => server.close());

  it('a forged X-Forwarded-For does not change the address: a limited client stays limited', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      expect((await login(server, 'owner@example.com', 'guess', `203.0.113.${attempt + 1}`)).status).toBe(401);
    }
    const forged = await login(server, 'owner@example.com', 'the owner passphrase', '198.51.100.200');
    expect(forged.status).toBe(429);
  });
});

describe('new passwords', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server.close());

  it.each([
    ['password123', 'most common'],
    ['Qwerty123!', 'most common'],
    ['          ', 'spaces'],
    ['grace.hopper@example.com', 'email address or your name'],
    ['Grace Hopper', 'email address or your name'],
  ])('refuses %j as weak_password, saying why', async (password, why) => {
    const response = await server.request('POST', '/api/auth/signup', { body: { email: 'grace.hopper@example.com', password, name: 'Grace Hopper' } });
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe('weak_password');
    expect(response.json.error.message).toContain(why);
    expect(response.json.error.issues).toEqual([{ path: 'password', message: response.json.error.message }]);
  });

  it('accepts a good one', async () => {
    const response = await server.request('POST', '/api/auth/signup', { body: { email: 'grace.hopper@example.com', password: 'compiler in 1952', name: 'Grace Hopper' } });
    expect(response.status).toBe(201);
  });
});
