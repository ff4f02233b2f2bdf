import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The last wall around what the preview reads. `confinePlugin` judges what the module
 * graph resolves, but Vite also reads files on paths no plugin hook sees: CSS `url()` and
 * `image-set()` with `?inline`, CSS-modules `composes … from`, `new URL(…, import.meta.url)`
 * assets, a sourcemap's `sources` (inlined as `sourcesContent`), the public folder's
 * files (through a symlink). All of them end in Node's `fs`. This guard wraps the reading
 * functions of `fs` for the whole runtime process: a file whose real path (symlinks
 * resolved) lies outside the allowed folders is refused as if it did not exist, whoever
 * asked for it. It is installed before Vite is loaded, and `syncBuiltinESMExports` makes
 * `import { readFile } from 'node:fs'` see the wrapped functions too.
 *
 * It does not replace the sandbox's own user (which the OS enforces, also for native code
 * and child processes): it is what holds where the server could not give the sandbox a
 * user of its own, and for world-readable files of the host.
 */
export type ReadGuard = {
  /** Whether a file may be read: its real path is inside an allowed folder, or is an allowed file. */
  allows(file: string): boolean;
};

export class OutsideReadError extends Error {
  readonly code = 'ENOENT';
  readonly errno = -2;
  readonly syscall = 'open';
  constructor(readonly path: string) {
    super(`ENOENT: no such file or directory (outside the project), open '${path}'`);
  }
}

type PathLike = fs.PathLike | number | fs.promises.FileHandle;

function asPath(target: PathLike): string | null {
  if (typeof target === 'string') return target;
  if (Buffer.isBuffer(target)) return target.toString();
  if (target instanceof URL) return target.protocol === 'file:' ? fileURLToPath(target) : null;
  return null; // a file descriptor or handle: opened (and judged) already
}

export function createReadGuard(options: { folders: string[]; files?: string[] }): ReadGuard {
  const real = (file: string) => {
    try {
      return fs.realpathSync.native(file);
    } catch {
      return path.resolve(file);
    }
  };
  const folders = [...new Set(options.folders.map(real))].map((folder) => (folder.endsWith(path.sep) ? folder : folder + path.sep));
  const files = new Set((options.files ?? []).map(real));
  return {
    allows(file: string) {
      let target: string;
      try {
        target = fs.realpathSync.native(file);
      } catch {
        // Nothing there (or not reachable): the read itself fails as it would have.
        return true;
      }
      return files.has(target) || folders.some((folder) => target === folder.slice(0, -1) || target.startsWith(folder));
    },
  };
}

/** Wraps `fs`'s reading functions (callback, sync, promise, stream, dir listing) with `guard`. */
export function installReadGuard(guard: ReadGuard) {
  const refused = (target: PathLike) => {
    const file = asPath(target);
    return file !== null && !guard.allows(file) ? new OutsideReadError(file) : null;
  };

  type Callback = (error: Error | null, ...rest: unknown[]) => void;
  const wrapCallback = (name: 'readFile' | 'open' | 'readdir' | 'opendir') => {
    const original = fs[name] as unknown as (...args: unknown[]) => void;
    (fs as unknown as Record<string, unknown>)[name] = function (this: unknown, target: PathLike, ...rest: unknown[]) {
      const error = refused(target);
      if (error) {
        const callback = rest.findLast((item) => typeof item === 'function') as Callback | undefined;
        if (callback) return process.nextTick(() => callback(error));
        throw error;
      }
      return original.call(this, target, ...rest);
    };
  };
  const wrapSync = (name: 'readFileSync' | 'openSync' | 'readdirSync' | 'opendirSync' | 'createReadStream') => {
    const original = fs[name] as unknown as (...args: unknown[]) => unknown;
    (fs as unknown as Record<string, unknown>)[name] = function (this: unknown, target: PathLike, ...rest: unknown[]) {
      const error = refused(target);
      if (error) throw error;
      return original.call(this, target, ...rest);
    };
  };
  const wrapPromise = (name: 'readFile' | 'open' | 'readdir' | 'opendir') => {
    const original = fs.promises[name] as unknown as (...args: unknown[]) => Promise<unknown>;
    (fs.promises as unknown as Record<string, unknown>)[name] = async function (this: unknown, target: PathLike, ...rest: unknown[]) {
      const error = refused(target);
      if (error) throw error;
      return original.call(this, target, ...rest);
    };
  };

  for (const name of ['readFile', 'open', 'readdir', 'opendir'] as const) wrapCallback(name);
  for (const name of ['readFileSync', 'openSync', 'readdirSync', 'opendirSync', 'createReadStream'] as const) wrapSync(name);
  for (const name of ['readFile', 'open', 'readdir', 'opendir'] as const) wrapPromise(name);
  syncBuiltinESMExports();
}
