/**
 * Files in and out of a folder as tar streams: the one way the server moves a sandbox's
 * files (driver `readFiles` / `writeFiles`, through the `sandbox-files` command run inside
 * the sandbox's wall), and the way it takes them into folders of its own (the commit
 * mirror, the agent-state store). An archive is untrusted input: every entry is checked
 * before anything is written, and nothing here ever follows a link.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { type FileHandle, chmod, lstat, mkdir, open, readFile, readdir, readlink, rename, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, type Readable as NodeReadable } from 'node:stream';
import { type Header, type Pack, extract as tarExtract, pack as tarPack } from 'tar-stream';

/** An archive that breaks a rule (a path outside the folder, a device, a size over its cap…). */

/** What a folder of an archive is charged against its total size (an inode and a directory entry wherever it lands). */
const FOLDER_COST = 256;
export class ArchiveError extends Error {
  override name = 'ArchiveError';
  readonly code = 'archive_refused';
}

/** A file left out for its size (`oversize: 'skip'`). */
export type SkippedEntry = { path: string; bytes: number };

export type UnpackLimits = {
  /** Largest file (or link text) the archive may hold. */
  maxFileBytes: number;
  /** Largest sum of the files' sizes. */
  maxTotalBytes: number;
  /** Most entries. */
  maxEntries?: number;
};

export type UnpackOptions = UnpackLimits & {
  /**
   * Make the folder hold exactly the archive's files: what the archive does not have is
   * removed, except the top-level `node_modules` (installed in the sandbox, never archived).
   */
  replace?: boolean;
  /** A file over `maxFileBytes`: refuse the whole archive (default) or leave it out and report it. */
  oversize?: 'fail' | 'skip';
  /**
   * Symlink entries: written as plain files holding the link's text (default, as git's
   * `core.symlinks=false` checks them out), or left out.
   */
  links?: 'as-files' | 'skip';
  /** With `oversize: 'skip'`: sees a skipped file's bytes as they stream past (to hash them, say). */
  onOversize?: (entry: SkippedEntry, content: AsyncIterable<Buffer>) => Promise<void>;
  /** Only entries whose relative path passes are taken; the rest are read past. */
  accept?: (relative: string) => boolean;
};

export type UnpackResult = {
  /** Files written because they were new or their bytes differed. */
  written: string[];
  /** Files the folder already held byte for byte (not touched). */
  unchanged: number;
  /** Files and folders removed by `replace`. */
  removed: string[];
  skipped: SkippedEntry[];
};

/** What an archive of a folder never holds: `.git` at any depth, and the top-level `node_modules`. */
export function isExcluded(relative: string): boolean {
  const parts = relative.split('/');
  return parts[0] === 'node_modules' || parts.includes('.git');
}

const CHUNK = 64 * 1024;

/**
 * A tar stream of `root`'s folders, regular files and symlinks (stored as links, never
 * followed), paths relative to `root`, in a stable order. Sockets, fifos and devices are
 * left out, and so is what `isExcluded` names. A file that changes while it is read is
 * stored with the size it had when it was opened (cut or padded with zeros), so the
 * archive stays well-formed.
 */
export function packDirectory(root: string, options: PackOptions = {}): NodeReadable {
  const pack = tarPack();
  void (async () => {
    await walk(pack, root, '', options.leaveOut);
    pack.finalize();
  })().catch((error: unknown) => pack.destroy(error as Error));
  // tar-stream's streams are streamx ones; callers get a Node stream that fails with it.
  const out = new PassThrough();
  pack.on('error', (error: Error) => out.destroy(error));
  out.on('close', () => pack.destroy());
  pack.pipe(out);
  return out;
}

/** `leaveOut`: files (by path and size) the archive skips, e.g. media its reader already has (`pinnedMedia`). */
export type PackOptions = { leaveOut?: (relative: string, size: number) => boolean };

/**
 * The media files a working copy's `.cutroom/media.json` pins, by path and size: the
 * server has their bytes (and keeps them as the latest version pins them), so an archive
 * read for a commit can leave them out. A file of another size is not left out, nor is
 * anything when the manifest is missing, too large or not what the server writes.
 */
export async function pinnedMedia(root: string): Promise<(relative: string, size: number) => boolean> {
  const pinned = new Map<string, number>();
  try {
    const file = path.join(root, '.cutroom', 'media.json');
    const info = await lstat(file);
    if (info.isFile() && info.size <= 1024 * 1024) {
      const manifest = JSON.parse(await readFile(file, 'utf8')) as { media?: { path?: unknown; size?: unknown }[] };
      for (const entry of Array.isArray(manifest.media) ? manifest.media : []) {
        if (typeof entry.path === 'string' && entry.path.startsWith('public/') && typeof entry.size === 'number') pinned.set(entry.path, entry.size);
      }
    }
  } catch {
    // No manifest, or not one the server wrote: nothing is left out.
  }
  return (relative, size) => pinned.get(relative) === size;
}

async function walk(pack: Pack, root: string, relative: string, leaveOut?: (relative: string, size: number) => boolean) {
  const names = (await readdir(path.join(root, relative))).sort();
  for (const name of names) {
    const child = relative ? `${relative}/${name}` : name;
    if (isExcluded(child)) continue;
    const full = path.join(root, child);
    // Gone meanwhile (the sandbox keeps working while it is read): left out.
    const info = await lstat(full).catch(() => null);
    if (!info) continue;
    if (info.isDirectory()) {
      await addEntry(pack, { name: `${child}/`, type: 'directory', mode: info.mode & 0o777, mtime: info.mtime });
      await walk(pack, root, child, leaveOut);
    } else if (info.isSymbolicLink()) {
      const linkname = await readlink(full).catch(() => null);
      if (linkname !== null) await addEntry(pack, { name: child, type: 'symlink', linkname, mode: 0o777, mtime: info.mtime });
    } else if (info.isFile()) {
      if (leaveOut?.(child, info.size)) continue;
      await addFile(pack, full, child);
    }
  }
}

function addEntry(pack: Pack, header: Partial<Header> & { name: string }, content?: Buffer) {
  return new Promise<void>((resolve, reject) => {
    const done = (error?: Error | null) => (error ? reject(error) : resolve());
    if (content) pack.entry(header, content, done);
    else pack.entry(header, done);
  });
}

async function addFile(pack: Pack, full: string, relative: string) {
  // O_NOFOLLOW: a file swapped for a link since lstat is not followed; O_NONBLOCK: nor
  // does a fifo swapped in hang the archive.
  let handle: FileHandle;
  try {
    handle = await open(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    // Gone, or now a link: left out. Anything else (a file it may not read) fails the
    // archive: a file missing from it would read as deleted.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP') return;
    throw error;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) return;
    const size = info.size;
    let sink!: ReturnType<Pack['entry']>;
    const written = new Promise<void>((resolve, reject) => {
      sink = pack.entry({ name: relative, type: 'file', size, mode: info.mode & 0o777, mtime: info.mtime }, (error) =>
        error ? reject(error) : resolve(),
      );
    });
    const buffer = Buffer.alloc(Math.min(CHUNK, Math.max(size, 1)));
    let position = 0;
    while (position < size) {
      const want = Math.min(buffer.length, size - position);
      const { bytesRead } = await handle.read(buffer, 0, want, position);
      // Shrunk while being read: the rest is zeros.
      const chunk = bytesRead === 0 ? Buffer.alloc(want) : Buffer.from(buffer.subarray(0, bytesRead));
      position += chunk.length;
      if (!sink.write(chunk)) await new Promise<void>((resolve) => sink.once('drain', () => resolve()));
    }
    sink.end(undefined);
    await written;
  } finally {
    await handle.close();
  }
}

/**
 * The path an entry names, relative and normalized; null for the archive's root itself.
 * Absolute paths and `..` are refused (not cleaned up: an archive that holds them is not
 * one this code made).
 */
export function entryPath(name: string): string | null {
  if (name.includes('\0')) throw new ArchiveError(`an entry's name holds a NUL byte`);
  if (name.startsWith('/')) throw new ArchiveError(`${JSON.stringify(name)} is an absolute path`);
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw new ArchiveError(`${JSON.stringify(name)} leads out of the folder (..)`);
  return parts.length ? parts.join('/') : null;
}

type Input = NodeReadable | NodeJS.ReadableStream | { pipe(destination: unknown): unknown };

/**
 * Writes a tar stream's files into `root` (created if missing), following the rules at
 * the top of this file: only folders, regular files and (as plain files) symlinks; no
 * absolute paths, no `..`, no hard links, no devices; sizes capped. A file whose bytes
 * the folder already holds is not rewritten (the preview's watcher sees only what really
 * changed); a changed one is written aside and renamed into place, so nobody reads half
 * a file. A link already in the folder is replaced, never followed. With `replace`,
 * removal comes last, after the whole archive was accepted.
 */
export async function unpackArchive(root: string, input: Input, options: UnpackOptions): Promise<UnpackResult> {
  const oversize = options.oversize ?? 'fail';
  const links = options.links ?? 'as-files';
  const maxEntries = options.maxEntries ?? 200_000;
  const result: UnpackResult = { written: [], unchanged: 0, removed: [], skipped: [] };
  /** What this archive put (or left, when skipped) at each path: `replace` keeps these. */
  const placed = new Map<string, 'file' | 'directory'>();
  let entries = 0;
  let total = 0;

  await mkdir(root, { recursive: true });
  const extract = tarExtract();
  const source = input as NodeReadable;
  source.on?.('error', (error: Error) => extract.destroy(error));
  source.pipe(extract as unknown as NodeJS.WritableStream);
  try {
    for await (const entry of extract) {
      const { header } = entry;
      entries += 1;
      if (entries > maxEntries) throw new ArchiveError(`the archive holds more than ${maxEntries} entries`);
      const relative = entryPath(header.name);
      if (relative === null || isExcluded(relative) || (options.accept && !options.accept(relative))) {
        await drain(entry);
        continue;
      }
      const kind = header.type;
      if (kind === 'directory') {
        await drain(entry);
        // A folder costs a block and an inode wherever it lands: charged, so that an archive
        // of empty folders cannot fill a disk within a "1 byte" budget.
        total += FOLDER_COST;
        if (total > options.maxTotalBytes) throw new ArchiveError(`the archive holds more than ${options.maxTotalBytes} bytes (folders count ${FOLDER_COST} bytes each)`);
        await ensureFolders(root, relative, placed, true);
        continue;
      }
      if (kind === 'link') throw new ArchiveError(`${relative} is a hard link`);
      if (kind !== 'file' && kind !== 'contiguous-file' && kind !== 'symlink') {
        throw new ArchiveError(`${relative} is a ${kind ?? 'special file'}; only files, folders and links are allowed`);
      }
      if (kind === 'symlink' && links === 'skip') {
        await drain(entry);
        continue;
      }
      const content = kind === 'symlink' ? Buffer.from(header.linkname ?? '') : null;
      const size = content ? content.length : header.size;
      if (size > options.maxFileBytes) {
        if (oversize === 'fail') {
          throw new ArchiveError(`${relative} is ${size} bytes, over the limit of ${options.maxFileBytes} bytes for one file`);
        }
        const skipped = { path: relative, bytes: size };
        if (options.onOversize) await options.onOversize(skipped, content ? single(content) : (entry as AsyncIterable<Buffer>));
        await drain(entry);
        result.skipped.push(skipped);
        // Kept as it is: a replace must not remove what the archive has but was too large.
        await ensureFolders(root, relative, placed, false);
        if (!placed.has(relative)) placed.set(relative, 'file');
        continue;
      }
      total += size;
      if (total > options.maxTotalBytes) {
        throw new ArchiveError(`the archive's files add up to more than the limit of ${options.maxTotalBytes} bytes`);
      }
      if (placed.get(relative) === 'directory') throw new ArchiveError(`${relative} is both a folder and a file in the archive`);
      await ensureFolders(root, relative, placed, false);
      placed.set(relative, 'file');
      const executable = kind !== 'symlink' && (header.mode & 0o111) !== 0;
      if (content) await drain(entry);
      const changed = await writeIfDifferent(path.join(root, relative), content ? single(content) : (entry as AsyncIterable<Buffer>), size, executable);
      if (changed) result.written.push(relative);
      else result.unchanged += 1;
    }
  } catch (error) {
    (source as { destroy?: () => void }).destroy?.();
    extract.destroy();
    throw error;
  }
  if (options.replace) await removeOthers(root, '', placed, result.removed);
  return result;
}

async function* single(buffer: Buffer) {
  yield buffer;
}

async function drain(entry: AsyncIterable<unknown>) {
  for await (const _ of entry) void _;
}

/**
 * Makes the folders above `relative` (and `relative` itself when `self`) real folders
 * inside `root`. A link in their place (the sandbox may have made one) is removed, never
 * followed; a file in their place is removed too, unless this archive wrote it (an entry
 * below a file or link of the same archive is refused).
 */
async function ensureFolders(root: string, relative: string, placed: Map<string, 'file' | 'directory'>, self: boolean) {
  const parts = relative.split('/');
  const count = self ? parts.length : parts.length - 1;
  for (let index = 1; index <= count; index++) {
    const prefix = parts.slice(0, index).join('/');
    const known = placed.get(prefix);
    if (known === 'directory') continue;
    if (known === 'file') {
      throw new ArchiveError(`${relative} lies below ${prefix}, which is a file or link in the archive`);
    }
    const full = path.join(root, prefix);
    const info = await lstat(full).catch(() => null);
    if (info && !info.isDirectory()) {
      await rm(full, { force: true });
    }
    if (!info || !info.isDirectory()) await mkdir(full, { mode: 0o755 });
    placed.set(prefix, 'directory');
  }
}

/**
 * Writes `content` (`size` bytes) to `target` unless it already holds exactly those
 * bytes. Compared chunk by chunk as the content streams in; at the first difference the
 * new file is started aside with the bytes that were equal, so memory stays one chunk.
 * Returns whether it wrote.
 */
async function writeIfDifferent(target: string, content: AsyncIterable<Buffer | Uint8Array>, size: number, executable: boolean): Promise<boolean> {
  const mode = executable ? 0o755 : 0o644;
  const info = await lstat(target).catch(() => null);
  if (info?.isDirectory()) await rm(target, { recursive: true, force: true });
  let existing: FileHandle | null = null;
  if (info?.isFile() && info.size === size) {
    existing = await open(target, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => null);
  }
  let position = 0;
  let aside: { handle: FileHandle; file: string } | null = null;
  const compare = Buffer.alloc(CHUNK);
  try {
    for await (const raw of content) {
      const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
      if (!aside && existing) {
        if (await sameBytes(existing, chunk, position, compare)) {
          position += chunk.length;
          continue;
        }
      }
      if (!aside) {
        aside = await startAside(target, mode);
        // The bytes so far were equal: copy them from the old file.
        if (existing && position > 0) await copyPrefix(existing, aside.handle, position, compare);
      }
      await aside.handle.write(chunk, 0, chunk.length, position);
      position += chunk.length;
    }
    if (!aside) {
      if (existing) {
        // Same bytes; only the mode may differ.
        if (((info!.mode & 0o111) !== 0) !== executable) await chmod(target, mode);
        return false;
      }
      aside = await startAside(target, mode);
    }
    await aside.handle.close();
    const file = aside.file;
    aside = null;
    await rename(file, target);
    return true;
  } catch (error) {
    if (aside) {
      await aside.handle.close().catch(() => {});
      await unlink(aside.file).catch(() => {});
    }
    throw error;
  } finally {
    await existing?.close();
  }
}

async function startAside(target: string, mode: number) {
  const file = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.part`);
  const handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  // The umask does not decide whether a script stays executable.
  await handle.chmod(mode);
  return { handle, file };
}

async function sameBytes(handle: FileHandle, chunk: Buffer, position: number, scratch: Buffer): Promise<boolean> {
  for (let offset = 0; offset < chunk.length; offset += scratch.length) {
    const want = Math.min(scratch.length, chunk.length - offset);
    const { bytesRead } = await handle.read(scratch, 0, want, position + offset);
    if (bytesRead !== want || !scratch.subarray(0, want).equals(chunk.subarray(offset, offset + want))) return false;
  }
  return true;
}

async function copyPrefix(from: FileHandle, to: FileHandle, length: number, scratch: Buffer) {
  for (let offset = 0; offset < length; ) {
    const { bytesRead } = await from.read(scratch, 0, Math.min(scratch.length, length - offset), offset);
    if (bytesRead === 0) throw new Error('the file changed while it was compared');
    await to.write(scratch, 0, bytesRead, offset);
    offset += bytesRead;
  }
}

/** Removes what the archive did not place (links removed as links; `node_modules` at the top kept). */
async function removeOthers(root: string, relative: string, placed: Map<string, 'file' | 'directory'>, removed: string[]) {
  const names = await readdir(path.join(root, relative)).catch(() => [] as string[]);
  for (const name of names.sort()) {
    const child = relative ? `${relative}/${name}` : name;
    if (child === 'node_modules') continue;
    const kind = placed.get(child);
    const full = path.join(root, child);
    if (kind === 'directory') {
      const info = await lstat(full).catch(() => null);
      if (info?.isDirectory()) await removeOthers(root, child, placed, removed);
      continue;
    }
    if (kind === 'file') continue;
    await rm(full, { recursive: true, force: true });
    removed.push(child);
  }
}
