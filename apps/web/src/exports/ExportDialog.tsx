import type { CreateExportRequest, ExportFormat } from '@cutroom/protocol';
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import { Button } from '../components/Button';
import { Dialog } from '../components/Dialog';
import { Spinner } from '../components/Spinner';
import { TextField } from '../components/TextField';
import { useNow } from '../lib/use-now';
import type { PreviewComposition } from '../session/PreviewPanel';
import { ExportItem } from './ExportItem';
import {
  exportScales,
  exportTitle,
  formatLabels,
  frameError,
  percentDone,
  pixelSize,
  scaleLabel,
  shortVersion,
  statusText,
} from './export-state';
import type { ProjectExports } from './use-exports';

const formats: { format: ExportFormat; hint: string }[] = [
  { format: 'mp4', hint: 'Video that plays anywhere' },
  { format: 'webm', hint: 'Video for the web' },
  { format: 'gif', hint: 'Silent loop, large file' },
  { format: 'png', hint: 'One frame as an image' },
];

const seconds = (frames: number, fps: number) => `${(frames / fps).toFixed(1)} s`;

/**
 * The header's Export button: opens the export dialog, and says how far the project's
 * running export is (its percentage while it renders).
 */
export function ExportButton({ exports, onClick }: { exports: ProjectExports; onClick: () => void }) {
  const active = exports.running.find((item) => item.status === 'rendering') ?? exports.running[0];
  return (
    <Button variant="secondary" className="h-8 px-3" aria-haspopup="dialog" onClick={onClick} title={active ? `${exportTitle(active)}: ${statusText(active)}` : undefined}>
      <ExportIcon />
      Export
      {active && (
        <span className="flex items-center gap-1.5 text-xs tabular-nums text-zinc-400">
          <Spinner className="size-3.5" />
          {active.status === 'rendering' ? `${percentDone(active)}%` : <span className="sr-only">{statusText(active)}</span>}
        </span>
      )}
    </Button>
  );
}

/**
 * "Export video": the form (format, resolution scale, and the frame of a PNG still) for
 * the composition the preview plays, and the project's recent exports with their
 * progress, Cancel while they run and Download when done. Exports go on on the server
 * when the dialog closes; the list comes back on the next open (and after a reload).
 */
export function ExportDialog({
  exports,
  composition,
  initialFrame,
  currentVersion,
  onClose,
}: {
  exports: ProjectExports;
  /** What the preview reported; null until it has loaded the video (no export can start before). */
  composition: PreviewComposition | null;
  /** The preview's frame when the dialog opened: the still's default. */
  initialFrame: number;
  /** The project's current version, which a new export renders (null when unknown). */
  currentVersion: string | null;
  onClose: () => void;
}) {
  const [format, setFormat] = useState<ExportFormat>('mp4');
  const [scale, setScale] = useState(1);
  const [frameText, setFrameText] = useState(() =>
    String(composition ? Math.min(Math.max(0, initialFrame), composition.durationInFrames - 1) : Math.max(0, initialFrame)),
  );
  const [errors, setErrors] = useState<{ frame?: string; form?: string }>({});
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  const scaleId = useId();
  const listHeadingId = useId();
  const { refresh } = exports;

  // Another tab of this person may have exported meanwhile.
  useEffect(() => {
    void refresh();
  }, [refresh]);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!composition || busy) return;
    const request: CreateExportRequest = { compositionId: composition.compositionId, format, scale };
    if (format === 'png') {
      const problem = frameError(frameText, composition.durationInFrames);
      if (problem) {
        setErrors({ frame: problem });
        formRef.current?.querySelector<HTMLInputElement>('input[name="frame"]')?.focus();
        return;
      }
      request.frame = Number(frameText);
    }
    setBusy(true);
    setErrors({});
    try {
      await exports.start(request);
    } catch (error) {
      if (error instanceof ApiError) {
        const frame = error.fieldError('frame');
        setErrors(frame ? { frame } : { form: error.fieldError('scale') ?? error.fieldError('compositionId') ?? error.message });
      } else {
        setErrors({ form: 'The export could not be started. Try again.' });
      }
    } finally {
      setBusy(false);
    }
  }

  const { state } = exports;
  const now = useNow();
  const last = composition ? composition.durationInFrames - 1 : 0;

  return (
    <Dialog
      open
      wide
      onClose={onClose}
      title="Export video"
      description="Renders the project’s current version on the server. It goes on if you close this dialog."
    >
      <form ref={formRef} onSubmit={submit} noValidate className="scheme-dark">
        {composition ? (
          <p className="mb-4 flex flex-wrap items-center gap-x-2 gap-y-1 rounded-lg bg-ink-900 px-3 py-2 text-xs text-zinc-400 ring-1 ring-ink-700">
            <span className="font-medium text-zinc-200">{composition.compositionId}</span>
            <span aria-hidden="true">·</span>
            <span>{pixelSize(composition, 1)}</span>
            <span aria-hidden="true">·</span>
            <span>
              {composition.durationInFrames} frames at {composition.fps} fps ({seconds(composition.durationInFrames, composition.fps)})
            </span>
            {currentVersion && (
              <>
                <span aria-hidden="true">·</span>
                <span>
                  version <span className="font-mono text-zinc-300">{shortVersion(currentVersion)}</span>
                </span>
              </>
            )}
          </p>
        ) : (
          <p role="status" className="mb-4 flex items-center gap-2 rounded-lg bg-ink-900 px-3 py-2 text-xs text-zinc-400 ring-1 ring-ink-700">
            <Spinner className="size-3.5" /> Waiting for the preview to load the video: an export needs its composition.
          </p>
        )}

        <fieldset>
          <legend className="mb-2 text-sm font-medium text-zinc-300">Format</legend>
          <div className="grid grid-cols-2 gap-2">
            {formats.map((option) => (
              <FormatOption key={option.format} {...option} checked={format === option.format} onChange={() => setFormat(option.format)} />
            ))}
          </div>
        </fieldset>

        <div className="mt-4 flex flex-wrap items-start gap-3">
          <div className="min-w-48 flex-1">
            <label htmlFor={scaleId} className="mb-1.5 block text-sm font-medium text-zinc-300">
              Resolution
            </label>
            <select
              id={scaleId}
              name="scale"
              value={scale}
              onChange={(event) => setScale(Number(event.target.value))}
              className="block h-10 w-full rounded-lg bg-ink-900 px-3 text-sm text-zinc-100 ring-1 ring-inset ring-ink-600 focus:outline-none focus:ring-2 focus:ring-brand-500"
            >
              {exportScales.map((option) => (
                <option key={option} value={option}>
                  {composition ? `${scaleLabel(option)} · ${pixelSize(composition, option)}` : scaleLabel(option)}
                </option>
              ))}
            </select>
          </div>
          {format === 'png' && (
            <TextField
              className="min-w-48 flex-1"
              label="Frame"
              name="frame"
              type="number"
              inputMode="numeric"
              min={0}
              max={last}
              step={1}
              value={frameText}
              onChange={(event) => {
                setFrameText(event.target.value);
                if (errors.frame) setErrors({});
              }}
              disabled={!composition}
              error={errors.frame}
              hint={composition ? `0 to ${last}${frameTime(frameText, composition)}` : undefined}
            />
          )}
        </div>

        {errors.form && (
          <p role="alert" className="mt-4 rounded-lg bg-red-950/50 px-3 py-2 text-sm text-red-300 ring-1 ring-red-900">
            {errors.form}
          </p>
        )}

        <div className="mt-5 flex justify-end">
          <Button type="submit" busy={busy} disabled={!composition}>
            Start export
          </Button>
        </div>
      </form>

      <section aria-labelledby={listHeadingId} className="mt-6 border-t border-ink-700 pt-5">
        <h3 id={listHeadingId} className="text-sm font-semibold text-zinc-200">
          Recent exports
        </h3>
        {state.status === 'loading' && (
          <p role="status" className="mt-3 flex items-center gap-2 text-sm text-zinc-400">
            <Spinner className="size-4" /> Loading the exports…
          </p>
        )}
        {state.status === 'error' && (
          <div role="alert" className="mt-3 flex items-center gap-3 text-sm text-red-300">
            <span className="min-w-0 flex-1">{state.error}</span>
            <Button variant="secondary" className="h-8 px-3" onClick={exports.retry}>
              Try again
            </Button>
          </div>
        )}
        {state.status === 'ready' && state.error && (
          <p role="alert" className="mt-2 text-xs text-red-300">
            Could not refresh the exports: {state.error}
          </p>
        )}
        {state.status === 'ready' && state.exports.length === 0 && (
          <p className="mt-2 text-sm text-zinc-400">No exports yet. Each one shows here, with its file once it is done.</p>
        )}
        {state.exports.length > 0 && (
          <ol aria-labelledby={listHeadingId} className="-mx-1 mt-3 max-h-80 space-y-2 overflow-y-auto px-1 py-1">
            {state.exports.map((item) => (
              <ExportItem key={item.id} item={item} now={now} current={item.version === currentVersion} onCancel={() => exports.cancel(item.id)} />
            ))}
          </ol>
        )}
        <p role="status" className="sr-only">
          {state.finished?.text}
        </p>
      </section>

      <div className="mt-6 flex justify-end">
        <Button type="button" variant="ghost" onClick={onClose}>
          Close
        </Button>
      </div>
    </Dialog>
  );
}

/** " · 2.0 s" for a valid frame, nothing otherwise. */
function frameTime(frameText: string, composition: PreviewComposition) {
  return frameError(frameText, composition.durationInFrames) ? '' : ` · at ${seconds(Number(frameText), composition.fps)}`;
}

function FormatOption({ format, hint, checked, onChange }: { format: ExportFormat; hint: string; checked: boolean; onChange: () => void }) {
  const nameId = useId();
  const hintId = useId();
  return (
    <label
      className={`flex cursor-pointer flex-col gap-0.5 rounded-xl px-3 py-2.5 ring-1 ring-inset transition-colors has-[:focus-visible]:outline-2 has-[:focus-visible]:outline-offset-2 has-[:focus-visible]:outline-brand-500 ${
        checked ? 'bg-brand-500/10 ring-brand-500' : 'bg-ink-900 ring-ink-600 hover:bg-ink-800'
      }`}
    >
      <span className="flex items-center gap-2">
        <input
          type="radio"
          name="format"
          value={format}
          checked={checked}
          onChange={onChange}
          aria-labelledby={nameId}
          aria-describedby={hintId}
          className="size-3.5 shrink-0 accent-brand-500 focus:outline-none"
        />
        <span id={nameId} className="text-sm font-medium text-zinc-100">
          {formatLabels[format]}
        </span>
      </span>
      <span id={hintId} className="pl-5.5 text-xs leading-snug text-zinc-400">
        {hint}
      </span>
    </label>
  );
}

const iconProps = { viewBox: '0 0 20 20', fill: 'none', stroke: 'currentColor', strokeWidth: 1.7, strokeLinecap: 'round', strokeLinejoin: 'round', 'aria-hidden': true } as const;
const ExportIcon = () => (
  <svg {...iconProps} className="size-4">
    <path d="M10 12.5V3.5M6.5 7L10 3.5 13.5 7M4 11.5v3A1.5 1.5 0 0 0 5.5 16h9a1.5 1.5 0 0 0 1.5-1.5v-3" />
  </svg>
);
