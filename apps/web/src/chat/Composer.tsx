import type { FormEvent, KeyboardEvent } from 'react';
import { Button } from '../components/Button';
import type { SessionView } from '../session/use-session';
import { MAX_MESSAGE_LENGTH, type Chat } from './use-chat';

/** Why the composer cannot send now, or what to know about sending. */
function composerNote(view: SessionView, agentUnavailable: string | null, busy: boolean): string {
  if (agentUnavailable) return agentUnavailable;
  switch (view.phase) {
    case 'connecting':
    case 'starting':
      return 'You can send as soon as the preview is ready.';
    case 'reconnecting':
      return 'The connection was lost. Sending works again once it is back.';
    case 'ended':
    case 'error':
      return 'The session is not running. Start it again to chat.';
    case 'ready':
      return busy ? 'The agent takes new messages after the current turn.' : 'Enter to send, Shift+Enter for a new line.';
  }
}

/**
 * Where the person writes. Enter sends, Shift+Enter starts a new line; a message sent
 * while a turn runs waits in the queue. A refused message comes back here with the reason
 * under it. Without a model provider it is disabled and says how to configure one.
 */
export function Composer({ chat, view, onSend }: { chat: Chat; view: SessionView; onSend: () => void }) {
  const { draft, composerError, agentUnavailable } = chat.state;
  const tooLong = draft.length > MAX_MESSAGE_LENGTH;
  const canSend = view.phase === 'ready' && !agentUnavailable && draft.trim() !== '' && !tooLong;
  const note = tooLong ? `Messages can be at most ${MAX_MESSAGE_LENGTH.toLocaleString('en')} characters (this one has ${draft.length.toLocaleString('en')}).` : composerNote(view, agentUnavailable, chat.busy);

  const submit = () => {
    if (!canSend) return;
    onSend();
    chat.send(draft.trim());
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key !== 'Enter' || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey || event.nativeEvent.isComposing) return;
    event.preventDefault();
    submit();
  };

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    submit();
  };

  return (
    <form onSubmit={onSubmit}>
      <label htmlFor="composer" className="sr-only">
        Message
      </label>
      <textarea
        id="composer"
        value={draft}
        onChange={(event) => chat.setDraft(event.target.value)}
        onKeyDown={onKeyDown}
        disabled={agentUnavailable !== null}
        rows={3}
        placeholder="Describe your video…"
        aria-invalid={composerError || tooLong ? true : undefined}
        aria-describedby={composerError ? 'composer-error composer-note' : 'composer-note'}
        className="block max-h-60 min-h-20 w-full resize-y rounded-xl bg-ink-900 px-3.5 py-3 text-sm ring-1 ring-inset ring-ink-700 placeholder:text-zinc-500 focus:outline-none focus:ring-2 focus:ring-brand-500 disabled:cursor-not-allowed disabled:opacity-60"
      />
      {composerError && (
        <p id="composer-error" role="alert" className="mt-2 text-sm text-red-400">
          {composerError}
        </p>
      )}
      <div className="mt-2 flex items-start gap-3">
        <p id="composer-note" data-testid="composer-note" className={`min-w-0 flex-1 whitespace-pre-wrap text-xs ${agentUnavailable || tooLong ? 'text-amber-300' : 'text-zinc-500'}`}>
          {note}
        </p>
        <Button type="submit" className="h-8 shrink-0 px-3" disabled={!canSend}>
          Send
        </Button>
      </div>
    </form>
  );
}
