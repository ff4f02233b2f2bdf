import { ServerMessage, decodeMessage } from '@cutroom/protocol';
import { useEffect, useEffectEvent } from 'react';
import { api } from '../api/client';

/** What a listener hears: the user's events, and each (re)opening of the connection. */
export type UserEvent = ServerMessage | { type: 'connection:open' };

const backoff = (attempt: number) => Math.min(10_000, 500 * 2 ** attempt);

/**
 * A `/ws` connection that joins no session: the server sends every open connection of a
 * user the events that belong to the user (`export:progress`, `thumbnail:ready`), so a
 * page without a project open (the project list) hears them too. It reconnects after a
 * loss; `connection:open` on every opening says that events may have been missed while
 * it was down (read again what they would have changed).
 */
export function useUserEvents(onEvent: (event: UserEvent) => void) {
  const deliver = useEffectEvent(onEvent);

  useEffect(() => {
    let disposed = false;
    let attempt = 0;
    let socket: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const connect = () => {
      const current = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
      socket = current;
      let opened = false;
      current.onopen = () => {
        opened = true;
        attempt = 0;
        deliver({ type: 'connection:open' });
      };
      current.onmessage = (event) => {
        const message = decodeMessage(ServerMessage, String(event.data));
        if (message) deliver(message);
      };
      current.onclose = () => {
        if (disposed || socket !== current) return;
        // Refused again and again before it opened: perhaps the sign-in is gone (a 401
        // from the API sends the app to the sign-in page).
        if (!opened && attempt >= 2) void api('GET /api/auth/me').catch(() => {});
        timer = setTimeout(connect, backoff(attempt++));
      };
    };
    connect();

    return () => {
      disposed = true;
      clearTimeout(timer);
      socket?.close();
    };
  }, []);
}
