import { constants } from 'node:fs';
import { chown, lstat, mkdir, open, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Endpoint } from './driver.js';

/**
 * A sandbox's `sock/` folder: where its runtime listens (`preview.sock`, `bridge.sock`,
 * `files.sock`) and where the server listens for its model requests (`model.sock`). The server
 * connects to the first two as root: were the folder still the sandbox's, code in it
 * could swap a socket for a link to any socket of the host (Docker's, say) and the
 * server would connect there. So the folder is the sandbox's only until its runtime is
 * ready, before any project code runs; then it becomes root's, read-only to the sandbox.
 */
export const SOCKET_FOLDER = 'sock';
export const PREVIEW_SOCKET = 'preview.sock';
export const BRIDGE_SOCKET = 'bridge.sock';
export const FILES_SOCKET = 'files.sock';
export const MODEL_SOCKET = 'model.sock';
/** `sun_path` holds 108 bytes with its terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

export class SocketFolderError extends Error {
  constructor(
    readonly code: 'socket_path_too_long' | 'socket_folder_tampered',
    message: string,
  ) {
    super(message);
  }
}

/** The host paths of a sandbox's sockets. */
export function socketPaths(sandboxDir: string) {
  const folder = path.join(sandboxDir, SOCKET_FOLDER);
  return {
    folder,
    preview: path.join(folder, PREVIEW_SOCKET),
    bridge: path.join(folder, BRIDGE_SOCKET),
    files: path.join(folder, FILES_SOCKET),
    model: path.join(folder, MODEL_SOCKET),
  };
}

/** The endpoints of a sandbox whose runtime listens on its sockets. */
export function socketEndpoints(sandboxDir: string): { preview: Endpoint; bridge: Endpoint; files: Endpoint; modelSocketPath: string } {
  const paths = socketPaths(sandboxDir);
  return { preview: { socketPath: paths.preview }, bridge: { socketPath: paths.bridge }, files: { socketPath: paths.files }, modelSocketPath: paths.model };
}

/**
 * Makes `sock/` before the sandbox starts: 0700, the sandbox's own (its runtime creates
 * its sockets there). Refuses a folder whose socket paths the kernel would cut short.
 */
export async function prepareSocketFolder(sandboxDir: string, owner?: { uid: number; gid?: number }) {
  const paths = socketPaths(sandboxDir);
  for (const socketPath of [paths.preview, paths.bridge, paths.files, paths.model]) {
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
      throw new SocketFolderError('socket_path_too_long', `the socket path ${socketPath} is longer than ${MAX_SOCKET_PATH_BYTES} bytes (use a shorter DATA_DIR)`);
    }
  }
  await mkdir(paths.folder, { mode: 0o700 });
  if (owner) await chown(paths.folder, owner.uid, owner.gid ?? owner.uid);
}

/**
 * Once the runtime is ready, and before any project code runs in the sandbox: takes the
 * folder from the sandbox (root's, 0755: it may still connect, never rename, remove or
 * add), then checks that it holds the runtime's three sockets and nothing else. Taken
 * first, checked after, so nothing can change between the check and the use.
 *
 * The sandbox's folder around it must not be the sandbox's to write (the local driver
 * makes it root's, 0711), or the sandbox could rename `sock/` away and put its own in
 * its place: that is checked too.
 *
 * `takeOwnership: false` when the sandbox runs as the server's own user (no separate
 * uid to take it from): the folder is then only checked.
 */
export async function hardenSocketFolder(sandboxDir: string, options: { takeOwnership: boolean }) {
  const paths = socketPaths(sandboxDir);
  const tampered = (what: string) => new SocketFolderError('socket_folder_tampered', `the sandbox's socket folder ${paths.folder} ${what}`);
  if (options.takeOwnership) {
    const parent = await lstat(sandboxDir);
    if (!parent.isDirectory() || parent.uid !== process.getuid?.() || (parent.mode & 0o022) !== 0) {
      throw tampered(`is in ${sandboxDir}, which the sandbox could change (it must be the server's, not writable by others)`);
    }
    // Opened without following a link, and changed through that handle: what is taken
    // is the folder itself, whatever the path points at by then.
    const handle = await open(paths.folder, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW).catch(() => {
      throw tampered('is not a folder');
    });
    try {
      await handle.chown(0, 0);
      await handle.chmod(0o755);
    } finally {
      await handle.close();
    }
  }
  const folder = await lstat(paths.folder);
  if (!folder.isDirectory()) throw tampered('is not a folder');
  if (options.takeOwnership && (folder.uid !== 0 || (folder.mode & 0o777) !== 0o755)) throw tampered('changed while it was taken');
  const entries = (await readdir(paths.folder)).sort();
  if (entries.join('/') !== [BRIDGE_SOCKET, FILES_SOCKET, PREVIEW_SOCKET].join('/')) {
    throw tampered(`holds ${entries.join(', ') || 'nothing'}, not the runtime's three sockets`);
  }
  for (const socketPath of [paths.preview, paths.bridge, paths.files]) {
    if (!(await lstat(socketPath)).isSocket()) throw tampered(`has ${path.basename(socketPath)} that is not a socket`);
  }
}
