import type { Message } from '@cutroom/protocol';
import { useId, useLayoutEffect, useRef, useState, type ReactNode } from 'react';
import { Button } from '../components/Button';
import { Spinner } from '../components/Spinner';
import type { SessionView } from '../session/use-session';
import { AgentActions } from './AgentActions';
import type { ChatItem, LiveTurn, PendingMessage } from './chat-state';
import { Composer, type ComposerMedia } from './Composer';
import type { Chat } from './use-chat';

/** Closer than this to the bottom counts as "at the bottom": new content keeps it there. */
const STICK_THRESHOLD = 48;

/**
 * The chat beside the preview: the history (the agent's reply streams into it as it
 * comes, with its actions), the running turn's status with Cancel, and the composer.
 * New content scrolls the history down unless the person scrolled up to read.
 */
export function ChatPanel({
  chat,
  view,
  messageFooter,
  media,
  className = 'border-ink-800 lg:w-[26rem] lg:shrink-0 lg:border-r',
}: {
  chat: Chat;
  view: SessionView;
  /** Files to send with the next message (uploaded from the composer or chosen in the media panel). */
  media?: ComposerMedia;
  /** Shown at the end of a saved agent reply (e.g. its version's actions). */
  messageFooter?: (message: Message) => ReactNode;
  /** Its place in the page (by default a column of its own). */
  className?: string;
}) {
  const { state, items } = chat;
  const listRef = useRef<HTMLOListElement>(null);
  const stickToBottom = useRef(true);
  const liveTurn = state.turn && !state.turn.saved ? state.turn : null;

  useLayoutEffect(() => {
    const list = listRef.current;
    if (list && stickToBottom.current) list.scrollTop = list.scrollHeight;
  }, [items, state.notice]);

  const onScroll = () => {
    const list = listRef.current;
    if (list) stickToBottom.current = list.scrollHeight - list.scrollTop - list.clientHeight < STICK_THRESHOLD;
  };

  return (
    <section aria-label="Chat" className={`flex min-h-0 flex-col ${className}`}>
      <ol ref={listRef} onScroll={onScroll} aria-label="Chat history" className="min-h-0 flex-1 space-y-4 overflow-y-auto p-5">
        {items.length === 0 && !state.notice ? (
          <li className="flex h-full flex-col items-center justify-center py-10 text-center">
            <p className="font-medium">No messages yet</p>
            <p className="mt-1 max-w-xs text-sm text-zinc-400">Describe the video you want. The agent writes it, and the preview plays it as it changes.</p>
          </li>
        ) : (
          items.map((item) => <ChatEntry key={item.key} item={item} messageFooter={messageFooter} />)
        )}
        {state.notice && (
          <li>
            <div role="status" data-testid="chat-notice" className="rounded-xl bg-amber-950/40 px-3.5 py-2.5 text-sm text-amber-100 ring-1 ring-amber-800/60">
              {state.notice.message}
            </div>
          </li>
        )}
      </ol>

      <div className="border-t border-ink-800 p-4">
        <div className={`flex items-center gap-3 ${liveTurn ? 'mb-2' : ''}`}>
          <div role="status" data-testid="turn-status" className="flex min-w-0 flex-1 items-center gap-2 text-sm text-zinc-300 empty:hidden">
            {liveTurn && (
              <>
                <Spinner className="size-4 shrink-0 text-brand-400" />
                <span className="truncate">{liveTurn.cancelling ? 'Cancelling…' : 'The agent is working…'}</span>
              </>
            )}
          </div>
          {liveTurn && (
            <Button variant="secondary" className="h-8 shrink-0 px-3" busy={liveTurn.cancelling} onClick={chat.cancel}>
              Cancel
            </Button>
          )}
        </div>
        <Composer chat={chat} view={view} media={media} onSend={() => (stickToBottom.current = true)} />
      </div>
      <div aria-live="polite" className="sr-only">
        {state.announcement}
      </div>
    </section>
  );
}

function ChatEntry({ item, messageFooter }: { item: ChatItem; messageFooter?: (message: Message) => ReactNode }) {
  switch (item.kind) {
    case 'message':
      return <MessageEntry message={item.message} queued={item.queued} footer={messageFooter} />;
    case 'turn':
      return <TurnEntry turn={item.turn} />;
    case 'pending':
      return <PendingEntry pending={item.pending} />;
  }
}

const userBubble = 'max-w-[85%] whitespace-pre-wrap break-words rounded-2xl bg-brand-500/15 px-4 py-2.5 text-sm text-zinc-100 ring-1 ring-brand-500/30';
const agentBubble = 'min-w-0 max-w-full space-y-2 rounded-2xl bg-ink-850 px-4 py-3 text-sm text-zinc-200 ring-1 ring-ink-700';

function MessageEntry({ message, queued, footer }: { message: Message; queued: boolean; footer?: (message: Message) => ReactNode }) {
  if (message.role === 'user' && message.autoFix) return <AutoFixEntry message={message} queued={queued} />;
  if (message.role === 'user') {
    return (
      <li data-testid="chat-message" data-role="user" className="flex flex-col items-end gap-1">
        <div className={userBubble}>
          <span className="sr-only">You: </span>
          {message.content}
        </div>
        {queued && <QueuedLabel />}
      </li>
    );
  }
  if (message.role === 'system') {
    return (
      <li data-testid="chat-message" data-role="system" className="text-center text-xs text-zinc-500">
        {message.content}
      </li>
    );
  }
  return (
    <li data-testid="chat-message" data-role="assistant" data-status={message.status} className="flex">
      <div className={agentBubble}>
        <span className="sr-only">Agent: </span>
        <AgentActions actions={message.actions} />
        {message.content && <p className="whitespace-pre-wrap break-words">{message.content}</p>}
        {message.status !== 'done' && (
          <p data-testid="turn-result" className={`flex items-center gap-1.5 text-xs font-medium ${message.status === 'failed' ? 'text-red-300' : 'text-zinc-400'}`}>
            {message.status === 'failed' ? 'The turn failed' : 'Cancelled'}
          </p>
        )}
        {footer?.(message)}
      </div>
    </li>
  );
}

function QueuedLabel() {
  return (
    <span data-testid="queued-label" className="inline-flex items-center gap-1 text-xs text-zinc-400">
      <svg viewBox="0 0 20 20" aria-hidden="true" className="size-3.5" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round">
        <circle cx="10" cy="10" r="7" />
        <path d="M10 6v4l2.5 2" />
      </svg>
      Queued
    </span>
  );
}

/** The error line of an automatic fix's report, for its summary. */
const reportSummary = (content: string) => {
  const line = content.split('\n').find((candidate) => candidate.startsWith('Error: ')) ?? content.split('\n')[0] ?? '';
  return line.replace(/^Error: /, '');
};

/** A report the page sent for an automatic fix: labelled, the report itself folded away. */
function AutoFixEntry({ message, queued }: { message: Message; queued: boolean }) {
  const [open, setOpen] = useState(false);
  const reportId = useId();
  return (
    <li data-testid="chat-message" data-role="user" data-auto-fix="true" className="flex flex-col items-end gap-1">
      <div className="w-[85%] rounded-2xl bg-amber-500/10 px-4 py-2.5 text-sm ring-1 ring-amber-500/30">
        <div className="flex items-center gap-2">
          <span data-testid="auto-fix-label" className="inline-flex items-center gap-1 rounded-full bg-amber-500/20 px-2 py-0.5 text-[11px] font-semibold uppercase tracking-wide text-amber-200">
            <svg viewBox="0 0 20 20" aria-hidden="true" className="size-3" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round">
              <path d="M13.5 3.5a3.5 3.5 0 0 0-4.4 4.4L3.5 13.5l3 3 5.6-5.6a3.5 3.5 0 0 0 4.4-4.4l-2 2-2-.5-.5-2z" />
            </svg>
            Automatic fix
          </span>
          <button
            type="button"
            aria-expanded={open}
            aria-controls={reportId}
            onClick={() => setOpen((value) => !value)}
            className="ml-auto rounded px-1.5 text-xs text-amber-200/80 hover:bg-amber-500/15 hover:text-amber-100"
          >
            Error report
          </button>
        </div>
        <p className="mt-1.5 line-clamp-2 break-words font-mono text-xs text-amber-100/90">{reportSummary(message.content)}</p>
        {open && (
          <pre id={reportId} className="mt-2 max-h-72 overflow-auto whitespace-pre-wrap break-words rounded-lg bg-ink-950/70 p-2.5 font-mono text-[11px] text-zinc-300">
            {message.content}
          </pre>
        )}
      </div>
      {queued && <QueuedLabel />}
    </li>
  );
}

/** The agent's reply as it streams: its actions so far, then its words. */
function TurnEntry({ turn }: { turn: LiveTurn }) {
  const quiet = turn.text === '' && turn.actions.length === 0;
  return (
    <li data-testid="live-turn" aria-busy="true" className="flex">
      <div className={agentBubble}>
        <span className="sr-only">Agent (working): </span>
        <AgentActions actions={turn.actions} />
        {quiet ? (
          <p className="flex items-center gap-1 py-1 text-zinc-500">
            <span className="sr-only">Thinking…</span>
            <span className="size-1.5 animate-pulse rounded-full bg-zinc-500" />
            <span className="size-1.5 animate-pulse rounded-full bg-zinc-500 [animation-delay:150ms]" />
            <span className="size-1.5 animate-pulse rounded-full bg-zinc-500 [animation-delay:300ms]" />
          </p>
        ) : (
          turn.text && (
            <p className="whitespace-pre-wrap break-words">
              {turn.text}
              <span aria-hidden="true" className="ml-0.5 inline-block h-3.5 w-1.5 translate-y-0.5 animate-pulse bg-zinc-400" />
            </p>
          )
        )}
      </div>
    </li>
  );
}

/** A message of this tab on its way to the server. */
function PendingEntry({ pending }: { pending: PendingMessage }) {
  return (
    <li data-testid="chat-message" data-role="user" data-pending="true" className="flex flex-col items-end gap-1 opacity-70">
      <div className={userBubble}>
        <span className="sr-only">You: </span>
        {pending.autoFix ? 'Sending an automatic fix…' : pending.text}
      </div>
      <span className="text-xs text-zinc-500">Sending…</span>
    </li>
  );
}
