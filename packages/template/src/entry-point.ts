import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Where a Remotion project starts: the file that calls `registerRoot`. Found as Remotion's
 * CLI finds it, so that the preview, the export and `npx remotion studio` agree:
 * `Config.setEntryPoint(…)` in `remotion.config.*` first, else the first of Remotion's
 * usual places that exists.
 */

/** Remotion's own candidates (`@remotion/cli`'s entry-point.js), plus `.jsx`. */
export const ENTRY_CANDIDATES = [
  'src/index.ts',
  'src/index.tsx',
  'src/index.js',
  'src/index.jsx',
  'src/index.mjs',
  'remotion/index.tsx',
  'remotion/index.ts',
  'remotion/index.js',
  'remotion/index.mjs',
  'src/remotion/index.tsx',
  'src/remotion/index.ts',
  'src/remotion/index.js',
  'src/remotion/index.mjs',
] as const;

/** The names Remotion's CLI loads its configuration from, in its order. */
export const CONFIG_FILES = ['remotion.config.ts', 'remotion.config.mts', 'remotion.config.js', 'remotion.config.mjs', 'remotion.config.cjs'] as const;

export type EntryPoint =
  /** `file`: relative to the project, with `/`. */
  | { ok: true; file: string; reason: 'config' | 'default' }
  | { ok: false; message: string };

const isFile = (file: string) => {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
};

/** The project's configuration file (relative), if it has one. */
export function findConfigFile(projectDir: string): string | null {
  return CONFIG_FILES.find((name) => isFile(path.join(projectDir, name))) ?? null;
}

/** Strips comments (roughly: enough that a commented-out call is not read as one). */
const withoutComments = (source: string) => source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:\\])\/\/.*$/gm, '$1');

/**
 * The string literal passed to `Config.<method>(…)` in a configuration file, if any.
 * The file is read, never run: the server (and the runtime, which holds the bridge) does
 * not execute project code to learn where it starts.
 */
export function configString(source: string, method: string): string | null {
  const pattern = new RegExp(String.raw`\bConfig\s*\.\s*${method}\s*\(\s*(?:'([^'\n]*)'|"([^"\n]*)"|\x60([^\x60$\n]*)\x60)\s*\)`, 'g');
  let found: string | null = null;
  for (const match of withoutComments(source).matchAll(pattern)) found = match[1] ?? match[2] ?? match[3] ?? null;
  return found;
}

/** A relative path inside the project, or null for one that leaves it (or is absolute). */
export function insideProject(projectDir: string, relative: string): string | null {
  if (relative.includes('\0') || path.isAbsolute(relative)) return null;
  const resolved = path.resolve(projectDir, relative);
  const back = path.relative(projectDir, resolved);
  if (back === '' || back.startsWith('..') || path.isAbsolute(back)) return null;
  return back.split(path.sep).join('/');
}

export function findEntryPoint(projectDir: string): EntryPoint {
  const config = findConfigFile(projectDir);
  if (config) {
    let source = '';
    try {
      source = readFileSync(path.join(projectDir, config), 'utf8');
    } catch {
      // Unreadable: as if it set nothing.
    }
    const configured = configString(source, 'setEntryPoint');
    if (configured !== null) {
      const file = insideProject(projectDir, configured);
      if (!file) return { ok: false, message: `${config} sets the entry point to "${configured}", which is outside the project.` };
      if (!isFile(path.join(projectDir, file))) {
        return { ok: false, message: `${config} sets the entry point to "${configured}", but there is no such file.` };
      }
      return { ok: true, file, reason: 'config' };
    }
  }
  const found = ENTRY_CANDIDATES.find((candidate) => isFile(path.join(projectDir, candidate)));
  if (found) return { ok: true, file: found, reason: 'default' };
  return {
    ok: false,
    message:
      'This project has no entry point: Remotion starts from src/index.ts (or .tsx, .js, .jsx), ' +
      'or from the file that remotion.config.ts names with Config.setEntryPoint(). That file calls registerRoot() with the Root component.',
  };
}

/** Whether a path (relative to the project) can change which file is the entry point. */
export const affectsEntryPoint = (relative: string) => {
  const file = relative.split(path.sep).join('/');
  return (CONFIG_FILES as readonly string[]).includes(file) || (ENTRY_CANDIDATES as readonly string[]).includes(file);
};

/** The entry point as an absolute path, or an error naming why there is none. */
export function projectEntryPoint(projectDir: string): string {
  const entry = findEntryPoint(projectDir);
  if (!entry.ok) throw new Error(entry.message);
  return path.join(projectDir, entry.file);
}
