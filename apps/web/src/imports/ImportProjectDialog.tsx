import type { Project } from '@cutroom/protocol';
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import { Button, buttonClasses } from '../components/Button';
import { Dialog } from '../components/Dialog';
import { Tabs } from '../components/Tabs';
import { TextField } from '../components/TextField';
import { fileSize } from '../exports/export-state';
import { importProjectFromGit, uploadProjectArchive } from './import-project';
import { type ImportPhase, archiveProblem, phaseText, uploadPercent } from './import-state';

type Source = 'archive' | 'git';
type FieldErrors = Partial<Record<'file' | 'gitUrl' | 'name', string>>;

/**
 * Import a Remotion project the user already has: a `.zip` / `.tar.gz` of its folder
 * (uploaded with a progress bar) or a public git repository's https URL. What the server
 * refuses (a link in the archive, a zip bomb, no package.json…) is shown here, and the
 * dialog stays open to try another; on success the caller opens the new project.
 */
export function ImportProjectDialog({ onClose, onImported }: { onClose: () => void; onImported: (project: Project) => void }) {
  const [source, setSource] = useState<Source>('archive');
  const [file, setFile] = useState<File | null>(null);
  const [gitUrl, setGitUrl] = useState('');
  const [name, setName] = useState('');
  const [phase, setPhase] = useState<ImportPhase>({ kind: 'idle' });
  const [error, setError] = useState<string | undefined>();
  const [fieldErrors, setFieldErrors] = useState<FieldErrors>({});
  const controller = useRef<AbortController | null>(null);
  const fileInputId = useId();
  const busy = phase.kind !== 'idle';

  // Closing the dialog stops an upload still under way.
  useEffect(() => () => controller.current?.abort(), []);

  const close = () => {
    controller.current?.abort();
    onClose();
  };

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy) return;
    setError(undefined);
    setFieldErrors({});
    const projectName = name.trim() || undefined;
    controller.current = new AbortController();
    const { signal } = controller.current;
    try {
      let project: Project;
      if (source === 'archive') {
        const problem = file ? archiveProblem(file) : 'Choose a .zip or .tar.gz of the project folder.';
        if (problem || !file) return setFieldErrors({ file: problem ?? undefined });
        setPhase({ kind: 'uploading', loaded: 0, total: file.size });
        project = await uploadProjectArchive(file, projectName, {
          signal,
          onProgress: (loaded, total) => setPhase({ kind: 'uploading', loaded, total }),
          onUploaded: () => setPhase({ kind: 'importing' }),
        });
      } else {
        if (!gitUrl.trim()) return setFieldErrors({ gitUrl: 'Paste the repository’s https:// URL.' });
        setPhase({ kind: 'importing' });
        project = await importProjectFromGit({ gitUrl: gitUrl.trim(), ...(projectName ? { name: projectName } : {}) }, signal);
      }
      onImported(project);
    } catch (caught) {
      if ((caught as Error).name === 'AbortError') return;
      setPhase({ kind: 'idle' });
      if (caught instanceof ApiError) {
        const fields: FieldErrors = {
          file: caught.fieldError('file'),
          gitUrl: caught.fieldError('gitUrl'),
          name: caught.fieldError('name'),
        };
        setFieldErrors(fields);
        if (!fields.file && !fields.gitUrl && !fields.name) setError(caught.message);
      } else {
        setError('Something went wrong. Try again.');
      }
    }
  }

  const archivePanel = (
    <div className="pt-4">
      <span className="mb-1.5 block text-sm font-medium text-zinc-300" id={`${fileInputId}-label`}>
        Archive
      </span>
      <div className={`flex items-center gap-3 rounded-lg bg-ink-900 p-3 ring-1 ring-inset ${fieldErrors.file ? 'ring-red-500/80' : 'ring-ink-600'}`}>
        <label htmlFor={fileInputId} className={buttonClasses('secondary', `shrink-0 ${busy ? 'pointer-events-none opacity-60' : 'cursor-pointer'}`)}>
          Choose file
        </label>
        <input
          id={fileInputId}
          type="file"
          name="file"
          accept=".zip,.tar.gz,.tgz,application/zip,application/gzip,application/x-gzip"
          className="sr-only"
          aria-labelledby={`${fileInputId}-label`}
          aria-invalid={fieldErrors.file ? true : undefined}
          aria-describedby={`${fileInputId}-status`}
          disabled={busy}
          onChange={(event) => {
            const chosen = event.currentTarget.files?.[0] ?? null;
            setFile(chosen);
            setError(undefined);
            setFieldErrors((current) => ({ ...current, file: chosen ? (archiveProblem(chosen) ?? undefined) : undefined }));
          }}
        />
        <p id={`${fileInputId}-status`} data-testid="import-file" className="min-w-0 flex-1 truncate text-sm text-zinc-400">
          {file ? (
            <>
              <span className="text-zinc-100">{file.name}</span> · {fileSize(file.size)}
            </>
          ) : (
            'A .zip or .tar.gz of the project folder'
          )}
        </p>
      </div>
      {fieldErrors.file && <p className="mt-1.5 text-sm text-red-400">{fieldErrors.file}</p>}
    </div>
  );

  const gitPanel = (
    <div className="pt-4">
      <TextField
        label="Repository URL"
        name="gitUrl"
        type="url"
        inputMode="url"
        placeholder="https://github.com/you/your-video.git"
        value={gitUrl}
        onChange={(event) => setGitUrl(event.currentTarget.value)}
        disabled={busy}
        error={fieldErrors.gitUrl}
        hint="A public https:// repository; the latest files of its default branch are imported."
      />
    </div>
  );

  const percent = phase.kind === 'uploading' ? uploadPercent(phase.loaded, phase.total) : 100;

  return (
    <Dialog
      open
      wide
      onClose={close}
      title="Import a Remotion project"
      description="Bring a project you already have. node_modules, .git and build output (out, dist, build) are left out; the project needs a package.json that lists remotion."
    >
      <form onSubmit={submit} noValidate aria-label="Import a project">
        <Tabs
          label="Import from"
          active={source}
          onChange={(key) => {
            if (busy) return;
            setSource(key);
            setError(undefined);
          }}
          className="-mx-3"
          tabs={[
            { key: 'archive', label: 'Archive', panel: <div className="px-3">{archivePanel}</div> },
            { key: 'git', label: 'Git repository', panel: <div className="px-3">{gitPanel}</div> },
          ]}
        />
        <TextField
          className="mt-4"
          label="Project name"
          name="name"
          value={name}
          maxLength={120}
          onChange={(event) => setName(event.currentTarget.value)}
          disabled={busy}
          error={fieldErrors.name}
          hint={source === 'archive' ? 'Optional; the file’s name otherwise.' : 'Optional; the repository’s name otherwise.'}
        />

        {busy && (
          <div className="mt-5">
            <div
              role="progressbar"
              aria-label={phase.kind === 'uploading' ? 'Upload progress' : 'Import progress'}
              aria-valuemin={0}
              aria-valuemax={100}
              aria-valuenow={phase.kind === 'uploading' ? percent : undefined}
              aria-valuetext={phaseText(phase)}
              className="h-1.5 overflow-hidden rounded-full bg-ink-700"
            >
              <div
                className={`h-full rounded-full bg-brand-500 transition-[width] duration-200 ${phase.kind === 'importing' ? 'animate-pulse' : ''}`}
                style={{ width: `${phase.kind === 'uploading' ? Math.max(2, percent) : 100}%` }}
              />
            </div>
            <p data-testid="import-status" className="mt-2 text-xs tabular-nums text-zinc-300">
              {phaseText(phase)}
            </p>
          </div>
        )}

        {error && (
          <p role="alert" className="mt-4 text-sm text-red-400">
            {error}
          </p>
        )}

        <div className="mt-6 flex justify-end gap-2">
          <Button type="button" variant="ghost" onClick={close}>
            Cancel
          </Button>
          <Button type="submit" busy={busy}>
            Import
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
