import { type FileChange, type FileDiff, type Version, type VersionAuthor, projectArchivePath } from '@cutroom/protocol';
import { useEffect, useId, useRef, type KeyboardEvent } from 'react';
import { Button } from '../components/Button';
import { DownloadLink } from '../components/DownloadLink';
import { Spinner } from '../components/Spinner';
import { sizeText } from '../assets/asset-format';
import { DiffView } from '../chat/AgentActions';
import { diffStats } from '../chat/agent-actions';
import { exactTime, timeAgo } from '../lib/time';
import { useNow } from '../lib/use-now';
import { authorLabels, filesChanged, patchHunks } from './history-state';
import type { VersionHistory } from './use-history';
import { useVersionDiff } from './use-version-diff';

/**
 * The project's history beside the preview: every version, newest first (who made it,
 * when, how many files; the current one marked), "Undo last change", and the selected
 * version's changes with "Restore this version". Restores ask first (see `HistoryDialogs`).
 */
export function HistoryPanel({ projectId, history }: { projectId: string; history: VersionHistory }) {
  const { state, selected } = history;
  const now = useNow();
  const selectedVersion = selected ? state.versions.find((version) => version.id === selected) : undefined;
  const panelRef = useRef<HTMLElement>(null);

  // A version chosen from elsewhere (the chat's "View changes"): its changes take the focus.
  const { revealKey } = history;
  useEffect(() => {
    if (revealKey > 0) panelRef.current?.querySelector<HTMLElement>('[data-changes-heading]')?.focus();
  }, [revealKey]);

  // The focused control went away with the selection (a restore selects the version it
  // made; its dialog gives the focus back to a button that is gone): keep it in the panel.
  useEffect(() => {
    const timer = setTimeout(() => {
      const panel = panelRef.current;
      if (!panel || panel.closest('[hidden]') || (document.activeElement && document.activeElement !== document.body)) return;
      panel.querySelector<HTMLElement>('[data-changes-heading]')?.focus();
    });
    return () => clearTimeout(timer);
  }, [selected]);

  return (
    <section ref={panelRef} aria-label="History" className="flex min-h-0 flex-1 flex-col">
      <div className="flex shrink-0 items-center gap-3 border-b border-ink-800 px-4 py-3">
        <p className="min-w-0 flex-1 text-xs text-zinc-400">Every change is a version you can go back to.</p>
        <Button
          variant="secondary"
          className="h-8 shrink-0 px-3"
          disabled={!history.undo}
          title={history.undo ? `Undo “${history.undo.current.message}”` : 'There is no earlier version to go back to.'}
          onClick={history.askUndo}
        >
          <UndoIcon />
          Undo last change
        </Button>
      </div>

      {state.status === 'loading' && (
        <div role="status" className="flex flex-1 items-center justify-center gap-3 text-sm text-zinc-400">
          <Spinner /> Loading the history…
        </div>
      )}
      {state.status === 'error' && (
        <div role="alert" className="flex flex-1 flex-col items-center justify-center px-6 text-center">
          <p className="font-medium">The history could not be loaded</p>
          <p className="mt-1 text-sm text-zinc-400">{state.error}</p>
          <Button variant="secondary" className="mt-4" onClick={history.retry}>
            Try again
          </Button>
        </div>
      )}
      {state.status === 'ready' && (
        <>
          {state.error && (
            <div role="alert" className="flex shrink-0 items-center gap-3 border-b border-ink-800 bg-red-950/40 px-4 py-2 text-xs text-red-200">
              <span className="min-w-0 flex-1">Could not refresh the history: {state.error}</span>
              <button type="button" onClick={history.retry} className="shrink-0 rounded px-1.5 py-0.5 font-medium hover:bg-red-900/60">
                Try again
              </button>
            </div>
          )}
          <div className={`min-h-0 overflow-y-auto p-2 ${selected ? 'max-h-[40%] shrink-0 border-b border-ink-800' : 'flex-1'}`}>
            {state.versions.length === 0 ? (
              <div className="py-10 text-center">
                <p className="font-medium">No versions yet</p>
                <p className="mt-1 text-sm text-zinc-400">Each change the agent makes shows up here.</p>
              </div>
            ) : (
              <VersionList history={history} now={now} />
            )}
          </div>
          {selected && (
            <VersionChanges
              key={selected}
              projectId={projectId}
              versionId={selected}
              version={selectedVersion}
              history={history}
            />
          )}
        </>
      )}
    </section>
  );
}

function VersionList({ history, now }: { history: VersionHistory; now: number }) {
  const { state, selected } = history;

  // Up and Down move between the versions; Home and End go to the newest and oldest.
  const onKeyDown = (event: KeyboardEvent<HTMLOListElement>) => {
    const buttons = [...event.currentTarget.querySelectorAll<HTMLButtonElement>('button[data-version]')];
    const index = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (index < 0) return;
    const next = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: buttons.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    buttons[Math.max(0, Math.min(buttons.length - 1, next))]?.focus();
  };

  return (
    <>
      <ol aria-label="Versions" onKeyDown={onKeyDown} className="space-y-0.5">
        {state.versions.map((version) => (
          <VersionItem
            key={version.id}
            version={version}
            now={now}
            current={version.id === state.currentVersion}
            selected={version.id === selected}
            onSelect={() => history.select(version.id === selected ? null : version.id)}
          />
        ))}
      </ol>
      {(state.nextBefore || state.moreError) && (
        <div className="px-3 py-2">
          {state.moreError && (
            <p role="alert" className="mb-2 text-xs text-red-300">
              {state.moreError}
            </p>
          )}
          {state.nextBefore && (
            <Button variant="ghost" className="h-8 w-full text-xs" busy={state.loadingMore} onClick={() => void history.loadMore()}>
              Load older versions
            </Button>
          )}
        </div>
      )}
    </>
  );
}

function VersionItem({ version, now, current, selected, onSelect }: { version: Version; now: number; current: boolean; selected: boolean; onSelect: () => void }) {
  return (
    <li data-testid="version" data-version-id={version.id} data-author={version.author} data-current={current || undefined}>
      <button
        type="button"
        data-version
        aria-pressed={selected}
        onClick={onSelect}
        className={`flex w-full items-start gap-3 rounded-xl px-3 py-2.5 text-left transition-colors ${
          selected ? 'bg-ink-800 ring-1 ring-inset ring-ink-600' : 'hover:bg-ink-850'
        }`}
      >
        <span aria-hidden="true" className={`mt-1.5 size-2 shrink-0 rounded-full ${current ? 'bg-brand-500 ring-4 ring-brand-500/20' : 'bg-ink-600'}`} />
        <span className="min-w-0 flex-1">
          <span data-testid="version-message" className="line-clamp-2 break-words text-sm text-zinc-100">{version.message}</span>
          <span className="mt-1 flex flex-wrap items-center gap-x-2 gap-y-1 text-xs text-zinc-400">
            <AuthorBadge author={version.author} />
            <time dateTime={version.createdAt} title={exactTime(version.createdAt)}>
              {timeAgo(version.createdAt, now)}
            </time>
            <span aria-hidden="true" className="text-zinc-600">·</span>
            <span>{filesChanged(version.files.length)}</span>
            {current && <CurrentBadge />}
          </span>
        </span>
      </button>
    </li>
  );
}

const authorStyles: Record<VersionAuthor, string> = {
  user: 'bg-sky-500/10 text-sky-300 ring-sky-500/25',
  agent: 'bg-violet-500/10 text-violet-300 ring-violet-500/25',
  restore: 'bg-amber-500/10 text-amber-300 ring-amber-500/25',
};

function AuthorBadge({ author }: { author: VersionAuthor }) {
  return (
    <span data-testid="version-author" className={`rounded-full px-1.5 py-px text-[11px] font-medium ring-1 ring-inset ${authorStyles[author]}`}>
      {authorLabels[author]}
    </span>
  );
}

function CurrentBadge() {
  return (
    <span data-testid="version-current" className="rounded-full bg-brand-500/15 px-1.5 py-px text-[11px] font-semibold text-brand-400 ring-1 ring-inset ring-brand-500/30">
      Current
    </span>
  );
}

/** The selected version's changes against the version before it, and "Restore this version". */
function VersionChanges({ projectId, versionId, version, history }: { projectId: string; versionId: string; version: Version | undefined; history: VersionHistory }) {
  const { load, retry } = useVersionDiff(projectId, versionId);
  const title = version?.message ?? 'this version';
  const current = versionId === history.state.currentVersion;
  const restoredFrom = version?.restoredFrom ? history.state.versions.find((candidate) => candidate.id === version.restoredFrom) : undefined;
  const pending = history.confirmation?.pending === true;

  return (
    <section aria-label={`Changes in ${title}`} className="flex min-h-0 flex-1 flex-col">
      <div className="shrink-0 px-4 pb-3 pt-3.5">
        <div className="flex items-start gap-2">
          <h3 data-changes-heading tabIndex={-1} className="min-w-0 flex-1 break-words text-sm font-semibold text-zinc-100 focus:outline-none">
            {version?.message ?? 'Changes'}
          </h3>
          <button
            type="button"
            aria-label="Close changes"
            title="Close"
            onClick={(event) => {
              // The focus goes back to the version in the list.
              event.currentTarget.closest('[aria-label="History"]')?.querySelector<HTMLElement>(`[data-version-id="${versionId}"] button`)?.focus();
              history.select(null);
            }}
            className="-mr-1.5 -mt-1 flex size-7 shrink-0 items-center justify-center rounded-lg text-zinc-400 hover:bg-ink-800 hover:text-zinc-100"
          >
            <svg viewBox="0 0 20 20" aria-hidden="true" className="size-4" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round">
              <path d="M5.5 5.5l9 9M14.5 5.5l-9 9" />
            </svg>
          </button>
        </div>
        {version && (
          <p className="mt-1 flex flex-wrap items-center gap-x-2 gap-y-1 text-xs text-zinc-400">
            <AuthorBadge author={version.author} />
            <time dateTime={version.createdAt}>{exactTime(version.createdAt)}</time>
            {current && <CurrentBadge />}
          </p>
        )}
        {version?.restoredFrom && (
          <p className="mt-1.5 text-xs text-zinc-400">
            Brought back the files of{' '}
            {restoredFrom ? (
              <button type="button" onClick={() => history.select(restoredFrom.id)} className="rounded text-brand-400 underline-offset-2 hover:underline">
                “{restoredFrom.message}”
              </button>
            ) : (
              'an earlier version'
            )}
            .
          </p>
        )}
        <div className="mt-3 flex flex-wrap items-center gap-3">
          <Button
            variant="secondary"
            className="h-8 px-3"
            disabled={!version || current}
            busy={pending && history.confirmation?.kind === 'restore' && history.confirmation.version.id === versionId}
            onClick={() => version && history.askRestore(version)}
          >
            <RestoreIcon />
            Restore this version
          </Button>
          {/* The project's files at this version, for npm install and Remotion Studio elsewhere. */}
          <DownloadLink href={projectArchivePath(projectId, versionId)} variant="secondary" className="h-8 px-3">
            Download .zip
          </DownloadLink>
          {current && <span className="text-xs text-zinc-500">The project is at this version.</span>}
        </div>
      </div>

      <div className="min-h-0 flex-1 overflow-y-auto border-t border-ink-800 px-4 py-3">
        {load?.state === 'loading' && (
          <div role="status" className="flex items-center gap-2 py-6 text-sm text-zinc-400">
            <Spinner className="size-4" /> Loading the changes…
          </div>
        )}
        {load?.state === 'error' && (
          <div role="alert" className="py-4 text-sm">
            <p className="text-red-300">{load.message}</p>
            <Button variant="secondary" className="mt-3 h-8 px-3" onClick={retry}>
              Try again
            </Button>
          </div>
        )}
        {load?.state === 'ready' && (
          <>
            <p className="mb-3 text-xs text-zinc-500">
              {load.diff.against === null ? 'The project’s first version: every file is new.' : 'Compared with the version before it.'}
            </p>
            {load.diff.truncated && (
              <p data-testid="diff-truncated" className="mb-3 rounded-lg bg-amber-950/40 px-3 py-2 text-xs text-amber-100 ring-1 ring-amber-800/60">
                These changes are too large to show in full; some files are cut short.
              </p>
            )}
            {load.diff.files.length === 0 ? (
              <p className="text-sm text-zinc-400">This version changed no files.</p>
            ) : (
              <ul aria-label="Changed files" className="space-y-4">
                {load.diff.files.map((file) => (
                  <FileChanges key={`${file.previousPath ?? ''}:${file.path}`} file={file} />
                ))}
              </ul>
            )}
          </>
        )}
      </div>
    </section>
  );
}

const changeLabels: Record<FileChange, { label: string; style: string }> = {
  added: { label: 'Added', style: 'bg-emerald-500/10 text-emerald-300 ring-emerald-500/25' },
  modified: { label: 'Modified', style: 'bg-sky-500/10 text-sky-300 ring-sky-500/25' },
  deleted: { label: 'Deleted', style: 'bg-red-500/10 text-red-300 ring-red-500/25' },
  renamed: { label: 'Renamed', style: 'bg-violet-500/10 text-violet-300 ring-violet-500/25' },
};

/** What a file without a hunk went through. */
const mediaChangeWords: Record<FileChange, string> = {
  added: 'uploaded.',
  modified: 'replaced by another file of the same name.',
  deleted: 'removed.',
  renamed: 'renamed.',
};

const noTextChange: Record<FileChange, string> = {
  added: 'An empty file.',
  modified: 'Its contents did not change (only its mode).',
  deleted: 'It was empty.',
  renamed: 'Its contents did not change.',
};

function FileChanges({ file }: { file: FileDiff }) {
  const diffId = useId();
  const change = changeLabels[file.change];
  const hunks = file.binary ? '' : patchHunks(file.patch);
  const stats = hunks ? diffStats(hunks) : null;
  return (
    <li data-testid="file-change" data-change={file.change}>
      <div className="flex items-center gap-2 text-xs">
        <span className={`shrink-0 rounded px-1.5 py-px text-[11px] font-medium ring-1 ring-inset ${change.style}`}>{change.label}</span>
        <span className="min-w-0 flex-1 truncate font-mono text-zinc-200" title={file.previousPath ? `${file.previousPath} → ${file.path}` : file.path}>
          {file.previousPath && <span className="text-zinc-500">{file.previousPath} → </span>}
          {file.path}
        </span>
        {stats && (
          <span className="shrink-0 font-mono text-[11px] tabular-nums">
            <span className="text-emerald-400">+{stats.added}</span> <span className="text-red-400">−{stats.removed}</span>
            <span className="sr-only"> lines</span>
          </span>
        )}
      </div>
      {file.media ? (
        <p className="mt-1.5 text-xs text-zinc-500">
          A media file ({file.media.kind}, {sizeText(file.media.size)}): {mediaChangeWords[file.change]}
        </p>
      ) : file.binary ? (
        <p className="mt-1.5 text-xs text-zinc-500">A binary file: its contents cannot be shown as text.</p>
      ) : hunks ? (
        <DiffView id={diffId} diff={hunks} label={`Diff of ${file.path}`} />
      ) : (
        !file.truncated && <p className="mt-1.5 text-xs text-zinc-500">{noTextChange[file.change]}</p>
      )}
      {file.truncated && (
        <p className="mt-1.5 text-xs text-amber-200/90">
          {file.patch ? 'This file’s changes are cut short: they are too large to show in full.' : 'This file’s changes are too large to show.'}
        </p>
      )}
    </li>
  );
}

const iconProps = { viewBox: '0 0 20 20', fill: 'none', stroke: 'currentColor', strokeWidth: 1.7, strokeLinecap: 'round', strokeLinejoin: 'round', 'aria-hidden': true } as const;

export const UndoIcon = () => (
  <svg {...iconProps} className="size-4">
    <path d="M7.5 4.5L4 8l3.5 3.5" />
    <path d="M4 8h7.5a4.5 4.5 0 0 1 0 9H9" />
  </svg>
);

const RestoreIcon = () => (
  <svg {...iconProps} className="size-4">
    <path d="M3.5 10a6.5 6.5 0 1 0 2-4.7" />
    <path d="M3.5 3.5v3.5H7" />
    <path d="M10 6.5V10l2.5 1.5" />
  </svg>
);
