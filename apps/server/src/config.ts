import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';

/**
 * The server's configuration, read once at start from the environment (DESIGN.md,
 * "Contracts"). Anything unknown or malformed is fatal: `loadConfig` throws a
 * `ConfigError` that names every bad variable, and `main` exits with it.
 */

const port = z.coerce.number().int().min(0).max(65_535);
const optionalText = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();
const url = (schemes: string[]) =>
  z
    .string()
    .trim()
    .refine((value) => {
      try {
        return schemes.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    }, `must be a URL starting with ${schemes.map((scheme) => `${scheme}//`).join(' or ')}`);

const Environment = z.object({
  PORT: port.default(8080),
  PREVIEW_PORT: port.default(8090),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().trim().min(1).default('./data'),
  DATABASE_URL: optionalText.pipe(url(['postgres:', 'postgresql:']).optional()),
  STORAGE_URL: optionalText.pipe(url(['file:', 's3:']).optional()),
  SANDBOX_DRIVER: z.enum(['local', 'docker', 'kubernetes']).default('local'),
  /** The sandbox image of the docker driver (built by `npm run sandbox:image`). */
  SANDBOX_IMAGE: optionalText,
  /** The Docker Engine API (or Podman's Docker-compatible service): unix:///path or tcp://host:port. */
  DOCKER_HOST: optionalText,
  /** Limits of one sandbox: memory (MiB), processes, CPUs (fractions allowed), disk (MiB of its files and /tmp). */
  SANDBOX_MEMORY_MB: z.coerce.number().int().min(128).max(64 * 1024).default(1_536),
  SANDBOX_PIDS: z.coerce.number().int().min(32).max(65_536).default(512),
  SANDBOX_CPUS: z.coerce.number().min(0.1).max(64).default(1),
  SANDBOX_DISK_MB: z.coerce.number().int().min(64).max(1024 * 1024).default(2_048),
  /** How many sandboxes may boot at once (each start is CPU-heavy). */
  SANDBOX_BOOT_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  /** Memory (MiB) the machine must have free for one more session with its agent before its sandbox starts; 0: no check. */
  SANDBOX_ADMIT_MB: z.coerce.number().int().min(0).max(1024 * 1024).default(250),
  /** The largest media file one upload may be, and the most one project's media may add up to (MiB). */
  MEDIA_MAX_FILE_MB: z.coerce.number().int().min(1).max(256).default(256),
  MEDIA_MAX_PROJECT_MB: z.coerce.number().int().min(1).max(64 * 1024).default(1_024),
  AGENT_RUNNER: z.enum(['claude-agent-sdk', 'ai-sdk']).default('claude-agent-sdk'),
  /** Give the Claude agent a shell (Bash). Off by default: a shell is not confined to the working copy. */
  AGENT_SHELL: z.enum(['true', 'false', '1', '0']).default('false'),
  ANTHROPIC_API_KEY: optionalText,
  ANTHROPIC_BASE_URL: optionalText.pipe(url(['http:', 'https:']).optional()),
  OPENAI_BASE_URL: optionalText.pipe(url(['http:', 'https:']).optional()),
  OPENAI_API_KEY: optionalText,
  MODEL: optionalText,
  /** The most output tokens one model request may ask for (the model proxy lowers larger asks). */
  MODEL_MAX_TOKENS: z.coerce.number().int().min(1_024).max(1_000_000).default(32_000),
  /** The largest file one agent tool call may write, and a turn's version may hold (bytes). */
  AGENT_MAX_FILE_BYTES: z.coerce.number().int().min(1_024).max(1024 * 1024 * 1024).default(1024 * 1024),
  /** What one agent turn may write in all (bytes). */
  AGENT_MAX_TURN_BYTES: z.coerce.number().int().min(1_024).max(8 * 1024 * 1024 * 1024).default(20 * 1024 * 1024),
  CHROMIUM_PATH: z.string().trim().min(1).default('/usr/bin/chromium'),
  SESSION_GRACE_MS: z.coerce.number().int().min(0).max(24 * 60 * 60 * 1000).default(30_000),
  /** Started sandboxes kept ready so opening a project does not wait for a dev server. */
  SESSION_POOL_SIZE: z.coerce.number().int().min(0).max(64).default(1),
  /** Live sessions one user may hold at once, and the whole server. */
  SESSION_MAX_PER_USER: z.coerce.number().int().min(1).max(1_000).default(8),
  SESSION_MAX: z.coerce.number().int().min(1).max(10_000).default(60),
  /** A session without any activity for this long is ended. */
  SESSION_IDLE_MS: z.coerce.number().int().min(1_000).max(7 * 24 * 60 * 60 * 1000).default(30 * 60_000),
  /** How long a preview link may wait before its first use. */
  PREVIEW_TOKEN_TTL_MS: z.coerce.number().int().min(1_000).max(60 * 60_000).default(60_000),
  /** The preview origin as browsers reach it, when not `http://HOST:PREVIEW_PORT`. */
  PREVIEW_PUBLIC_URL: optionalText.pipe(url(['http:', 'https:']).optional()),
  /** The app's public origin, when it is not `http://HOST:PORT` (behind a proxy, say). */
  PUBLIC_URL: optionalText.pipe(url(['http:', 'https:']).optional()),
  /** More origins allowed to make state-changing requests, comma-separated. */
  ALLOWED_ORIGINS: optionalText,
  /** Mark the session cookie `Secure` (set it when the app is served over HTTPS). */
  COOKIE_SECURE: z.enum(['true', 'false', '1', '0']).default('false'),
  /** Reverse proxies whose `X-Forwarded-For` is believed (IPs or CIDRs, comma-separated); unset: none. */
  TRUSTED_PROXIES: optionalText,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Where the built web app is; defaults to `apps/web/dist` of this checkout. */
  WEB_DIST_DIR: optionalText,
  /** Renders (exports and thumbnails) running at once on the whole server, and exports of one user. */
  EXPORT_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
  EXPORT_CONCURRENCY_PER_USER: z.coerce.number().int().min(1).max(64).default(1),
  /** Projects one user may own; creating one more is refused (`too_many_projects`). */
  PROJECTS_MAX_PER_USER: z.coerce.number().int().min(1).max(100_000).default(100),
  /** Disk the render bundle cache may use; least recently used bundles go first. */
  BUNDLE_CACHE_MAX_BYTES: z.coerce.number().int().min(0).default(1024 ** 3),
  /**
   * Let a git import clone over plain http, and from this machine's loopback addresses
   * (tests serve a repository from 127.0.0.1). Never set it on a server others use.
   */
  IMPORT_GIT_ALLOW_LOOPBACK: z.enum(['true', 'false', '1', '0']).default('false'),
});

export type Config = {
  port: number;
  previewPort: number;
  host: string;
  dataDir: string;
  store: { kind: 'pglite'; dataDir: string } | { kind: 'postgres'; url: string };
  storageUrl: string;
  sandboxDriver: 'local' | 'docker';
  sandbox: {
    image?: string;
    dockerHost?: string;
    limits: { memoryMb: number; pids: number; cpus: number; diskMb: number };
    bootConcurrency: number;
    /** SANDBOX_ADMIT_MB (0: admission off). */
    admitMb: number;
  };
  agentRunner: 'claude-agent-sdk' | 'ai-sdk';
  agentShell: boolean;
  provider: {
    anthropicApiKey?: string;
    anthropicBaseUrl?: string;
    openaiBaseUrl?: string;
    openaiApiKey?: string;
    model?: string;
  };
  /** MODEL_MAX_TOKENS. */
  modelMaxTokens: number;
  /** AGENT_MAX_FILE_BYTES, AGENT_MAX_TURN_BYTES. */
  agentLimits: { maxFileBytes: number; maxTurnBytes: number };
  chromiumPath: string;
  sessionGraceMs: number;
  sessionPoolSize: number;
  sessionMaxPerUser: number;
  sessionMax: number;
  sessionIdleMs: number;
  previewTokenTtlMs: number;
  /** Origin of the preview proxy as the browser reaches it; undefined: http://HOST:PREVIEW_PORT. */
  previewPublicUrl?: string;
  publicUrl?: string;
  extraOrigins: string[];
  cookieSecure: boolean;
  /** Addresses (IPs, CIDRs) whose forwarded headers name the client; empty: the socket's peer is the client. */
  trustedProxies: string[];
  logLevel: string;
  webDistDir: string;
  /** Renders running at once on the server (exports and thumbnails), and exports per user. */
  exportConcurrency: number;
  exportConcurrencyPerUser: number;
  projectsMaxPerUser: number;
  bundleCacheMaxBytes: number;
  /** MEDIA_MAX_FILE_MB and MEDIA_MAX_PROJECT_MB, in bytes. */
  mediaLimits: { fileBytes: number; projectBytes: number };
  /** IMPORT_GIT_ALLOW_LOOPBACK (tests only). */
  importGitAllowLoopback: boolean;
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const defaultWebDist = path.resolve(import.meta.dirname, '..', '..', 'web', 'dist');

export function loadConfig(environment: Record<string, string | undefined> = process.env): Config {
  const parsed = Environment.safeParse(environment);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const env = parsed.data;

  // Known names whose implementation has not landed yet are as fatal as unknown ones:
  // never a silent fallback to something the operator did not ask for.
  if (env.SANDBOX_DRIVER === 'kubernetes') {
    throw new ConfigError(
      'SANDBOX_DRIVER=kubernetes is not available in this version; use "local" or "docker" (docs/decisions/2026-11-30-sandbox-drivers.md says how it will fit).',
    );
  }
  const sandboxDriver = env.SANDBOX_DRIVER;
  const dataDir = path.resolve(env.DATA_DIR);
  const storageUrl = env.STORAGE_URL ?? `file://${path.join(dataDir, 'storage')}`;
  if (!storageUrl.startsWith('file:')) {
    throw new ConfigError(`STORAGE_URL=${storageUrl}: only file:// storage is available in this version.`);
  }
  let extraOrigins: string[] = [];
  if (env.ALLOWED_ORIGINS) {
    extraOrigins = env.ALLOWED_ORIGINS.split(',').map((origin) => origin.trim()).filter(Boolean);
    for (const origin of extraOrigins) {
      let parsedOrigin: URL;
      try {
        parsedOrigin = new URL(origin);
      } catch {
        throw new ConfigError(`ALLOWED_ORIGINS: "${origin}" is not an origin like https://example.com`);
      }
      if (parsedOrigin.origin !== origin) {
        throw new ConfigError(`ALLOWED_ORIGINS: "${origin}" is not an origin (did you mean ${parsedOrigin.origin}?)`);
      }
    }
  }

  return {
    port: env.PORT,
    previewPort: env.PREVIEW_PORT,
    host: env.HOST,
    dataDir,
    store: env.DATABASE_URL
      ? { kind: 'postgres', url: env.DATABASE_URL }
      : { kind: 'pglite', dataDir: path.join(dataDir, 'db') },
    storageUrl,
    mediaLimits: { fileBytes: env.MEDIA_MAX_FILE_MB * 1024 * 1024, projectBytes: env.MEDIA_MAX_PROJECT_MB * 1024 * 1024 },
    sandboxDriver,
    sandbox: {
      ...(env.SANDBOX_IMAGE ? { image: env.SANDBOX_IMAGE } : {}),
      ...(env.DOCKER_HOST ? { dockerHost: env.DOCKER_HOST } : {}),
      limits: { memoryMb: env.SANDBOX_MEMORY_MB, pids: env.SANDBOX_PIDS, cpus: env.SANDBOX_CPUS, diskMb: env.SANDBOX_DISK_MB },
      bootConcurrency: env.SANDBOX_BOOT_CONCURRENCY,
      admitMb: env.SANDBOX_ADMIT_MB,
    },
    agentRunner: env.AGENT_RUNNER,
    agentShell: env.AGENT_SHELL === 'true' || env.AGENT_SHELL === '1',
    provider: {
      anthropicApiKey: env.ANTHROPIC_API_KEY,
      anthropicBaseUrl: env.ANTHROPIC_BASE_URL,
      openaiBaseUrl: env.OPENAI_BASE_URL,
      openaiApiKey: env.OPENAI_API_KEY,
      model: env.MODEL,
    },
    modelMaxTokens: env.MODEL_MAX_TOKENS,
    agentLimits: { maxFileBytes: env.AGENT_MAX_FILE_BYTES, maxTurnBytes: env.AGENT_MAX_TURN_BYTES },
    chromiumPath: env.CHROMIUM_PATH,
    sessionGraceMs: env.SESSION_GRACE_MS,
    sessionPoolSize: env.SESSION_POOL_SIZE,
    sessionMaxPerUser: env.SESSION_MAX_PER_USER,
    sessionMax: env.SESSION_MAX,
    sessionIdleMs: env.SESSION_IDLE_MS,
    previewTokenTtlMs: env.PREVIEW_TOKEN_TTL_MS,
    previewPublicUrl: env.PREVIEW_PUBLIC_URL ? new URL(env.PREVIEW_PUBLIC_URL).origin : undefined,
    publicUrl: env.PUBLIC_URL ? new URL(env.PUBLIC_URL).origin : undefined,
    extraOrigins,
    cookieSecure: env.COOKIE_SECURE === 'true' || env.COOKIE_SECURE === '1',
    trustedProxies: parseTrustedProxies(env.TRUSTED_PROXIES),
    logLevel: env.LOG_LEVEL,
    webDistDir: env.WEB_DIST_DIR ? path.resolve(env.WEB_DIST_DIR) : defaultWebDist,
    exportConcurrency: env.EXPORT_CONCURRENCY,
    exportConcurrencyPerUser: env.EXPORT_CONCURRENCY_PER_USER,
    projectsMaxPerUser: env.PROJECTS_MAX_PER_USER,
    bundleCacheMaxBytes: env.BUNDLE_CACHE_MAX_BYTES,
    importGitAllowLoopback: env.IMPORT_GIT_ALLOW_LOOPBACK === 'true' || env.IMPORT_GIT_ALLOW_LOOPBACK === '1',
  };
}

/** Named ranges proxy-addr (Fastify's `trustProxy`) knows besides IPs and CIDRs. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * TRUSTED_PROXIES: IPs and CIDRs (or proxy-addr's `loopback`, `linklocal`,
 * `uniquelocal`). Checked here, because a typo would silently trust nobody, or everyone.
 */
function parseTrustedProxies(value: string | undefined): string[] {
  if (!value) return [];
  const entries = value.split(',').map((entry) => entry.trim()).filter(Boolean);
  for (const entry of entries) {
    if (PROXY_RANGE_NAMES.has(entry)) continue;
    const [address = '', prefix, ...rest] = entry.split('/');
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    const validPrefix = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
    if (!family || !validPrefix || rest.length > 0) {
      throw new ConfigError(`TRUSTED_PROXIES: "${entry}" is not an IP address or CIDR range like 10.0.0.1 or 10.0.0.0/8`);
    }
  }
  return entries;
}

/**
 * Origins allowed to make state-changing requests and open the WebSocket: the public
 * URL, the listen address (and its loopback aliases), and ALLOWED_ORIGINS.
 */
export function allowedOrigins(config: Config, listenPort: number): Set<string> {
  const origins = new Set(config.extraOrigins);
  if (config.publicUrl) origins.add(config.publicUrl);
  const loopback = ['127.0.0.1', 'localhost', '::1', '[::1]'];
  const hosts = loopback.includes(config.host) || config.host === '0.0.0.0' ? ['127.0.0.1', 'localhost', '[::1]'] : [config.host];
  for (const host of hosts) origins.add(`http://${host}:${listenPort}`);
  return origins;
}

/** The preview proxy's origin as the browser reaches it. */
export function previewOrigin(config: Config, listenPort = config.previewPort): string {
  if (config.previewPublicUrl) return config.previewPublicUrl;
  const host = ['0.0.0.0', '::', 'localhost'].includes(config.host) ? '127.0.0.1' : config.host;
  return `http://${host}:${listenPort}`;
}

/**
 * Where the server's model proxy sends the agent's requests, and how it authenticates
 * there; or, when nothing usable is configured, exactly what to set. The key never
 * leaves the server (see agent/model-proxy.ts).
 */
export type ModelProvider =
  | {
      configured: true;
      runner: Config['agentRunner'];
      wire: 'anthropic' | 'openai';
      /** The provider's base URL: ANTHROPIC_BASE_URL (no /v1) or OPENAI_BASE_URL (with /v1 where it needs it). */
      upstream: string;
      /** Headers the proxy adds (the API key). */
      authHeaders: Record<string, string>;
      model?: string;
      /** For people: which provider, no secret. */
      message: string;
    }
  | { configured: false; runner: Config['agentRunner']; message: string };

/** How to configure a provider, naming nothing about this server: also what anonymous callers of /api/health see. */
export const NO_PROVIDER =
  'No model provider is configured, so the agent cannot chat. Set ANTHROPIC_API_KEY (Claude, the default runner), or AGENT_RUNNER=ai-sdk with OPENAI_BASE_URL and MODEL (Ollama, vLLM, llama.cpp server…), then restart Cutroom.';

export function modelProvider(config: Config): ModelProvider {
  const { anthropicApiKey, anthropicBaseUrl, openaiBaseUrl, openaiApiKey, model } = config.provider;
  const runner = config.agentRunner;
  const anthropic = (): ModelProvider => ({
    configured: true,
    runner,
    wire: 'anthropic',
    upstream: (anthropicBaseUrl ?? 'https://api.anthropic.com').replace(/\/+$/, ''),
    authHeaders: anthropicApiKey ? { 'x-api-key': anthropicApiKey } : {},
    ...(model ? { model } : {}),
    message: anthropicBaseUrl ? `Anthropic-compatible endpoint at ${new URL(anthropicBaseUrl).host}` : 'Anthropic',
  });
  if (runner === 'claude-agent-sdk') {
    if (anthropicApiKey || anthropicBaseUrl) return anthropic();
    if (openaiBaseUrl) {
      return {
        configured: false,
        runner,
        message: 'OPENAI_BASE_URL is set, but the Claude Agent SDK runner speaks the Anthropic API: set AGENT_RUNNER=ai-sdk (and MODEL) to use an OpenAI-compatible endpoint, or set ANTHROPIC_API_KEY, then restart Cutroom.',
      };
    }
    return { configured: false, runner, message: NO_PROVIDER };
  }
  if (openaiBaseUrl) {
    if (!model) return { configured: false, runner, message: 'OPENAI_BASE_URL is set but MODEL is not: set MODEL to the model\'s name at that endpoint, then restart Cutroom.' };
    return {
      configured: true,
      runner,
      wire: 'openai',
      upstream: openaiBaseUrl.replace(/\/+$/, ''),
      authHeaders: openaiApiKey ? { authorization: `Bearer ${openaiApiKey}` } : {},
      model,
      message: `OpenAI-compatible endpoint at ${new URL(openaiBaseUrl).host}, model ${model}`,
    };
  }
  if (anthropicApiKey || anthropicBaseUrl) return anthropic();
  return { configured: false, runner, message: NO_PROVIDER };
}
