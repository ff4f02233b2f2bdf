import { describe, expect, it } from 'vitest';
import { ConfigError, allowedOrigins, loadConfig, modelProvider } from './config.js';

describe('configuration', () => {
  it('has embedded defaults that need nothing installed', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      previewPort: 8090,
      host: '127.0.0.1',
      sandboxDriver: 'local',
      agentRunner: 'claude-agent-sdk',
      chromiumPath: '/usr/bin/chromium',
      sessionGraceMs: 30_000,
      store: { kind: 'pglite' },
    });
    expect(config.storageUrl).toMatch(/^file:\/\/.*\/storage$/);
  });

  it('uses PostgreSQL when DATABASE_URL is set', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://u@db:5432/app' }).store).toEqual({ kind: 'postgres', url: 'postgres://u@db:5432/app' });
  });

  it.each([
    [{ SANDBOX_DRIVER: 'lxc' }, 'SANDBOX_DRIVER'],
    [{ SANDBOX_DRIVER: 'kubernetes' }, 'kubernetes is not available'],
    [{ AGENT_RUNNER: 'gpt' }, 'AGENT_RUNNER'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ STORAGE_URL: 'ftp://x' }, 'STORAGE_URL'],
    [{ STORAGE_URL: 's3://bucket/prefix' }, 'only file://'],
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ SESSION_GRACE_MS: '-1' }, 'SESSION_GRACE_MS'],
    [{ ALLOWED_ORIGINS: 'https://a.example/path' }, 'not an origin'],
  ])('refuses %j, naming the variable', (environment, fragment) => {
    expect(() => loadConfig(environment)).toThrow(ConfigError);
    expect(() => loadConfig(environment)).toThrow(fragment);
  });

  it('caps projects per user and the bundle cache, with defaults and checked overrides', () => {
    expect(loadConfig({})).toMatchObject({ projectsMaxPerUser: 100, bundleCacheMaxBytes: 1024 ** 3 });
    expect(loadConfig({ PROJECTS_MAX_PER_USER: '5', BUNDLE_CACHE_MAX_BYTES: '1000' })).toMatchObject({ projectsMaxPerUser: 5, bundleCacheMaxBytes: 1000 });
    expect(() => loadConfig({ PROJECTS_MAX_PER_USER: '0' })).toThrow('PROJECTS_MAX_PER_USER');
    expect(() => loadConfig({ BUNDLE_CACHE_MAX_BYTES: 'lots' })).toThrow('BUNDLE_CACHE_MAX_BYTES');
  });

  it('trusts no forwarding proxy unless TRUSTED_PROXIES names it (IPs, CIDRs), and refuses anything else', () => {
    expect(loadConfig({}).trustedProxies).toEqual([]);
    expect(loadConfig({ TRUSTED_PROXIES: ' 127.0.0.1, 10.0.0.0/8,::1 , fd00::/8,loopback' }).trustedProxies).toEqual([
      '127.0.0.1',
      '10.0.0.0/8',
      '::1',
      'fd00::/8',
      'loopback',
    ]);
    for (const bad of ['proxy.example', '10.0.0.0/33', '10.0.0.1/8/1', '*', '10.0.0.0/x']) {
      expect(() => loadConfig({ TRUSTED_PROXIES: bad }), bad).toThrow('TRUSTED_PROXIES');
    }
  });

  it('names every bad variable at once', () => {
    try {
      loadConfig({ PORT: 'x', AGENT_RUNNER: 'y' });
      expect.unreachable();
    } catch (error) {
      expect(String(error)).toContain('PORT');
      expect(String(error)).toContain('AGENT_RUNNER');
    }
  });

  it('allows the app origin on loopback aliases, the public URL and extra origins', () => {
    const origins = allowedOrigins(loadConfig({ PUBLIC_URL: 'https://cut.example/app', ALLOWED_ORIGINS: 'https://b.example' }), 8080);
    expect([...origins].sort()).toEqual(
      ['http://127.0.0.1:8080', 'http://[::1]:8080', 'http://localhost:8080', 'https://b.example', 'https://cut.example'].sort(),
    );
  });

  it('says how to configure a model provider when none is set, without leaking keys', () => {
    expect(modelProvider(loadConfig({}))).toMatchObject({ configured: false, message: expect.stringContaining('ANTHROPIC_API_KEY') });
    const configured = modelProvider(loadConfig({ ANTHROPIC_API_KEY: 'sk-secret' }));
    expect(configured).toMatchObject({ configured: true, wire: 'anthropic', upstream: 'https://api.anthropic.com', authHeaders: { 'x-api-key': 'sk-secret' } });
    expect(configured.message).not.toContain('sk-secret');
    expect(modelProvider(loadConfig({ AGENT_RUNNER: 'ai-sdk', OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1/', MODEL: 'llama' }))).toMatchObject({
      configured: true,
      wire: 'openai',
      upstream: 'http://127.0.0.1:11434/v1',
      model: 'llama',
    });
    expect(modelProvider(loadConfig({ AGENT_RUNNER: 'ai-sdk', OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1' }))).toMatchObject({
      configured: false,
      message: expect.stringContaining('MODEL'),
    });
    expect(modelProvider(loadConfig({ OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1', MODEL: 'x' }))).toMatchObject({
      configured: false,
      message: expect.stringContaining('AGENT_RUNNER=ai-sdk'),
    });
    // A local Anthropic-wire server needs no key.
    expect(modelProvider(loadConfig({ ANTHROPIC_BASE_URL: 'http://127.0.0.1:9999' }))).toMatchObject({ configured: true, authHeaders: {} });
  });
});
