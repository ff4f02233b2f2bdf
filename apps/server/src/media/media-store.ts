import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, link, mkdir, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Media bytes, stored once by their SHA-256 (`<storage>/media/sha256/<ab>/<hash>`), never in
 * git: versions pin them by hash in `.cutroom/media.json`. The folder store of STORAGE_URL
 * `file://…`; an S3-compatible one would keep the same keys. Files are written to a
 * staging name and renamed into place, so a reader never sees half of one, and are never
 * changed after (the same hash is the same bytes).
 */
export function createMediaStore(storageUrl: string) {
  const root = path.join(fileURLToPath(storageUrl.startsWith('file:///') ? storageUrl : `file://${path.resolve(storageUrl.slice('file://'.length))}`), 'media');
  const objects = path.join(root, 'sha256');
  const staging = path.join(root, 'staging');

  function file(sha256: string): string {
    if (!SHA256.test(sha256)) throw new Error(`not a SHA-256: ${sha256}`);
    return path.join(objects, sha256.slice(0, 2), sha256);
  }

  /** A fresh staging path (the caller writes it; `put` moves it in, `discard` removes it). */
  async function stagingFile(): Promise<string> {
    await mkdir(staging, { recursive: true, mode: 0o700 });
    return path.join(staging, `${Date.now()}-${randomBytes(8).toString('hex')}`);
  }

  /** SHA-256 and size of a file, read once. */
  async function hashFile(source: string): Promise<{ sha256: string; size: number }> {
    const hash = createHash('sha256');
    let size = 0;
    await pipeline(createReadStream(source), async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        hash.update(chunk);
        size += chunk.length;
      }
      yield* [];
    });
    return { sha256: hash.digest('hex'), size };
  }

  /**
   * Takes a checked file into the store: `move` renames it in (it must be on the same file
   * system, as staging files and tus uploads are), else it is linked or copied. The same
   * bytes already there: nothing is written twice.
   */
  async function put(source: string, options: { move: boolean }): Promise<{ sha256: string; size: number }> {
    const { sha256, size } = await hashFile(source);
    const target = file(sha256);
    // Stored already: marked as stored again just now (a collection must keep it until its
    // version is made). A copy a collection removed meanwhile is stored anew below.
    const now = new Date();
    const refreshed = await utimes(target, now, now).then(
      () => true,
      () => false,
    );
    if (refreshed) {
      if (options.move) await rm(source, { force: true });
      return { sha256, size };
    }
    await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
    const temporary = `${target}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      if (options.move) await rename(source, temporary);
      else await pipeline(createReadStream(source), createWriteStream(temporary, { flags: 'wx' }));
      await chmod(temporary, 0o444);
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return { sha256, size };
  }

  async function has(sha256: string): Promise<boolean> {
    const info = await stat(file(sha256)).catch(() => null);
    return Boolean(info?.isFile());
  }

  /** The stored bytes, whole or a byte range (inclusive `end`). */
  function read(sha256: string, range?: { start: number; end: number }): Readable {
    return createReadStream(file(sha256), range);
  }

  /**
   * Puts the stored bytes at `target` (a folder of the server's): a hard link where the
   * file system allows (no copy, and the store's file is read-only), else a copy.
   */
  async function materialise(sha256: string, target: string, options: { copy?: boolean } = {}): Promise<void> {
    await mkdir(path.dirname(target), { recursive: true });
    await rm(target, { force: true });
    if (!options.copy) {
      try {
        await link(file(sha256), target);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV' && (error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
      }
    }
    await pipeline(read(sha256), createWriteStream(target, { flags: 'wx', mode: 0o644 }));
  }

  /**
   * Removes the stored files no version pins: every file whose hash is not in `keep` and
   * that was not stored (or stored again) within the last `graceMs`, so an upload between
   * its store and its version is never taken. What was removed, in files and bytes.
   */
  async function collect(keep: ReadonlySet<string>, graceMs: number): Promise<{ removed: number; bytes: number }> {
    let removed = 0;
    let bytes = 0;
    const before = Date.now() - graceMs;
    for (const prefix of await readdir(objects).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      for (const name of await readdir(path.join(objects, prefix)).catch(() => [] as string[])) {
        const target = path.join(objects, prefix, name);
        const info = await stat(target).catch(() => null);
        if (!info?.isFile() || info.mtimeMs > before) continue;
        // Gone: a file no version pins, or a temporary name a crash left mid-put (`<hash>.tmp-…`).
        if (SHA256.test(name) && keep.has(name)) continue;
        await rm(target, { force: true });
        removed += 1;
        bytes += info.size;
      }
    }
    return { removed, bytes };
  }

  /** At start: staging files a crash left. */
  async function sweep(): Promise<void> {
    await rm(staging, { recursive: true, force: true });
  }

  return { root, file, stagingFile, hashFile, put, has, read, materialise, collect, sweep };
}

export type MediaStore = ReturnType<typeof createMediaStore>;
