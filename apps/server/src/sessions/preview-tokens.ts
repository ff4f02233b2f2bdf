import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Short-lived tokens that let the owner's browser load a session's preview page.
 * A token names no one: it is an HMAC over (preview id, owner id, expiry) with a key
 * that lives only in this server process, so it cannot be forged or moved to another
 * session, and a server restart invalidates every token.
 */
export function createPreviewTokens(options: { ttlMs: number; now?: () => number }) {
  const key = randomBytes(32);
  const now = options.now ?? Date.now;
  const sign = (previewId: string, ownerId: string, expires: number) =>
    createHmac('sha256', key).update(`${previewId}\n${ownerId}\n${expires}`).digest('base64url');

  return {
    issue(previewId: string, ownerId: string): string {
      const expires = now() + options.ttlMs;
      return `${expires.toString(36)}.${sign(previewId, ownerId, expires)}`;
    },
    /**
     * The preview cookie's value: the right to see this preview for one session's life.
     * It names the session, so it dies with it (and with the server's key).
     */
    grant(previewId: string, sessionId: string, ownerId: string): string {
      return createHmac('sha256', key).update(`grant\n${previewId}\n${sessionId}\n${ownerId}`).digest('base64url');
    },
    checkGrant(value: string, previewId: string, sessionId: string, ownerId: string): boolean {
      const expected = Buffer.from(this.grant(previewId, sessionId, ownerId));
      const given = Buffer.from(value);
      return expected.length === given.length && timingSafeEqual(expected, given);
    },
    /** 'valid', 'expired' (signature right, too old) or 'invalid'. */
    check(token: string, previewId: string, ownerId: string): 'valid' | 'expired' | 'invalid' {
      const [encodedExpiry, signature] = token.split('.');
      if (!encodedExpiry || !signature || token.length > 200) return 'invalid';
      const expires = parseInt(encodedExpiry, 36);
      if (!Number.isFinite(expires)) return 'invalid';
      const expected = Buffer.from(sign(previewId, ownerId, expires));
      const given = Buffer.from(signature);
      if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'invalid';
      return expires >= now() ? 'valid' : 'expired';
    },
  };
}

export type PreviewTokens = ReturnType<typeof createPreviewTokens>;
