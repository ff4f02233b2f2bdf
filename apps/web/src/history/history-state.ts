import type { Version, VersionAuthor, VersionListResponse } from '@cutroom/protocol';

/**
 * The project's history as a pure reducer: the versions loaded so far (newest first, in
 * pages), which one is current, and the paging. A refresh reads the first page again
 * and keeps the older pages already loaded: history only grows at the top (a restore is
 * a new version too), so the new first page joins the old list where they overlap.
 */
export type HistoryState = {
  status: 'loading' | 'ready' | 'error';
  /** Newest first. */
  versions: Version[];
  /** Where the next (older) page starts; null when everything is loaded. */
  nextBefore: string | null;
  /** The project's latest version (the head of `main`). */
  currentVersion: string | null;
  /** Why the history could not be read: the first load (status `error`) or the last refresh. */
  error: string | null;
  loadingMore: boolean;
  moreError: string | null;
};

export type HistoryAction =
  | { type: 'retry' }
  | { type: 'first-page'; page: VersionListResponse }
  | { type: 'first-page:failed'; message: string }
  | { type: 'more:started' }
  | { type: 'more'; before: string; page: VersionListResponse }
  | { type: 'more:failed'; message: string }
  /** A restore made this version: it is the current one now (before the refresh says so). */
  | { type: 'restored'; version: Version };

export const initialHistoryState: HistoryState = {
  status: 'loading',
  versions: [],
  nextBefore: null,
  currentVersion: null,
  error: null,
  loadingMore: false,
  moreError: null,
};

/** The first page read again, joined to the older versions already loaded. */
export function mergeFirstPage(versions: Version[], nextBefore: string | null, page: VersionListResponse): Pick<HistoryState, 'versions' | 'nextBefore'> {
  const oldest = page.versions.at(-1);
  if (page.nextBefore === null || !oldest) return { versions: page.versions, nextBefore: page.nextBefore };
  const overlap = versions.findIndex((version) => version.id === oldest.id);
  if (overlap < 0) return { versions: page.versions, nextBefore: page.nextBefore };
  return { versions: [...page.versions, ...versions.slice(overlap + 1)], nextBefore };
}

export function historyReducer(state: HistoryState, action: HistoryAction): HistoryState {
  switch (action.type) {
    case 'retry':
      return { ...state, status: state.status === 'error' ? 'loading' : state.status, error: null };
    case 'first-page':
      return {
        ...state,
        ...mergeFirstPage(state.versions, state.nextBefore, action.page),
        status: 'ready',
        currentVersion: action.page.currentVersion,
        error: null,
      };
    case 'first-page:failed':
      return { ...state, status: state.status === 'ready' ? 'ready' : 'error', error: action.message };
    case 'more:started':
      return { ...state, loadingMore: true, moreError: null };
    case 'more': {
      // A refresh since may have moved the paging on: this answer is then not the next page.
      if (action.before !== state.nextBefore) return { ...state, loadingMore: false };
      const known = new Set(state.versions.map((version) => version.id));
      return {
        ...state,
        versions: [...state.versions, ...action.page.versions.filter((version) => !known.has(version.id))],
        nextBefore: action.page.nextBefore,
        loadingMore: false,
      };
    }
    case 'more:failed':
      return { ...state, loadingMore: false, moreError: action.message };
    case 'restored': {
      if (state.versions.some((version) => version.id === action.version.id)) return { ...state, currentVersion: action.version.id };
      // Only on top of the version it was made from: otherwise the refresh sorts it out.
      if (action.version.parentId !== state.currentVersion) return state;
      return { ...state, versions: [action.version, ...state.versions], currentVersion: action.version.id };
    }
  }
}

/** What "Undo last change" does: bring back the files of the current version's parent. */
export function undoTarget(state: Pick<HistoryState, 'versions' | 'currentVersion'>): { current: Version; parentId: string } | null {
  const current = state.versions.find((version) => version.id === state.currentVersion);
  return current?.parentId ? { current, parentId: current.parentId } : null;
}

export const authorLabels: Record<VersionAuthor, string> = { user: 'You', agent: 'Agent', restore: 'Restore' };

/** "1 file changed", "3 files changed", "No files changed". */
export function filesChanged(count: number): string {
  if (count === 0) return 'No files changed';
  return `${count} ${count === 1 ? 'file' : 'files'} changed`;
}

/** A file's patch from its first hunk on: the panel names the file, so git's header lines go. Empty when it has no hunk. */
export function patchHunks(patch: string): string {
  const start = patch.search(/^@@/m);
  return start < 0 ? '' : patch.slice(start);
}
