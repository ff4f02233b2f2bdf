import type { Message, Project } from '@cutroom/protocol';
import { useCallback, useEffect, useEffectEvent, useRef, useState } from 'react';
import { createPortal } from 'react-dom';
import { Link, useParams } from 'react-router';
import { ApiError, api } from '../api/client';
import { AppShell } from '../components/AppShell';
import { Button } from '../components/Button';
import { Spinner } from '../components/Spinner';
import { AssetsPanel } from '../assets/AssetsPanel';
import { useAssets } from '../assets/use-assets';
import type { ComposerMedia } from '../chat/Composer';
import { Tabs } from '../components/Tabs';
import { useToast } from '../components/Toasts';
import { ChatPanel } from '../chat/ChatPanel';
import { useAutoFix } from '../chat/use-auto-fix';
import { useChat } from '../chat/use-chat';
import { ExportButton, ExportDialog } from '../exports/ExportDialog';
import { useExports } from '../exports/use-exports';
import { HistoryDialogs } from '../history/HistoryDialogs';
import { HistoryPanel } from '../history/HistoryPanel';
import { TurnVersionActions } from '../history/TurnVersionActions';
import { useHistory } from '../history/use-history';
import { PreviewPanel, previewUrlOf, type PreviewComposition } from '../session/PreviewPanel';
import { useSession } from '../session/use-session';

type Load =
  | { state: 'loading' }
  | { state: 'missing' }
  | { state: 'error'; message: string }
  | { state: 'ready'; project: Project; messages: Message[] };

/**
 * One project: chat beside the preview, as in other AI editors. Opening the page loads
 * the chat's history and joins the project's live session, whose one connection carries
 * the preview's lifecycle and the chat (the agent's reply streams in as it works). When
 * the agent's turn leaves the preview broken, the page asks it for a fix, a few times at most.
 */
export function ProjectPage() {
  const { projectId = '' } = useParams();
  // A new id is a new page: remounting starts its state afresh.
  return <ProjectView key={projectId} projectId={projectId} />;
}

function ProjectView({ projectId }: { projectId: string }) {
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  /** The header's place for the project's actions (the workspace puts Export there). */
  const [headerActions, setHeaderActions] = useState<HTMLElement | null>(null);

  const fetchProject = useCallback(
    (signal?: AbortSignal): Promise<Load | null> =>
      api('GET /api/projects/:id', { params: { id: projectId }, signal }).then(
        ({ project, messages }): Load => ({ state: 'ready', project, messages }),
        (error: unknown): Load | null => {
          if ((error as Error).name === 'AbortError') return null;
          if (error instanceof ApiError && error.status === 404) return { state: 'missing' };
          return { state: 'error', message: error instanceof ApiError ? error.message : 'Could not load the project.' };
        },
      ),
    [projectId],
  );

  useEffect(() => {
    const controller = new AbortController();
    void fetchProject(controller.signal).then((next) => next && setLoad(next));
    return () => controller.abort();
  }, [fetchProject]);

  useEffect(() => {
    document.title = load.state === 'ready' ? `${load.project.name} · Cutroom` : 'Cutroom';
    return () => {
      document.title = 'Cutroom';
    };
  }, [load]);

  const breadcrumb = (
    <div className="flex min-w-0 items-center gap-3">
      <nav aria-label="Breadcrumb" className="flex min-w-0 items-center gap-2 text-sm">
        <Link to="/" className="shrink-0 rounded-sm text-zinc-400 hover:text-zinc-100">
          Projects
        </Link>
        {load.state === 'ready' && (
          <>
            <span aria-hidden="true" className="text-zinc-600">/</span>
            <h1 className="truncate font-medium text-zinc-100">{load.project.name}</h1>
          </>
        )}
      </nav>
      <div ref={setHeaderActions} className="ml-auto flex shrink-0 items-center gap-2" />
    </div>
  );

  return (
    <AppShell center={breadcrumb}>
      {load.state === 'loading' && (
        <div className="flex flex-1 items-center justify-center text-zinc-400" role="status">
          <Spinner /> <span className="ml-3 text-sm">Opening project…</span>
        </div>
      )}
      {load.state === 'missing' && (
        <div className="flex flex-1 flex-col items-center justify-center px-4 text-center">
          <h1 className="text-xl font-semibold">Project not found</h1>
          <p className="mt-1 text-sm text-zinc-400">It may have been deleted, or it belongs to another account.</p>
          <Link to="/" className="mt-6 text-sm font-medium text-brand-400 hover:text-brand-500">
            Back to your projects
          </Link>
        </div>
      )}
      {load.state === 'error' && (
        <div role="alert" className="flex flex-1 flex-col items-center justify-center px-4 text-center">
          <h1 className="text-xl font-semibold">The project could not be opened</h1>
          <p className="mt-1 text-sm text-zinc-400">{load.message}</p>
          <Button variant="secondary" className="mt-6" onClick={() => {
              setLoad({ state: 'loading' });
              void fetchProject().then((next) => next && setLoad(next));
            }}>
            Try again
          </Button>
        </div>
      )}
      {load.state === 'ready' && (
        <ProjectWorkspace projectId={load.project.id} chosenComposition={load.project.compositionId} messages={load.messages} headerActions={headerActions} />
      )}
    </AppShell>
  );
}

function ProjectWorkspace({
  projectId,
  chosenComposition,
  messages,
  headerActions,
}: {
  projectId: string;
  chosenComposition: string | null;
  messages: Message[];
  headerActions: HTMLElement | null;
}) {
  const session = useSession(projectId);
  const chat = useChat(projectId, session, messages);
  const autoFix = useAutoFix(chat, previewUrlOf(session.view));
  const history = useHistory(projectId, session);
  const assets = useAssets(projectId, session, history.refresh);
  /** Media names that go with the next message. */
  const [attachments, setAttachments] = useState<string[]>([]);
  const attach = (names: string[]) => setAttachments((current) => [...new Set([...current, ...names])]);
  const composerMedia: ComposerMedia = {
    attachments,
    uploads: assets.uploads.filter((item) => item.forMessage),
    attach: (files) => {
      if (files.length > 0) void assets.upload(files, { forMessage: true }).then((created) => attach(created.map((asset) => asset.name)));
    },
    detach: (name) => setAttachments((current) => current.filter((entry) => entry !== name)),
    cancelUpload: assets.cancel,
    sent: () => setAttachments([]),
  };
  const [panel, setPanel] = useState<SidePanel>('chat');
  const exports = useExports(projectId, session);
  const [composition, setComposition] = useState<PreviewComposition | null>(null);
  const previewFrame = useRef(0);
  /** The open export dialog, with the preview's frame when it opened (the still's default). */
  const [exporting, setExporting] = useState<{ frame: number } | null>(null);
  const toast = useToast();
  // An export that ends while its dialog is closed says so.
  const announceExport = useEffectEvent((finished: NonNullable<typeof exports.state.finished>) => {
    if (!exporting && finished.status !== 'cancelled') toast(finished.text, finished.status === 'failed' ? 'error' : 'success');
  });
  const finishedExport = exports.state.finished;
  useEffect(() => {
    if (finishedExport) announceExport(finishedExport);
  }, [finishedExport]);

  const showPanel = (next: SidePanel) => {
    setPanel(next);
    // Another tab may have restored a version meanwhile.
    if (next === 'history') void history.refresh();
    if (next === 'assets') void assets.refresh();
  };
  const showChanges = (versionId: string) => {
    history.select(versionId, { reveal: true });
    showPanel('history');
  };

  return (
    <div className="flex min-h-0 flex-1 flex-col lg:flex-row">
      <Tabs
        label="Project panels"
        active={panel}
        onChange={showPanel}
        className={`border-ink-800 lg:shrink-0 lg:border-r ${panel === 'history' ? 'lg:w-[30rem]' : 'lg:w-[26rem]'}`}
        tabs={[
          {
            key: 'chat',
            label: 'Chat',
            panel: (
              <ChatPanel
                chat={chat}
                view={session.view}
                className="flex-1"
                messageFooter={(message) => <TurnVersionActions message={message} history={history} onShowChanges={showChanges} />}
                media={composerMedia}
              />
            ),
          },
          { key: 'history', label: 'History', panel: <HistoryPanel projectId={projectId} history={history} /> },
          {
            key: 'assets',
            label: 'Assets',
            panel: (
              <AssetsPanel
                projectId={projectId}
                assets={assets}
                onUseInMessage={(name) => {
                  attach([name]);
                  showPanel('chat');
                }}
              />
            ),
          },
        ]}
      />
      <PreviewPanel
        projectId={projectId}
        chosenComposition={chosenComposition}
        view={session.view}
        onRestart={session.restart}
        onError={autoFix.onError}
        onRecover={autoFix.onRecover}
        onComposition={setComposition}
        onFrame={(frame) => (previewFrame.current = frame)}
      />
      <HistoryDialogs history={history} />
      {headerActions && createPortal(<ExportButton exports={exports} onClick={() => setExporting({ frame: previewFrame.current })} />, headerActions)}
      {exporting && (
        <ExportDialog
          exports={exports}
          composition={composition}
          initialFrame={exporting.frame}
          currentVersion={history.state.currentVersion}
          onClose={() => setExporting(null)}
        />
      )}
    </div>
  );
}

/** What the left column shows: the chat, the project's history, or its media. */
type SidePanel = 'chat' | 'history' | 'assets';
