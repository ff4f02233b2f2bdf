import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { User } from '@cutroom/protocol';
import { AppError } from '../errors.js';
import type { Store } from '../store/store.js';
import { EmailTakenError } from '../store/store.js';
import { type BackoffOptions, createBackoff } from './backoff.js';
import { passwordWeakness } from './password-policy.js';
import { decoyHash, hashPassword, verifyPassword } from './passwords.js';
import { createRateLimiter } from './rate-limiter.js';

export const SESSION_COOKIE = 'cutroom_session';
export const SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000;

const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url');
const publicUser = ({ id, email, name, createdAt }: User): User => ({ id, email, name, createdAt });

/**
 * How hard sign-in and sign-up are throttled. Failed sign-ins slow down the pair
 * (account, address) and the address, never the account as such: someone else's
 * failures cannot keep the owner out from their own address.
 */
export type AuthLimits = {
  /** Failed sign-ins to one account from one address. */
  accountAddress: BackoffOptions;
  /** Failed sign-ins from one address, to any accounts (a password spray). */
  address: BackoffOptions;
  /** Sign-ups from one address per window. */
  signupsPerAddress: number;
  signupWindowMs: number;
  now?: () => number;
};

export const DEFAULT_AUTH_LIMITS: AuthLimits = {
  accountAddress: { freeFailures: 3, baseDelayMs: 1_000, maxDelayMs: 5 * 60_000, forgetAfterMs: 30 * 60_000 },
  address: { freeFailures: 20, baseDelayMs: 1_000, maxDelayMs: 5 * 60_000, forgetAfterMs: 30 * 60_000 },
  signupsPerAddress: 20,
  signupWindowMs: 15 * 60_000,
};

/**
 * Accounts and sign-in sessions. A session is a random token in an httpOnly cookie;
 * the store keeps only its SHA-256, so a leaked database holds no usable token.
 * Failed sign-ins back off per (account, address) and per address (see `AuthLimits`);
 * new passwords that are common, blank or the account's own email or name are refused.
 */
export function createAuthService(store: Store, overrides: Partial<AuthLimits> = {}) {
  const limits = { ...DEFAULT_AUTH_LIMITS, ...overrides };
  const pairFailures = createBackoff({ ...limits.accountAddress, now: limits.now });
  const addressFailures = createBackoff({ ...limits.address, now: limits.now });
  const signups = createRateLimiter({ limit: limits.signupsPerAddress, windowMs: limits.signupWindowMs, now: limits.now });
  // A newline cannot be in an email the protocol accepts, so the pair key is unambiguous.
  const pairKey = (email: string, address: string) => `${email}\n${address}`;

  function refuseIfLimited(...waits: number[]) {
    const wait = Math.max(...waits);
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      const when = seconds < 120 ? `${seconds} second${seconds === 1 ? '' : 's'}` : `${Math.ceil(seconds / 60)} minutes`;
      const error = new AppError('rate_limited', `Too many attempts from this address. Try again in ${when}.`, 429);
      throw Object.assign(error, { retryAfterSeconds: seconds });
    }
  }

  async function startSession(userId: string) {
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + SESSION_TTL_MS);
    await store.authSessions.create({ tokenHash: hashToken(token), userId, expiresAt });
    return { token, expiresAt };
  }

  return {
    async signup(input: { email: string; password: string; name: string }, address: string) {
      refuseIfLimited(signups.retryAfter(address));
      const weakness = passwordWeakness(input.password, input);
      if (weakness) throw new AppError('weak_password', weakness, 400, [{ path: 'password', message: weakness }]);
      signups.hit(address);
      try {
        const user = await store.users.create({
          id: randomUUID(),
          email: input.email,
          name: input.name,
          passwordHash: await hashPassword(input.password),
        });
        return { user: publicUser(user), session: await startSession(user.id) };
      } catch (error) {
        if (error instanceof EmailTakenError) {
          throw new AppError('email_taken', 'An account with this email already exists. Sign in instead.', 409);
        }
        throw error;
      }
    },

    async login(input: { email: string; password: string }, address: string) {
      const pair = pairKey(input.email, address);
      // Refused before the password is checked: a guess during the wait tells nothing.
      refuseIfLimited(pairFailures.retryAfter(pair), addressFailures.retryAfter(address));
      const user = await store.users.findByEmail(input.email);
      const valid = await verifyPassword(input.password, user?.passwordHash ?? decoyHash);
      if (!user || !valid) {
        pairFailures.fail(pair);
        addressFailures.fail(address);
        throw new AppError('invalid_credentials', 'That email and password do not match an account.', 401);
      }
      // The address's count stays: one good password must not wipe out a spray of bad ones.
      pairFailures.reset(pair);
      return { user: publicUser(user), session: await startSession(user.id) };
    },

    async userForToken(token: string | undefined): Promise<User | null> {
      if (!token || token.length > 200) return null;
      const user = await store.authSessions.findUser(hashToken(token));
      return user ? publicUser(user) : null;
    },

    /** The user of an app session cookie in a raw `Cookie` header (the preview proxy has no framework). */
    async userIdForCookieHeader(header: string | undefined): Promise<string | null> {
      if (!header) return null;
      for (const part of header.split(';')) {
        const [name, ...value] = part.trim().split('=');
        if (name === SESSION_COOKIE) return (await this.userForToken(decodeURIComponent(value.join('='))))?.id ?? null;
      }
      return null;
    },

    async logout(token: string | undefined) {
      if (token && token.length <= 200) await store.authSessions.delete(hashToken(token));
    },

    /** Housekeeping, on a timer: expired sessions and rate-limit windows. */
    async prune() {
      pairFailures.prune();
      addressFailures.prune();
      signups.prune();
      return store.authSessions.deleteExpired();
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
