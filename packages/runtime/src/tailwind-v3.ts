import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { insideProject } from '@cutroom/template';
import braces from 'braces';
import type { AcceptedPlugin } from 'postcss';
import { type TailwindData, readTailwindV3Config } from './tailwind-v3-config.js';

/**
 * Tailwind v3 in the preview, as `@remotion/tailwind` applies it at export: the project's
 * stylesheets go through Tailwind 3.4.13 (the version `@remotion/tailwind@4.0.527` depends
 * on; Cutroom's own copy, `tailwindcss-v3`, in the runtime's packages, so no package code
 * of the project's install runs here), configured by the project's `tailwind.config.*`
 * read as data (tailwind-v3-config.ts), its `content` globs anchored in the working copy
 * (Tailwind v3 reads them from the working directory, the project's folder at export).
 * (`postcss-preset-env` and `autoprefixer`, which `@remotion/tailwind` also runs, only
 * adapt CSS to older browsers: the preview's Chromium needs neither.)
 */

const require = createRequire(import.meta.url);
type Tailwind3 = (config: object) => AcceptedPlugin;
let loaded: { tailwind: Tailwind3; data: TailwindData } | undefined;
/** Cutroom's Tailwind 3 and its data modules, loaded on first use. */
export function tailwind3() {
  loaded ??= {
    tailwind: require('tailwindcss-v3') as Tailwind3,
    data: { colors: require('tailwindcss-v3/colors') as unknown, defaultTheme: require('tailwindcss-v3/defaultTheme') as unknown },
  };
  return loaded;
}

/** Tailwind's own names for its configuration, in the order it looks for them. */
export const TAILWIND_CONFIG_NAMES = ['tailwind.config.js', 'tailwind.config.cjs', 'tailwind.config.mjs', 'tailwind.config.ts', 'tailwind.config.cts', 'tailwind.config.mts'];
/** Largest configuration read (a real one is a few kB). */
const MAX_CONFIG_BYTES = 256 * 1024;

/**
 * The configuration file: the `configLocation` that `enableTailwind(…, { configLocation })`
 * names in the Remotion configuration (a string literal, inside the project), else
 * Tailwind's own names in the working copy; null for none (Tailwind's defaults).
 */
export function tailwindV3ConfigFile(workspace: string, remotionConfigCode: string): { ok: true; file: string | null } | { ok: false; reason: string } {
  const named = /\bconfigLocation\s*:\s*(?:'([^'\n]*)'|"([^"\n]*)")/.exec(remotionConfigCode);
  if (named) {
    const asked = named[1] ?? named[2] ?? '';
    const relative = insideProject(workspace, asked);
    if (!relative) return { ok: false, reason: `remotion.config names the Tailwind configuration "${asked}", which is outside the project` };
    const file = path.join(workspace, relative);
    if (!existsSync(file)) return { ok: false, reason: `remotion.config names the Tailwind configuration "${asked}", but there is no such file` };
    return { ok: true, file };
  }
  const found = TAILWIND_CONFIG_NAMES.find((name) => existsSync(path.join(workspace, name)));
  return { ok: true, file: found ? path.join(workspace, found) : null };
}

/**
 * A content glob as absolute globs inside the working copy, its braces expanded (the glob
 * library would expand `{..,src}` or `.{.,x}` into a parent folder, which no check of the
 * unexpanded text sees); null when any of them leads out, or when it has escapes or
 * expands to too many.
 */
export function anchoredGlobs(workspace: string, base: string, glob: string): string[] | null {
  // Escapes (`\.\.` is `..` to the glob library) and oversized or explosive patterns.
  if (glob.includes('\\') || glob.length > 500) return null;
  const commas = glob.split(',').length - 1;
  const ranges = glob.match(/\{[^{}]*\.\.[^{}]*\}/g)?.length ?? 0;
  if (commas > 8 || ranges > 1) return null;
  let expanded: string[];
  try {
    expanded = braces(glob, { expand: true, rangeLimit: 100 });
  } catch {
    return null;
  }
  if (expanded.length === 0 || expanded.length > 1_000) return null;
  const anchored: string[] = [];
  for (const pattern of expanded) {
    const resolved = path.resolve(base, pattern);
    const inside = resolved === workspace || resolved.startsWith(workspace + path.sep);
    if (!inside || resolved.includes('..') || resolved.includes('\0')) return null;
    anchored.push(resolved);
  }
  return anchored;
}

export type TailwindV3Setup =
  | { ok: true; config: Record<string, unknown>; configFile: string | null; leftOut: string[] }
  | { ok: false; reason: string };

/**
 * What the preview compiles the project's stylesheets with: its configuration as data, its
 * `content` globs as absolute globs in the working copy (a glob that leads out of it is
 * left out, and named).
 */
export function tailwindV3Setup(workspace: string, remotionConfigCode: string): TailwindV3Setup {
  const located = tailwindV3ConfigFile(workspace, remotionConfigCode);
  if (!located.ok) return located;
  const configFile = located.file;
  let config: Record<string, unknown> = {};
  const leftOut: string[] = [];
  if (configFile) {
    let source: string;
    try {
      source = readFileSync(configFile, 'utf8');
    } catch {
      return { ok: false, reason: `${path.basename(configFile)} cannot be read` };
    }
    if (Buffer.byteLength(source) > MAX_CONFIG_BYTES) return { ok: false, reason: `${path.basename(configFile)} is over 256 kB` };
    const read = readTailwindV3Config(configFile, source, tailwind3().data);
    if (!read.ok) return read;
    config = read.config;
    leftOut.push(...read.leftOut);
  }
  const content = config.content;
  const spec = Array.isArray(content) ? { files: content, relative: false } : content && typeof content === 'object' ? (content as { files?: unknown; relative?: unknown }) : { files: [] };
  if (!Array.isArray(spec.files)) return { ok: false, reason: 'the Tailwind configuration has no list of content files' };
  // Relative globs: from the working directory (the project's folder at export), or with
  // `relative: true` from the configuration's folder.
  const base = spec.relative === true && configFile ? path.dirname(configFile) : workspace;
  const files: unknown[] = [];
  for (const entry of spec.files as unknown[]) {
    if (typeof entry !== 'string') {
      // `{ raw, extension }`: content given inline.
      if (entry && typeof entry === 'object' && typeof (entry as { raw?: unknown }).raw === 'string') files.push(entry);
      continue;
    }
    const negated = entry.startsWith('!');
    const globs = anchoredGlobs(workspace, base, negated ? entry.slice(1) : entry);
    if (!globs) {
      leftOut.push(`the content glob "${entry}" (outside the project)`);
      continue;
    }
    files.push(...globs.map((glob) => (negated ? `!${glob}` : glob)));
  }
  return { ok: true, config: { ...config, content: { files } }, configFile, leftOut };
}

/** What the preview says of the project's Tailwind v3 setup (nothing when it applies all of it). */
export function tailwindV3Notices(workspace: string, remotionConfigCode: string): string[] {
  const setup = tailwindV3Setup(workspace, remotionConfigCode);
  if (!setup.ok) return [`Tailwind v3: ${setup.reason}. Exports apply it; the preview runs no project code, so its stylesheets are not compiled here.`];
  if (setup.leftOut.length === 0) return [];
  return [`Tailwind v3: the preview leaves out ${setup.leftOut.join(', ')} (it runs no project code); exports apply them.`];
}
