import { existsSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Connect, Plugin, ResolvedConfig } from 'vite';

/**
 * The file a Vite module id or `/@fs/` URL path names, or null for ids that name no
 * file (a plugin's virtual module such as `\0vite/…` or `/@react-refresh`). Handles
 * the spellings an id can take on its way in: a query or hash (`?raw`, `?import&url`,
 * `#x`), Vite's `/@fs/` and `/@id/` prefixes, the `__x00__` stand-in for `\0`, and
 * percent-encoding.
 */
export function moduleFilePath(id: string): string | null {
  let file = id;
  for (let round = 0; round < 3; round++) {
    try {
      const decoded = decodeURIComponent(file);
      if (decoded === file) break;
      file = decoded;
    } catch {
      break;
    }
  }
  file = file.replace(/[?#].*$/s, '');
  if (file.startsWith('/@id/')) file = file.slice('/@id/'.length);
  file = file.replace(/^__x00__/, '\0');
  // A virtual id that still names an absolute path is judged as that path.
  if (file.startsWith('\0')) file = file.slice(1);
  if (file.startsWith('/@fs/')) file = file.slice('/@fs'.length);
  if (!file.startsWith('/')) return null;
  return path.resolve(file);
}

/** Thrown (and shown by the preview) for a module the project may not load. */
export class ConfinementError extends Error {
  override name = 'ConfinementError';
  readonly code = 'outside_project';
}

export type ConfinePluginOptions = {
  /** The working copy: the project's files. */
  workspace: string;
  /**
   * Folders the preview may also read, besides the working copy: the Player page, the
   * installed packages (read-only), Vite's dependency cache.
   */
  readable: string[];
};

const realpath = (file: string) => realpathSync.native(file);

const STYLESHEET = /\.(?:css|less|sass|scss|styl|stylus|pcss|postcss|sss)(?:$|\?)/;

/** The targets of a stylesheet's `@import` rules (comments ignored). */
export function cssImports(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '');
  return [...code.matchAll(/@import\s+(?:url\(\s*)?(?:"([^"]*)"|'([^']*)'|([^\s)'";]+))/gi)].map((match) => match[1] ?? match[2] ?? match[3]!);
}

/** The public folder's file a URL path names (decoded, query cut), or null for none. */
export function publicFile(publicDir: string, urlPath: string): string | null {
  const file = moduleFilePath(`/@fs${path.join(publicDir, urlPath.replace(/[?#].*$/s, ''))}`);
  return file && (file === publicDir || file.startsWith(publicDir + path.sep)) ? file : null;
}

/**
 * Confines what project code can make the preview load to the working copy and the
 * read-only folders. Vite's `server.fs.allow` guards only `/@fs/` URL requests; what the
 * module graph resolves (an import of `../../../../etc/shadow?raw`, `/proc/self/environ`,
 * another sandbox's files, a symlink or a package folder pointing out) it loads and
 * serves. This plugin judges every module by its real path (symlinks resolved, the query
 * ignored, so every `?raw`/`?url`/`?inline`/`?worker` form alike):
 *
 * - `resolveId` (first, before Vite's resolver): an import that resolves outside fails
 *   with an error naming the import as written and the importing file relative to the
 *   project; the preview shows it and the agent reads it.
 * - `load`: any id that reached loading some other way (a URL request `/@id/…`) is refused.
 * - `transform` (before Vite's CSS plugin): a stylesheet's `@import`s, which Vite's CSS
 *   resolver inlines without asking plugins, are followed and judged first.
 * - a middleware in front of Vite's: `/@fs/` URLs (assets, `new URL(…, import.meta.url)`,
 *   CSS `url()`) are judged the same way, since `fs.allow` compares paths without
 *   resolving symlinks and admits whatever the module graph has seen.
 */
export function confinePlugin(options: ConfinePluginOptions): Plugin[] {
  const workspace = path.resolve(options.workspace);
  const roots = [workspace, ...options.readable].map((root) => {
    try {
      return realpath(root);
    } catch {
      return path.resolve(root);
    }
  });
  /** Vite's matcher for `server.fs.deny` (internal to Vite, hence looked up). */
  let denied: ((file: string) => boolean) | undefined;

  /** The project-relative name of a file, never an absolute path of the server's. */
  const projectName = (file: string) => {
    const relative = path.relative(workspace, file);
    return relative.startsWith('..') || path.isAbsolute(relative) ? 'a file outside the project' : relative;
  };

  /** Why `id` may not be loaded, or null when it may. */
  function refusal(id: string): string | null {
    const file = moduleFilePath(id);
    if (file === null) return null;
    let real: string;
    try {
      real = realpath(file);
    } catch (error) {
      // Nothing there, nothing to leak (Vite's own virtual paths, `/@react-refresh`, land here).
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
      return 'it cannot be read';
    }
    if (!roots.some((root) => real === root || real.startsWith(root + path.sep))) return 'it is outside the project';
    if (denied?.(real) || denied?.(file)) return 'it is a file the preview never serves';
    return null;
  }

  const importerName = (importer: string | undefined) => {
    const file = importer ? moduleFilePath(importer) : null;
    return file ? projectName(file) : 'the page';
  };

  const guard: Plugin = {
    name: 'cutroom-confine',
    enforce: 'pre',
    configResolved(resolved) {
      const matcher = (resolved as ResolvedConfig & { fsDenyGlob?: unknown }).fsDenyGlob;
      if (typeof matcher === 'function') denied = (file) => Boolean(matcher(file));
    },
    async resolveId(source, importer, resolveOptions) {
      const resolved = await this.resolve(source, importer, { ...resolveOptions, skipSelf: true });
      if (!resolved || resolved.external) return resolved;
      const reason = refusal(resolved.id);
      if (reason) {
        throw new ConfinementError(
          `The import "${source}" in ${importerName(importer)} is refused: ${reason}. ` +
            'A project may import only its own files and its installed packages.',
        );
      }
      return resolved;
    },
    async transform(code, id) {
      if (!STYLESHEET.test(id)) return null;
      // Vite's CSS plugin inlines `@import`s with a resolver of its own that asks no
      // plugin: follow them first, through `this.resolve` (and so `resolveId` above).
      const seen = new Set<string>();
      const follow = async (source: string, file: string): Promise<void> => {
        if (seen.has(file) || seen.size > 200) return;
        seen.add(file);
        for (const specifier of cssImports(source)) {
          if (/^(?:[a-z]+:)?\/\//i.test(specifier) || specifier.startsWith('data:')) continue;
          const resolved = await this.resolve(specifier, file, { skipSelf: false });
          const target = resolved && !resolved.external ? moduleFilePath(resolved.id) : null;
          if (target && STYLESHEET.test(target)) await follow(await readFile(target, 'utf8').catch(() => ''), target);
        }
      };
      await follow(code, moduleFilePath(id) ?? id);
      return null;
    },
    load(id) {
      const reason = refusal(id);
      if (reason) throw new ConfinementError(`The module ${projectName(moduleFilePath(id) ?? '')} is refused: ${reason}.`);
      return null;
    },
    configureServer(server) {
      const base = server.config.base;
      // Vite's optimized dependencies: a file there may not be written yet (the optimizer
      // runs while the page loads), and Vite itself makes such a request wait for it.
      const depsDir = path.join(server.config.cacheDir, 'deps') + path.sep;
      const publicDir = server.config.publicDir || null;
      const middleware: Connect.NextHandleFunction = (request, response, next) => {
        const url = request.url ?? '';
        const rest = url.startsWith(base) ? url.slice(base.length - 1) : url;
        // A URL path is either a file by absolute path (`/@fs/`, `/@id/`), or may be a file
        // of the public folder, which Vite serves without `fs.deny` and through symlinks.
        const file = /^\/(?:@fs|@id|%40fs|%40id)\//i.test(rest) ? rest : publicDir ? publicFile(publicDir, rest) : null;
        const reason = file === null ? null : refusal(file);
        if (!reason) {
          // A `/@fs/` path names a file by its absolute path: one that is not there is a
          // 404, never Vite's page fallback (which would answer 200 for any probe).
          const named = /^\/(?:@fs|%40fs)\//i.test(rest) ? moduleFilePath(rest) : null;
          if (named !== null && !named.startsWith(depsDir) && !existsSync(named)) {
            response.statusCode = 404;
            response.setHeader('content-type', 'text/plain; charset=utf-8');
            response.end('Not found.');
            return;
          }
          return next();
        }
        response.statusCode = 403;
        response.setHeader('content-type', 'text/plain; charset=utf-8');
        response.end(`Refused: ${reason}.`);
      };
      server.middlewares.use(middleware);
    },
  };

  return [guard];
}
