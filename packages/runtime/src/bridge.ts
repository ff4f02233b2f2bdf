import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { MAX_FRAME_BYTES, type SandboxToServer, ServerToSandbox, decodeMessage } from '@cutroom/protocol';
import { type WebSocket, WebSocketServer } from 'ws';
import { type ListenTarget, listenOn, listeningPort } from './listen-target.js';

export type BridgeHandlers = {
  /** Answers `GET /health`. */
  health(): Record<string, unknown>;
  onMessage(message: ServerToSandbox, reply: (message: SandboxToServer) => void): Promise<void> | void;
};

/**
 * Largest frame the bridge sends. Every message of the protocol fits well within it
 * (the agent host bounds what the agent says and does); one that does not is dropped
 * and logged here, instead of the server closing the whole bridge on it.
 */
export const MAX_BRIDGE_FRAME_BYTES = 1024 * 1024;

/** The message as a frame, or null (and a log line) when it is larger than a frame may be. */
function frame(message: SandboxToServer): string | null {
  const text = JSON.stringify(message);
  // Characters first: a string this short cannot be over the limit in bytes.
  if (text.length * 3 <= MAX_BRIDGE_FRAME_BYTES || Buffer.byteLength(text) <= MAX_BRIDGE_FRAME_BYTES) return text;
  console.error(`bridge: dropped a ${message.type} message of ${Buffer.byteLength(text)} bytes (the limit is ${MAX_BRIDGE_FRAME_BYTES})`);
  return null;
}

const sameSecret = (given: string, expected: string) => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

/**
 * The server's line into the sandbox: a WebSocket (and `GET /health`) on the sandbox's
 * `sock/bridge.sock` (or a loopback port), open only to the holder of the sandbox's
 * bridge token. One connection at a time: a new one (the server reconnecting) replaces
 * the old.
 */
export async function startBridge(token: string, handlers: BridgeHandlers, target: ListenTarget = { host: '127.0.0.1', port: 0 }) {
  const authorized = (request: http.IncomingMessage) => sameSecret(request.headers.authorization ?? '', `Bearer ${token}`);

  const httpServer = http.createServer((request, response) => {
    if (!authorized(request)) {
      response.writeHead(401).end();
      return;
    }
    if (request.method === 'GET' && request.url === '/health') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, ...handlers.health() }));
      return;
    }
    response.writeHead(404).end();
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES * 4 });
  let current: WebSocket | undefined;

  httpServer.on('upgrade', (request, socket, head) => {
    if (!authorized(request)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      current?.close(4000, 'replaced');
      current = ws;
      const reply = (message: SandboxToServer) => {
        const text = frame(message);
        if (text !== null && ws.readyState === ws.OPEN) ws.send(text);
      };
      ws.on('message', (data) => {
        const message = decodeMessage(ServerToSandbox, String(data));
        if (!message) {
          console.error('bridge: ignored an invalid message from the server');
          return;
        }
        void Promise.resolve(handlers.onMessage(message, reply)).catch((error: unknown) => {
          console.error('bridge: handler failed', error);
        });
      });
    });
  });

  await listenOn(httpServer, target);
  return {
    /** The TCP port (0 on a socket). */
    port: listeningPort(httpServer),
    /** Sends to the server's current connection (dropped when there is none). */
    send(message: SandboxToServer) {
      if (!current || current.readyState !== current.OPEN) return;
      const text = frame(message);
      if (text !== null) current.send(text);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      }),
  };
}
