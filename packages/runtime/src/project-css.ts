import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { findConfigFile } from '@cutroom/template';
import type { AcceptedPlugin, Plugin as PostcssPlugin } from 'postcss';

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

export function projectCss(workspace: string): ProjectCss {
  const config = configCode(workspace);
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
 * Vite's CSS pipeline: a project whose `remotion.config.*` enables Tailwind v4 gets its
 * stylesheets compiled by Tailwind's own PostCSS plugin (the version Remotion's
 * `@remotion/tailwind-v4` uses), scanning the working copy for class names. Vite takes the
 * scanned files as the stylesheet's dependencies, so an edit to a component that adds a
 * class updates its styles. Asked per stylesheet, so a configuration that starts or stops
 * enabling Tailwind is followed. Only the working copy's stylesheets: packages' CSS is
 * left as Remotion's webpack rule leaves it (Tailwind's rule covers every `.css`, but its
 * compiler leaves a stylesheet without Tailwind directives as it is).
 */
export function projectCssPlugin(workspace: string): PostcssPlugin {
  const current = cachedProjectCss(workspace);
  let tailwind: Promise<TailwindPostcss> | undefined;
  return {
    postcssPlugin: 'cutroom-project-css',
    async Once(root, { result, postcss }) {
      const from = result.opts.from;
      if (!from || !from.startsWith(workspace + path.sep)) return;
      if (current().kind !== 'tailwind-v4') return;
      tailwind ??= import('@tailwindcss/postcss').then((module) => (module.default ?? module) as unknown as TailwindPostcss);
      const plugin = (await tailwind)({ base: workspace, optimize: false });
      // Processes this very root in place; its messages (the scanned files) go to Vite.
      const compiled = await postcss([plugin]).process(root, { from, map: false });
      result.messages.push(...compiled.messages);
    },
  };
}
