import { type Waveform, rowPeaks } from './waveform';
import { AppToPreview, PreviewToApp, type PreviewCompositionSummary, type PreviewSequence } from '@cutroom/protocol';
import { useCallback, useEffect, useEffectEvent, useMemo, useRef, useState } from 'react';
import { api } from '../api/client';
import { Button } from '../components/Button';
import { Spinner } from '../components/Spinner';
import type { SessionView } from './use-session';
import { waitingText } from './waiting-text';

/** What the preview says about the video it plays (`remotion:ready`): its composition's id, length and size. */
export type PreviewComposition = Extract<PreviewToApp, { type: 'remotion:ready' }>;
/** What the preview says about an error (see `remotion:error`). */
export type PreviewErrorReport = { message: string; stack: string | null; componentStack: string | null; file: string | null };
type PreviewError = PreviewErrorReport & { id: number };

const formatTime = (frame: number, fps: number) => {
  const seconds = frame / fps;
  return `${Math.floor(seconds / 60)}:${(seconds % 60).toFixed(1).padStart(4, '0')}`;
};

/**
 * The live preview: the session's Player in a sandboxed iframe on the preview origin
 * (`allow-scripts` only: no same-origin, so project code can touch nothing of the
 * app), play/pause, the timeline of the video's sequences with a playhead, and the
 * preview's errors. Messages from the iframe count only when they come from its window.
 * `onError` hears every error report and `onRecover` that the video renders again
 * (its sequences mounted), for automatic fixes. `onComposition` hears the composition
 * the preview plays and `onFrame` its current frame (for exports). The composition picker
 * lists every composition the project's Root registers; the choice is kept per project
 * (in this browser) and survives a reload.
 */
export function PreviewPanel({
  projectId,
  chosenComposition = null,
  view,
  onRestart,
  onError,
  onRecover,
  onComposition,
  onFrame,
}: {
  projectId: string;
  /** The composition the project keeps as chosen (this browser's own choice comes first). */
  chosenComposition?: string | null;
  view: SessionView;
  onRestart: () => void;
  onError?: (error: PreviewErrorReport) => void;
  onRecover?: () => void;
  onComposition?: (composition: PreviewComposition) => void;
  onFrame?: (frame: number) => void;
}) {
  const iframeRef = useRef<HTMLIFrameElement>(null);
  const [composition, setComposition] = useState<PreviewComposition | null>(null);
  const [compositions, setCompositions] = useState<{ list: PreviewCompositionSummary[]; selected: string | null }>({ list: [], selected: null });
  const [sequences, setSequences] = useState<PreviewSequence[]>([]);
  /** Waveforms of the audio the preview plays, by source. */
  const [waveforms, setWaveforms] = useState<Map<string, Waveform>>(() => new Map());
  const [notices, setNotices] = useState<string[]>([]);
  const [frame, setFrame] = useState(0);
  const [playing, setPlaying] = useState(false);
  const [errors, setErrors] = useState<PreviewError[]>([]);
  const nextErrorId = useRef(1);
  const previewUrl = previewUrlOf(view);
  // The page reads the composition to play from its URL: a new page starts on the saved choice.
  const frameUrl = useMemo(() => {
    if (!previewUrl) return undefined;
    const saved = savedComposition(projectId) ?? chosenComposition;
    return saved ? `${previewUrl}#composition=${encodeURIComponent(saved)}` : previewUrl;
  }, [previewUrl, projectId, chosenComposition]);
  const reportError = useEffectEvent((error: PreviewErrorReport) => onError?.(error));
  const reportRecovery = useEffectEvent(() => onRecover?.());
  const reportComposition = useEffectEvent((composition: PreviewComposition) => onComposition?.(composition));
  const reportFrame = useEffectEvent((frame: number) => onFrame?.(frame));

  useEffect(() => {
    const onMessage = (event: MessageEvent) => {
      // A sandboxed iframe's origin reads "null": only its window proves who sent it.
      if (!iframeRef.current || event.source !== iframeRef.current.contentWindow) return;
      const parsed = PreviewToApp.safeParse(event.data);
      if (!parsed.success) return;
      const message = parsed.data;
      switch (message.type) {
        case 'remotion:notices':
          // Said first on every load of the page: what an earlier load reported is over
          // (this one reports its own errors again).
          setNotices(message.notices);
          setErrors([]);
          return;
        case 'remotion:compositions':
          setCompositions({ list: message.compositions, selected: message.selected });
          return;
        case 'remotion:ready':
          setComposition(message);
          reportComposition(message);
          return;
        case 'remotion:waveform':
          setWaveforms((known) => new Map(known).set(message.src, { peaks: message.peaks, durationInSeconds: message.durationInSeconds }));
          return;
        case 'remotion:sequences':
          setSequences(message.sequences);
          // Sequences mounted again: the composition renders, so past errors are over.
          if (message.sequences.length > 0) {
            setErrors([]);
            reportRecovery();
          }
          return;
        case 'remotion:frame':
          setFrame(message.frame);
          setPlaying(message.playing);
          reportFrame(message.frame);
          return;
        case 'remotion:error': {
          const error: PreviewErrorReport = {
            message: message.message,
            stack: message.stack,
            componentStack: message.componentStack ?? null,
            file: message.file ?? null,
          };
          setErrors((current) => (current.at(-1)?.message === error.message ? current : [...current.slice(-4), { ...error, id: nextErrorId.current++ }]));
          reportError(error);
          return;
        }
      }
    };
    window.addEventListener('message', onMessage);
    return () => window.removeEventListener('message', onMessage);
  }, []);

  const command = useCallback((message: AppToPreview) => {
    iframeRef.current?.contentWindow?.postMessage(AppToPreview.parse(message), '*');
  }, []);

  const select = (compositionId: string) => {
    saveComposition(projectId, compositionId);
    // The project keeps the choice too: its thumbnail shows it, another browser starts on it.
    void api('PATCH /api/projects/:id', { params: { id: projectId }, body: { compositionId } }).catch(() => {
      // Not kept on the server (offline, signed out): this browser still remembers it.
    });
    setCompositions((current) => ({ ...current, selected: compositionId }));
    setComposition(null);
    setSequences([]);
    setFrame(0);
    command({ type: 'player:select', compositionId });
  };

  const duration = composition?.durationInFrames ?? 1;
  const fps = composition?.fps ?? 30;

  return (
    <section aria-label="Preview" className="flex min-h-0 flex-1 flex-col gap-3 p-4">
      <div className="relative flex min-h-0 flex-1 items-center justify-center overflow-hidden rounded-2xl bg-black ring-1 ring-ink-800">
        {previewUrl && (
          <iframe
            ref={iframeRef}
            key={previewUrl}
            title="Video preview"
            src={frameUrl}
            sandbox="allow-scripts"
            className="h-full w-full border-0"
          />
        )}
        <SessionOverlay view={view} onRestart={onRestart} />
      </div>

      {notices.length > 0 && (
        <ul aria-label="Preview notices" className="space-y-1 rounded-xl bg-amber-950/40 px-3 py-2 text-xs text-amber-200 ring-1 ring-amber-900/60">
          {notices.map((notice) => (
            <li key={notice}>{notice}</li>
          ))}
        </ul>
      )}

      {errors.length > 0 && (
        <div role="alert" aria-label="Preview errors" className="max-h-40 overflow-y-auto rounded-xl bg-red-950/60 p-3 text-sm ring-1 ring-red-900">
          <div className="mb-1 flex items-center justify-between">
            <p className="font-medium text-red-200">The preview hit an error</p>
            <button type="button" onClick={() => setErrors([])} className="rounded px-2 text-xs text-red-300 hover:bg-red-900/60">
              Dismiss
            </button>
          </div>
          {errors.map((error) => (
            <details key={error.id} className="text-red-200/90">
              <summary className="cursor-pointer font-mono text-xs">
                {error.message}
                {error.file && <span className="ml-2 text-red-300/70">({error.file})</span>}
              </summary>
              {error.stack && <pre className="mt-1 overflow-x-auto whitespace-pre-wrap font-mono text-[11px] text-red-300/80">{error.stack}</pre>}
              {error.componentStack && (
                <pre aria-label="Component stack" className="mt-1 overflow-x-auto whitespace-pre-wrap font-mono text-[11px] text-red-300/60">
                  {error.componentStack}
                </pre>
              )}
            </details>
          ))}
        </div>
      )}

      <section aria-labelledby="timeline-heading" className="shrink-0 rounded-2xl bg-ink-900 p-3 ring-1 ring-ink-800">
        <div className="mb-2 flex items-center gap-3">
          <button
            type="button"
            aria-label={playing ? 'Pause' : 'Play'}
            disabled={!composition}
            onClick={() => command({ type: playing ? 'player:pause' : 'player:play' })}
            className="flex size-8 items-center justify-center rounded-lg bg-ink-800 text-zinc-100 ring-1 ring-ink-600 hover:bg-ink-700 disabled:opacity-50"
          >
            {playing ? (
              <svg viewBox="0 0 20 20" className="size-4" fill="currentColor" aria-hidden="true"><rect x="5" y="4" width="3.5" height="12" rx="1" /><rect x="11.5" y="4" width="3.5" height="12" rx="1" /></svg>
            ) : (
              <svg viewBox="0 0 20 20" className="size-4" fill="currentColor" aria-hidden="true"><path d="M6 4l10 6-10 6z" /></svg>
            )}
          </button>
          <h2 id="timeline-heading" className="text-xs font-semibold uppercase tracking-wider text-zinc-500">
            Timeline
          </h2>
          <CompositionPicker compositions={compositions.list} selected={compositions.selected} onSelect={select} />
          <span className="ml-auto font-mono text-xs tabular-nums text-zinc-400" aria-label="Current time">
            {composition ? `${formatTime(frame, fps)} / ${formatTime(duration, fps)} · frame ${frame}` : '–'}
          </span>
        </div>
        <Timeline sequences={sequences} waveforms={waveforms} fps={fps} durationInFrames={duration} frame={frame} onSeek={(target) => command({ type: 'player:seek', frame: target })} />
      </section>
    </section>
  );
}

const choiceKey = (projectId: string) => `cutroom:composition:${projectId}`;

/** The composition last chosen for a project in this browser. */
function savedComposition(projectId: string): string | null {
  try {
    return localStorage.getItem(choiceKey(projectId));
  } catch {
    return null;
  }
}

function saveComposition(projectId: string, compositionId: string) {
  try {
    localStorage.setItem(choiceKey(projectId), compositionId);
  } catch {
    // Storage off (private mode, full): the choice lasts until the page reloads.
  }
}

/** Which composition plays: every one the Root registers, grouped by `<Folder>`. */
function CompositionPicker({ compositions, selected, onSelect }: { compositions: PreviewCompositionSummary[]; selected: string | null; onSelect: (id: string) => void }) {
  if (compositions.length === 0) return null;
  const folders = new Map<string | null, PreviewCompositionSummary[]>();
  for (const composition of compositions) folders.set(composition.folder, [...(folders.get(composition.folder) ?? []), composition]);
  const option = (composition: PreviewCompositionSummary) => (
    <option key={composition.id} value={composition.id}>
      {composition.id}
      {composition.still ? ' (still)' : ''}
    </option>
  );
  return (
    <label className="flex min-w-0 items-center gap-2 text-xs text-zinc-400">
      <span className="sr-only">Composition</span>
      <select
        aria-label="Composition"
        value={selected ?? ''}
        onChange={(event) => onSelect(event.target.value)}
        className="max-w-56 truncate rounded-md bg-ink-800 px-2 py-1 text-xs text-zinc-100 ring-1 ring-ink-600 focus:outline-none focus:ring-brand-500"
      >
        {[...folders.entries()].map(([folder, members]) =>
          folder === null ? (
            members.map(option)
          ) : (
            <optgroup key={folder} label={folder}>
              {members.map(option)}
            </optgroup>
          ),
        )}
      </select>
    </label>
  );
}

/** The preview the iframe shows (kept while reconnecting). */
export const previewUrlOf = (view: SessionView) => (view.phase === 'ready' || view.phase === 'reconnecting' ? view.previewUrl : undefined);


/** How each kind of row looks: plain sequences in the brand colour, media each in its own. */
const ROW_STYLES: Record<NonNullable<PreviewSequence['kind']>, string> = {
  sequence: 'bg-brand-500/20 text-brand-100 ring-brand-500/40 hover:bg-brand-500/30',
  video: 'bg-sky-500/20 text-sky-100 ring-sky-500/40 hover:bg-sky-500/30',
  audio: 'bg-emerald-500/15 text-emerald-100 ring-emerald-500/40 hover:bg-emerald-500/25',
  image: 'bg-amber-500/15 text-amber-100 ring-amber-500/40 hover:bg-amber-500/25',
};

function Timeline({
  sequences,
  waveforms,
  fps,
  durationInFrames,
  frame,
  onSeek,
}: {
  sequences: PreviewSequence[];
  waveforms: Map<string, Waveform>;
  fps: number;
  durationInFrames: number;
  frame: number;
  onSeek: (frame: number) => void;
}) {
  const trackRef = useRef<HTMLDivElement>(null);
  const percent = (value: number) => `${Math.min(100, Math.max(0, (value / durationInFrames) * 100))}%`;

  const seekTo = (clientX: number) => {
    const rect = trackRef.current?.getBoundingClientRect();
    if (!rect || rect.width === 0) return;
    const ratio = Math.min(1, Math.max(0, (clientX - rect.left) / rect.width));
    onSeek(Math.min(durationInFrames - 1, Math.round(ratio * durationInFrames)));
  };

  if (sequences.length === 0) {
    return <p className="py-2 text-sm text-zinc-500">The video's sequences will show here while the preview plays.</p>;
  }
  return (
    <div
      ref={trackRef}
      className="relative cursor-pointer select-none"
      onClick={(event) => seekTo(event.clientX)}
      role="group"
      aria-label="Sequences"
    >
      <ul className="space-y-1">
        {sequences.map((sequence) => (
          <li key={sequence.id} className="relative h-7">
            <button
              type="button"
              title={`${sequence.name}: frames ${sequence.from}–${sequence.from + sequence.durationInFrames - 1}`}
              aria-label={`${sequence.name}${sequence.kind && sequence.kind !== 'sequence' ? `, ${sequence.kind}` : ''}, from frame ${sequence.from}, ${sequence.durationInFrames} frames`}
              data-kind={sequence.kind ?? 'sequence'}
              onClick={(event) => {
                event.stopPropagation();
                onSeek(Math.max(0, sequence.from));
              }}
              style={{ left: percent(sequence.from), width: percent(sequence.durationInFrames), marginLeft: sequence.depth * 4 }}
              className={`absolute inset-y-0 flex items-center gap-1.5 overflow-hidden truncate rounded-md px-2 text-left text-xs font-medium ring-1 ring-inset ${ROW_STYLES[sequence.kind ?? 'sequence']}`}
            >
              {sequence.kind === 'audio' && sequence.src && waveforms.has(sequence.src) && (
                <WaveformBars peaks={rowPeaks(waveforms.get(sequence.src)!, sequence, fps)} />
              )}
              {sequence.kind && sequence.kind !== 'sequence' && <KindIcon kind={sequence.kind} />}
              <span className="relative truncate">{sequence.name}</span>
            </button>
          </li>
        ))}
      </ul>
      <div aria-hidden="true" data-testid="playhead" className="pointer-events-none absolute -inset-y-1 w-0.5 bg-white shadow-[0_0_6px_rgba(255,255,255,0.6)]" style={{ left: percent(frame) }} />
    </div>
  );
}

/** An audio row's loudness, drawn behind its name. */
function WaveformBars({ peaks }: { peaks: number[] }) {
  if (peaks.length === 0) return null;
  return (
    <svg data-testid="waveform" aria-hidden="true" className="pointer-events-none absolute inset-0 h-full w-full text-emerald-400/50" viewBox={`0 0 ${peaks.length} 100`} preserveAspectRatio="none">
      {peaks.map((peak, index) => {
        const height = Math.max(4, peak * 90);
        return <rect key={index} x={index + 0.15} width={0.7} y={50 - height / 2} height={height} fill="currentColor" />;
      })}
    </svg>
  );
}

/** A media row's kind, as a small mark before its name. */
function KindIcon({ kind }: { kind: 'video' | 'audio' | 'image' }) {
  const paths = {
    video: 'M3 5h10v10H3zM13 8l4-2v8l-4-2z',
    audio: 'M8 14V4l8-2v10M8 14a2 2 0 1 1-4 0 2 2 0 0 1 4 0Zm8-2a2 2 0 1 1-4 0 2 2 0 0 1 4 0Z',
    image: 'M3 4h14v12H3zM3 13l4-4 4 4 2-2 4 4',
  };
  return (
    <svg viewBox="0 0 20 20" className="relative size-3.5 shrink-0" fill="none" stroke="currentColor" strokeWidth={1.6} aria-hidden="true">
      <path d={paths[kind]} />
    </svg>
  );
}

function SessionOverlay({ view, onRestart }: { view: SessionView; onRestart: () => void }) {
  if (view.phase === 'ready') return null;
  const content = (() => {
    switch (view.phase) {
      case 'connecting':
      case 'starting':
        return (
          <div role="status" className="flex items-center gap-3 text-sm text-zinc-300">
            <Spinner /> {view.phase === 'starting' && view.queued ? waitingText(view.queued) : 'Starting the preview…'}
          </div>
        );
      case 'reconnecting':
        return (
          <div role="status" className="flex items-center gap-3 text-sm text-zinc-300">
            <Spinner /> Connection lost. Reconnecting…
          </div>
        );
      case 'ended':
        return (
          <div className="text-center">
            <p className="font-medium">This session has ended</p>
            <p className="mt-1 max-w-sm text-sm text-zinc-400">{view.reason}</p>
            <Button className="mt-4" onClick={onRestart}>Start again</Button>
          </div>
        );
      case 'error':
        return (
          <div role="alert" className="text-center">
            <p className="font-medium text-red-300">The preview stopped</p>
            <p className="mt-1 max-w-sm text-sm text-zinc-400">{view.message}</p>
            {view.canRestart && <Button className="mt-4" onClick={onRestart}>Restart preview</Button>}
          </div>
        );
    }
  })();
  const translucent = view.phase === 'reconnecting';
  return (
    <div className={`absolute inset-0 flex items-center justify-center p-6 ${translucent ? 'bg-black/50' : 'bg-ink-950/95'}`}>
      {content}
    </div>
  );
}
