import type { ErrorCode, SessionState } from '@cutroom/protocol';
import type { ChatEvent } from '../agent/turns.js';

/** An event of a session's stream, with its number. */
export type StoredEvent =
  | { type: 'session:status'; seq: number; state: SessionState; reason?: string }
  | { type: 'session:ready'; seq: number }
  | { type: 'session:ended'; seq: number; reason: string }
  | { type: 'error'; seq: number; code: ErrorCode; message: string }
  | (ChatEvent & { seq: number });

/** An event before it gets its number (Omit, distributed over the union). */
export type NewEvent = StoredEvent extends infer Event ? (Event extends StoredEvent ? Omit<Event, 'seq'> : never) : never;

/** Events a session keeps for reconnects; a client further behind gets a snapshot. */
export const MAX_EVENTS = 5_000;

const chatEventTypes = new Set<StoredEvent['type']>(['message:saved', 'agent:turn', 'agent:message', 'agent:complete']);

/**
 * One session's event stream. Its events are numbered by the session itself, from 1 with
 * no gaps, so a client can tell an event it missed from another session's; the latest
 * `maxEvents` are kept, for a reconnect to get exactly what it missed.
 */
export function createSessionEvents(maxEvents = MAX_EVENTS) {
  const events: StoredEvent[] = [];
  let seq = 0;

  return {
    /** Numbers `event` and keeps it. */
    append(event: NewEvent): StoredEvent {
      const stored = { ...event, seq: ++seq } as StoredEvent;
      events.push(stored);
      if (events.length > maxEvents) events.splice(0, events.length - maxEvents);
      return stored;
    },

    /** The latest number given (0 before the first event). */
    lastSeq: () => seq,

    /**
     * Everything after `lastSeq`, when all of it is still held; null when it is not (too
     * far behind) or `lastSeq` was never given by this stream: then only a snapshot is honest.
     */
    since(lastSeq: number): StoredEvent[] | null {
      if (lastSeq > seq) return null;
      const oldest = events[0]?.seq ?? seq + 1;
      if (lastSeq < oldest - 1) return null;
      return events.filter((event) => event.seq > lastSeq);
    },

    /**
     * The session as it is now: its latest status; while it runs, its latest ready; in
     * error, its failure; and the chat from `chatFrom` on (the running turn so far and
     * the messages still waiting for one).
     */
    snapshot(state: SessionState, chatFrom: number | undefined): StoredEvent[] {
      const latest = (type: StoredEvent['type']) => events.findLast((event) => event.type === type);
      const status = latest('session:status');
      const ready = state === 'running' || state === 'grace' ? latest('session:ready') : undefined;
      const failure = state === 'error' ? latest('error') : undefined;
      const chat = chatFrom === undefined ? [] : events.filter((event) => event.seq >= chatFrom && chatEventTypes.has(event.type));
      return [status, ready, failure, ...chat].filter((event): event is StoredEvent => event !== undefined).sort((a, b) => a.seq - b.seq);
    },
  };
}

export type SessionEvents = ReturnType<typeof createSessionEvents>;
