import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { User } from '@cutroom/protocol';
import { AppError } from '../errors.js';
import type { Store } from '../store/store.js';
import { EmailTakenError } from '../store/store.js';
import { decoyHash, hashPassword, verifyPassword } from './passwords.js';
import { createRateLimiter } from './rate-limiter.js';

export const SESSION_COOKIE = 'cutroom_session';
export const SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000;

const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url');
const publicUser = ({ id, email, name, createdAt }: User): User => ({ id, email, name, createdAt });

/**
 * Accounts and sign-in sessions. A session is a random token in an httpOnly cookie;
 * the store keeps only its SHA-256, so a leaked database holds no usable token.
 * Failed sign-ins are limited per address and per account.
 */
export function createAuthService(store: Store, limits = { perAccount: 5, perAddress: 20, windowMs: 15 * 60_000 }) {
  const accountFailures = createRateLimiter({ limit: limits.perAccount, windowMs: limits.windowMs });
  const addressFailures = createRateLimiter({ limit: limits.perAddress, windowMs: limits.windowMs });
  const signups = createRateLimiter({ limit: limits.perAddress, windowMs: limits.windowMs });

  function refuseIfLimited(...waits: number[]) {
    const wait = Math.max(...waits);
    if (wait > 0) {
      const minutes = Math.ceil(wait / 60_000);
      const error = new AppError(
        'rate_limited',
        `Too many attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
        429,
      );
      throw Object.assign(error, { retryAfterSeconds: Math.ceil(wait / 1000) });
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
      refuseIfLimited(accountFailures.retryAfter(input.email), addressFailures.retryAfter(address));
      const user = await store.users.findByEmail(input.email);
      const valid = await verifyPassword(input.password, user?.passwordHash ?? decoyHash);
      if (!user || !valid) {
        accountFailures.hit(input.email);
        addressFailures.hit(address);
        throw new AppError('invalid_credentials', 'That email and password do not match an account.', 401);
      }
      // The address's count stays: one good password must not wipe out a spray of bad ones.
      accountFailures.reset(input.email);
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
      accountFailures.prune();
      addressFailures.prune();
      signups.prune();
      return store.authSessions.deleteExpired();
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
