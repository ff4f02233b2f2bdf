import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';

/** A path the agent may not use, with the reason in words the model can act on. */
export class PathRefused extends Error {
  override name = 'PathRefused';
}

export type ConfineOptions = {
  /**
   * Folders (relative to the working copy) the path must lie in; the whole working copy
   * when unset. The working copy's `.git` is never allowed.
   */
  roots?: string[];
  /** Folder names refused at any depth (besides `.git`), e.g. `node_modules`. */
  exclude?: string[];
};

const inside = (parent: string, child: string) => child === parent || child.startsWith(parent + path.sep);

/** The real path of `target`, or of its deepest existing ancestor with the rest appended. */
async function realish(target: string): Promise<string> {
  const missing: string[] = [];
  let current = target;
  for (;;) {
    try {
      const real = await realpath(current);
      return path.join(real, ...missing.reverse());
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
      // A dangling symlink: realpath fails, but it still leads somewhere.
      const link = await lstat(current).then((stat) => stat.isSymbolicLink(), () => false);
      if (link) throw new PathRefused(`${current} is a symbolic link that leads nowhere; it is not allowed.`);
      const parent = path.dirname(current);
      if (parent === current) return target;
      missing.push(path.basename(current));
      current = parent;
    }
  }
}

/**
 * Resolves a path the agent gave (relative to the working copy, or absolute) and makes
 * sure it stays inside: no `..` out, no absolute path elsewhere, no symlink that leads
 * out (checked on the real path of the deepest part that exists), never `.git`.
 * Returns the absolute real path and the path relative to the working copy.
 */
export async function confinePath(workspace: string, given: string, options: ConfineOptions = {}) {
  if (typeof given !== 'string' || given.length === 0) throw new PathRefused('A file path is required.');
  if (given.includes('\0')) throw new PathRefused('A file path may not contain NUL characters.');
  if (given.length > 1_000) throw new PathRefused('That file path is too long.');
  const root = await realpath(workspace);
  const lexical = path.resolve(root, given);
  const allowed = (options.roots ?? ['.']).map((folder) => path.resolve(root, folder));
  const where = options.roots ? options.roots.map((folder) => `${folder}/`).join(' or ') : 'the project folder';
  const check = (candidate: string) => {
    if (!allowed.some((folder) => inside(folder, candidate))) {
      throw new PathRefused(`${given} is outside ${where}; only files in ${where} may be used.`);
    }
    const relative = path.relative(root, candidate);
    const segments = relative.split(path.sep);
    if (segments.includes('.git')) throw new PathRefused('The .git folder is not part of the project; it may not be used.');
    const excluded = options.exclude?.find((name) => segments.includes(name));
    if (excluded) throw new PathRefused(`${excluded}/ holds installed packages, not the project's files; it may not be used.`);
    return relative;
  };
  check(lexical);
  const real = await realish(lexical);
  const relative = check(real);
  return { absolute: real, relative: relative === '' ? '.' : relative };
}
