import { PROTOCOL_VERSION, type ClientMessage, type ErrorCode, type ServerMessage } from '@cutroom/protocol';
import { useCallback, useEffect, useRef, useState } from 'react';
import { type ReconnectingSocket, openReconnectingSocket } from './reconnecting-socket';
import { type ResumePoint, advanceResumePoint, resumeFields } from './resume-point';

export type SessionView =
  | { phase: 'connecting' }
  /** `queued`: its sandbox waits in line to boot (see `session:queued`). */
  | { phase: 'starting'; sessionId?: string; queued?: { position: number; reason: 'slots' | 'memory' } }
  | { phase: 'ready'; sessionId: string; previewUrl: string }
  | { phase: 'reconnecting'; previewUrl?: string; attempt: number }
  | { phase: 'ended'; reason: string }
  | { phase: 'error'; message: string; canRestart: boolean };

/** What subscribers hear: every message of the server, and the loss of the connection. */
export type SessionEvent = ServerMessage | { type: 'connection:lost' };
export type SessionListener = (event: SessionEvent) => void;

/** The live session as the page's parts use it (see `useSession`). */
export type Session = {
  view: SessionView;
  restart: () => void;
  /** Sends on the open connection; false when there is none (nothing was sent). */
  send: (message: ClientMessage) => boolean;
  /** Hears every event after the session's own handling; returns the unsubscribe. */
  subscribe: (listener: SessionListener) => () => void;
};

const backoff = (attempt: number) => Math.min(5_000, 400 * 2 ** attempt);

/** Errors about the chat, not the session: the chat shows them, the preview goes on. */
const chatErrorCodes = new Set<ErrorCode>(['agent_unavailable', 'queue_full', 'auto_fix_limit']);

/**
 * The project's live session over `/ws`: joins it, follows its lifecycle, and on a lost
 * connection reconnects with its session's id and `lastSeq`, so nothing is missed or
 * repeated; when the server cannot replay (it restarted, the session is a new one) it
 * says `replay: 'snapshot'`, and the chat reloads its history (see `useChat`). Leaving the
 * page sends `session:end` (the server keeps the sandbox for its grace period). The same
 * connection carries the chat: `send` and `subscribe` (see `useChat`).
 */
export function useSession(projectId: string): Session {
  const [view, setView] = useState<SessionView>({ phase: 'connecting' });
  const socketRef = useRef<ReconnectingSocket | null>(null);
  const resumePoint = useRef<ResumePoint>({});
  const previewUrl = useRef<string | undefined>(undefined);
  const sessionId = useRef<string | undefined>(undefined);
  const [generation, setGeneration] = useState(0);
  const listeners = useRef(new Set<SessionListener>());

  useEffect(() => {
    const subscribers = listeners.current;

    const handle = (message: ServerMessage) => {
      switch (message.type) {
        case 'session:status':
          if (message.state === 'starting') setView({ phase: 'starting', sessionId: message.sessionId });
          else if (message.state === 'error') setView({ phase: 'error', message: message.reason ?? 'The session failed.', canRestart: true });
          else if ((message.state === 'running' || message.state === 'grace') && previewUrl.current) {
            setView({ phase: 'ready', sessionId: message.sessionId, previewUrl: previewUrl.current });
          }
          return;
        case 'session:queued':
          // Only while it starts: a late place must not hide a preview that is already up.
          setView((current) =>
            current.phase === 'starting' || current.phase === 'connecting'
              ? {
                  phase: 'starting',
                  sessionId: message.sessionId,
                  ...(message.position > 0 ? { queued: { position: message.position, reason: message.reason ?? 'slots' } } : {}),
                }
              : current,
          );
          return;
        case 'session:ready':
          previewUrl.current = message.previewUrl;
          setView({ phase: 'ready', sessionId: message.sessionId, previewUrl: message.previewUrl });
          return;
        case 'session:joined':
          // After any replay: where the session is now (a reconnect may have missed nothing).
          if ((message.state === 'running' || message.state === 'grace') && previewUrl.current) {
            setView({ phase: 'ready', sessionId: message.sessionId, previewUrl: previewUrl.current });
          } else if (message.state === 'starting') {
            setView({ phase: 'starting', sessionId: message.sessionId });
          }
          return;
        case 'session:ended':
          previewUrl.current = undefined;
          setView({ phase: 'ended', reason: message.reason });
          return;
        case 'error':
          if (message.code === 'session_failed') return; // the status event says it
          // An answer to a chat message (it carries the message's id) or about the chat.
          if (message.clientMessageId !== undefined || chatErrorCodes.has(message.code)) return;
          setView({
            phase: 'error',
            message: message.message,
            canRestart: message.code !== 'not_found' && message.code !== 'protocol_mismatch',
          });
          if (message.code === 'too_many_sessions') sessionId.current = undefined;
          return;
      }
    };

    const connection = openReconnectingSocket({
      backoff,
      onOpen(socket) {
        const start: ClientMessage = { type: 'session:start', projectId, protocolVersion: PROTOCOL_VERSION, ...resumeFields(resumePoint.current) };
        socket.send(JSON.stringify(start));
      },
      onMessage(message) {
        resumePoint.current = advanceResumePoint(resumePoint.current, message);
        if (message.type === 'session:ended') sessionId.current = undefined;
        else if ('sessionId' in message) sessionId.current = message.sessionId;
        handle(message);
        for (const listener of subscribers) listener(message);
      },
      onLost(attempt) {
        setView({ phase: 'reconnecting', previewUrl: previewUrl.current, attempt });
        for (const listener of subscribers) listener({ type: 'connection:lost' });
      },
    });
    socketRef.current = connection;

    return () => {
      socketRef.current = null;
      for (const listener of subscribers) listener({ type: 'connection:lost' });
      connection.close((socket) => socket.send(JSON.stringify({ type: 'session:end' } satisfies ClientMessage)));
    };
  }, [projectId, generation]);

  /** After an error: the same session in a fresh sandbox. After it ended: a new session. */
  const restart = useCallback(() => {
    const socket = socketRef.current?.open();
    if (view.phase === 'error' && sessionId.current && socket) {
      setView({ phase: 'starting' });
      socket.send(JSON.stringify({ type: 'session:restart' } satisfies ClientMessage));
    } else {
      resumePoint.current = {};
      previewUrl.current = undefined;
      sessionId.current = undefined;
      setView({ phase: 'connecting' });
      setGeneration((value) => value + 1);
    }
  }, [view.phase]);

  const send = useCallback((message: ClientMessage) => {
    const socket = socketRef.current?.open();
    if (!socket) return false;
    socket.send(JSON.stringify(message));
    return true;
  }, []);

  const subscribe = useCallback((listener: SessionListener) => {
    listeners.current.add(listener);
    return () => {
      listeners.current.delete(listener);
    };
  }, []);

  return { view, restart, send, subscribe };
}
