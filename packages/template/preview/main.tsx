import { Player, PlayerInternals, type PlayerRef } from '@remotion/player';
import { useEffect, useRef, useState } from 'react';
import { createRoot } from 'react-dom/client';
// `@project` is the working copy's `src/` (resolved by the runtime's Vite plugin).
import { compositions as initialCompositions } from '@project/compositions';
// The URL the page loads that module from: where the working copy's `src/` is served.
import compositionsUrl from '@project/compositions?url';
import type { ErrorPayload } from 'vite';
import { createRelativiser } from './relative-paths';

/**
 * The preview page: plays the project's first composition in the Remotion Player, in a
 * sandboxed iframe on the preview origin. It tells its parent about the composition,
 * its sequences (for the timeline), the current frame and any error, and obeys
 * play/pause/seek from the parent. Messages go out with target '*' (the only one that
 * reaches a parent from an opaque origin), so nothing secret is ever sent.
 */
type Outgoing =
  | { type: 'remotion:ready'; compositionId: string; durationInFrames: number; fps: number; width: number; height: number }
  | { type: 'remotion:sequences'; sequences: { id: string; name: string; from: number; durationInFrames: number; depth: number }[] }
  | { type: 'remotion:frame'; frame: number; playing: boolean }
  | { type: 'remotion:error'; message: string; stack: string | null; componentStack: string | null; file: string | null };

const post = (message: Outgoing) => window.parent.postMessage(message, '*');

// Reports name files relative to the working copy, never by the server's paths (relative-paths.ts).
const relativise = createRelativiser(compositionsUrl, location.href);
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The first project file a (relativised) stack names, without its line and column. */
const projectFile = (stack: string | null) => stack?.match(/(?:^|[\s(@])(src\/[^\s?:)'"]+)/m)?.[1] ?? null;

/** React's component stacks, from the root's error callbacks, for the report of the same error. */
const componentStacks = new WeakMap<object, string>();

type ErrorLike = { message?: unknown; stack?: unknown } | null | undefined;

function reportError(error: unknown, fallback: string, details: { file?: string | null; extraStack?: string } = {}) {
  const known = typeof error === 'object' && error !== null ? (error as ErrorLike) : undefined;
  let message = relativise(String(known?.message ?? (typeof error === 'string' ? error : fallback)));
  // Build errors also name the file relative to the server's folder (`../…/src/x.tsx`).
  if (details.file) message = message.replace(new RegExp(`[^\\s\\[\\](),'"]*/${escapeRegExp(details.file)}`, 'g'), details.file);
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
window.addEventListener('unhandledrejection', (event) => reportError(event.reason, 'Unhandled promise rejection'));
/** A hot update failed to build (Vite reports it before the update is over). */
let updateFailed = false;
if (import.meta.hot) {
  import.meta.hot.on('vite:beforeUpdate', () => {
    updateFailed = false;
  });
  import.meta.hot.on('vite:error', ({ err }: ErrorPayload) => {
    updateFailed = true;
    // A build error names the file on disk (`loc.file`, else the module id).
    const onDisk = (err.loc?.file ?? err.id)?.replace(/\?.*$/, '');
    const file = onDisk ? relativise(onDisk) : null;
    reportError(err, 'Build error', { file: file && !file.startsWith('/') ? file : null, extraStack: err.frame });
  });
}

type RegisteredSequence = { id: string; displayName: string; from: number; duration: number; parent: string | null; showInTimeline: boolean };

/** Layers Remotion registers for its own wrappers (`<AbsoluteFill>`, …): not the video's parts. */
const isWrapperLayer = (sequence: RegisteredSequence) => /^<.+>$/.test(sequence.displayName);

/** Registered sequences → the timeline's rows: absolute start, depth among shown rows. */
function placeSequences(sequences: RegisteredSequence[]) {
  const byId = new Map(sequences.map((sequence) => [sequence.id, sequence]));
  return sequences
    .filter((sequence) => sequence.showInTimeline !== false && !isWrapperLayer(sequence))
    .map((sequence) => {
      let from = sequence.from;
      let depth = 0;
      for (let parent = sequence.parent ? byId.get(sequence.parent) : undefined; parent; parent = parent.parent ? byId.get(parent.parent) : undefined) {
        from += parent.from;
        if (!isWrapperLayer(parent)) depth++;
      }
      return { id: sequence.id, name: sequence.displayName || 'Sequence', from, durationInFrames: Math.max(0, Math.round(sequence.duration)), depth };
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
};

type CompositionList = typeof initialCompositions;

/**
 * Recovery after an error: React Refresh does not always reset the Player's error
 * boundary when the broken file is fixed, so after any hot update while the fallback is
 * showing, the Player is mounted afresh at the frame it was on.
 */
let showingError = false;
let lastFrame = 0;
let remount: (() => void) | null = null;
if (import.meta.hot) {
  import.meta.hot.on('vite:afterUpdate', () => {
    // React Refresh applies the new components a moment after the update: remount after it.
    if (showingError) setTimeout(() => remount?.(), 150);
    // An update that fixed a build error leaves the Player as it was, sequences and all:
    // say again what plays, so that the app knows the preview works (it clears errors then).
    setTimeout(() => {
      if (!showingError && !updateFailed) reportSequences(lastRegistered, { force: true });
    }, 600);
  });
}

/** The Player's error fallback: shows the error, and reports it to the app (for the panel and auto-fix). */
const RenderError: React.FC<{ error: Error }> = ({ error }) => {
  useEffect(() => {
    showingError = true;
    reportError(error, 'The composition failed');
  }, [error]);
  return <div style={{ color: '#fca5a5', fontFamily: 'sans-serif', padding: 24 }}>The video failed to render: {relativise(error.message)}</div>;
};

const PreviewPlayer: React.FC<{ compositions: CompositionList }> = ({ compositions }) => {
  const playerRef = useRef<PlayerRef>(null);
  const composition = compositions[0];
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    remount = () => {
      showingError = false;
      setGeneration((value) => value + 1);
    };
    return () => {
      remount = null;
    };
  }, []);
  const Component = composition?.component;

  useEffect(() => {
    if (!composition) return;
    post({
      type: 'remotion:ready',
      compositionId: composition.id,
      durationInFrames: composition.durationInFrames,
      fps: composition.fps,
      width: composition.width,
      height: composition.height,
    });
  }, [composition]);

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
  }, [Component, generation]);

  if (!composition || !Component) {
    return <p style={{ color: '#fff', fontFamily: 'sans-serif', padding: 16 }}>This project has no composition yet.</p>;
  }
  return (
    <PlayerInternals.TimelineSequenceObserverContext.Provider value={reportSequences as never}>
    <Player
      key={generation}
      initialFrame={Math.min(lastFrame, composition.durationInFrames - 1)}
      ref={playerRef}
      component={Component}
      inputProps={composition.defaultProps}
      durationInFrames={composition.durationInFrames}
      fps={composition.fps}
      compositionWidth={composition.width}
      compositionHeight={composition.height}
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

const container = document.getElementById('root');
if (container) {
  const root = createRoot(container, {
    // The Player's error boundary caught it: keep React's component stack for the report.
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
  root.render(<PreviewPlayer compositions={initialCompositions} />);
  // An edit of the composition list (new scene, other duration) re-renders in place
  // instead of reloading the page.
  import.meta.hot?.accept('@project/compositions', (module) => {
    if (module) root.render(<PreviewPlayer compositions={(module as unknown as { compositions: CompositionList }).compositions} />);
  });
}
