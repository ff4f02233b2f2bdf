import { type Dirent, existsSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { findConfigFile } from '@cutroom/template';
import type { AcceptedPlugin, Plugin as PostcssPlugin, Root } from 'postcss';
import type { Plugin } from 'vite';
import { anchoredGlobs, tailwind3, tailwindV3Setup } from './tailwind-v3.js';

/**
 * How the project's `remotion.config.*` styles its CSS at export: Tailwind v4
 * (`enableTailwind` of `@remotion/tailwind-v4`), Tailwind v3 (`@remotion/tailwind`), or
 * plain CSS. Read, never run (the configuration is webpack's; the preview is Vite).
 */
export type ProjectCss = { kind: 'plain' } | { kind: 'tailwind-v4'; file: string } | { kind: 'tailwind-v3'; file: string };

/** The configuration's code without its comments (a commented-out `enableTailwind` enables nothing). */
export function configCode(workspace: string): { file: string; code: string } | null {
  const file = findConfigFile(workspace);
  if (!file) return null;
  try {
    const source = readFileSync(path.join(workspace, file), 'utf8');
    return { file, code: source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:\\])\/\/.*$/gm, '$1') };
  } catch {
    return null;
  }
}

export function projectCss(workspace: string, config = configCode(workspace)): ProjectCss {
  if (!config || !/\benableTailwind\b/.test(config.code)) return { kind: 'plain' };
  if (/['"]@remotion\/tailwind-v4['"]/.test(config.code)) return { kind: 'tailwind-v4', file: config.file };
  return { kind: 'tailwind-v3', file: config.file };
}

/** Cached by the configuration file's modification time: asked for every stylesheet. */
function cachedProjectCss(workspace: string) {
  let last: { key: string; value: ProjectCss } | undefined;
  return () => {
    const file = findConfigFile(workspace);
    let key = 'none';
    if (file) {
      try {
        const stats = statSync(path.join(workspace, file));
        key = `${file}:${stats.mtimeMs}:${stats.size}`;
      } catch {
        key = 'gone';
      }
    }
    if (last?.key !== key) last = { key, value: projectCss(workspace) };
    return last.value;
  };
}

type TailwindPostcss = (options?: { base?: string; optimize?: boolean }) => AcceptedPlugin;

/**
 * The preview's equivalent of the project's webpack styling, as a PostCSS plugin for
 * Vite's CSS pipeline:
 * - a project whose `remotion.config.*` enables Tailwind v4 gets its stylesheets compiled
 *   by Tailwind's own PostCSS plugin (the version Remotion's `@remotion/tailwind-v4` uses),
 *   scanning the working copy for class names;
 * - one that enables Tailwind v3 (`@remotion/tailwind`) gets them compiled by Tailwind
 *   3.4.13 (the version `@remotion/tailwind` depends on) with its `tailwind.config.*`
 *   read as data (tailwind-v3.ts; what the preview cannot read is a notice).
 * Vite takes the scanned files as the stylesheet's dependencies, so an edit to a component
 * that adds a class updates its styles. Asked per stylesheet, so a configuration that
 * starts or stops enabling Tailwind is followed. Only the working copy's stylesheets:
 * packages' CSS is left as Remotion's webpack rule leaves it (Tailwind's rule covers every
 * `.css`, but its compiler leaves a stylesheet without Tailwind directives as it is).
 */
export function projectCssPlugin(workspace: string): PostcssPlugin {
  const current = cachedProjectCss(workspace);
  let tailwind: Promise<TailwindPostcss> | undefined;
  return {
    postcssPlugin: 'cutroom-project-css',
    async Once(root, { result, postcss }) {
      const from = result.opts.from;
      if (!from || !from.startsWith(workspace + path.sep)) return;
      const kind = current().kind;
      if (kind === 'tailwind-v3') {
        // Tailwind v3 also has `@config`, which loads JavaScript.
        withoutCodeOrOutside(root, workspace);
        const setup = tailwindV3Setup(workspace, configCode(workspace)?.code ?? '');
        // The configuration is watched as the stylesheet's: an edit to it compiles again.
        if (setup.ok && setup.configFile) result.messages.push({ type: 'dependency', plugin: 'cutroom-project-css', file: setup.configFile, parent: from });
        // One the preview cannot read is a notice (project-entry-plugin.ts), not an error.
        if (!setup.ok) return;
        const compiled = await postcss([tailwind3().tailwind(setup.config)]).process(root, { from, map: false });
        result.messages.push(...compiled.messages);
        return;
      }
      if (kind !== 'tailwind-v4') return;
      withoutCodeOrOutside(root, workspace);
      tailwind ??= import('@tailwindcss/postcss').then((module) => (module.default ?? module) as unknown as TailwindPostcss);
      const plugin = (await tailwind)({ base: workspace, optimize: false });
      // Processes this very root in place; its messages (the scanned files) go to Vite.
      const compiled = await postcss([plugin]).process(root, { from, map: false });
      result.messages.push(...compiled.messages);
    },
  };
}

/** Tailwind v4's directives that load JavaScript (a plugin, a v3 configuration). */
const CODE_DIRECTIVES = new Set(['plugin', 'config']);
/** The path an `@source` or `@reference` names: `"…"`, `'…'`, after an optional `not`. */
const DIRECTIVE_PATH = /^(?:not\s+)?(['"])(.*)\1$/s;

/**
 * Tailwind runs what a stylesheet's `@plugin` (v4) and `@config` (v3 and v4) name (project
 * code, or a package's) inside the runtime, which runs no project code, and reads what `@source` and
 * `@reference` name wherever it is, and scans for classes from where a `source(…)` of
 * `@import` or `@tailwind` says: those directives are taken out of the stylesheet (after
 * Vite has inlined its imports) before Tailwind sees it, `@plugin`/`@config` always (the
 * page says so: `stylesheetCodeNotices`), `@source`/`@reference`/`source(…)` when their path
 * (braces expanded) leads out of the working copy. `@source inline(…)` names no file.
 */
export function withoutCodeOrOutside(root: Root, workspace: string) {
  root.walkAtRules((rule) => {
    const name = rule.name.toLowerCase();
    if (CODE_DIRECTIVES.has(name)) {
      rule.remove();
      return;
    }
    // Paths are relative to the stylesheet that holds the directive (Vite keeps each inlined
    // rule's own file).
    const base = rule.source?.input.file ? path.dirname(rule.source.input.file) : workspace;
    if (name === 'import' || name === 'tailwind') {
      // `source("…")` moves where Tailwind looks for classes: kept inside the project only.
      rule.params = rule.params.replace(/\bsource\(([^)]*)\)/gi, (whole, inner: string) => {
        const value = inner.trim();
        if (value === 'none') return whole;
        const quoted = /^(['"])(.*)\1$/s.exec(value);
        return quoted && anchoredGlobs(workspace, base, quoted[2]!) ? whole : '';
      }).trim();
      return;
    }
    if (name !== 'source' && name !== 'reference') return;
    const params = rule.params.trim();
    if (name === 'source' && /^(?:not\s+)?inline\(/.test(params)) return;
    const named = DIRECTIVE_PATH.exec(params);
    // A bare package name (`@reference "tailwindcss"`) is resolved in the installed packages.
    if (named && name === 'reference' && !/^[./]/.test(named[2]!) && !named[2]!.split('/').includes('..') && !named[2]!.includes('\\')) return;
    if (!named || !anchoredGlobs(workspace, base, named[2]!)) rule.remove();
  });
}

/** What the preview leaves out of a Tailwind project's stylesheets: their `@plugin`s and `@config`s. */
export function stylesheetCodeNotices(workspace: string, tailwind: 'Tailwind v3' | 'Tailwind v4'): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 6 || found.length >= 5) return;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full, depth + 1);
      else if (entry.isFile() && entry.name.endsWith('.css')) {
        let text = '';
        try {
          if (statSync(full).size <= 1024 * 1024) text = readFileSync(full, 'utf8');
        } catch {
          continue;
        }
        for (const match of text.matchAll(/@(plugin|config)\s+(['"])([^'"\n]{1,200})\2/g)) {
          found.push(`${path.relative(workspace, full).split(path.sep).join('/')} loads @${match[1]} "${match[3]}"`);
        }
      }
    }
  };
  walk(workspace, 0);
  if (found.length === 0) return [];
  return [`${tailwind}: ${found.join(', ')}: that is JavaScript, which the preview does not run (exports do), so what it adds has no styles here.`];
}

/** `@import 'pkg'`, `@import "pkg/file.css" layer(x)`, `@import url(pkg)`: the specifier is group 2 or 3. */
const IMPORT = /@import\s+(?:(['"])([^'"\n]+)\1|url\(\s*['"]?([^'")\s]+)['"]?\s*\))/g;
/** A package name (not `.`/`..`: a package name never starts with a dot), then any subpath. */
const BARE = /^(?:@[\w-][\w.-]*\/)?[\w-][\w.-]*(?:\/.*)?$/;

type PackageManifest = { style?: unknown; main?: unknown; exports?: unknown };

/** The stylesheet a package's `exports` entry names (its `style` condition first, as Vite asks for CSS). */
function styleTarget(entry: unknown): string | null {
  if (typeof entry === 'string') return entry;
  if (!entry || typeof entry !== 'object' || Array.isArray(entry)) return null;
  const conditions = entry as Record<string, unknown>;
  for (const condition of ['style', 'default', 'import']) {
    const target = styleTarget(conditions[condition]);
    if (target?.endsWith('.css')) return target;
  }
  return null;
}

/**
 * Where a bare `@import` of the project's stylesheet lands in the project's installed
 * packages (`<workspace>/node_modules`), as the file's real path (null when it is not there).
 */
export function resolvePackageStylesheet(workspace: string, specifier: string, readable: readonly string[] = []): string | null {
  const parts = specifier.split('/');
  const nameLength = specifier.startsWith('@') ? 2 : 1;
  const name = parts.slice(0, nameLength).join('/');
  const subpath = parts.slice(nameLength).join('/');
  if (!name || name.includes('..') || subpath.split('/').includes('..')) return null;
  const packageDir = path.join(workspace, 'node_modules', name);
  let manifest: PackageManifest;
  try {
    manifest = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as PackageManifest;
  } catch {
    return null;
  }
  const exportsMap = manifest.exports && typeof manifest.exports === 'object' && !Array.isArray(manifest.exports) ? (manifest.exports as Record<string, unknown>) : null;
  const candidates: (string | null)[] = [];
  if (!subpath) {
    candidates.push(exportsMap && '.' in exportsMap ? styleTarget(exportsMap['.']) : typeof manifest.exports === 'string' ? manifest.exports : null);
    candidates.push(typeof manifest.style === 'string' ? manifest.style : null, typeof manifest.main === 'string' && manifest.main.endsWith('.css') ? manifest.main : null);
  } else {
    if (exportsMap && `./${subpath}` in exportsMap) candidates.push(styleTarget(exportsMap[`./${subpath}`]));
    candidates.push(subpath, `${subpath}.css`);
  }
  for (const candidate of candidates) {
    if (!candidate) continue;
    const file = path.resolve(packageDir, candidate);
    if (file.startsWith(packageDir + path.sep) && file.endsWith('.css') && existsSync(file)) {
      // Its real path: the same path through the link may have named an earlier install's
      // file. Only inside the install or what the preview may read (a link leads nowhere else).
      try {
        const real = realpathSync(file);
        const inside = [path.join(workspace, 'node_modules'), ...readable].some((dir) => {
          try {
            return real.startsWith(realpathSync(dir) + path.sep);
          } catch {
            return false;
          }
        });
        return inside ? real : null;
      } catch {
        return null;
      }
    }
  }
  return null;
}

/**
 * The project's stylesheets import packages' stylesheets by name (`@import 'tailwindcss'`):
 * Vite resolves those with a resolver of its own, which keeps what it did not find, and
 * the runtime cannot tell it that the project's packages were installed or changed since
 * (its main resolver, it can), nor forget the real path it found for `node_modules`. So a
 * bare `@import` of a package that is installed is written as the real path of the file
 * before Vite reads the stylesheet; one that is not installed is left as written (and
 * fails as Vite fails it). The confinement plugin still judges where it landed.
 */
export function projectCssImports(workspace: string, readable: readonly string[]): Plugin {
  const own = (id: string) => id.startsWith(workspace + path.sep) && !id.includes(`${path.sep}node_modules${path.sep}`);
  return {
    name: 'cutroom-project-css-imports',
    enforce: 'pre',
    transform(code, id) {
      const file = id.replace(/\?.*$/, '');
      if (!file.endsWith('.css') || !own(file) || !code.includes('@import')) return null;
      let changed = false;
      const rewritten = code.replace(IMPORT, (whole, quote: string | undefined, quoted: string | undefined, inUrl: string | undefined) => {
        const specifier = quoted ?? inUrl ?? '';
        if (!BARE.test(specifier)) return whole;
        const target = resolvePackageStylesheet(workspace, specifier, readable);
        if (!target) return whole;
        changed = true;
        return `@import ${JSON.stringify(target)}`;
      });
      return changed ? { code: rewritten, map: null } : null;
    },
  };
}
