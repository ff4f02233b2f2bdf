import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { checkGitUrl } from './git-import.js';

/** A resolver that answers from a table (no network in unit tests). */
const resolver = (table: Record<string, string[]>) =>
  (async (host: string) => {
    const addresses = table[host];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 }));
  }) as unknown as Parameters<typeof checkGitUrl>[2];

const hosts = resolver({
  'github.com': ['140.82.121.4'],
  'dual.example': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
  'intranet.example': ['10.1.2.3'],
  'sneaky.example': ['93.184.215.14', '192.168.1.10'],
  localhost: ['127.0.0.1', '::1'],
});

const code = async (url: string, options = {}) => {
  try {
    await checkGitUrl(url, options, hosts);
    return 'accepted';
  } catch (error) {
    if (error instanceof AppError) return error.code;
    throw error;
  }
};

describe('checkGitUrl', () => {
  it('accepts an https URL of a public host, pins its addresses for git, and names the repository', async () => {
    expect(await checkGitUrl('https://github.com/remotion-dev/template-helloworld.git', {}, hosts)).toEqual({
      url: 'https://github.com/remotion-dev/template-helloworld.git',
      resolve: ['github.com:443:140.82.121.4'],
      http: false,
      name: 'template-helloworld',
    });
    expect((await checkGitUrl('  https://DUAL.example:8443/a/My%20Film/#readme ', {}, hosts)).resolve).toEqual([
      'dual.example:8443:93.184.215.14,[2606:2800:21f:cb07:6820:80da:af6b:8b2c]',
    ]);
    expect((await checkGitUrl('https://dual.example/a/My%20Film', {}, hosts)).name).toBe('My Film');
    expect((await checkGitUrl('https://93.184.215.14/repo', {}, hosts)).resolve).toEqual([]);
  });

  it('refuses every other scheme, option-like values, helpers and credentials', async () => {
    for (const url of [
      'http://github.com/a/b.git',
      'file:///etc',
      'ssh://git@github.com/a/b.git',
      'git@github.com:a/b.git',
      'git://github.com/a/b.git',
      'ext::sh -c id',
      'fd::17',
      '--upload-pack=id',
      '-c core.sshCommand=id',
      'https://user:pass@github.com/a/b.git',
      'https://user@github.com/a/b.git',
      'https://github.com/a b.git',
      'https://github.com/a\nb.git',
      'ftp://github.com/a.git',
      'a/b',
    ]) {
      expect(await code(url), url).toBe('import_git_url_refused');
    }
  });

  it('refuses hosts that are or resolve to private, loopback, link-local or mapped addresses', async () => {
    for (const url of [
      'https://intranet.example/a.git',
      'https://sneaky.example/a.git',
      'https://localhost/a.git',
      'https://127.0.0.1/a.git',
      'https://[::1]/a.git',
      'https://[::ffff:127.0.0.1]/a.git',
      'https://[::ffff:10.0.0.1]/a.git',
      'https://169.254.169.254/a.git',
      'https://0.0.0.0/a.git',
      'https://[fd00::1]/a.git',
      'https://[fe80::1]/a.git',
      'https://100.64.0.1/a.git',
    ]) {
      expect(await code(url), url).toBe('import_git_url_refused');
    }
    expect(await code('https://nowhere.example/a.git')).toBe('import_git_failed');
  });

  it('allows http and https to loopback only with the test setting, and never other private hosts', async () => {
    const allowLoopback = { allowLoopback: true };
    expect(await code('http://127.0.0.1:9000/a.git', allowLoopback)).toBe('accepted');
    expect(await checkGitUrl('http://localhost:9000/a.git', allowLoopback, hosts)).toMatchObject({ http: true, resolve: ['localhost:9000:127.0.0.1,[::1]'] });
    expect(await code('https://127.0.0.1/a.git', allowLoopback)).toBe('accepted');
    expect(await code('http://10.0.0.1/a.git', allowLoopback)).toBe('import_git_url_refused');
    expect(await code('http://github.com/a.git', allowLoopback)).toBe('import_git_url_refused');
    expect(await code('https://intranet.example/a.git', allowLoopback)).toBe('import_git_url_refused');
    expect(await code('file:///etc', allowLoopback)).toBe('import_git_url_refused');
  });
});
