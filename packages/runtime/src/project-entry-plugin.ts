import path from 'node:path';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { CONFIG_FILES, affectsEntryPoint, findEntryPoint } from '@cutroom/template';
import type { Plugin, ViteDevServer } from 'vite';
import { configCode, projectCss, stylesheetCodeNotices } from './project-css.js';
import { packagesState } from './project-packages.js';
import { TAILWIND_CONFIG_NAMES, tailwindV3Notices } from './tailwind-v3.js';

/** What the Player page imports to run the project's entry point (and so its `registerRoot`). */
export const PROJECT_ENTRY_ID = '@cutroom/project-entry';
/** What the Player page imports to learn where the working copy is served (for error reports). */
export const PROJECT_INFO_ID = '@cutroom/project-info';

const NO_ENTRY = '\0cutroom:no-entry';
/** Project modules the page's HTML preloads at most (a big project's graph is not all listed). */
const MAX_PRELOADS = 60;
const SCRIPT = /\.(?:[cm]?[jt]sx?)$/;
const INFO = '\0cutroom:project-info';

/**
 * Counts the changes of what `@cutroom/project-info` says. A page that loaded it just
 * before a change, and connected its HMR socket just after the reload for that change
 * went out (the runtime sends reloads to connected pages only), would keep the old state
 * (say, "Installing the packages…") for good: each page tells its generation when it
 * connects and is reloaded if it is behind.
 */
let infoGeneration = 0;
/** What the page sends on connecting (with the generation it loaded). */
export const PROJECT_INFO_EVENT = 'cutroom:project-info';

/** Makes the page's next load read `@cutroom/project-info` again (the project's packages changed). */
export function refreshProjectInfo(server: ViteDevServer) {
  infoGeneration++;
  const graph = server.environments.client.moduleGraph;
  const info = graph.getModuleById(INFO);
  if (info) graph.invalidateModule(info);
}

/**
 * Gives the Player page the project's own entry point, found as Remotion finds it
 * (`remotion.config.*`'s `Config.setEntryPoint`, else `src/index.ts` and Remotion's other
 * usual places): the page imports it, the project's `registerRoot` runs, and the page
 * renders the Root to learn its compositions. Nothing of Cutroom's is required of the
 * project. Resolved on every transform of the page (a few `stat`s), so a reset to another
 * project, or an edit that moves the entry, is followed: a change to the configuration or
 * to an entry candidate reloads open pages.
 *
 * A plugin rather than an alias on purpose: Vite's dependency-cache hash covers `root`
 * and `resolve` but not what plugins do, so every sandbox has the same hash and can start
 * from a shared, already-optimized dependency cache.
 */
export function projectEntryPlugin({ workspace, base, pageModule }: { workspace: string; base: string; pageModule: string }): Plugin {
  let server: ViteDevServer | undefined;
  let lastEntry = JSON.stringify(findEntryPoint(workspace));
  return {
    name: 'cutroom-project-entry',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (source === PROJECT_INFO_ID) return INFO;
      if (source !== PROJECT_ENTRY_ID) return null;
      const entry = findEntryPoint(workspace);
      lastEntry = JSON.stringify(entry);
      if (!entry.ok) return NO_ENTRY;
      return this.resolve(path.join(workspace, entry.file), importer, { ...options, skipSelf: true });
    },
    load(id) {
      if (id === NO_ENTRY) {
        const entry = findEntryPoint(workspace);
        const message = entry.ok ? 'The entry point moved: reload the preview.' : entry.message;
        return `throw Object.assign(new Error(${JSON.stringify(message)}), { name: 'NoEntryPointError' });`;
      }
      if (id === INFO) {
        // Where the page loads the working copy's files from (Vite's `/@fs/` URLs).
        const projectUrl = `${base}@fs${workspace.split(path.sep).join('/')}/`;
        return [
          `export const projectUrl = ${JSON.stringify(projectUrl)};`,
          `export const notices = ${JSON.stringify(previewNotices(workspace))};`,
          `export const packagesError = ${JSON.stringify(packagesState.error)};`,
          `export const packagesPending = ${JSON.stringify(packagesState.pending)};`,
          `export const infoGeneration = ${infoGeneration};`,
        ].join('\n');
      }
      return null;
    },
    // The page imports the entry only once its own module has run: ask the browser to
    // fetch it, and the project's modules it imports (as far as Vite has seen them, after
    // the warm-up), while the page's module and packages load.
    transformIndexHtml() {
      const entry = findEntryPoint(workspace);
      if (!entry.ok) return [];
      const entryFile = path.join(workspace, entry.file);
      const urls = [`/@fs${entryFile.split(path.sep).join('/')}`];
      const graph = server?.environments.client.moduleGraph;
      const seen = new Set<string>();
      const queue = [...(graph?.getModulesByFile(entryFile) ?? [])];
      while (queue.length > 0 && urls.length < MAX_PRELOADS) {
        const mod = queue.shift()!;
        if (seen.has(mod.url)) continue;
        seen.add(mod.url);
        if (mod.file !== entryFile && mod.file?.startsWith(workspace + path.sep) && SCRIPT.test(mod.file) && !mod.url.includes('?')) {
          // As the page's imports name it (Vite adds `?t=` once a module was hot-updated).
          urls.push(mod.lastHMRTimestamp > 0 ? `${mod.url}?t=${mod.lastHMRTimestamp}` : mod.url);
        }
        queue.push(...mod.importedModules);
      }
      return urls.map((url) => ({
        tag: 'link',
        attrs: { rel: 'modulepreload', href: `${base}${url.replace(/^\//, '')}`, crossorigin: 'use-credentials' },
        injectTo: 'head' as const,
      }));
    },
    configureServer(devServer) {
      server = devServer;
      devServer.ws.on(PROJECT_INFO_EVENT, (data: unknown, client) => {
        const loaded = data && typeof data === 'object' ? (data as { generation?: unknown }).generation : undefined;
        if (loaded !== infoGeneration) client.send({ type: 'full-reload', path: '*' });
      });

      devServer.watcher.add(workspace);
      devServer.watcher.on('all', (event, file) => {
        const relative = path.relative(workspace, file);
        const tailwindConfig = TAILWIND_CONFIG_NAMES.includes(relative);
        if (relative.startsWith('..') || (!affectsEntryPoint(relative) && relative !== 'package.json' && !tailwindConfig)) return;
        const graph = server?.environments.client.moduleGraph;
        const now = JSON.stringify(findEntryPoint(workspace));
        if (now === lastEntry) {
          // Another change of the configuration: what the page says about it may change.
          const info = CONFIG_FILES.includes(relative as (typeof CONFIG_FILES)[number]) || relative === 'package.json' || tailwindConfig ? graph?.getModuleById(INFO) : undefined;
          if (info) {
            infoGeneration++;
            graph?.invalidateModule(info);
            if (devServer.ws.clients.size > 0) devServer.ws.send({ type: 'full-reload', path: '*' });
          }
          return;
        }
        lastEntry = now;
        // The page's import of the entry was resolved when it was transformed: do it again.
        for (const mod of graph?.getModulesByFile(pageModule) ?? []) graph?.invalidateModule(mod);
        const noEntry = graph?.getModuleById(NO_ENTRY);
        if (noEntry) graph?.invalidateModule(noEntry);
        if (devServer.ws.clients.size > 0) devServer.ws.send({ type: 'full-reload', path: '*' });
      });
    },
  };
}

/**
 * What the user should know about how this project is played, in words for them (the
 * page shows them): another Remotion version asked for in `package.json`, and what of
 * `remotion.config.*` the preview cannot honour (the configuration is webpack's, the
 * preview is Vite; exports run it as Remotion does). Both read, never run.
 */
export function previewNotices(workspace: string): string[] {
  return [...versionNotices(workspace), ...configNotices(workspace)];
}

/** The Remotion version Cutroom plays and renders with. */
const remotionVersion = (createRequire(import.meta.url)('remotion/package.json') as { version: string }).version;

/**
 * Remotion's packages must all be one version: a project that asks for another is played
 * and rendered with Cutroom's, and is told so.
 */
function versionNotices(workspace: string): string[] {
  let manifest: { dependencies?: Record<string, unknown>; devDependencies?: Record<string, unknown> };
  try {
    manifest = JSON.parse(readFileSync(path.join(workspace, 'package.json'), 'utf8')) as typeof manifest;
  } catch {
    return [];
  }
  const asked = Object.entries({ ...manifest.devDependencies, ...manifest.dependencies }).filter(
    ([name, spec]) => (name === 'remotion' || name.startsWith('@remotion/')) && typeof spec === 'string' && spec.replace(/^[\^~=v]+/, '').trim() !== remotionVersion,
  );
  if (asked.length === 0) return [];
  const listed = asked.slice(0, 4).map(([name, spec]) => `${name} ${String(spec)}`).join(', ');
  const more = asked.length > 4 ? ` and ${asked.length - 4} more` : '';
  return [`package.json asks for ${listed}${more}: Cutroom plays and exports this project with Remotion ${remotionVersion}.`];
}

function configNotices(workspace: string): string[] {
  const config = configCode(workspace);
  if (!config) return [];
  const { file, code } = config;
  const notices: string[] = [];
  const css = projectCss(workspace, config);
  // Tailwind (v4 and v3) is compiled in the preview too (project-css.ts); other overrides are
  // not, nor what of a Tailwind v3 configuration is code.
  if (css.kind === 'tailwind-v3') notices.push(...tailwindV3Notices(workspace, code), ...stylesheetCodeNotices(workspace, 'Tailwind v3'));
  if (css.kind === 'tailwind-v4') notices.push(...stylesheetCodeNotices(workspace, 'Tailwind v4'));
  if (css.kind === 'plain' && /\boverrideWebpackConfig\s*\(/.test(code)) {
    notices.push(`${file} overrides the webpack configuration: exports apply it, the preview (Vite) does not.`);
  }
  if (/\boverrideRspackConfig\s*\(|\boverrideBundlerConfig\s*\(/.test(code)) {
    notices.push(`${file} overrides the Rspack or bundler configuration: Cutroom applies it neither in the preview nor at export (it applies overrideWebpackConfig at export).`);
  }
  return notices;
}
