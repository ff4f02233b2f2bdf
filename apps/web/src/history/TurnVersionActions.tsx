import type { Message } from '@cutroom/protocol';
import { UndoIcon } from './HistoryPanel';
import type { VersionHistory } from './use-history';

/**
 * Under an agent's reply that changed files: "View changes" (its version in the History
 * panel) and, while that version is still the latest, "Undo last change".
 */
export function TurnVersionActions({ message, history, onShowChanges }: { message: Message; history: VersionHistory; onShowChanges: (versionId: string) => void }) {
  const version = message.version;
  if (message.role !== 'assistant' || !version) return null;
  const latest = history.undo?.current.id === version;
  return (
    <div className="flex flex-wrap items-center gap-1 border-t border-ink-700/70 pt-2 text-xs">
      <button type="button" onClick={() => onShowChanges(version)} className={linkButton}>
        <svg viewBox="0 0 20 20" aria-hidden="true" className="size-3.5" fill="none" stroke="currentColor" strokeWidth="1.7" strokeLinecap="round" strokeLinejoin="round">
          <path d="M4 6h8M4 10h12M4 14h6" />
        </svg>
        View changes
      </button>
      {latest && (
        <button type="button" onClick={history.askUndo} className={linkButton}>
          <UndoIcon />
          Undo last change
        </button>
      )}
    </div>
  );
}

const linkButton = 'inline-flex items-center gap-1.5 rounded-md px-1.5 py-1 font-medium text-zinc-400 hover:bg-ink-800 hover:text-zinc-100 [&_svg]:size-3.5';
