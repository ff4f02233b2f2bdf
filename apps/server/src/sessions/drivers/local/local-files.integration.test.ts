import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxFilesError, packArea, unpackArea } from './local-files.js';

/** The `sandbox-files` command (built: packages/runtime/dist) run as the server's user and as a sandbox's. */
const asRoot = process.getuid?.() === 0;
const UID = 200_000 + 4242;

async function tarBuffer(stream: Readable) {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

function hostile(entries: { name: string; content?: string; type?: 'file' | 'symlink' | 'link'; linkname?: string }[]) {
  const archive = pack();
  for (const { content, ...header } of entries) archive.entry({ type: 'file', ...header }, content ?? '');
  archive.finalize();
  return archive as unknown as Readable;
}

describe('local files: sandbox-files through a child process', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'local-files-'));
    await chmod(dir, 0o755);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('packs a folder and unpacks it elsewhere, replacing what was there', async () => {
    const source = path.join(dir, 'source');
    await mkdir(path.join(source, 'src'), { recursive: true });
    await writeFile(path.join(source, 'src', 'a.ts'), 'export const a = 1;\n');
    const target = path.join(dir, 'target');
    await mkdir(target);
    await writeFile(path.join(target, 'stray'), 'x');
    await unpackArea(target, packArea(source), { replace: true });
    expect(await readFile(path.join(target, 'src', 'a.ts'), 'utf8')).toBe('export const a = 1;\n');
    await expect(stat(path.join(target, 'stray'))).rejects.toThrow();
  });

  it('refuses a hostile archive with the reason, and a failed pack fails the stream', async () => {
    const target = path.join(dir, 'target-hostile');
    await mkdir(target);
    await expect(unpackArea(target, hostile([{ name: '../escaped', content: 'x' }]))).rejects.toThrow(SandboxFilesError);
    await expect(unpackArea(target, hostile([{ name: 'hard', type: 'link', linkname: '/etc/passwd' }]))).rejects.toThrow(/hard link/);
    await expect(stat(path.join(dir, 'escaped'))).rejects.toThrow();
    await expect(tarBuffer(packArea(path.join(dir, 'does-not-exist')))).rejects.toThrow(/ENOENT/);
  });

  it.runIf(asRoot)('runs as the sandbox user: its rights, not the server’s', async () => {
    const area = path.join(dir, 'sandbox-area');
    await mkdir(area);
    await chown(area, UID, UID);
    await unpackArea(area, hostile([{ name: 'src/mine.ts', content: 'mine' }]), { uid: UID });
    expect((await stat(path.join(area, 'src', 'mine.ts'))).uid).toBe(UID);

    // A folder of root's: the sandbox user may not write there, so neither may the command.
    const rootOnly = path.join(dir, 'root-only');
    await mkdir(rootOnly, { mode: 0o755 });
    await expect(unpackArea(rootOnly, hostile([{ name: 'planted', content: 'x' }]), { uid: UID })).rejects.toThrow(/EACCES|permission/i);

    // A link is stored as a link, never followed with anyone's rights.
    await symlink('/etc/shadow', path.join(area, 'shadow'));
    const entries = (await tarBuffer(packArea(area, UID))).toString('latin1');
    expect(entries).toContain('/etc/shadow');
    expect(entries).not.toMatch(/root:[^:]*:\d+:/);

    // A file the sandbox user cannot read fails the pack (a file missing from it would read as deleted).
    await writeFile(path.join(area, 'secret'), 'root only', { mode: 0o600 });
    await expect(tarBuffer(packArea(area, UID))).rejects.toThrow(/EACCES/);
    // As root (the server's user), the same folder packs: the uid is what made the difference.
    expect((await tarBuffer(packArea(area))).toString('latin1')).toContain('root only');
  });
});
