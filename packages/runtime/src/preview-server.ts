import { cp, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import react from '@vitejs/plugin-react';
import { PROVIDED_PACKAGES, findEntryPoint, templatePreviewDir } from '@cutroom/template';
import { timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { PREVIEW_KEY_HEADER } from '@cutroom/protocol';
import { type Plugin, type ViteDevServer, createServer } from 'vite';
import { confinePlugin } from './confine-plugin.js';
import { type ListenTarget, listenOn } from './listen-target.js';
import { projectCssImports, projectCssPlugin } from './project-css.js';
import { projectEntryPlugin } from './project-entry-plugin.js';
import { createPathScrubber, scrubPathsPlugin } from './scrub-paths.js';

/**
 * Files the preview must never serve, on top of Vite's own list (`.env*`, certificates,
 * `.git`): configuration that can hold secrets, and anything of the agent's state.
 */
export const previewDenyList = [
  '.env',
  '.env.*',
  '*.{crt,pem,key,p12,pfx}',
  '**/.git/**',
  'vite.config.*',
  'vitest.config.*',
  '.npmrc',
  '**/.claude/**',
  '**/.cutroom/**',
  '**/.ssh/**',
];

/** The repo's node_modules, where react, remotion and the Player are installed. */
const nodeModulesDir = path.dirname(path.dirname(path.dirname(createRequire(import.meta.url).resolve('remotion'))));

/** The whole installed-packages folder (read-only for sandboxes): what project code may import from. */
const packagesDir = (() => {
  const remotion = createRequire(import.meta.url).resolve('remotion');
  const at = remotion.lastIndexOf(`${path.sep}node_modules${path.sep}`);
  return remotion.slice(0, at + `${path.sep}node_modules`.length);
})();

/**
 * Until a project's own packages are installed for it (issue 11, item 3), a package a
 * project imports comes from Cutroom's installed packages (read-only), as for the Player
 * page: a bare import that nothing up the project's tree provides is resolved as if the
 * page imported it (so Vite pre-bundles it as it does the page's packages). The
 * confinement plugin still judges where it landed.
 */
function installedPackages(workspace: string): Plugin {
  const page = path.join(templatePreviewDir, 'main.tsx');
  const bare = (source: string) => !source.startsWith('.') && !source.startsWith('/') && !source.startsWith('\0') && !/^[a-z][a-z0-9+.-]*:/i.test(source);
  return {
    name: 'cutroom-installed-packages',
    async resolveId(source, importer, options) {
      if (!importer || !bare(source) || !importer.startsWith(workspace + path.sep)) return null;
      const own = await this.resolve(source, importer, { ...options, skipSelf: true });
      if (own) return own;
      return this.resolve(source, page, { ...options, skipSelf: true });
    },
  };
}

/**
 * Vite listens on the sandbox's `sock/preview.sock` (or a loopback port that any local
 * process, or a page in the user's browser, could find). Only the preview proxy knows
 * the sandbox's key, and the sandbox's own code can reach the server too: every request
 * and WebSocket upgrade without it is refused before Vite sees it (so nothing, not even
 * the base path that names the sandbox, leaks).
 */
function previewKeyGuard(previewKey: string): Plugin {
  const expected = Buffer.from(previewKey);
  const carriesKey = (request: IncomingMessage) => {
    const given = Buffer.from(String(request.headers[PREVIEW_KEY_HEADER] ?? ''));
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  return {
    name: 'cutroom-preview-key',
    configureServer(server) {
      server.middlewares.use((request, response, next) => {
        if (carriesKey(request)) return next();
        response.statusCode = 403;
        response.end();
      });
      const httpServer = server.httpServer;
      if (!httpServer) return;
      // Vite's HMR listens for upgrades on the same server: put the check in front of it.
      const original = httpServer.listeners('upgrade') as ((...args: unknown[]) => void)[];
      httpServer.removeAllListeners('upgrade');
      httpServer.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => {
        if (!carriesKey(request)) {
          socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
          return;
        }
        for (const listener of original) listener.call(httpServer, request, socket, head);
      });
      server.httpServer?.on('listening', () => {
        // Listeners Vite adds when it starts listening go behind the check too.
        const late = (httpServer.listeners('upgrade') as ((...args: unknown[]) => void)[]).slice(1);
        for (const listener of late) {
          httpServer.removeListener('upgrade', listener);
          original.push(listener);
        }
      });
    },
  };
}

/**
 * The page runs in a sandboxed iframe (an opaque origin), so its module scripts are
 * cross-origin requests, sent without cookies unless asked for: every module script of
 * the page asks, and its imports (static and dynamic) inherit that. The preview proxy
 * needs the preview cookie on every request.
 */
function credentialedScripts(): Plugin {
  return {
    name: 'cutroom-credentialed-scripts',
    transformIndexHtml: {
      order: 'post',
      handler: (html) => html.replace(/<script type="module"(?![^>]*crossorigin)/g, '<script type="module" crossorigin="use-credentials"'),
    },
  };
}

export type PreviewServerOptions = {
  /** The working copy (has `src/` and `public/`). */
  workspace: string;
  /** URL prefix the proxy keeps, e.g. `/s/<sessionId>/`. */
  base: string;
  /** This sandbox's Vite cache folder. */
  cacheDir: string;
  /** A cache shared by all sandboxes: copied in before start, filled by the first one. */
  sharedCacheDir?: string;
  /** Requests must carry it in `x-cutroom-preview-key` (the proxy adds it). */
  previewKey: string;
  /** Where it listens (default: an ephemeral loopback port). */
  listen?: ListenTarget;
  /** The sandbox's read-only view of the project's installed packages (`<sandbox>/packages`), where the driver gives one. */
  projectPackages?: string;
};

/** The project's entry point, for the dependency scan (none when it has none yet). */
function projectEntries(workspace: string): string[] {
  const entry = findEntryPoint(workspace);
  return entry.ok ? [path.join(workspace, entry.file)] : [];
}

async function exists(file: string) {
  return stat(file).then(
    () => true,
    () => false,
  );
}

export async function startPreviewServer(options: PreviewServerOptions): Promise<ViteDevServer> {
  const { workspace, base, cacheDir, sharedCacheDir, previewKey, listen = { host: '127.0.0.1', port: 0 } } = options;
  const projectPackages = options.projectPackages ? [options.projectPackages] : [];
  const sharedMetadata = sharedCacheDir && path.join(sharedCacheDir, 'deps', '_metadata.json');
  if (sharedMetadata && (await exists(sharedMetadata)) && !(await exists(path.join(cacheDir, 'deps')))) {
    await mkdir(cacheDir, { recursive: true });
    await cp(path.join(sharedCacheDir, 'deps'), path.join(cacheDir, 'deps'), { recursive: true });
  }

  // Created first: the confinement plugin judges paths by their real path.
  await mkdir(cacheDir, { recursive: true });
  const server = await createServer({
    configFile: false,
    envDir: false,
    root: templatePreviewDir,
    base,
    cacheDir,
    publicDir: path.join(workspace, 'public'),
    logLevel: 'warn',
    clearScreen: false,
    plugins: [
      previewKeyGuard(previewKey),
      ...confinePlugin({ workspace, readable: [templatePreviewDir, packagesDir, cacheDir, ...projectPackages] }),
      react(),
      projectEntryPlugin({ workspace, base, pageModule: path.join(templatePreviewDir, 'main.tsx') }),
      installedPackages(workspace),
      projectCssImports(workspace, [packagesDir, ...projectPackages]),
      credentialedScripts(),
      scrubPathsPlugin(
        createPathScrubber({
          [workspace]: '',
          [path.dirname(workspace)]: '',
          [packagesDir]: 'node_modules/',
          [templatePreviewDir]: '',
          // Where Cutroom itself is installed (frames of Vite's own stack).
          [path.dirname(packagesDir)]: '',
          [base.replace(/\/$/, '')]: '',
        }),
      ),
    ],
    // Cutroom's provided packages resolve from its folder wherever they are imported, by the
    // project or by its packages (`@react-three/fiber`'s reconciler imports `scheduler`,
    // which its install leaves out): one copy of each on the page, as exports resolve them.
    resolve: { dedupe: [...PROVIDED_PACKAGES] },
    // The project's stylesheets as its remotion.config.* styles them at export (Tailwind v4
    // or v3). Inline, so Vite never loads a postcss.config.* of the project or of Cutroom.
    css: { postcss: { plugins: [projectCssPlugin(workspace)] } },
    optimizeDeps: {
      // The page, and the project's own entry point: its packages are found before the
      // first page loads (found later, they are bundled again and the page reloads).
      entries: [path.join(templatePreviewDir, 'main.tsx'), ...projectEntries(workspace)],
      include: ['react', 'react-dom', 'react-dom/client', 'react/jsx-runtime', 'react/jsx-dev-runtime', 'remotion', '@remotion/player'],
    },
    server: {
      host: '127.0.0.1',
      port: 0,
      strictPort: false,
      // The page runs in a sandboxed iframe: its module requests carry `Origin: null`.
      // With credentials: the preview proxy admits only requests that carry the preview cookie.
      cors: { origin: ['null'], credentials: true },
      allowedHosts: ['127.0.0.1', 'localhost'],
      // The page reports errors itself (to the app's panel and the agent), with project paths.
      hmr: { overlay: false },
      fs: { strict: true, allow: [workspace, templatePreviewDir, nodeModulesDir, ...projectPackages], deny: previewDenyList },
      watch: { ignored: ['**/.git/**', '**/node_modules/**'] },
    },
  });
  if ('socketPath' in listen) {
    // Vite's `listen()` only knows ports; its http server's own `listen` (which Vite
    // wraps to start its plugins and optimizer first) takes a socket path.
    if (!server.httpServer) throw new Error('the preview server has no http server');
    await listenOn(server.httpServer, listen);
  } else {
    await server.listen();
  }
  return server;
}

/** One GET to the preview server, wherever it listens; resolves with the status once the body is read. */
function get(target: ListenTarget | { host: string; port: number }, url: string, previewKey: string): Promise<number> {
  const where = 'socketPath' in target ? { socketPath: target.socketPath } : { host: target.host, port: target.port };
  return new Promise((resolve, reject) => {
    const request = http.get({ ...where, path: url, headers: { host: 'localhost', [PREVIEW_KEY_HEADER]: previewKey }, timeout: 30_000 }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`the preview server did not answer ${url}`)));
    request.on('error', reject);
  });
}

/**
 * Loads the page and its modules once, so the first real visitor finds them transformed:
 * the page, and the project's entry point with what it imports (the page imports it
 * dynamically, which Vite's pre-transform does not follow).
 */
export async function warmUp(server: ViteDevServer, target: ListenTarget | { host: string; port: number }, base: string, previewKey: string, workspace: string) {
  for (const url of [base, `${base}main.tsx`]) await get(target, url, previewKey);
  await warmProject(server, workspace);
}

/** Transforms the page's module and the project's entry point with what it imports (Vite pre-transforms their static imports). */
export async function warmProject(server: ViteDevServer, workspace: string) {
  const entry = findEntryPoint(workspace);
  await Promise.all([
    server.warmupRequest(path.join(templatePreviewDir, 'main.tsx')),
    entry.ok ? server.warmupRequest(path.join(workspace, entry.file)) : null,
  ]);
}

const metadataHash = async (depsDir: string) =>
  readFile(path.join(depsDir, '_metadata.json'), 'utf8').then(
    (text) => (JSON.parse(text) as { hash?: string }).hash ?? null,
    () => null,
  );

/**
 * Publishes this sandbox's optimized dependencies for the next sandboxes: when there
 * are none yet, or when the shared ones are stale (another lockfile or Vite version).
 */
export async function shareDependencyCache(cacheDir: string, sharedCacheDir: string) {
  const deps = path.join(cacheDir, 'deps');
  const ours = await metadataHash(deps);
  if (!ours || ours === (await metadataHash(path.join(sharedCacheDir, 'deps')))) return;
  const scratch = `${sharedCacheDir}.tmp-${process.pid}`;
  const stale = `${sharedCacheDir}.stale-${process.pid}`;
  await rm(scratch, { recursive: true, force: true });
  await cp(deps, path.join(scratch, 'deps'), { recursive: true });
  await rename(sharedCacheDir, stale).catch(() => {});
  try {
    await rename(scratch, sharedCacheDir);
  } catch {
    await rm(scratch, { recursive: true, force: true });
  }
  await rm(stale, { recursive: true, force: true });
}
