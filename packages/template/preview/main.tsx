import { Player, PlayerInternals, type PlayerRef } from '@remotion/player';
import { Component, memo, useEffect, useMemo, useRef, useState, useSyncExternalStore, type ComponentType, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { Internals } from 'remotion';
import type { ErrorPayload } from 'vite';
// Where the page loads the working copy's files from (served by the runtime's plugin).
import { infoGeneration, notices, packagesError, packagesPending, projectUrl } from '@cutroom/project-info';
import { createRelativiser } from './relative-paths';

/**
 * The preview page: runs the project's own entry point (its `registerRoot`), renders the
 * Root it registered to learn every `<Composition>` and `<Still>` (inside their
 * `<Folder>`s), and plays the chosen one in the Remotion Player, in a sandboxed iframe on
 * the preview origin, with `calculateMetadata`, `defaultProps` and the zod `schema`
 * applied as Remotion applies them. It tells its parent about the compositions, the one
 * it plays, its sequences (for the timeline), the current frame and any error, and
 * obeys play/pause/seek/select from the parent. Messages go out with target '*' (the
 * only one that reaches a parent from an opaque origin), so nothing secret is ever sent.
 * Nothing here is required of the project: it is Remotion's own contract.
 */
type CompositionSummary = {
  id: string;
  folder: string | null;
  still: boolean;
  width: number | null;
  height: number | null;
  fps: number | null;
  durationInFrames: number | null;
};
type Outgoing =
  | { type: 'remotion:compositions'; compositions: CompositionSummary[]; selected: string | null }
  | { type: 'remotion:notices'; notices: string[] }
  | { type: 'remotion:ready'; compositionId: string; durationInFrames: number; fps: number; width: number; height: number }
  | { type: 'remotion:sequences'; sequences: { id: string; name: string; from: number; durationInFrames: number; depth: number; kind?: MediaKind; src?: string; mediaFrom?: number; playbackRate?: number }[] }
  | { type: 'remotion:waveform'; src: string; durationInSeconds: number; peaks: number[] }
  | { type: 'remotion:frame'; frame: number; playing: boolean }
  | { type: 'remotion:error'; message: string; stack: string | null; componentStack: string | null; file: string | null };

const post = (message: Outgoing) => window.parent.postMessage(message, '*');
// Said on every load (an empty list clears what an earlier load said).
post({ type: 'remotion:notices', notices });

// What Remotion's Studio sets for a project's code: `staticFile()` names files of
// `public/` under the page's base (Vite serves `public/` there), and `getInputProps()`
// returns the (empty) input props instead of throwing.
const remotionGlobals = window as unknown as { remotion_staticBase?: string; remotion_inputProps?: string };
remotionGlobals.remotion_staticBase = import.meta.env.BASE_URL.replace(/\/$/, '');
remotionGlobals.remotion_inputProps = '{}';

// Reports name files relative to the working copy, never by the server's paths (relative-paths.ts).
const relativise = createRelativiser(projectUrl, location.href);
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The first project file a (relativised) stack names, without its line and column. */
const projectFile = (stack: string | null) =>
  stack?.match(/(?:^|[\s(@])((?!node_modules\/|vite\/|main\.tsx)(?:[\w.@-]+\/)*[\w.@-]+\.(?:tsx?|jsx?|mjs|cjs|css))(?=[:)\s]|$)/m)?.[1] ?? null;

/** React's component stacks, from the root's error callbacks, for the report of the same error. */
const componentStacks = new WeakMap<object, string>();

type ErrorLike = { message?: unknown; stack?: unknown } | null | undefined;

function reportError(error: unknown, fallback: string, details: { file?: string | null; extraStack?: string; prefix?: string } = {}) {
  const known = typeof error === 'object' && error !== null ? (error as ErrorLike) : undefined;
  let message = relativise(String(known?.message ?? (typeof error === 'string' ? error : fallback)));
  // Build errors also name the file relative to the server's folder (`../…/src/x.tsx`).
  if (details.file) message = message.replace(new RegExp(`[^\\s\\[\\](),'"]*/${escapeRegExp(details.file)}`, 'g'), details.file);
  if (details.prefix) message = `${details.prefix}${message}`;
  const rawStack = [details.extraStack, typeof known?.stack === 'string' ? known.stack : undefined].filter(Boolean).join('\n');
  const stack = rawStack ? relativise(rawStack) : null;
  const rawComponentStack = known ? componentStacks.get(known) : undefined;
  const componentStack = rawComponentStack ? relativise(rawComponentStack).replace(/^\n+/, '') : null;
  post({
    type: 'remotion:error',
    message: message.slice(0, 10_000),
    stack: stack?.slice(0, 50_000) ?? null,
    componentStack: componentStack?.slice(0, 50_000) ?? null,
    file: details.file ?? projectFile(stack) ?? projectFile(componentStack),
  });
}

window.addEventListener('error', (event) => reportError(event.error, event.message));
// The project's packages could not be installed: said first (what fails to import next follows from it).
if (packagesError) reportError(packagesError, packagesError, { file: 'package.json' });
window.addEventListener('unhandledrejection', (event) => reportError(event.reason, 'Unhandled promise rejection'));

/** The entry point failed to load: its modules never ran, so no hot update can reach them. */
let entryFailed = false;
/** A hot update failed to build (Vite reports it before the update is over). */
let updateFailed = false;
if (import.meta.hot) {
  // What this page knows of the project (its packages, notices) may have changed between
  // loading it and connecting: the runtime reloads the page then.
  import.meta.hot.send('cutroom:project-info', { generation: infoGeneration });
  import.meta.hot.on('vite:beforeUpdate', () => {
    updateFailed = false;
    if (entryFailed) location.reload();
  });
  import.meta.hot.on('vite:error', ({ err }: ErrorPayload) => {
    updateFailed = true;
    // A build error names the file on disk (`loc.file`, else the module id).
    const onDisk = (err.loc?.file ?? err.id)?.replace(/\?.*$/, '');
    const file = onDisk ? relativise(onDisk) : null;
    reportError(err, 'Build error', { file: file && !file.startsWith('/') ? file : null, extraStack: err.frame });
  });
}

// ---------------------------------------------------------------------------------------
// The compositions the Root registers, through Remotion's own registration context.

type Registered = {
  id: string;
  component: ComponentType<Record<string, unknown>>;
  width?: number;
  height?: number;
  fps?: number;
  durationInFrames?: number;
  defaultProps: Record<string, unknown>;
  schema: { safeParse?: (value: unknown) => { success: boolean; error?: { message?: string } } } | null;
  calculateMetadata: unknown;
  folderName: string | null;
  parentFolderName: string | null;
};

/**
 * Registered compositions by id, in the Root's order. A hot update of the Root
 * unregisters and registers again in one commit: removals wait a tick, so a composition
 * that comes back keeps its place (and its object, when nothing about it changed).
 */
const registry = (() => {
  const entries = new Map<string, Registered>();
  const removing = new Set<string>();
  const listeners = new Set<() => void>();
  let snapshot: Registered[] = [];
  let scheduled = false;
  const publish = () => {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      for (const id of removing) entries.delete(id);
      removing.clear();
      snapshot = [...entries.values()];
      for (const listener of listeners) listener();
    });
  };
  return {
    register(composition: Registered) {
      removing.delete(composition.id);
      entries.set(composition.id, composition);
      publish();
    },
    unregister(id: string) {
      removing.add(id);
      publish();
    },
    subscribe(listener: () => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    get: () => snapshot,
  };
})();

const noop = () => {};
const setters = {
  registerComposition: (composition: Registered) => registry.register(composition),
  unregisterComposition: (id: string) => registry.unregister(id),
  registerFolder: noop,
  unregisterFolder: noop,
  setCanvasContent: noop,
  setCurrentAssetMetadata: noop,
  onlyRenderComposition: null,
} as unknown as React.ContextType<typeof Internals.CompositionSetters>;

const folderOf = (composition: Registered) => [composition.parentFolderName, composition.folderName].filter(Boolean).join('/') || null;

const summary = (composition: Registered): CompositionSummary => ({
  id: composition.id,
  folder: folderOf(composition),
  // `<Still>` registers one frame at 1 fps.
  still: composition.durationInFrames === 1 && composition.fps === 1,
  width: composition.width ?? null,
  height: composition.height ?? null,
  fps: composition.fps ?? null,
  durationInFrames: composition.durationInFrames ?? null,
});

// ---------------------------------------------------------------------------------------
// Which composition plays: the parent's choice, kept in the page's URL (`#composition=…`)
// so that a reload (a full reload from Vite, say) keeps it.

const selectedFromUrl = () => new URLSearchParams(location.hash.slice(1)).get('composition');
let chosen = selectedFromUrl();
const choiceListeners = new Set<() => void>();
function choose(id: string) {
  if (id === chosen) return;
  chosen = id;
  // Another composition starts at its first frame.
  lastFrame = 0;
  const params = new URLSearchParams(location.hash.slice(1));
  params.set('composition', id);
  history.replaceState(history.state, '', `#${params}`);
  for (const listener of choiceListeners) listener();
}

// ---------------------------------------------------------------------------------------

type MediaKind = 'sequence' | 'video' | 'audio' | 'image';
type RegisteredSequence = {
  id: string;
  displayName: string;
  from: number;
  duration: number;
  parent: string | null;
  showInTimeline: boolean;
  type?: string;
  src?: string;
  startMediaFrom?: number;
  playbackRate?: number;
};

type PlacedSequence = { id: string; name: string; from: number; durationInFrames: number; depth: number; kind?: MediaKind; src?: string; mediaFrom?: number; playbackRate?: number };

const kindOf = (sequence: RegisteredSequence): MediaKind =>
  sequence.type === 'video' || sequence.type === 'audio' || sequence.type === 'image' ? sequence.type : 'sequence';

/** Layers Remotion registers for its own wrappers (`<AbsoluteFill>`, …): not the video's parts. Media elements are. */
const isWrapperLayer = (sequence: RegisteredSequence) => kindOf(sequence) === 'sequence' && /^<.+>$/.test(sequence.displayName);

/** A media element's row name: its file's name (`logo.png`), else what Remotion calls it. */
function mediaName(sequence: RegisteredSequence): string {
  const generic = !sequence.displayName || /^<.+>$/.test(sequence.displayName);
  if (!generic || !sequence.src) return sequence.displayName || 'Sequence';
  try {
    return decodeURIComponent(new URL(sequence.src, location.href).pathname.split('/').at(-1) ?? '') || sequence.displayName;
  } catch {
    return sequence.displayName;
  }
}

/** Registered sequences → the timeline's rows: absolute start, depth among shown rows. */
function placeSequences(sequences: RegisteredSequence[]) {
  const byId = new Map(sequences.map((sequence) => [sequence.id, sequence]));
  return sequences
    .filter((sequence) => sequence.showInTimeline !== false && !isWrapperLayer(sequence))
    .map((sequence): PlacedSequence => {
      let from = sequence.from;
      let depth = 0;
      for (let parent = sequence.parent ? byId.get(sequence.parent) : undefined; parent; parent = parent.parent ? byId.get(parent.parent) : undefined) {
        from += parent.from;
        if (!isWrapperLayer(parent)) depth++;
      }
      const kind = kindOf(sequence);
      const media =
        kind === 'sequence'
          ? {}
          : {
              kind,
              ...(sequence.src ? { src: sequence.src.slice(0, 2_000) } : {}),
              ...(typeof sequence.startMediaFrom === 'number' && sequence.startMediaFrom >= 0 ? { mediaFrom: sequence.startMediaFrom } : {}),
              ...(typeof sequence.playbackRate === 'number' && sequence.playbackRate > 0 ? { playbackRate: sequence.playbackRate } : {}),
            };
      return { id: sequence.id, name: kind === 'sequence' ? sequence.displayName || 'Sequence' : mediaName(sequence), from, durationInFrames: Math.max(0, Math.round(sequence.duration)), depth, ...media };
    })
    .sort((a, b) => a.from - b.from || a.depth - b.depth);
}

/*
 * The Player reports its mounted sequences (as the Studio's timeline sees them) to a
 * callback in `PlayerInternals.TimelineSequenceObserverContext`: exported and typed by
 * @remotion/player 4.0.527, though not in its documentation. Used only here; the
 * browser tests fail if an upgrade drops it.
 */
let lastSequences = '';
let lastRegistered: RegisteredSequence[] = [];
const reportSequences = (sequences: RegisteredSequence[], { force = false } = {}) => {
  lastRegistered = sequences;
  const placed = placeSequences(sequences);
  const serialized = JSON.stringify(placed);
  if (serialized === lastSequences && !force) return;
  lastSequences = serialized;
  post({ type: 'remotion:sequences', sequences: placed });
  for (const sequence of placed) if (sequence.kind === 'audio' && sequence.src) void sendWaveform(sequence.src);
};

/**
 * An audio source's waveform, worked out once per source in this page (which can read the
 * project's media) with the Web Audio API, for the app's timeline: the loudest sample of each
 * of 120 stretches. No library: one that bundles a media parser would be pre-bundled by Vite
 * at every preview's start. Files over 64 MB are left without one (decoded whole, they would
 * cost the page too much memory).
 */
const waveforms = new Map<string, { peaks: number[]; durationInSeconds: number } | null>();
const WAVEFORM_SAMPLES = 120;
const WAVEFORM_MAX_BYTES = 64 * 1024 * 1024;
async function sendWaveform(src: string) {
  if (waveforms.has(src)) {
    const known = waveforms.get(src);
    if (known) post({ type: 'remotion:waveform', src, ...known });
    return;
  }
  waveforms.set(src, null);
  try {
    const response = await fetch(src);
    if (!response.ok || Number(response.headers.get('content-length') ?? 0) > WAVEFORM_MAX_BYTES) {
      await response.body?.cancel();
      return;
    }
    const audio = await new OfflineAudioContext(1, 1, 44_100).decodeAudioData(await response.arrayBuffer());
    const samples = audio.getChannelData(0);
    const stretch = Math.max(1, Math.ceil(samples.length / WAVEFORM_SAMPLES));
    const loudness: number[] = [];
    for (let start = 0; start < samples.length; start += stretch) {
      let loudest = 0;
      for (let at = start; at < Math.min(samples.length, start + stretch); at++) loudest = Math.max(loudest, Math.abs(samples[at]!));
      loudness.push(loudest);
    }
    const top = Math.max(...loudness, 1e-6);
    const peaks = loudness.map((value) => Math.round(Math.min(1, value / top) * 1000) / 1000);
    waveforms.set(src, { peaks, durationInSeconds: audio.duration });
    post({ type: 'remotion:waveform', src, peaks, durationInSeconds: audio.duration });
  } catch {
    // No waveform: the row still shows as audio.
  }
}

/**
 * Recovery after an error: React Refresh does not always reset an error boundary when
 * the broken file is fixed, so after any hot update while an error shows, the Root and
 * the Player are mounted afresh (the Player at the frame it was on).
 */
let showingError = false;
let lastFrame = 0;
const remountListeners = new Set<() => void>();
if (import.meta.hot) {
  import.meta.hot.on('vite:afterUpdate', () => {
    // React Refresh applies the new components a moment after the update: remount after it.
    if (showingError) {
      setTimeout(() => {
        showingError = false;
        for (const listener of remountListeners) listener();
      }, 150);
    }
    // An update that fixed a build error leaves the Player as it was, sequences and all:
    // say again what plays, so that the app knows the preview works (it clears errors then).
    setTimeout(() => {
      if (!showingError && !updateFailed) reportSequences(lastRegistered, { force: true });
    }, 600);
  });
}
const useRemountKey = () => {
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    const listener = () => setGeneration((value) => value + 1);
    remountListeners.add(listener);
    return () => {
      remountListeners.delete(listener);
    };
  }, []);
  return generation;
};

const Message: React.FC<{ children: ReactNode; tone?: 'error' | 'info' }> = ({ children, tone = 'info' }) => (
  <div style={{ color: tone === 'error' ? '#fca5a5' : '#d4d4d8', fontFamily: 'sans-serif', padding: 24, whiteSpace: 'pre-wrap' }}>{children}</div>
);

/** Catches what the Root throws while it renders (the Player has its own boundary). */
class RootBoundary extends Component<{ children: ReactNode }, { error: Error | null }> {
  override state: { error: Error | null } = { error: null };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  override render() {
    return this.state.error ? <Message tone="error">The Root failed: {relativise(this.state.error.message)}</Message> : this.props.children;
  }
}

/** The composition's metadata as Remotion computes it (its `calculateMetadata` applied), or why not. */
type Resolved =
  | { state: 'loading' }
  | { state: 'error'; message: string }
  | { state: 'ready'; width: number; height: number; fps: number; durationInFrames: number; props: Record<string, unknown> };

function useResolvedMetadata(composition: Registered): Resolved {
  // Kept with the registration it belongs to: while a hot update's new registration of
  // the same composition resolves, the last metadata keeps playing (no flash of loading).
  const [resolved, setResolved] = useState<{ of: Registered; value: Resolved } | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    const settle = (value: Resolved) => {
      if (!controller.signal.aborted) setResolved({ of: composition, value });
    };
    void (async () => {
      try {
        const outcome = Internals.resolveVideoConfigOrCatch({
          compositionId: composition.id,
          compositionWidth: composition.width ?? null,
          compositionHeight: composition.height ?? null,
          compositionFps: composition.fps ?? null,
          compositionDurationInFrames: composition.durationInFrames ?? null,
          calculateMetadata: composition.calculateMetadata as Parameters<typeof Internals.resolveVideoConfigOrCatch>[0]['calculateMetadata'],
          signal: controller.signal,
          defaultProps: composition.defaultProps ?? {},
          // The props it plays with: its defaults, under (empty) input props, as the Studio merges them.
          inputProps: { ...(composition.defaultProps ?? {}) },
        });
        if (outcome.type === 'error') throw outcome.error;
        const config = await outcome.result;
        if (controller.signal.aborted) return;
        const props = (config.props ?? {}) as Record<string, unknown>;
        // A schema checks the props, as the Studio checks them before it renders.
        const check = composition.schema?.safeParse?.(props);
        if (check && !check.success) {
          reportError(new Error(`The props of "${composition.id}" do not match its schema: ${check.error?.message ?? 'invalid'}`), 'Invalid props');
        }
        settle({ state: 'ready', width: config.width, height: config.height, fps: config.fps, durationInFrames: config.durationInFrames, props });
      } catch (error) {
        if (controller.signal.aborted) return;
        showingError = true;
        reportError(error, 'calculateMetadata() failed', { prefix: `The metadata of "${composition.id}" could not be computed: ` });
        settle({ state: 'error', message: relativise(error instanceof Error ? error.message : String(error)) });
      }
    })();
    return () => controller.abort();
  }, [composition]);
  return resolved?.of.id === composition.id ? resolved.value : { state: 'loading' };
}

/** The Player's error fallback: shows the error, and reports it to the app (for the panel and auto-fix). */
const RenderError: React.FC<{ error: Error }> = ({ error }) => {
  useEffect(() => {
    showingError = true;
    reportError(error, 'The composition failed');
  }, [error]);
  return <Message tone="error">The video failed to render: {relativise(error.message)}</Message>;
};

const PreviewPlayer: React.FC<{ composition: Registered; generation: number }> = ({ composition, generation }) => {
  const playerRef = useRef<PlayerRef>(null);
  const resolved = useResolvedMetadata(composition);
  const ready = resolved.state === 'ready' ? resolved : null;

  useEffect(() => {
    if (!ready) return;
    post({ type: 'remotion:ready', compositionId: composition.id, durationInFrames: ready.durationInFrames, fps: ready.fps, width: ready.width, height: ready.height });
  }, [composition.id, ready]);

  useEffect(() => {
    const player = playerRef.current;
    if (!player) return;
    const sendFrame = () => {
      lastFrame = player.getCurrentFrame();
      post({ type: 'remotion:frame', frame: lastFrame, playing: player.isPlaying() });
    };
    const onError = (event: { detail: { error: Error } }) => reportError(event.detail.error, 'The composition failed');
    player.addEventListener('frameupdate', sendFrame);
    player.addEventListener('play', sendFrame);
    player.addEventListener('pause', sendFrame);
    player.addEventListener('seeked', sendFrame);
    player.addEventListener('error', onError);
    sendFrame();

    const onCommand = (event: MessageEvent) => {
      if (event.source !== window.parent) return;
      const command = event.data as { type?: unknown; frame?: unknown };
      if (command?.type === 'player:play') player.play();
      else if (command?.type === 'player:pause') player.pause();
      else if (command?.type === 'player:seek' && Number.isInteger(command.frame) && (command.frame as number) >= 0) {
        player.seekTo(command.frame as number);
      }
    };
    window.addEventListener('message', onCommand);
    return () => {
      player.removeEventListener('frameupdate', sendFrame);
      player.removeEventListener('play', sendFrame);
      player.removeEventListener('pause', sendFrame);
      player.removeEventListener('seeked', sendFrame);
      player.removeEventListener('error', onError);
      window.removeEventListener('message', onCommand);
    };
  }, [composition.component, ready, generation]);

  if (resolved.state === 'error') return <Message tone="error">{resolved.message}</Message>;
  if (!ready) return <Message>Computing the metadata of “{composition.id}”…</Message>;
  return (
    <PlayerInternals.TimelineSequenceObserverContext.Provider value={reportSequences as never}>
      <Player
        key={`${composition.id}:${generation}`}
        initialFrame={Math.min(lastFrame, ready.durationInFrames - 1)}
        ref={playerRef}
        component={composition.component}
        inputProps={ready.props}
        durationInFrames={ready.durationInFrames}
        fps={ready.fps}
        compositionWidth={ready.width}
        compositionHeight={ready.height}
        style={{ width: '100%', height: '100%' }}
        controls
        loop
        // The Player focuses itself for its space-key shortcut when it loads and plays; in
        // the app that steals keyboard focus from the page around the iframe.
        spaceKeyToPlayOrPause={false}
        acknowledgeRemotionLicense
        errorFallback={({ error }) => <RenderError error={error} />}
      />
    </PlayerInternals.TimelineSequenceObserverContext.Provider>
  );
};

/**
 * The Root (rendered for its registrations only: `<Composition>` renders nothing outside
 * the Studio). Memoized: a Root that builds its props inline (`defaultProps={{…}}`)
 * registers again on every render of its own, so it must not render again each time a
 * registration changes the list.
 */
const RootHost = memo(({ root: Root }: { root: ComponentType }) => (
  <Internals.CompositionSetters.Provider value={setters}>
    <Root />
  </Internals.CompositionSetters.Provider>
));

/** How long a Root may take to register its first composition before the page says it has none. */
const FIRST_COMPOSITION_GRACE_MS = 1_500;

const Preview: React.FC<{ root: ComponentType }> = ({ root }) => {
  const compositions = useSyncExternalStore(registry.subscribe, registry.get);
  const choice = useSyncExternalStore(
    (listener) => {
      choiceListeners.add(listener);
      return () => choiceListeners.delete(listener);
    },
    () => chosen,
  );
  const generation = useRemountKey();
  const [waited, setWaited] = useState(false);
  useEffect(() => {
    const timer = setTimeout(() => setWaited(true), FIRST_COMPOSITION_GRACE_MS);
    return () => clearTimeout(timer);
  }, []);

  const selected = compositions.find((composition) => composition.id === choice) ?? compositions[0];
  const summaries = useMemo(() => compositions.map(summary), [compositions]);
  const summaryText = JSON.stringify(summaries);
  useEffect(() => {
    post({ type: 'remotion:compositions', compositions: JSON.parse(summaryText) as CompositionSummary[], selected: selected?.id ?? null });
  }, [summaryText, selected?.id]);

  useEffect(() => {
    const onCommand = (event: MessageEvent) => {
      if (event.source !== window.parent) return;
      const command = event.data as { type?: unknown; compositionId?: unknown };
      if (command?.type === 'player:select' && typeof command.compositionId === 'string') choose(command.compositionId);
    };
    window.addEventListener('message', onCommand);
    return () => window.removeEventListener('message', onCommand);
  }, []);

  return (
    <>
      <RootBoundary key={generation}>
        <RootHost root={root} />
      </RootBoundary>
      {selected ? (
        <PreviewPlayer key={selected.id} composition={selected} generation={generation} />
      ) : waited ? (
        <Message>This project's Root registers no composition yet: add a {'<Composition>'} to it.</Message>
      ) : null}
    </>
  );
};

const container = document.getElementById('root');
if (container) {
  const reactRoot = createRoot(container, {
    // An error boundary caught it: keep React's component stack for the report.
    onCaughtError(error, info) {
      console.error(error);
      if (typeof error === 'object' && error !== null && info.componentStack) componentStacks.set(error, info.componentStack);
      showingError = true;
      reportError(error, 'The composition failed');
    },
    onUncaughtError(error, info) {
      console.error(error);
      if (typeof error === 'object' && error !== null && info.componentStack) componentStacks.set(error, info.componentStack);
      reportError(error, 'The preview failed');
    },
  });
  // The project's packages are being installed: its code would not find them yet (the page
  // reloads when they are there).
  if (packagesPending) reactRoot.render(<Message tone="info">Installing the packages package.json names…</Message>);
  // The project's entry point calls `registerRoot()`; Remotion keeps the Root for us.
  else import('@cutroom/project-entry').then(
    () => {
      const root = Internals.getRoot();
      if (!root) {
        reportError(new Error('The entry point did not call registerRoot(): Remotion needs it to find the Root component.'), 'No Root');
        reactRoot.render(<Message tone="error">The entry point did not call registerRoot().</Message>);
        return;
      }
      reactRoot.render(<Preview root={root} />);
    },
    (error: unknown) => {
      entryFailed = true;
      reportError(error, 'The entry point failed to load');
      reactRoot.render(<Message tone="error">The project failed to load: {relativise(error instanceof Error ? error.message : String(error))}</Message>);
    },
  );
}
