import { describe, expect, it } from 'vitest';
import { type LivePreview, PREVIEW_COOKIE, authorizePreview, findLivePreview, previewCookies, previewLink } from './preview-access.js';
import { createPreviewTokens } from './preview-tokens.js';

describe('preview access', () => {
  let clock = 1_000_000;
  const tokens = createPreviewTokens({ ttlMs: 60_000, now: () => clock });
  const sandboxId = 'sandbox-aaaaaaaaaaaaaaaa';
  const live: LivePreview = { sessionId: 'session-1', ownerId: 'owner-1', target: { socketPath: '/nowhere/preview.sock' }, previewKey: 'key' };
  const cookieValue = (header: string) => header.split(';')[0]!.slice(PREVIEW_COOKIE.length + 1);

  it('a page with a valid token gets the bootstrap and a cookie scoped to the sandbox, partitioned, HttpOnly', () => {
    const verdict = authorizePreview(live, tokens, { sandboxId, kind: 'page', token: tokens.issue(sandboxId, 'owner-1'), cookies: [] });
    expect(verdict.ok && verdict.bootstrap).toBeTruthy();
    const cookie = verdict.ok ? verdict.cookie! : '';
    expect(cookie).toContain(`Path=/s/${sandboxId}/`);
    expect(cookie).toMatch(/HttpOnly; Secure; SameSite=None; Partitioned$/);
  });

  it('everything else needs the cookie: no cookie, a forged one, or one of another session is refused', () => {
    const page = authorizePreview(live, tokens, { sandboxId, kind: 'grant', token: tokens.issue(sandboxId, 'owner-1'), cookies: [] });
    const value = cookieValue(page.ok ? page.cookie! : '');
    expect(authorizePreview(live, tokens, { sandboxId, kind: 'resource', cookies: [value] }).ok).toBe(true);
    expect(authorizePreview(live, tokens, { sandboxId, kind: 'page', cookies: [value] }).ok).toBe(true);
    expect(authorizePreview(live, tokens, { sandboxId, kind: 'resource', cookies: [] })).toMatchObject({ ok: false, status: 403 });
    expect(authorizePreview(live, tokens, { sandboxId, kind: 'page', cookies: [] })).toMatchObject({ ok: false, status: 403 });
    expect(authorizePreview(live, tokens, { sandboxId, kind: 'resource', cookies: ['x'.repeat(43)] })).toMatchObject({ ok: false });
    // Another life of the session (a new session on the same sandbox id) or another sandbox.
    expect(authorizePreview({ ...live, sessionId: 'session-2' }, tokens, { sandboxId, kind: 'resource', cookies: [value] }).ok).toBe(false);
    expect(authorizePreview(live, tokens, { sandboxId: 'other-sandbox-aaaaaaaa', kind: 'resource', cookies: [value] }).ok).toBe(false);
    // A page token is no credential for modules or the HMR socket.
    expect(authorizePreview(live, tokens, { sandboxId, kind: 'resource', token: tokens.issue(sandboxId, 'owner-1'), cookies: [] }).ok).toBe(false);
  });

  it('the right ends with the session, and an expired link opens nothing', () => {
    const token = tokens.issue(sandboxId, 'owner-1');
    expect(authorizePreview(null, tokens, { sandboxId, kind: 'page', token, cookies: [] })).toMatchObject({ ok: false, status: 404 });
    clock += 61_000;
    expect(authorizePreview(live, tokens, { sandboxId, kind: 'page', token, cookies: [] })).toMatchObject({ ok: false, status: 403 });
    expect(authorizePreview(live, tokens, { sandboxId, kind: 'grant', token, cookies: [] })).toMatchObject({ ok: false, status: 403 });
  });

  it("refuses a request that carries another user's app cookie", () => {
    const token = tokens.issue(sandboxId, 'owner-1');
    expect(authorizePreview(live, tokens, { sandboxId, kind: 'page', token, cookies: [], cookieUserId: 'owner-2' })).toMatchObject({ status: 403 });
  });

  it("a session's link opens its sandbox's preview for its owner only", () => {
    const link = new URL(previewLink(tokens, 'http://preview.test', { id: sandboxId, base: `/s/${sandboxId}/` }, 'owner-1'));
    expect(link.origin + link.pathname).toBe(`http://preview.test/s/${sandboxId}/`);
    expect(tokens.check(link.searchParams.get('t')!, sandboxId, 'owner-1')).toBe('valid');
    expect(tokens.check(link.searchParams.get('t')!, sandboxId, 'owner-2')).toBe('invalid');
  });

  it('finds the live session a sandbox serves (and marks it active); none that is not live', () => {
    const session = { id: 'session-1', ownerId: 'owner-1', state: 'running' as const, sandbox: { id: sandboxId, ...live, preview: live.target }, lastActivity: 0 };
    expect(findLivePreview([session], sandboxId)).toEqual(live);
    expect(session.lastActivity).toBeGreaterThan(0);
    expect(findLivePreview([session], 'other-sandbox-aaaaaaaa')).toBeNull();
    for (const state of ['starting', 'error', 'stopped'] as const) expect(findLivePreview([{ ...session, state }], sandboxId)).toBeNull();
  });

  it('reads every value of the preview cookie from a Cookie header', () => {
    expect(previewCookies(`a=1; ${PREVIEW_COOKIE}=x; b=2;${PREVIEW_COOKIE}=y`)).toEqual(['x', 'y']);
    expect(previewCookies(undefined)).toEqual([]);
  });
});
