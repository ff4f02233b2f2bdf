/**
 * Reading a Remotion project someone uploads (a `.zip` or `.tar.gz`) or that git fetched
 * (a tar from `git archive`) into a folder of the server's own, from which its first
 * version is made. The archive is untrusted: every entry's name and kind is checked
 * before anything is written, sizes are counted as the bytes stream (never taken from
 * the archive's word alone), and any broken rule refuses the whole import with a typed
 * error that names the entry. Nothing is ever written outside the folder: no links, no
 * `..`, no absolute paths, and every file is created fresh (`O_EXCL | O_NOFOLLOW`).
 */
import { constants, createReadStream } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { extract as tarExtract } from 'tar-stream';
import yauzl from 'yauzl';
import { MAX_IMPORT_ARCHIVE_BYTES } from '@cutroom/protocol';
import { AppError } from '../errors.js';

const MiB = 1024 * 1024;

/** Largest upload (the compressed archive as sent) and largest git pack a clone may fetch (shared with the web app). */
export { MAX_IMPORT_ARCHIVE_BYTES };
/** Largest sum of the sizes of the files an import keeps. */
export const MAX_IMPORT_TOTAL_BYTES = 200 * MiB;
/** Largest single file an import keeps. */
export const MAX_IMPORT_FILE_BYTES = 50 * MiB;
/** Most files and folders an import keeps. */
export const MAX_IMPORT_FILES = 10_000;
/** Most entries an archive may hold, those skipped (node_modules…) included: each costs work to read. */
export const MAX_IMPORT_ARCHIVE_ENTRIES = 100_000;
/** Largest ratio of unpacked to packed bytes (a zip bomb is thousands to one; source code, ten or so). */
export const MAX_IMPORT_COMPRESSION_RATIO = 100;
/** The ratio is judged once this many bytes came out of an entry (zip) or of the stream (tar.gz). */
export const IMPORT_RATIO_FLOOR_BYTES = 1 * MiB;
/** Most bytes a `.tar.gz` may unpack to, skipped entries included (the work of reading it). */
export const MAX_IMPORT_UNPACKED_BYTES = 1024 * MiB;
/** The longest a git import's clone may take. */
export const MAX_IMPORT_CLONE_MS = 60_000;
/** Longest path an entry may have, and longest single name in it (bytes: what file systems allow). */
export const MAX_IMPORT_PATH_LENGTH = 1_024;
const MAX_NAME_BYTES = 255;

export type ImportLimits = {
  archiveBytes: number;
  totalBytes: number;
  fileBytes: number;
  files: number;
  entries: number;
  ratio: number;
  ratioFloorBytes: number;
  unpackedBytes: number;
  cloneMs: number;
};

export const DEFAULT_IMPORT_LIMITS: ImportLimits = {
  archiveBytes: MAX_IMPORT_ARCHIVE_BYTES,
  totalBytes: MAX_IMPORT_TOTAL_BYTES,
  fileBytes: MAX_IMPORT_FILE_BYTES,
  files: MAX_IMPORT_FILES,
  entries: MAX_IMPORT_ARCHIVE_ENTRIES,
  ratio: MAX_IMPORT_COMPRESSION_RATIO,
  ratioFloorBytes: IMPORT_RATIO_FLOOR_BYTES,
  unpackedBytes: MAX_IMPORT_UNPACKED_BYTES,
  cloneMs: MAX_IMPORT_CLONE_MS,
};

/**
 * Folders never imported, at any depth: installed packages, git's own data, build output
 * and caches (rebuilt in the sandbox), and the metadata folder macOS adds to its zips.
 */
export const SKIPPED_FOLDERS: ReadonlySet<string> = new Set(['node_modules', '.git', 'out', 'dist', 'build', '.cache', '.remotion', '__MACOSX']);
/** Files never imported, at any depth: desktop litter, and `.git` files (a worktree's or submodule's pointer). */
export const SKIPPED_FILES: ReadonlySet<string> = new Set(['.DS_Store', 'Thumbs.db', 'desktop.ini', '.git']);

/** A C0 control character or DEL (what a terminal or a log line could be made to act on). */
const isControl = (character: string) => character < ' ' || character === '\u007f';
export const hasControlCharacter = (text: string) => [...text].some(isControl);
export const withoutControlCharacters = (text: string) => [...text].filter((character) => !isControl(character)).join('');

const formatMiB = (bytes: number) => (bytes >= MiB ? `${Math.round((bytes / MiB) * 10) / 10} MiB` : `${bytes} bytes`);

/** An entry's name as it may appear in a message: quoted, control characters escaped, not too long. */
export function shownName(name: string): string {
  const quoted = JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name);
  return quoted.replace(/[\u007f-\u009f\u2028\u2029]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export const importErrors = {
  notArchive: (detail?: string) =>
    new AppError('import_not_archive', `That file is not a .zip or .tar.gz archive we can read${detail ? ` (${detail})` : ''}. Upload the project as a .zip or .tar.gz.`, 400),
  entry: (name: string, why: string) =>
    new AppError('import_entry_refused', `The archive's entry ${shownName(name)} ${why}. Nothing was imported.`, 400),
  tooLarge: (limit: number, what = "The project's files") =>
    new AppError('import_too_large', `${what} add up to more than ${formatMiB(limit)}, the most an import may hold. Leave out node_modules, build output and large media.`, 413),
  unpackedTooLarge: (limit: number) =>
    new AppError('import_too_large', `The archive unpacks to more than ${formatMiB(limit)}, node_modules and build output included. Leave those out of the archive.`, 413),
  fileTooLarge: (name: string, bytes: number, limit: number) =>
    new AppError('import_file_too_large', `The file ${shownName(name)} is ${formatMiB(bytes)}, over the limit of ${formatMiB(limit)} for one file.`, 413),
  tooManyFiles: (limit: number) =>
    new AppError('import_too_many_files', `The project holds more than ${limit} files and folders, the most an import may hold.`, 413),
  tooManyEntries: (limit: number) =>
    new AppError('import_too_many_files', `The archive holds more than ${limit} entries (skipped ones such as node_modules included). Leave node_modules and build output out of the archive.`, 413),
  ratio: (name: string | null, limit: number) =>
    new AppError(
      'import_compression_ratio',
      `${name === null ? 'The archive' : `The archive's entry ${shownName(name)}`} unpacks to more than ${limit} times its packed size: that is what a zip bomb does, so it was refused.`,
      413,
    ),
};

/** What an archive reader hands the writer, whatever the format. */
export type ImportEntry = {
  /** The name as the archive spells it (checked by the writer). */
  name: string;
  kind: 'file' | 'directory' | 'symlink' | 'hard link' | 'other';
  /** For `other`: what it is (a character device, a fifo…). */
  description?: string;
  /** The size the archive declares (the bytes are counted too). */
  size: number;
  executable: boolean;
  /** The file's bytes (files only), read once. */
  content(): Promise<AsyncIterable<Buffer>>;
};

/**
 * The path an entry names, relative and normalized; null for the archive's root itself
 * (`./`). A name that could lead anywhere else, or that a file system or git would read
 * differently from how it is checked here, refuses the import.
 */
export function checkEntryName(name: string): string | null {
  if (name.includes('\0')) throw importErrors.entry(name, 'holds a NUL byte');
  if (hasControlCharacter(name)) throw importErrors.entry(name, 'holds a control character');
  if (name.includes('\\')) throw importErrors.entry(name, 'holds a backslash (a Windows path separator is not allowed in an archive)');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw importErrors.entry(name, 'is an absolute path');
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw importErrors.entry(name, 'leads out of the project (..)');
  if (parts.length === 0) return null;
  if (parts.some((part) => Buffer.byteLength(part) > MAX_NAME_BYTES) || name.length > MAX_IMPORT_PATH_LENGTH) {
    throw importErrors.entry(name, 'has a name too long for a file system');
  }
  return parts.join('/');
}

/** Whether an entry is left out (node_modules, .git, build output…): its folders are checked, then its own name. */
export function isSkipped(relative: string, kind: ImportEntry['kind']): boolean {
  const parts = relative.split('/');
  const last = parts.pop()!;
  if (parts.some((part) => SKIPPED_FOLDERS.has(part) || part.toLowerCase() === '.git')) return true;
  if (last.toLowerCase() === '.git') return true;
  return kind === 'directory' ? SKIPPED_FOLDERS.has(last) : SKIPPED_FILES.has(last);
}

/**
 * Writes the entries of one archive into `root` (an empty folder of the server's), with
 * the rules at the top of this file. Entries under skipped folders are read past (their
 * names checked all the same); links, hard links and devices refuse the import.
 */
export function createImportWriter(root: string, limits: ImportLimits) {
  /** What each path holds, as this archive made it. */
  const placed = new Map<string, 'file' | 'directory'>();
  let entries = 0;
  let kept = 0;
  let total = 0;

  async function ensureFolders(relative: string, self: boolean) {
    const parts = relative.split('/');
    const count = self ? parts.length : parts.length - 1;
    for (let index = 1; index <= count; index++) {
      const prefix = parts.slice(0, index).join('/');
      const known = placed.get(prefix);
      if (known === 'directory') continue;
      if (known === 'file') throw importErrors.entry(relative, `lies below ${shownName(prefix)}, which is a file in the archive`);
      // The folder is the server's own and holds only what this writer made: no link to follow.
      await mkdir(path.join(root, prefix), { mode: 0o755 });
      placed.set(prefix, 'directory');
    }
  }

  /** Takes one entry in (or past). Returns whether it was kept. */
  async function add(entry: ImportEntry): Promise<boolean> {
    entries += 1;
    if (entries > limits.entries) throw importErrors.tooManyEntries(limits.entries);
    const relative = checkEntryName(entry.name);
    if (relative === null) {
      if (entry.kind === 'directory') return false;
      throw importErrors.entry(entry.name, 'has no name');
    }
    if (isSkipped(relative, entry.kind)) return false;
    if (entry.kind === 'symlink') throw importErrors.entry(entry.name, 'is a symbolic link; only files and folders are imported');
    if (entry.kind === 'hard link') throw importErrors.entry(entry.name, 'is a hard link; only files and folders are imported');
    if (entry.kind === 'other') throw importErrors.entry(entry.name, `is ${entry.description ?? 'a special file'}; only files and folders are imported`);
    kept += 1;
    if (kept > limits.files) throw importErrors.tooManyFiles(limits.files);
    if (entry.kind === 'directory') {
      if (placed.get(relative) === 'file') throw importErrors.entry(entry.name, 'is both a file and a folder in the archive');
      await ensureFolders(relative, true);
      return true;
    }
    if (placed.has(relative)) throw importErrors.entry(entry.name, placed.get(relative) === 'file' ? 'appears twice in the archive' : 'is both a file and a folder in the archive');
    if (entry.size > limits.fileBytes) throw importErrors.fileTooLarge(relative, entry.size, limits.fileBytes);
    if (total + entry.size > limits.totalBytes) throw importErrors.tooLarge(limits.totalBytes);
    await ensureFolders(relative, false);
    placed.set(relative, 'file');
    const content = await entry.content();
    let handle: FileHandle | null = await open(
      path.join(root, relative),
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      entry.executable ? 0o755 : 0o644,
    );
    try {
      let written = 0;
      for await (const chunk of content) {
        written += chunk.length;
        // Counted as they come, whatever the header said.
        if (written > entry.size) throw importErrors.entry(entry.name, 'holds more bytes than its header says');
        if (written > limits.fileBytes) throw importErrors.fileTooLarge(relative, written, limits.fileBytes);
        if (total + written > limits.totalBytes) throw importErrors.tooLarge(limits.totalBytes);
        await handle.write(chunk);
      }
      if (written !== entry.size) throw importErrors.entry(entry.name, 'holds fewer bytes than its header says');
      total += written;
      await handle.close();
      handle = null;
    } finally {
      await handle?.close().catch(() => {});
    }
    return true;
  }

  return {
    add,
    get stats() {
      return { entries, kept, bytes: total };
    },
  };
}

export type ImportWriter = ReturnType<typeof createImportWriter>;

/** An error of the archive's bytes (not ours, not the disk's) as the import's typed error. */
function asArchiveError(error: unknown): unknown {
  if (error instanceof AppError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  // The disk's own failures (ENOSPC, EACCES…) are the server's problem, not the archive's.
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code) && typeof (error as NodeJS.ErrnoException).errno === 'number') return error;
  const message = error instanceof Error ? error.message : String(error);
  return importErrors.notArchive(message.slice(0, 200));
}

/** The archive's format, from its first bytes (never from its name). */
export async function sniffArchive(file: string): Promise<'zip' | 'tar.gz' | 'tar' | null> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const head = Buffer.alloc(262);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    if (bytesRead >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip';
    // An empty zip is only its end record.
    if (bytesRead >= 4 && head.readUInt32LE(0) === 0x06054b50) return 'zip';
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
    if (bytesRead >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
    return null;
  } finally {
    await handle.close();
  }
}

/** Reads an uploaded archive (zip, tar.gz or tar, told by its bytes) into `root`. */
export async function readArchiveFile(file: string, root: string, limits: ImportLimits) {
  const format = await sniffArchive(file);
  if (!format) throw importErrors.notArchive();
  const writer = createImportWriter(root, limits);
  if (format === 'zip') await readZip(file, writer, limits);
  else {
    await readTar(createReadStream(file), writer, limits, format === 'tar.gz' ? { gzip: true } : undefined);
  }
  return { format, ...writer.stats };
}

/** The next entry of a zip opened with `lazyEntries`, or null at its end. */
function nextZipEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | null> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    const onEntry = (entry: yauzl.Entry) => {
      cleanup();
      resolve(entry);
    };
    const onEnd = () => {
      cleanup();
      resolve(null);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}

const S_IFMT = 0o170000;
const fileTypes: Record<number, string> = {
  0o010000: 'a fifo',
  0o020000: 'a character device',
  0o060000: 'a block device',
  0o140000: 'a socket',
};

/**
 * A zip, read from its central directory (yauzl): names decoded here, not by the
 * library, so the writer's checks see backslashes as they are; a Unix mode's file type
 * (links, devices) honoured; sizes checked by yauzl against the bytes that inflate. The
 * ratio is judged per entry from its declared sizes before it is inflated (and yauzl
 * stops an entry that inflates to more than it declared), and for the whole archive.
 */
async function readZip(file: string, writer: ImportWriter, limits: ImportLimits) {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true, strictFileNames: true });
  } catch (error) {
    throw asArchiveError(error);
  }
  // Errors outside a read (none expected) must not go unhandled.
  zip.on('error', () => {});
  try {
    if (zip.entryCount > limits.entries) throw importErrors.tooManyEntries(limits.entries);
    const packedBytes = zip.fileSize;
    let unpacked = 0;
    for (;;) {
      let entry: yauzl.Entry | null;
      try {
        entry = await nextZipEntry(zip);
      } catch (error) {
        throw asArchiveError(error);
      }
      if (!entry) break;
      const raw = entry.fileNameRaw ?? (entry.fileName as unknown as Buffer);
      const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, raw, entry.extraFields, true);
      const mode = (entry.externalFileAttributes >>> 16) & 0xffff;
      const type = mode & S_IFMT;
      let kind: ImportEntry['kind'];
      let description: string | undefined;
      if (type === 0o120000) kind = 'symlink';
      else if (type === 0o040000 || name.endsWith('/')) kind = 'directory';
      else if (type === 0 || type === 0o100000) kind = 'file';
      else {
        kind = 'other';
        description = fileTypes[type] ?? 'a special file';
      }
      const current = entry;
      const content = async () => {
        if (current.isEncrypted()) throw importErrors.entry(name, 'is encrypted');
        if (!current.canDecodeFileData()) throw importErrors.entry(name, `uses a compression method (${current.compressionMethod}) we do not read`);
        if (current.uncompressedSize > limits.ratioFloorBytes && current.uncompressedSize > limits.ratio * Math.max(current.compressedSize, 1)) {
          throw importErrors.ratio(name, limits.ratio);
        }
        unpacked += current.uncompressedSize;
        if (unpacked > limits.ratioFloorBytes && unpacked > limits.ratio * Math.max(packedBytes, 1)) throw importErrors.ratio(null, limits.ratio);
        try {
          return archiveStream(await zip.openReadStreamPromise(current));
        } catch (error) {
          throw asArchiveError(error);
        }
      };
      await writer.add({ name, kind, description, size: entry.uncompressedSize, executable: kind === 'file' && (mode & 0o111) !== 0, content });
    }
  } finally {
    zip.close();
  }
}

/** A stream's chunks, its failures (an archive's bytes that do not inflate…) turned into the import's typed errors. */
async function* archiveStream(stream: Readable): AsyncIterable<Buffer> {
  let done = false;
  try {
    for await (const chunk of stream) yield chunk as Buffer;
    done = true;
  } catch (error) {
    throw asArchiveError(error);
  } finally {
    // Left before its end (the import failed): stop it.
    if (!done) stream.destroy();
  }
}

/** Counts bytes going through; `check` may refuse with an error after each chunk. */
function counter(check: (bytes: number) => void) {
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      bytes += chunk.length;
      try {
        check(bytes);
      } catch (error) {
        callback(error as Error);
        return;
      }
      callback(null, chunk);
    },
  });
}

const tarKinds: Record<string, ImportEntry['kind']> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'directory',
  symlink: 'symlink',
  link: 'hard link',
};

/**
 * A tar stream (gzipped with `gzip`), read as it arrives. With gzip, the bytes that come
 * out are weighed against the bytes that went in as they stream (the ratio) and counted
 * in all (`unpackedBytes`), skipped entries included.
 */
export async function readTar(input: Readable, writer: ImportWriter, limits: ImportLimits, gzip?: { gzip: true }) {
  const extract = tarExtract();
  /** The first failure of any stream of the chain: it stops the reading at once. */
  let failure: unknown = null;
  const fail = (error: unknown) => {
    failure ??= error;
    extract.destroy(error as Error);
  };
  let source: Readable = input;
  input.on('error', fail);
  if (gzip) {
    let packed = 0;
    const packedCounter = counter((bytes) => {
      packed = bytes;
    });
    const unpackedCounter = counter((bytes) => {
      if (bytes > limits.unpackedBytes) throw importErrors.unpackedTooLarge(limits.unpackedBytes);
      if (bytes > limits.ratioFloorBytes && bytes > limits.ratio * Math.max(packed, 1)) throw importErrors.ratio(null, limits.ratio);
    });
    const gunzip = createGunzip();
    for (const stream of [packedCounter, gunzip, unpackedCounter]) stream.on('error', fail);
    source = input.pipe(packedCounter).pipe(gunzip).pipe(unpackedCounter);
  }
  source.pipe(extract as unknown as NodeJS.WritableStream);
  try {
    for await (const entry of extract) {
      const { header } = entry;
      const kind = tarKinds[header.type ?? 'file'] ?? 'other';
      let read = false;
      await writer.add({
        name: header.name,
        kind,
        description: kind === 'other' ? `a ${String(header.type).replace(/-/g, ' ')}` : undefined,
        size: kind === 'file' ? (header.size ?? 0) : 0,
        executable: kind === 'file' && ((header.mode ?? 0) & 0o111) !== 0,
        content: async () => {
          read = true;
          return archiveStream(entry as unknown as Readable);
        },
      });
      // What was not read (a skipped entry, a folder) is read past.
      if (!read) for await (const _ of entry) void _;
    }
  } catch (error) {
    throw asArchiveError(failure ?? error);
  } finally {
    input.destroy();
    if (source !== input) source.destroy();
    extract.destroy();
  }
  if (failure) throw asArchiveError(failure);
}

/**
 * Where the project is in the folder an archive was read into: the folder itself, or
 * its one top-level folder when everything sits under one (as zipping a folder makes
 * it). Refuses (`import_not_remotion`) a tree without a `package.json` there that lists
 * `remotion`.
 */
export async function findProjectRoot(folder: string): Promise<string> {
  const entries = await readdir(folder, { withFileTypes: true });
  let root = folder;
  let wrapper: string | null = null;
  if (entries.length === 1 && entries[0]!.isDirectory()) {
    wrapper = entries[0]!.name;
    root = path.join(folder, wrapper);
  }
  if (entries.length === 0) {
    throw new AppError('import_not_remotion', 'The archive holds no project files (node_modules, .git and build output are left out). A Remotion project needs at least a package.json.', 400);
  }
  const where = wrapper === null ? "at the archive's top" : `in its folder ${shownName(wrapper)}`;
  const manifest = path.join(root, 'package.json');
  const info = await lstat(manifest).catch(() => null);
  if (!info?.isFile()) {
    throw new AppError('import_not_remotion', `There is no package.json ${where}: a Remotion project has one at its root, listing remotion among its dependencies.`, 400);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(manifest, 'utf8'));
  } catch {
    throw new AppError('import_not_remotion', `The package.json ${where} is not valid JSON.`, 400);
  }
  const lists = ['dependencies', 'devDependencies', 'peerDependencies'].map((key) => (parsed as Record<string, unknown> | null)?.[key]);
  const remotion = lists.some((list) => typeof list === 'object' && list !== null && Object.hasOwn(list, 'remotion'));
  if (!remotion) {
    throw new AppError('import_not_remotion', `The package.json ${where} does not list remotion among its dependencies: this does not look like a Remotion project.`, 400);
  }
  return root;
}
