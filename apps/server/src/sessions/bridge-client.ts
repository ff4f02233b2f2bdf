import { randomUUID } from 'node:crypto';
import { SandboxToServer, type ServerToSandbox, decodeMessage } from '@cutroom/protocol';
import WebSocket from 'ws';
import type { Endpoint, Sandbox } from './drivers/driver.js';

/** The bridge's WebSocket URL: `ws+unix:` for a socket (ws's own form), `ws:` for a port. */
export function bridgeUrl(endpoint: Endpoint): string {
  return 'socketPath' in endpoint ? `ws+unix:${endpoint.socketPath}:/` : `ws://${endpoint.host}:${endpoint.port}/`;
}

/**
 * The server's end of a sandbox's bridge. What the sandbox sends is parsed with the
 * protocol's schemas; anything else is dropped and counted, never trusted.
 */
export async function connectBridge(
  sandbox: Pick<Sandbox, 'bridge' | 'bridgeToken'>,
  options: { timeoutMs?: number; onMessage?: (message: SandboxToServer) => void } = {},
) {
  const socket = new WebSocket(bridgeUrl(sandbox.bridge), {
    headers: { authorization: `Bearer ${sandbox.bridgeToken}` },
    maxPayload: 4 * 1024 * 1024,
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error('the sandbox bridge did not answer'));
    }, options.timeoutMs ?? 10_000);
    socket.once('open', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });

  const waiting = new Map<string, (message: SandboxToServer) => void>();
  socket.on('message', (data) => {
    // Untrusted: anything not of the protocol is dropped.
    const message = decodeMessage(SandboxToServer, String(data));
    if (!message) return;
    // Answers to the server's own requests; a sandbox's requests (frame:request) go on.
    if (message.type === 'workspace:reset:done') {
      waiting.get(message.requestId)?.(message);
      waiting.delete(message.requestId);
    } else {
      options.onMessage?.(message);
    }
  });
  socket.on('error', () => {});

  return {
    send(message: ServerToSandbox) {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
    },
    /** Tells the runtime that the working copy was replaced; resolves when it has reloaded. */
    resetWorkspace(timeoutMs = 10_000) {
      const requestId = randomUUID();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(requestId);
          reject(new Error('the sandbox did not confirm the new working copy'));
        }, timeoutMs);
        waiting.set(requestId, () => {
          clearTimeout(timer);
          resolve();
        });
        this.send({ type: 'workspace:reset', requestId });
      });
    },
    close() {
      socket.terminate();
    },
  };
}

export type BridgeClient = Awaited<ReturnType<typeof connectBridge>>;
