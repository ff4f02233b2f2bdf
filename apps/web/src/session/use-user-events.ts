import type { ServerMessage } from '@cutroom/protocol';
import { useEffect, useEffectEvent } from 'react';
import { openReconnectingSocket } from './reconnecting-socket';

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
    const connection = openReconnectingSocket({
      backoff,
      onOpen: () => deliver({ type: 'connection:open' }),
      onMessage: (message) => deliver(message),
    });
    return () => connection.close();
  }, []);
}
