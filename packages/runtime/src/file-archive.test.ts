import { lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { type Header, extract, pack } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArchiveError, entryPath, packDirectory, pinnedMedia, unpackArchive } from './file-archive.js';

type Entry = Partial<Header> & { name: string; content?: string | Buffer };

/** A tar built by hand, entry by entry, whatever the rules say (that is the point). */
function tarOf(entries: Entry[]): Readable {
  const archive = pack();
  void (async () => {
    for (const { content, ...header } of entries) {
      await new Promise<void>((resolve, reject) => {
        const done = (error?: Error | null) => (error ? reject(error) : resolve());
        if (content !== undefined) archive.entry({ type: 'file', ...header }, typeof content === 'string' ? Buffer.from(content) : content, done);
        else archive.entry(header, done);
      });
    }
    archive.finalize();
  })();
  return Readable.from(archive as unknown as AsyncIterable<Buffer>);
}

/** The entries of a tar stream: name, type, link and content. */
async function list(stream: AsyncIterable<Buffer> | NodeJS.ReadableStream) {
  const reader = extract();
  (stream as Readable).pipe(reader as unknown as NodeJS.WritableStream);
  const out: { name: string; type: string | null; linkname?: string; content?: string }[] = [];
  for await (const entry of reader) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(Buffer.from(chunk));
    const { name, type, linkname } = entry.header;
    out.push({ name, type, ...(type === 'symlink' ? { linkname } : {}), ...(type === 'file' ? { content: Buffer.concat(chunks).toString() } : {}) });
  }
  return out;
}

const limits = { maxFileBytes: 1024, maxTotalBytes: 4096 };

let dir: string;
let target: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'file-archive-'));
  target = path.join(dir, 'target');
  await mkdir(target);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('entryPath', () => {
  it('normalizes and refuses what leads out', () => {
    expect(entryPath('./src/a.ts')).toBe('src/a.ts');
    expect(entryPath('src//b/')).toBe('src/b');
    expect(entryPath('./')).toBeNull();
    expect(() => entryPath('/etc/passwd')).toThrow(ArchiveError);
    expect(() => entryPath('src/../../x')).toThrow(ArchiveError);
    expect(() => entryPath('..')).toThrow(ArchiveError);
  });
});

describe('packDirectory', () => {
  it('stores files, folders and links as links; leaves out .git everywhere, the top node_modules and special files', async () => {
    const source = path.join(dir, 'source');
    await mkdir(path.join(source, 'src', 'node_modules'), { recursive: true });
    await mkdir(path.join(source, 'node_modules', 'react'), { recursive: true });
    await mkdir(path.join(source, '.git'), { recursive: true });
    await mkdir(path.join(source, 'src', '.git'), { recursive: true });
    await writeFile(path.join(source, 'src', 'a.ts'), 'export const a = 1;\n');
    await writeFile(path.join(source, 'src', 'node_modules', 'kept.js'), 'kept');
    await writeFile(path.join(source, 'node_modules', 'react', 'index.js'), 'left out');
    await writeFile(path.join(source, '.git', 'config'), '[core]');
    await writeFile(path.join(source, 'src', '.git', 'HEAD'), 'ref');
    await symlink('/etc/shadow', path.join(source, 'src', 'shadow'));
    const entries = await list(packDirectory(source));
    expect(entries).toEqual([
      { name: 'src/', type: 'directory' },
      { name: 'src/a.ts', type: 'file', content: 'export const a = 1;\n' },
      { name: 'src/node_modules/', type: 'directory' },
      { name: 'src/node_modules/kept.js', type: 'file', content: 'kept' },
      { name: 'src/shadow', type: 'symlink', linkname: '/etc/shadow' },
    ]);
  });
});

describe('pinnedMedia', () => {
  it('leaves out the media a manifest pins (same path and size), and nothing else', async () => {
    const source = path.join(dir, 'source');
    await mkdir(path.join(source, 'public'), { recursive: true });
    await mkdir(path.join(source, '.cutroom'), { recursive: true });
    await writeFile(path.join(source, 'public', 'clip.mp4'), 'twelve bytes');
    await writeFile(path.join(source, 'public', 'changed.png'), 'other size');
    await writeFile(path.join(source, 'public', 'own.png'), 'the project’s own');
    const manifest = { version: 1, media: [{ path: 'public/clip.mp4', size: 12 }, { path: 'public/changed.png', size: 3 }, { path: 'src/Root.tsx', size: 0 }] };
    await writeFile(path.join(source, '.cutroom', 'media.json'), JSON.stringify(manifest));
    const names = (await list(packDirectory(source, { leaveOut: await pinnedMedia(source) }))).map((entry) => entry.name);
    expect(names).toEqual(['.cutroom/', '.cutroom/media.json', 'public/', 'public/changed.png', 'public/own.png']);
    // No manifest, or a broken one: everything.
    await writeFile(path.join(source, '.cutroom', 'media.json'), '{ not json');
    expect((await list(packDirectory(source, { leaveOut: await pinnedMedia(source) }))).map((entry) => entry.name)).toContain('public/clip.mp4');
  });
});

describe('unpackArchive', () => {
  it('round-trips a folder, links coming back as files holding their text', async () => {
    const source = path.join(dir, 'source');
    await mkdir(path.join(source, 'src', 'deep'), { recursive: true });
    await writeFile(path.join(source, 'src', 'deep', 'b.ts'), 'b');
    await writeFile(path.join(source, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    await symlink('../outside', path.join(source, 'src', 'link'));
    const result = await unpackArchive(target, packDirectory(source), limits);
    expect(result.written.sort()).toEqual(['run.sh', 'src/deep/b.ts', 'src/link']);
    expect(await readFile(path.join(target, 'src', 'deep', 'b.ts'), 'utf8')).toBe('b');
    expect((await lstat(path.join(target, 'src', 'link'))).isFile()).toBe(true);
    expect(await readFile(path.join(target, 'src', 'link'), 'utf8')).toBe('../outside');
    expect((await stat(path.join(target, 'run.sh'))).mode & 0o111).not.toBe(0);
  });

  it('writes only the files whose bytes differ (a file the same size but changed is written)', async () => {
    await writeFile(path.join(target, 'same.txt'), 'same');
    await writeFile(path.join(target, 'changed.txt'), 'abcd');
    await writeFile(path.join(target, 'longer.txt'), 'abc');
    const before = await stat(path.join(target, 'same.txt'));
    const result = await unpackArchive(
      target,
      tarOf([
        { name: 'same.txt', content: 'same' },
        { name: 'changed.txt', content: 'abce' },
        { name: 'longer.txt', content: 'abcd' },
      ]),
      limits,
    );
    expect(result.written.sort()).toEqual(['changed.txt', 'longer.txt']);
    expect(result.unchanged).toBe(1);
    expect((await stat(path.join(target, 'same.txt'))).ino).toBe(before.ino);
    expect(await readFile(path.join(target, 'changed.txt'), 'utf8')).toBe('abce');
  });

  it('compares large files chunk by chunk and keeps the equal start of a changed one', async () => {
    const big = Buffer.alloc(200_000, 7);
    await writeFile(path.join(target, 'big.bin'), big);
    const changed = Buffer.from(big);
    changed[150_000] = 8;
    const roomy = { maxFileBytes: 1_000_000, maxTotalBytes: 1_000_000 };
    expect((await unpackArchive(target, tarOf([{ name: 'big.bin', content: big }]), roomy)).unchanged).toBe(1);
    expect((await unpackArchive(target, tarOf([{ name: 'big.bin', content: changed }]), roomy)).written).toEqual(['big.bin']);
    expect((await readFile(path.join(target, 'big.bin'))).equals(changed)).toBe(true);
  });

  it('with replace, removes what the archive does not have, but keeps the top node_modules', async () => {
    await mkdir(path.join(target, 'node_modules', 'react'), { recursive: true });
    await writeFile(path.join(target, 'node_modules', 'react', 'index.js'), 'react');
    await mkdir(path.join(target, 'old', 'deeper'), { recursive: true });
    await writeFile(path.join(target, 'old', 'deeper', 'x'), 'x');
    await writeFile(path.join(target, 'stale.ts'), 'stale');
    await mkdir(path.join(target, 'src'));
    await writeFile(path.join(target, 'src', 'gone.ts'), 'gone');
    await symlink('/etc', path.join(target, 'src', 'etc-link'));
    const result = await unpackArchive(target, tarOf([{ name: 'src/kept.ts', content: 'kept' }]), { ...limits, replace: true });
    expect(result.removed.sort()).toEqual(['old', 'src/etc-link', 'src/gone.ts', 'stale.ts']);
    expect(await readFile(path.join(target, 'node_modules', 'react', 'index.js'), 'utf8')).toBe('react');
    expect(await readFile(path.join(target, 'src', 'kept.ts'), 'utf8')).toBe('kept');
    // The link went, what it pointed to did not.
    expect((await stat('/etc')).isDirectory()).toBe(true);
  });

  it('refuses absolute paths and .. before writing anything', async () => {
    await expect(unpackArchive(target, tarOf([{ name: '/tmp/escaped', content: 'x' }]), limits)).rejects.toThrow(/absolute/);
    await expect(unpackArchive(target, tarOf([{ name: 'src/../../escaped', content: 'x' }]), limits)).rejects.toThrow(/leads out/);
    await expect(stat(path.join(dir, 'escaped'))).rejects.toThrow();
  });

  it('refuses hard links, devices and fifos', async () => {
    await writeFile(path.join(dir, 'secret'), 'secret');
    await expect(unpackArchive(target, tarOf([{ name: 'hard', type: 'link', linkname: path.join(dir, 'secret') }]), limits)).rejects.toThrow(/hard link/);
    await expect(unpackArchive(target, tarOf([{ name: 'null', type: 'character-device', devmajor: 1, devminor: 3 }]), limits)).rejects.toThrow(ArchiveError);
    await expect(unpackArchive(target, tarOf([{ name: 'pipe', type: 'fifo' }]), limits)).rejects.toThrow(ArchiveError);
  });

  it('never writes through a link: one in the archive becomes a file, an entry below it is refused', async () => {
    const outside = path.join(dir, 'outside');
    await mkdir(outside);
    const tar = tarOf([
      { name: 'escape', type: 'symlink', linkname: outside },
      { name: 'escape/planted', content: 'planted' },
    ]);
    await expect(unpackArchive(target, tar, limits)).rejects.toThrow(/below escape/);
    await expect(stat(path.join(outside, 'planted'))).rejects.toThrow();
  });

  it('replaces a link the folder already holds instead of following it (at the file and above it)', async () => {
    const outside = path.join(dir, 'outside');
    await mkdir(outside);
    await writeFile(path.join(outside, 'victim'), 'untouched');
    await symlink(path.join(outside, 'victim'), path.join(target, 'file'));
    await symlink(outside, path.join(target, 'folder'));
    await unpackArchive(
      target,
      tarOf([
        { name: 'file', content: 'new' },
        { name: 'folder/victim', content: 'new' },
      ]),
      limits,
    );
    expect(await readFile(path.join(outside, 'victim'), 'utf8')).toBe('untouched');
    expect((await lstat(path.join(target, 'file'))).isFile()).toBe(true);
    expect((await lstat(path.join(target, 'folder'))).isDirectory()).toBe(true);
    expect(await readFile(path.join(target, 'folder', 'victim'), 'utf8')).toBe('new');
  });

  it('caps one file and the total, with a clear error, or skips oversize files when asked', async () => {
    const big = 'x'.repeat(2000);
    await expect(unpackArchive(target, tarOf([{ name: 'big', content: big }]), limits)).rejects.toThrow(/big is 2000 bytes, over the limit of 1024/);
    const many = Array.from({ length: 5 }, (_, index) => ({ name: `f${index}`, content: 'y'.repeat(1000) }));
    await expect(unpackArchive(target, tarOf(many), limits)).rejects.toThrow(/add up to more than the limit of 4096/);
    // Empty folders cost nothing in bytes but an inode each: they are charged too.
    const folders = Array.from({ length: 40 }, (_, index) => ({ name: `f${index}/`, type: 'directory' as const }));
    await expect(unpackArchive(target, tarOf(folders), limits)).rejects.toThrow(/folders count 256 bytes each/);
    const skipped = await unpackArchive(target, tarOf([{ name: 'big', content: big }, { name: 'small', content: 's' }]), { ...limits, oversize: 'skip' });
    expect(skipped.skipped).toEqual([{ path: 'big', bytes: 2000 }]);
    expect(skipped.written).toEqual(['small']);
  });

  it('does not remove anything when the archive is refused half way (replace comes last)', async () => {
    await writeFile(path.join(target, 'precious'), 'keep');
    const tar = tarOf([{ name: 'ok', content: 'ok' }, { name: '../bad', content: 'x' }]);
    await expect(unpackArchive(target, tar, { ...limits, replace: true })).rejects.toThrow(ArchiveError);
    expect(await readFile(path.join(target, 'precious'), 'utf8')).toBe('keep');
  });

  it('takes only accepted paths, and drops .git and the top node_modules', async () => {
    const result = await unpackArchive(
      target,
      tarOf([
        { name: 'keep/a', content: 'a' },
        { name: 'other/b', content: 'b' },
        { name: '.git/config', content: '[core]\n\tfsmonitor = evil' },
        { name: 'node_modules/x/index.js', content: 'x' },
      ]),
      { ...limits, accept: (relative) => !relative.startsWith('other') },
    );
    expect(result.written).toEqual(['keep/a']);
    await expect(stat(path.join(target, '.git'))).rejects.toThrow();
    await expect(stat(path.join(target, 'other'))).rejects.toThrow();
  });

  it('refuses a truncated archive', async () => {
    const full = Buffer.concat(await (tarOf([{ name: 'a', content: 'z'.repeat(900) }]).toArray() as Promise<Buffer[]>));
    await expect(unpackArchive(target, Readable.from([full.subarray(0, 700)]), limits)).rejects.toThrow();
  });

  it('reads a link inside the folder as a link even when packing', async () => {
    const source = path.join(dir, 'source');
    await mkdir(source);
    await symlink('/etc/hostname', path.join(source, 'host'));
    const entries = await list(packDirectory(source));
    expect(entries).toEqual([{ name: 'host', type: 'symlink', linkname: '/etc/hostname' }]);
    expect(await readlink(path.join(source, 'host'))).toBe('/etc/hostname');
  });
});
