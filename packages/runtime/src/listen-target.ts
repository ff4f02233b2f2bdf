import { rm } from 'node:fs/promises';
import type { Server } from 'node:net';

/**
 * Where one of the runtime's servers listens: a Unix socket in the sandbox's `sock/`
 * folder (a sandbox with no network), or an ephemeral port on loopback (a driver whose
 * sandboxes live on another host).
 */
export type ListenTarget = { socketPath: string } | { host: '127.0.0.1'; port: 0 };

/** `sun_path` holds 108 bytes with its terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

export class SocketPathError extends Error {
  readonly code = 'socket_path_too_long';
  constructor(readonly socketPath: string) {
    super(`the socket path ${socketPath} is ${Buffer.byteLength(socketPath)} bytes long; Unix sockets allow at most ${MAX_SOCKET_PATH_BYTES} (use a shorter DATA_DIR)`);
  }
}

/** Refuses a path the kernel would cut short (the server would then connect somewhere else, or nowhere). */
export function checkSocketPath(socketPath: string) {
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) throw new SocketPathError(socketPath);
}

/**
 * Listens on the target. A socket file left by an earlier runtime is removed first
 * (`listen` fails with EADDRINUSE otherwise); `rm` without `recursive` never follows a
 * link and refuses a folder.
 */
export async function listenOn(server: Server, target: ListenTarget): Promise<void> {
  if ('socketPath' in target) {
    checkSocketPath(target.socketPath);
    await rm(target.socketPath, { force: true });
  }
  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error) => reject(error);
    server.once('error', failed);
    const listening = () => {
      server.removeListener('error', failed);
      resolve();
    };
    if ('socketPath' in target) server.listen(target.socketPath, listening);
    else server.listen(target.port, target.host, listening);
  });
}

/** The port a TCP server got (0 for a socket). */
export function listeningPort(server: Server): number {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}
