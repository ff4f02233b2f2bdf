import { describe, expect, it } from 'vitest';
import { isSafePreviewPath, withoutPageToken } from './preview-proxy.js';

describe('preview proxy paths', () => {
  it.each([
    '/s/abc/../../etc/passwd',
    '/s/abc/%2e%2e/%2e%2e/etc/passwd',
    '/s/abc/%252e%252e/etc/passwd',
    '/s/abc/%3F/../../../@fs/etc/passwd',
    '/s/abc/..%5c..%5cetc/passwd',
    '/s/abc/%00',
    '/s/abc/./main.tsx',
    '/s/abc/%E0%A4%A',
  ])('refuses %s', (url) => {
    expect(isSafePreviewPath(url)).toBe(false);
  });

  it.each(['/s/abc/', '/s/abc/main.tsx?t=1&import', '/s/abc/@fs/tmp/w/src/a.tsx?t=123', '/s/abc/?t=x..y'])('lets %s through', (url) => {
    expect(isSafePreviewPath(url)).toBe(true);
  });

  it('cuts only the page token out of a query, leaving the rest byte for byte', () => {
    expect(withoutPageToken('/s/abc/?t=tok')).toBe('/s/abc/');
    expect(withoutPageToken('/s/abc/?t=tok&import&worker')).toBe('/s/abc/?import&worker');
    expect(withoutPageToken('/s/abc/?import&t=tok')).toBe('/s/abc/?import');
    expect(withoutPageToken('/s/abc/?a=1&t=tok&b')).toBe('/s/abc/?a=1&b');
    expect(withoutPageToken('/s/abc/?import&worker')).toBe('/s/abc/?import&worker');
  });
});
