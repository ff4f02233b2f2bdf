import { type ClipboardEvent, type DragEvent, type FormEvent, type KeyboardEvent, useRef, useState } from 'react';
import { UploadRow, droppedFiles } from '../assets/AssetsPanel';
import { ACCEPTED_MEDIA, type UploadItem } from '../assets/use-assets';
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

/** The files that go with the next message: attached ones, and ones still uploading for it. */
export type ComposerMedia = {
  attachments: string[];
  uploads: UploadItem[];
  attach(files: File[]): void;
  detach(name: string): void;
  cancelUpload(id: string): void;
  /** Called once the message went: the attachments are cleared. */
  sent(): void;
};

/**
 * Where the person writes. Files dropped on it, pasted into it or picked with Attach upload
 * at once and go with the message (which waits until they are in). Enter sends, Shift+Enter starts a new line; a message sent
 * while a turn runs waits in the queue. A refused message comes back here with the reason
 * under it. Without a model provider it is disabled and says how to configure one.
 */
export function Composer({ chat, view, media, onSend }: { chat: Chat; view: SessionView; media?: ComposerMedia; onSend: () => void }) {
  const { draft, composerError, agentUnavailable } = chat.state;
  const picker = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);
  const tooLong = draft.length > MAX_MESSAGE_LENGTH;
  const uploading = media?.uploads.some((item) => item.phase !== 'failed') ?? false;
  const canSend = view.phase === 'ready' && !agentUnavailable && draft.trim() !== '' && !tooLong && !uploading;
  const note = tooLong
    ? `Messages can be at most ${MAX_MESSAGE_LENGTH.toLocaleString('en')} characters (this one has ${draft.length.toLocaleString('en')}).`
    : uploading
      ? 'Sending works once the files are uploaded.'
      : composerNote(view, agentUnavailable, chat.busy);

  const submit = () => {
    if (!canSend) return;
    onSend();
    if (chat.send(draft.trim(), { attachments: media?.attachments ?? [] })) media?.sent();
  };
  const onPaste = (event: ClipboardEvent<HTMLTextAreaElement>) => {
    const files = droppedFiles(event.clipboardData.files);
    if (!media || files.length === 0) return;
    event.preventDefault();
    media.attach(files);
  };
  const onDrop = (event: DragEvent) => {
    if (!media) return;
    event.preventDefault();
    setDragging(false);
    media.attach(droppedFiles(event.dataTransfer.files));
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
    <form
      onSubmit={onSubmit}
      onDragOver={(event) => {
        if (!media || !event.dataTransfer.types.includes('Files')) return;
        event.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={onDrop}
      data-testid="composer-form"
      className={dragging ? 'rounded-xl ring-2 ring-brand-500' : undefined}
    >
      {media && (media.attachments.length > 0 || media.uploads.length > 0) && (
        <div className="mb-2 flex flex-col gap-1.5">
          {media.attachments.length > 0 && (
            <ul aria-label="Attached files" className="flex flex-wrap gap-1.5">
              {media.attachments.map((name) => (
                <li key={name} data-testid="attachment" className="flex items-center gap-1 rounded-full bg-ink-800 py-0.5 pl-2.5 pr-1 text-xs text-zinc-200 ring-1 ring-inset ring-ink-600">
                  <span className="max-w-48 truncate">{name}</span>
                  <button type="button" onClick={() => media.detach(name)} aria-label={`Remove ${name} from the message`} className="rounded-full px-1 text-zinc-400 hover:text-zinc-100">
                    ×
                  </button>
                </li>
              ))}
            </ul>
          )}
          {media.uploads.length > 0 && (
            <ul aria-label="Files uploading for this message" className="flex flex-col gap-1.5">
              {media.uploads.map((item) => (
                <UploadRow key={item.id} item={item} onCancel={media.cancelUpload} />
              ))}
            </ul>
          )}
        </div>
      )}
      <label htmlFor="composer" className="sr-only">
        Message
      </label>
      <textarea
        id="composer"
        value={draft}
        onChange={(event) => chat.setDraft(event.target.value)}
        onKeyDown={onKeyDown}
        onPaste={onPaste}
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
        {media && (
          <>
            <Button type="button" variant="ghost" className="h-8 shrink-0 px-2.5" onClick={() => picker.current?.click()} aria-label="Attach files">
              Attach
            </Button>
            <input
              ref={picker}
              type="file"
              multiple
              accept={ACCEPTED_MEDIA}
              className="sr-only"
              tabIndex={-1}
              data-testid="composer-file-input"
              aria-hidden
              onChange={(event) => {
                media.attach(droppedFiles(event.target.files));
                event.target.value = '';
              }}
            />
          </>
        )}
        <Button type="submit" className="h-8 shrink-0 px-3" disabled={!canSend}>
          Send
        </Button>
      </div>
    </form>
  );
}
