import { type Project, projectThumbnailPath } from '@cutroom/protocol';
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { ApiError, api } from '../api/client';
import { AppShell } from '../components/AppShell';
import { Button } from '../components/Button';
import { Dialog } from '../components/Dialog';
import { TextField } from '../components/TextField';
import { useToast } from '../components/Toasts';
import { ImportProjectDialog } from '../imports/ImportProjectDialog';
import { timeAgo } from '../lib/time';
import { useUserEvents } from '../session/use-user-events';

type Load = { state: 'loading' } | { state: 'error'; message: string } | { state: 'ready'; projects: Project[] };
type Editing = { kind: 'create' } | { kind: 'import' } | { kind: 'rename'; project: Project } | { kind: 'delete'; project: Project } | null;

export function ProjectsPage() {
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const [editing, setEditing] = useState<Editing>(null);
  const navigate = useNavigate();
  const toast = useToast();

  /** Only the latest read of the list counts; `reading` is the one under way, if any. */
  const latestRead = useRef(0);
  const reading = useRef<number | null>(null);

  const refresh = useCallback((signal?: AbortSignal) => {
    const read = ++latestRead.current;
    reading.current = read;
    api('GET /api/projects', { signal }).then(
      ({ projects }) => {
        if (read !== latestRead.current) return;
        reading.current = null;
        setLoad({ state: 'ready', projects });
      },
      (error: unknown) => {
        if (read !== latestRead.current) return;
        reading.current = null;
        if ((error as Error).name === 'AbortError') return;
        const message = error instanceof ApiError ? error.message : 'Could not load your projects.';
        // A list on screen stays; only a first read that failed shows the error.
        setLoad((current) => (current.state === 'ready' ? current : { state: 'error', message }));
      },
    );
  }, []);
  /**
   * A change the server has already made (a rename, a delete, a new thumbnail), shown at
   * once. A read under way may have started before it: a new read replaces that one.
   */
  const updateProjects = useCallback(
    (change: (projects: Project[]) => Project[]) => {
      setLoad((current) => (current.state === 'ready' ? { state: 'ready', projects: change(current.projects) } : current));
      if (reading.current !== null) refresh();
    },
    [refresh],
  );

  useEffect(() => {
    const controller = new AbortController();
    refresh(controller.signal);
    return () => controller.abort();
  }, [refresh]);

  // Thumbnails land over the user's /ws connection; whatever changed while it was down,
  // or while the page was hidden (another tab's chat made versions), is read again.
  useUserEvents((event) => {
    if (event.type === 'thumbnail:ready') {
      // A project this list does not show yet (made in another tab) comes with a read.
      if (load.state === 'ready' && !load.projects.some((project) => project.id === event.projectId)) return refresh();
      updateProjects((projects) =>
        projects.map((project) => (project.id === event.projectId ? { ...project, thumbnailVersion: event.thumbnailVersion, thumbnailComposition: event.thumbnailComposition } : project)),
      );
    } else if (event.type === 'connection:open') {
      // Also the first opening: a thumbnail may have landed before the connection was there.
      refresh();
    }
  });
  useEffect(() => {
    const onVisible = () => {
      // Focus and visibility often come together: one read is enough.
      if (document.visibilityState === 'visible' && reading.current === null) refresh();
    };
    document.addEventListener('visibilitychange', onVisible);
    window.addEventListener('focus', onVisible);
    return () => {
      document.removeEventListener('visibilitychange', onVisible);
      window.removeEventListener('focus', onVisible);
    };
  }, [refresh]);

  const projects = load.state === 'ready' ? load.projects : [];

  return (
    <AppShell>
      <main className="mx-auto w-full max-w-6xl flex-1 px-4 py-10 sm:px-6">
        <div className="flex flex-wrap items-end justify-between gap-4">
          <div>
            <h1 className="text-2xl font-semibold tracking-tight">Projects</h1>
            <p className="mt-1 text-sm text-zinc-400">Each project is one video you shape by chatting.</p>
          </div>
          {load.state === 'ready' && projects.length > 0 && (
            <div className="flex gap-2">
              <Button variant="secondary" onClick={() => setEditing({ kind: 'import' })}>
                <UploadIcon /> Import
              </Button>
              <Button onClick={() => setEditing({ kind: 'create' })}>
                <PlusIcon /> New project
              </Button>
            </div>
          )}
        </div>

        <div className="mt-8">
          {load.state === 'loading' && (
            <ul aria-label="Loading projects" aria-busy="true" className="grid gap-5 sm:grid-cols-2 lg:grid-cols-3">
              {[0, 1, 2].map((index) => (
                <li key={index} className="h-60 animate-pulse rounded-2xl bg-ink-900 ring-1 ring-ink-800" />
              ))}
            </ul>
          )}

          {load.state === 'error' && (
            <div role="alert" className="rounded-2xl bg-ink-900 p-8 text-center ring-1 ring-ink-800">
              <p className="font-medium">Your projects could not be loaded.</p>
              <p className="mt-1 text-sm text-zinc-400">{load.message}</p>
              <Button variant="secondary" className="mt-5" onClick={() => {
                  setLoad({ state: 'loading' });
                  refresh();
                }}>
                Try again
              </Button>
            </div>
          )}

          {load.state === 'ready' && projects.length === 0 && (
            <div className="flex flex-col items-center rounded-2xl border border-dashed border-ink-700 px-6 py-16 text-center">
              <div className="flex size-12 items-center justify-center rounded-xl bg-brand-500/15 text-brand-400">
                <FilmIcon />
              </div>
              <h2 className="mt-4 text-lg font-semibold">No projects yet</h2>
              <p className="mt-1 max-w-sm text-sm text-zinc-400">
                Start a project, then describe the video you want. Cutroom writes it and plays it as it changes.
              </p>
              <div className="mt-6 flex flex-wrap justify-center gap-2">
                <Button onClick={() => setEditing({ kind: 'create' })}>
                  <PlusIcon /> Create your first project
                </Button>
                <Button variant="secondary" onClick={() => setEditing({ kind: 'import' })}>
                  <UploadIcon /> Import a Remotion project
                </Button>
              </div>
            </div>
          )}

          {load.state === 'ready' && projects.length > 0 && (
            <ul aria-label="Your projects" className="grid gap-5 sm:grid-cols-2 lg:grid-cols-3">
              {projects.map((project) => (
                <ProjectCard
                  key={project.id}
                  project={project}
                  onRename={() => setEditing({ kind: 'rename', project })}
                  onDelete={() => setEditing({ kind: 'delete', project })}
                />
              ))}
            </ul>
          )}
        </div>
      </main>

      {editing?.kind === 'create' && (
      <ProjectNameDialog
        title="New project"
        description="Give it a working title. You can rename it any time."
        submitLabel="Create project"
        initialName=""
        onClose={() => setEditing(null)}
        onSubmit={async (name) => {
          const { project } = await api('POST /api/projects', { body: { name } });
          setEditing(null);
          navigate(`/projects/${project.id}`);
        }}
      />
      )}
      {editing?.kind === 'import' && (
      <ImportProjectDialog
        onClose={() => {
          setEditing(null);
          // An import the server finished after the dialog closed shows up.
          refresh();
        }}
        onImported={(project) => {
          setEditing(null);
          navigate(`/projects/${project.id}`);
        }}
      />
      )}
      {editing?.kind === 'rename' && (
      <ProjectNameDialog
        title="Rename project"
        submitLabel="Save"
        initialName={editing.project.name}
        onClose={() => setEditing(null)}
        onSubmit={async (name) => {
          const { project } = await api('PATCH /api/projects/:id', { params: { id: editing.project.id }, body: { name } });
          updateProjects((projects) => projects.map((item) => (item.id === project.id ? project : item)));
          setEditing(null);
          toast('Project renamed');
        }}
      />
      )}
      {editing?.kind === 'delete' && (
      <DeleteProjectDialog
        project={editing.project}
        onClose={() => setEditing(null)}
        onDeleted={(project) => {
          updateProjects((projects) => projects.filter((item) => item.id !== project.id));
          setEditing(null);
          toast(`Deleted “${project.name}”`);
        }}
      />
      )}
    </AppShell>
  );
}

function ProjectCard({ project, onRename, onDelete }: { project: Project; onRename: () => void; onDelete: () => void }) {
  return (
    <li className="group relative flex flex-col overflow-hidden rounded-2xl bg-ink-900 ring-1 ring-ink-800 transition hover:ring-ink-600 focus-within:ring-ink-600">
      <ProjectThumbnail project={project} />
      <div className="flex items-start gap-2 p-4">
        <div className="min-w-0 flex-1">
          <h2 className="truncate font-medium">
            <Link to={`/projects/${project.id}`} className="rounded-sm after:absolute after:inset-0 focus:outline-none">
              {project.name}
            </Link>
          </h2>
          <p className="mt-0.5 text-sm text-zinc-500">Edited {timeAgo(project.updatedAt)}</p>
        </div>
        <div className="relative z-10 flex gap-1 opacity-100 transition sm:opacity-0 sm:group-hover:opacity-100 sm:group-focus-within:opacity-100">
          <IconButton label={`Rename ${project.name}`} onClick={onRename}>
            <PencilIcon />
          </IconButton>
          <IconButton label={`Delete ${project.name}`} onClick={onDelete} danger>
            <TrashIcon />
          </IconButton>
        </div>
      </div>
    </li>
  );
}

/**
 * A still of the project's current version (rendered by the server when a version
 * lands) in a fixed 16:9 box, so nothing moves when it arrives; a neutral placeholder
 * until there is one. A new still replaces the old one once it has loaded.
 */
function ProjectThumbnail({ project }: { project: Project }) {
  const src = project.thumbnailVersion ? projectThumbnailPath(project.id, project.thumbnailVersion, project.thumbnailComposition) : null;
  const [loaded, setLoaded] = useState(false);
  const [failed, setFailed] = useState<string | null>(null);
  const showImage = src !== null && failed !== src;
  return (
    <div className="relative aspect-video overflow-hidden bg-ink-950">
      {!(showImage && loaded) && (
        <div aria-hidden="true" data-testid="thumbnail-placeholder" className="absolute inset-0 flex items-center justify-center bg-linear-to-br from-ink-850 to-ink-950 text-ink-600">
          <FilmIcon />
        </div>
      )}
      {showImage && (
        <img
          src={src}
          alt={`${project.name} thumbnail`}
          width={640}
          height={360}
          decoding="async"
          onLoad={() => setLoaded(true)}
          onError={() => setFailed(src)}
          className={`absolute inset-0 size-full object-cover transition-opacity duration-300 ${loaded ? 'opacity-100' : 'opacity-0'}`}
        />
      )}
    </div>
  );
}

function ProjectNameDialog(props: {
  title: string;
  description?: string;
  submitLabel: string;
  initialName: string;
  onClose: () => void;
  onSubmit: (name: string) => Promise<void>;
}) {
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const name = String(new FormData(event.currentTarget).get('name') ?? '');
    if (!name.trim()) {
      setError('Give the project a name.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await props.onSubmit(name);
    } catch (caught) {
      setError(caught instanceof ApiError ? (caught.fieldError('name') ?? caught.message) : 'Something went wrong. Try again.');
      setBusy(false);
    }
  }

  return (
    <Dialog open onClose={props.onClose} title={props.title} description={props.description}>
      <form onSubmit={submit} noValidate>
        <TextField label="Project name" name="name" defaultValue={props.initialName} maxLength={120} autoFocus required error={error} />
        <div className="mt-6 flex justify-end gap-2">
          <Button type="button" variant="ghost" onClick={props.onClose}>
            Cancel
          </Button>
          <Button type="submit" busy={busy}>
            {props.submitLabel}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function DeleteProjectDialog({ project, onClose, onDeleted }: { project: Project; onClose: () => void; onDeleted: (project: Project) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();

  async function confirm() {
    setBusy(true);
    try {
      await api('DELETE /api/projects/:id', { params: { id: project.id } });
      onDeleted(project);
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 404) return onDeleted(project);
      setError(caught instanceof ApiError ? caught.message : 'Could not delete the project. Try again.');
      setBusy(false);
    }
  }

  return (
    <Dialog
      open
      onClose={onClose}
      title={`Delete “${project.name}”?`}
      description="Its video, every version and the whole chat are deleted for good. This cannot be undone."
    >
      {error && (
        <p role="alert" className="mb-4 text-sm text-red-400">
          {error}
        </p>
      )}
      <div className="flex justify-end gap-2">
        <Button type="button" variant="ghost" onClick={onClose} autoFocus>
          Cancel
        </Button>
        <Button type="button" variant="danger" busy={busy} onClick={confirm}>
          Delete project
        </Button>
      </div>
    </Dialog>
  );
}

function IconButton({ label, onClick, danger, children }: { label: string; onClick: () => void; danger?: boolean; children: React.ReactNode }) {
  return (
    <button
      type="button"
      aria-label={label}
      title={label}
      onClick={onClick}
      className={`flex size-8 items-center justify-center rounded-lg text-zinc-400 hover:bg-ink-800 ${danger ? 'hover:text-red-400' : 'hover:text-zinc-100'}`}
    >
      {children}
    </button>
  );
}

const iconProps = { viewBox: '0 0 20 20', fill: 'none', stroke: 'currentColor', strokeWidth: 1.6, strokeLinecap: 'round', strokeLinejoin: 'round', 'aria-hidden': true } as const;
const PlusIcon = () => (
  <svg {...iconProps} className="size-4">
    <path d="M10 4v12M4 10h12" />
  </svg>
);
const UploadIcon = () => (
  <svg {...iconProps} className="size-4">
    <path d="M10 13V4M6.5 7.5L10 4l3.5 3.5M4 13v2.5h12V13" />
  </svg>
);
const PencilIcon = () => (
  <svg {...iconProps} className="size-4">
    <path d="M13.5 3.5l3 3L7 16H4v-3z" />
  </svg>
);
const TrashIcon = () => (
  <svg {...iconProps} className="size-4">
    <path d="M4 6h12M8 6V4h4v2M6 6l1 10h6l1-10" />
  </svg>
);
const FilmIcon = () => (
  <svg {...iconProps} className="size-6">
    <rect x="3" y="4" width="14" height="12" rx="2" />
    <path d="M8.5 7.5v5l4-2.5z" />
  </svg>
);
