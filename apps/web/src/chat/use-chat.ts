import { type Message, HealthResponse } from '@cutroom/protocol';
import { useCallback, useEffect, useMemo, useReducer } from 'react';
import { api } from '../api/client';
import type { Session } from '../session/use-session';
import { chatBusy, chatItems, chatReducer, initialChatState } from './chat-state';

/** Longest message the server takes (`message:send`'s limit). */
export const MAX_MESSAGE_LENGTH = 20_000;

/** A client id for a message (also where `crypto.randomUUID` is missing: plain-HTTP origins). */
function newClientMessageId() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * The project's chat, fed by the session's connection: the history loaded with the
 * page, merged with what the session streams (saved messages, the running turn), and
 * what this tab sends. On every join (first connect and reconnects) it reads the
 * history and the health check again, so that nothing saved while it was away is missed.
 */
export function useChat(projectId: string, session: Pick<Session, 'send' | 'subscribe'>, initialMessages: Message[]) {
  const [state, dispatch] = useReducer(chatReducer, initialMessages, initialChatState);
  const { send: sendFrame, subscribe } = session;

  useEffect(() => {
    const controller = new AbortController();
    const refresh = () => {
      api('GET /api/health', { signal: controller.signal }).then(
        (health) => {
          // An older server has no `agent`: then chat's refusal will say what is missing.
          const parsed = HealthResponse.shape.agent.safeParse((health as { agent?: unknown }).agent);
          if (parsed.success) dispatch({ type: 'health', configured: parsed.data.configured, message: parsed.data.message });
        },
        () => {},
      );
    };
    refresh();
    const unsubscribe = subscribe((event) => {
      if (event.type === 'connection:lost') return dispatch(event);
      dispatch({ type: 'server', message: event, at: Date.now() });
      if (event.type === 'session:joined') {
        refresh();
        api('GET /api/projects/:id/messages', { params: { id: projectId }, signal: controller.signal }).then(
          ({ messages }) => dispatch({ type: 'history', messages }),
          () => {},
        );
      }
    });
    return () => {
      unsubscribe();
      controller.abort();
    };
  }, [projectId, subscribe]);

  const items = useMemo(() => chatItems(state), [state]);
  const busy = chatBusy(state);

  /** Sends a message (queued by the server while a turn runs). False when it could not go. */
  const send = useCallback(
    (text: string, options: { autoFixKey?: string; attachments?: string[] } = {}) => {
      const autoFix = options.autoFixKey !== undefined;
      const clientMessageId = newClientMessageId();
      const attachments = options.attachments ?? [];
      const sent = sendFrame({ type: 'message:send', text, clientMessageId, ...(autoFix ? { autoFix: true } : {}), ...(attachments.length ? { attachments } : {}) });
      if (!sent) {
        dispatch({ type: 'send:failed', text, autoFix, message: 'Not connected to the session right now, so nothing was sent. Try again in a moment.' });
        return false;
      }
      // Shown as the server saves it: the names of the files sent with it, after the text.
      dispatch({ type: 'sent', clientMessageId, text: attachments.length ? `${text}\n\nAttached: ${attachments.join(', ')}` : text, autoFixKey: options.autoFixKey });
      return true;
    },
    [sendFrame],
  );

  const cancel = useCallback(() => {
    if (sendFrame({ type: 'message:cancel' })) dispatch({ type: 'cancel' });
  }, [sendFrame]);

  const setDraft = useCallback((text: string) => dispatch({ type: 'draft', text }), []);

  return { state, items, busy, send, cancel, setDraft, dispatch };
}

export type Chat = ReturnType<typeof useChat>;
