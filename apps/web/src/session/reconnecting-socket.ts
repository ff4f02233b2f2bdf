import { ServerMessage, decodeMessage } from '@cutroom/protocol';
import { api } from '../api/client';

/**
 * The app's `/ws` connection, kept open: after a loss it reconnects with a growing
 * pause. Frames are parsed with the protocol's schema (others are dropped). Refused
 * again and again before it opened, it asks the API who is signed in: a 401 there sends
 * the app to the sign-in page.
 */
export function openReconnectingSocket(handlers: {
  /** Opened (or opened again): `socket` is the live connection. */
  onOpen(socket: WebSocket): void;
  onMessage(message: ServerMessage): void;
  /** Lost; `attempt` is how many reconnects failed in a row so far. */
  onLost?(attempt: number): void;
  backoff: (attempt: number) => number;
}) {
  let disposed = false;
  let attempt = 0;
  let current: WebSocket | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const connect = () => {
    const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    current = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      attempt = 0;
      handlers.onOpen(socket);
    };
    socket.onmessage = (event) => {
      const message = decodeMessage(ServerMessage, String(event.data));
      if (message) handlers.onMessage(message);
    };
    socket.onclose = () => {
      if (disposed || current !== socket) return;
      handlers.onLost?.(attempt);
      if (!opened && attempt >= 2) void api('GET /api/auth/me').catch(() => {});
      timer = setTimeout(connect, handlers.backoff(attempt++));
    };
  };
  connect();

  return {
    /** The connection when it is open, else null. */
    open: () => (current?.readyState === WebSocket.OPEN ? current : null),
    /** Closes for good (no reconnect); `last` may still send on the open connection first. */
    close(last?: (socket: WebSocket) => void) {
      disposed = true;
      clearTimeout(timer);
      const socket = current;
      current = null;
      if (socket?.readyState === WebSocket.OPEN) last?.(socket);
      socket?.close();
    },
  };
}

export type ReconnectingSocket = ReturnType<typeof openReconnectingSocket>;
