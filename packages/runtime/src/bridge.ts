import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { MAX_FRAME_BYTES, type SandboxToServer, ServerToSandbox, decodeMessage } from '@cutroom/protocol';
import { type WebSocket, WebSocketServer } from 'ws';

export type BridgeHandlers = {
  /** Answers `GET /health`. */
  health(): Record<string, unknown>;
  onMessage(message: ServerToSandbox, reply: (message: SandboxToServer) => void): Promise<void> | void;
};

const sameSecret = (given: string, expected: string) => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

/**
 * The server's line into the sandbox: a WebSocket (and `GET /health`) on a loopback
 * port, open only to the holder of the sandbox's bridge token. One connection at a
 * time: a new one (the server reconnecting) replaces the old.
 */
export async function startBridge(token: string, handlers: BridgeHandlers) {
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
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
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

  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const address = httpServer.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    /** Sends to the server's current connection (dropped when there is none). */
    send(message: SandboxToServer) {
      if (current?.readyState === current?.OPEN) current?.send(JSON.stringify(message));
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
