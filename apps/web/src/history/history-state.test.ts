import type { Version, VersionListResponse } from '@cutroom/protocol';
import { describe, expect, it } from 'vitest';
import { filesChanged, historyReducer, initialHistoryState, mergeFirstPage, patchHunks, undoTarget, type HistoryState } from './history-state';

const id = (n: number) => n.toString(16).padStart(40, '0');
/** Version n, whose parent is n − 1 (version 1 is the first). */
const version = (n: number, fields: Partial<Version> = {}): Version => ({
  id: id(n),
  parentId: n > 1 ? id(n - 1) : null,
  message: `Change ${n}`,
  createdAt: new Date(Date.UTC(2025, 0, 1, 10, n)).toISOString(),
  author: 'agent',
  files: [{ path: 'src/Root.tsx', change: 'modified' }],
  ...fields,
});
/** Versions from `newest` down to `oldest`. */
const range = (newest: number, oldest: number) => Array.from({ length: newest - oldest + 1 }, (_, index) => version(newest - index));
const page = (versions: Version[], nextBefore: string | null, currentVersion = versions[0]!.id): VersionListResponse => ({ versions, nextBefore, currentVersion });
const ids = (state: Pick<HistoryState, 'versions'>) => state.versions.map((entry) => parseInt(entry.id, 16));

describe('the history state', () => {
  it('loads the first page, then older pages after it', () => {
    let state = historyReducer(initialHistoryState, { type: 'first-page', page: page(range(10, 8), id(8)) });
    expect(state.status).toBe('ready');
    expect(ids(state)).toEqual([10, 9, 8]);
    state = historyReducer(state, { type: 'more:started' });
    expect(state.loadingMore).toBe(true);
    state = historyReducer(state, { type: 'more', before: id(8), page: page(range(7, 5), id(5)) });
    expect(ids(state)).toEqual([10, 9, 8, 7, 6, 5]);
    expect(state.nextBefore).toBe(id(5));
    expect(state.loadingMore).toBe(false);
  });

  it('ignores an older page that no longer follows the list', () => {
    const state = historyReducer(initialHistoryState, { type: 'first-page', page: page(range(10, 8), id(8)) });
    const next = historyReducer({ ...state, loadingMore: true }, { type: 'more', before: id(3), page: page(range(2, 1), null) });
    expect(ids(next)).toEqual([10, 9, 8]);
    expect(next.loadingMore).toBe(false);
  });

  it('keeps the older pages when the first page is read again', () => {
    const loaded = { versions: range(10, 5), nextBefore: id(5) };
    // Two new versions: the new first page (3 long) overlaps the list at 10.
    expect(mergeFirstPage(loaded.versions, loaded.nextBefore, page(range(12, 10), id(10)))).toEqual({ versions: range(12, 5), nextBefore: id(5) });
    // Many new versions: no overlap, so the list starts again from the new page.
    expect(mergeFirstPage(loaded.versions, loaded.nextBefore, page(range(20, 18), id(18)))).toEqual({ versions: range(20, 18), nextBefore: id(18) });
    // The whole history in one page.
    expect(mergeFirstPage(loaded.versions, loaded.nextBefore, page(range(11, 1), null))).toEqual({ versions: range(11, 1), nextBefore: null });
  });

  it('shows a first-load failure, but keeps what it has when a refresh fails', () => {
    const failed = historyReducer(initialHistoryState, { type: 'first-page:failed', message: 'Offline' });
    expect(failed).toMatchObject({ status: 'error', error: 'Offline' });
    expect(historyReducer(failed, { type: 'retry' })).toMatchObject({ status: 'loading', error: null });
    const ready = historyReducer(initialHistoryState, { type: 'first-page', page: page(range(3, 1), null) });
    const stale = historyReducer(ready, { type: 'first-page:failed', message: 'Offline' });
    expect(stale).toMatchObject({ status: 'ready', error: 'Offline' });
    expect(ids(stale)).toEqual([3, 2, 1]);
    expect(historyReducer(stale, { type: 'first-page', page: page(range(3, 1), null) }).error).toBeNull();
  });

  it('puts a restore on top as the current version', () => {
    const ready = historyReducer(initialHistoryState, { type: 'first-page', page: page(range(3, 1), null) });
    const restore = version(4, { author: 'restore', restoredFrom: id(1), message: 'Restore "Change 1"' });
    const next = historyReducer(ready, { type: 'restored', version: restore });
    expect(ids(next)).toEqual([4, 3, 2, 1]);
    expect(next.currentVersion).toBe(id(4));
    // Twice (the refresh came first): no duplicate.
    expect(ids(historyReducer(next, { type: 'restored', version: restore }))).toEqual([4, 3, 2, 1]);
    // Not on top of the current version: left to the refresh.
    expect(historyReducer(ready, { type: 'restored', version: version(9) })).toBe(ready);
  });

  it('undoes the current version by going back to its parent', () => {
    expect(undoTarget({ versions: range(3, 1), currentVersion: id(3) })).toEqual({ current: version(3), parentId: id(2) });
    expect(undoTarget({ versions: range(1, 1), currentVersion: id(1) })).toBeNull();
    expect(undoTarget({ versions: [], currentVersion: null })).toBeNull();
  });

  it('counts changed files in words', () => {
    expect(filesChanged(0)).toBe('No files changed');
    expect(filesChanged(1)).toBe('1 file changed');
    expect(filesChanged(4)).toBe('4 files changed');
  });
});

describe('patchHunks', () => {
  it('drops git’s header lines before the first hunk', () => {
    const patch = 'diff --git a/x b/x\nindex 1..2 100644\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n';
    expect(patchHunks(patch)).toBe('@@ -1 +1 @@\n-a\n+b\n');
    expect(patchHunks('diff --git a/x b/y\nsimilarity index 100%\nrename from x\nrename to y\n')).toBe('');
  });
});
