import { type Export, type ExportFormat, type ExportStatus, finishedExportStatuses } from '@cutroom/protocol';

/**
 * A project's exports as a pure reducer: the list the server answered (newest first),
 * kept up to date by `export:progress` events. Events and list reads can cross (a read
 * started before an event may answer after it), so two snapshots of one export are
 * never merged by arrival: the one further along wins (a finished export never goes
 * back to rendering, progress never goes down).
 */
export type ExportsState = {
  status: 'loading' | 'ready' | 'error';
  /** Newest first. */
  exports: Export[];
  /** Why the list could not be read (the first read: status `error`; later: shown beside the list). */
  error: string | null;
  /** The last export that finished while the page was open, for a screen reader's announcement. */
  finished: { id: string; status: ExportStatus; text: string } | null;
};

export type ExportsAction =
  | { type: 'list'; exports: Export[] }
  | { type: 'list:failed'; message: string }
  | { type: 'retry' }
  /** An export as the server says it is now (an event, or the answer to a create or cancel). */
  | { type: 'update'; export: Export };

export const initialExportsState: ExportsState = { status: 'loading', exports: [], error: null, finished: null };

const stage: Record<ExportStatus, number> = { queued: 0, preparing: 1, rendering: 2, done: 3, failed: 3, cancelled: 3 };

export const isFinished = (item: Pick<Export, 'status'>) => finishedExportStatuses.includes(item.status);

/** Of two snapshots of the same export, the later one (on a tie, `incoming`). */
export function laterSnapshot(current: Export, incoming: Export): Export {
  if (stage[current.status] !== stage[incoming.status]) return stage[incoming.status] > stage[current.status] ? incoming : current;
  if (isFinished(current)) return current.status === incoming.status ? incoming : current;
  return incoming.progress >= current.progress ? incoming : current;
}

const newestFirst = (a: Export, b: Export) => Date.parse(b.createdAt) - Date.parse(a.createdAt);

/** `incoming` joined to `current`: each export once, its later snapshot, newest first. */
export function mergeExports(current: Export[], incoming: Export[]): Export[] {
  const byId = new Map(current.map((item) => [item.id, item]));
  for (const item of incoming) {
    const known = byId.get(item.id);
    byId.set(item.id, known ? laterSnapshot(known, item) : item);
  }
  return [...byId.values()].sort(newestFirst);
}

export function exportsReducer(state: ExportsState, action: ExportsAction): ExportsState {
  switch (action.type) {
    case 'list':
      return { ...state, status: 'ready', error: null, exports: mergeExports(state.exports, action.exports) };
    case 'list:failed':
      return { ...state, status: state.status === 'ready' ? 'ready' : 'error', error: action.message };
    case 'retry':
      return { ...state, status: state.status === 'error' ? 'loading' : state.status, error: null };
    case 'update': {
      const before = state.exports.find((item) => item.id === action.export.id);
      const exports = mergeExports(state.exports, [action.export]);
      const after = exports.find((item) => item.id === action.export.id)!;
      const justFinished = before !== undefined && !isFinished(before) && isFinished(after);
      return {
        ...state,
        exports,
        finished: justFinished ? { id: after.id, status: after.status, text: finishedText(after) } : state.finished,
      };
    }
  }
}

export const formatLabels: Record<ExportFormat, string> = {
  mp4: 'MP4 (H.264)',
  webm: 'WebM',
  gif: 'GIF',
  png: 'PNG still',
};

/** The scales the dialog offers. */
export const exportScales = [0.5, 1, 2] as const;

/** The output's size in pixels at `scale`, as the renderer rounds it: "1280×720". */
export function pixelSize(size: { width: number; height: number }, scale: number): string {
  return `${Math.round(size.width * scale)}×${Math.round(size.height * scale)}`;
}

export const scaleLabel = (scale: number) => `${scale}×`;

/** "MP4 (H.264) · 0.5×", "PNG still · frame 60 · 1×". */
export function exportTitle(item: Pick<Export, 'format' | 'scale' | 'frame'>): string {
  const frame = item.format === 'png' ? ` · frame ${item.frame ?? 0}` : '';
  return `${formatLabels[item.format]}${frame} · ${scaleLabel(item.scale)}`;
}

/** Whole percent of the render done (never 100 before it is done). */
export const percentDone = (item: Pick<Export, 'progress' | 'status'>) =>
  item.status === 'done' ? 100 : Math.min(99, Math.floor(item.progress * 100));

/** What the export is doing, for people: "Rendering 42% (63 of 150 frames)", "Failed: …". */
export function statusText(item: Export): string {
  switch (item.status) {
    case 'queued':
      return 'Queued';
    case 'preparing':
      return 'Preparing';
    case 'rendering': {
      const frames = item.totalFrames ? ` (${item.renderedFrames} of ${item.totalFrames} ${item.totalFrames === 1 ? 'frame' : 'frames'})` : '';
      return `Rendering ${percentDone(item)}%${frames}`;
    }
    case 'done':
      return 'Done';
    case 'failed':
      return `Failed: ${item.error ?? 'the render stopped.'}`;
    case 'cancelled':
      return 'Cancelled';
  }
}

/** "Export done: PNG still · frame 60 · 1×", "Export failed: … (why)". */
export function finishedText(item: Export): string {
  const title = exportTitle(item);
  switch (item.status) {
    case 'done':
      return `Export done: ${title}`;
    case 'failed':
      return `Export failed: ${title}. ${item.error ?? ''}`.trim();
    default:
      return `Export ${item.status}: ${title}`;
  }
}

/** "850 B", "12 KB", "1.4 MB". */
export function fileSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 999.5 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** The first 7 characters of a version id, as git shows it. */
export const shortVersion = (version: string) => version.slice(0, 7);

/** Why a still's frame cannot be used (null when it can): a whole number inside the composition. */
export function frameError(text: string, durationInFrames: number): string | null {
  const last = durationInFrames - 1;
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < 0 || value > last) return `Choose a frame from 0 to ${last}.`;
  return null;
}
