import { execFile } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { SocketFolderError, hardenSocketFolder, prepareSocketFolder, socketPaths } from './socket-folder.js';

const execFileAsync = promisify(execFile);
const isRoot = process.getuid?.() === 0;
/** A uid no one uses, standing in for a sandbox's. */
const SANDBOX_UID = 54_329;

describe('a sandbox\'s socket folder', () => {
  const cleanups: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A sandbox folder (the server's, 0711) with its runtime's three sockets listening in `sock/`. */
  async function sandboxWithSockets(owner?: { uid: number }) {
    const root = await mkdtemp(path.join(os.tmpdir(), 'sock-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    await chmod(root, 0o711);
    const dir = path.join(root, 'sb');
    await mkdir(dir, { mode: 0o711 });
    await chmod(dir, 0o711);
    await prepareSocketFolder(dir, owner);
    const paths = socketPaths(dir);
    for (const socketPath of [paths.preview, paths.bridge, paths.files]) {
      const server = net.createServer((socket) => socket.end('hello'));
      await new Promise<void>((resolve) => server.listen(socketPath, resolve));
      cleanups.push(() => new Promise((resolve) => server.close(resolve)));
      // The runtime makes them as the sandbox's user.
      if (owner) await chown(socketPath, owner.uid, owner.uid);
    }
    return { dir, paths };
  }

  it('is made 0700 for the sandbox\'s uid, and refuses paths longer than a socket allows', async () => {
    const { paths } = await sandboxWithSockets(isRoot ? { uid: SANDBOX_UID } : undefined);
    const info = await lstat(paths.folder);
    expect(info.mode & 0o777).toBe(0o700);
    if (isRoot) expect(info.uid).toBe(SANDBOX_UID);
    const long = path.join(os.tmpdir(), 'x'.repeat(100));
    await expect(prepareSocketFolder(long)).rejects.toThrow(/longer than 107 bytes/);
  });

  it.runIf(isRoot)('becomes root\'s once the runtime is ready: the sandbox can still connect, never swap a socket', async () => {
    const { dir, paths } = await sandboxWithSockets({ uid: SANDBOX_UID });
    await hardenSocketFolder(dir, { takeOwnership: true });
    const info = await lstat(paths.folder);
    expect(info.uid).toBe(0);
    expect(info.mode & 0o777).toBe(0o755);

    const asSandbox = (code: string) =>
      execFileAsync('setpriv', [`--reuid=${SANDBOX_UID}`, `--regid=${SANDBOX_UID}`, '--clear-groups', '--', process.execPath, '-e', code, paths.preview, paths.folder]).then(
        (result) => result.stdout,
      );
    // Connecting still works (the sockets are its own).
    expect(await asSandbox(`require('node:net').connect(process.argv[1]).on('data', (d) => process.stdout.write(String(d))).on('error', (e) => process.stdout.write(e.code))`)).toBe('hello');
    // Replacing a socket by a link (to, say, the Docker socket) does not.
    expect(
      await asSandbox(`const fs = require('node:fs'); try { fs.unlinkSync(process.argv[1]); process.stdout.write('removed'); } catch (e) { process.stdout.write(e.code); }`),
    ).toBe('EACCES');
    expect(
      await asSandbox(`const fs = require('node:fs'); try { fs.symlinkSync('/var/run/docker.sock', process.argv[2] + '/model.sock'); process.stdout.write('made'); } catch (e) { process.stdout.write(e.code); }`),
    ).toBe('EACCES');
    expect((await lstat(paths.preview)).isSocket()).toBe(true);
  });

  it.runIf(isRoot)('refuses a folder the sandbox tampered with before it was taken', async () => {
    const refuses = async (tamper: (dir: string, paths: ReturnType<typeof socketPaths>) => Promise<void>, message: RegExp) => {
      const { dir, paths } = await sandboxWithSockets({ uid: SANDBOX_UID });
      await tamper(dir, paths);
      const failure = hardenSocketFolder(dir, { takeOwnership: true });
      await expect(failure).rejects.toBeInstanceOf(SocketFolderError);
      await expect(failure).rejects.toThrow(message);
    };
    // A socket swapped for a link to another socket.
    await refuses(async (_, paths) => {
      await rm(paths.preview);
      await symlink('/var/run/docker.sock', paths.preview);
    }, /preview\.sock that is not a socket/);
    // The files socket swapped too (the driver sends the archives of every commit there).
    await refuses(async (_, paths) => {
      await rm(paths.files);
      await symlink('/var/run/docker.sock', paths.files);
    }, /files\.sock that is not a socket/);
    // One of the three missing.
    await refuses((_, paths) => rm(paths.files), /holds bridge\.sock, preview\.sock, not/);
    // Something planted beside them (a link where the server will listen).
    await refuses((_, paths) => symlink('/etc/passwd', paths.model), /holds bridge\.sock, files\.sock, model\.sock, preview\.sock/);
    // The folder itself replaced by a link.
    await refuses(async (dir, paths) => {
      const elsewhere = path.join(path.dirname(dir), 'elsewhere');
      await mkdir(elsewhere);
      await rm(paths.folder, { recursive: true });
      await symlink(elsewhere, paths.folder);
    }, /is not a folder/);
    // A sandbox folder the sandbox could write (it could put its own sock/ in place).
    await refuses(async (dir) => {
      await chown(dir, SANDBOX_UID, SANDBOX_UID);
    }, /which the sandbox could change/);
  });

  it('only checks, without taking it, when the sandbox runs as the server\'s own user', async () => {
    const { dir, paths } = await sandboxWithSockets();
    await hardenSocketFolder(dir, { takeOwnership: false });
    expect((await lstat(paths.folder)).uid).toBe(process.getuid!());
    await writeFile(path.join(paths.folder, 'extra'), '');
    await expect(hardenSocketFolder(dir, { takeOwnership: false })).rejects.toThrow(/not the runtime's three sockets/);
  });
});
