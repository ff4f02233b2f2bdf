import type { ServerMessage } from '@cutroom/protocol';

/**
 * Every open /ws connection, by user: for events that belong to the user rather than to
 * a live session (`export:progress`, `thumbnail:ready`), sent to all their tabs.
 */
export function createUserSockets() {
  const byUser = new Map<string, Set<(message: ServerMessage) => void>>();
  return {
    /** Registers a connection's `send`; call the returned function when it closes. */
    add(userId: string, send: (message: ServerMessage) => void) {
      let sends = byUser.get(userId);
      if (!sends) byUser.set(userId, (sends = new Set()));
      sends.add(send);
      return () => {
        sends.delete(send);
        if (sends.size === 0 && byUser.get(userId) === sends) byUser.delete(userId);
      };
    },
    send(userId: string, message: ServerMessage) {
      for (const send of byUser.get(userId) ?? []) send(message);
    },
    count: (userId: string) => byUser.get(userId)?.size ?? 0,
  };
}

export type UserSockets = ReturnType<typeof createUserSockets>;
