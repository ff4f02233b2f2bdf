import type { Message, Project } from '@cutroom/protocol';
import { useCallback, useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';
import { ApiError, api } from '../api/client';
import { AppShell } from '../components/AppShell';
import { Button } from '../components/Button';
import { Spinner } from '../components/Spinner';
import { PreviewPanel } from '../session/PreviewPanel';
import { useSession } from '../session/use-session';

type Load =
  | { state: 'loading' }
  | { state: 'missing' }
  | { state: 'error'; message: string }
  | { state: 'ready'; project: Project; messages: Message[] };

/**
 * One project: chat beside the preview, as in other AI editors. The chat history is
 * real (loaded from the server); opening the page joins the project's live session,
 * whose preview plays beside it. Sending messages arrives with the agent, and the page
 * says so rather than pretending.
 */
export function ProjectPage() {
  const { projectId = '' } = useParams();
  // A new id is a new page: remounting starts its state afresh.
  return <ProjectView key={projectId} projectId={projectId} />;
}

function ProjectView({ projectId }: { projectId: string }) {
  const [load, setLoad] = useState<Load>({ state: 'loading' });

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
      {load.state === 'ready' && <ProjectWorkspace projectId={load.project.id} messages={load.messages} />}
    </AppShell>
  );
}

function ProjectWorkspace({ projectId, messages }: { projectId: string; messages: Message[] }) {
  const session = useSession(projectId);
  return (
    <div className="flex min-h-0 flex-1 flex-col lg:flex-row">
      <section aria-label="Chat" className="flex min-h-0 flex-col border-ink-800 lg:w-[26rem] lg:shrink-0 lg:border-r">
        <ol aria-label="Chat history" className="min-h-0 flex-1 space-y-4 overflow-y-auto p-5">
          {messages.length === 0 ? (
            <li className="flex h-full flex-col items-center justify-center py-10 text-center">
              <p className="font-medium">No messages yet</p>
              <p className="mt-1 max-w-xs text-sm text-zinc-400">
                Your conversation with the video agent will appear here, turn by turn.
              </p>
            </li>
          ) : (
            messages.map((message) => (
              <li key={message.id} className={message.role === 'user' ? 'flex justify-end' : ''}>
                <div
                  className={`max-w-[85%] whitespace-pre-wrap rounded-2xl px-4 py-2.5 text-sm ${
                    message.role === 'user' ? 'bg-brand-500/15 text-zinc-100 ring-1 ring-brand-500/30' : 'bg-ink-850 text-zinc-200 ring-1 ring-ink-700'
                  }`}
                >
                  {message.content}
                </div>
              </li>
            ))
          )}
        </ol>
        <div className="border-t border-ink-800 p-4">
          <label htmlFor="composer" className="sr-only">
            Message
          </label>
          <textarea
            id="composer"
            disabled
            rows={3}
            placeholder="Describe your video…"
            aria-describedby="composer-note"
            className="block w-full resize-none rounded-xl bg-ink-900 px-3.5 py-3 text-sm ring-1 ring-inset ring-ink-700 placeholder:text-zinc-500 disabled:cursor-not-allowed disabled:opacity-60"
          />
          <p id="composer-note" className="mt-2 text-xs text-zinc-500">
            Chatting with the agent is not available in this version of Cutroom yet.
          </p>
        </div>
      </section>

      <PreviewPanel view={session.view} onRestart={session.restart} />
    </div>
  );
}
