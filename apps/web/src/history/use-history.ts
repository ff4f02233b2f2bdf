import type { Version } from '@cutroom/protocol';
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import { ApiError, api } from '../api/client';
import { useToast } from '../components/Toasts';
import type { Session } from '../session/use-session';
import { historyReducer, initialHistoryState, undoTarget } from './history-state';

/** Versions per page of the history. */
export const HISTORY_PAGE_SIZE = 30;

/** What a confirmation dialog asks: restore a version, or undo the last change. */
export type Confirmation =
  | { kind: 'restore'; version: Version }
  | { kind: 'undo'; current: Version; parentId: string };

export type ConfirmationState = Confirmation & { pending: boolean; error: string | null };

const messageOf = (error: unknown, fallback: string) => (error instanceof ApiError ? error.message : fallback);

/**
 * The project's history: its versions (newest first; older pages on demand), which one
 * is selected (its diff shows in the History panel), and restores with their
 * confirmation. The list is read again when a chat turn made a version (the session's
 * `agent:complete` with `newVersion`), on every join of the session (something may have
 * changed while away), after a restore, and when asked (`refresh`, e.g. when the panel
 * opens: another tab may have restored). The preview follows a restore by itself.
 */
export function useHistory(projectId: string, session: Pick<Session, 'subscribe'>) {
  const [state, dispatch] = useReducer(historyReducer, initialHistoryState);
  const [selected, setSelected] = useState<string | null>(null);
  /** Bumped when a selection asks for the diff to take the focus (from outside the panel). */
  const [revealKey, setRevealKey] = useState(0);
  const [confirmation, setConfirmation] = useState<ConfirmationState | null>(null);
  const toast = useToast();
  const { subscribe } = session;
  /** Only the latest read of the first page counts. */
  const firstPageRequest = useRef(0);

  const refresh = useCallback(async () => {
    const request = ++firstPageRequest.current;
    try {
      const page = await api('GET /api/projects/:id/versions', { params: { id: projectId }, query: { limit: HISTORY_PAGE_SIZE } });
      if (request === firstPageRequest.current) dispatch({ type: 'first-page', page });
    } catch (error) {
      if (request === firstPageRequest.current) dispatch({ type: 'first-page:failed', message: messageOf(error, 'Could not load the history.') });
    }
  }, [projectId]);

  useEffect(() => {
    void refresh();
    return subscribe((event) => {
      if ((event.type === 'agent:complete' && event.newVersion) || event.type === 'session:joined') void refresh();
    });
  }, [refresh, subscribe]);

  const retry = useCallback(() => {
    dispatch({ type: 'retry' });
    void refresh();
  }, [refresh]);

  const { nextBefore, loadingMore } = state;
  const loadMore = useCallback(async () => {
    if (!nextBefore || loadingMore) return;
    dispatch({ type: 'more:started' });
    try {
      const page = await api('GET /api/projects/:id/versions', { params: { id: projectId }, query: { before: nextBefore, limit: HISTORY_PAGE_SIZE } });
      dispatch({ type: 'more', before: nextBefore, page });
    } catch (error) {
      dispatch({ type: 'more:failed', message: messageOf(error, 'Could not load older versions.') });
    }
  }, [projectId, nextBefore, loadingMore]);

  const select = useCallback((versionId: string | null, options: { reveal?: boolean } = {}) => {
    setSelected(versionId);
    if (options.reveal) setRevealKey((key) => key + 1);
  }, []);

  const undo = useMemo(() => undoTarget(state), [state]);

  const askRestore = useCallback((version: Version) => setConfirmation({ kind: 'restore', version, pending: false, error: null }), []);
  const askUndo = useCallback(() => {
    if (undo) setConfirmation({ kind: 'undo', ...undo, pending: false, error: null });
  }, [undo]);
  const cancelConfirmation = useCallback(() => setConfirmation((current) => (current?.pending ? current : null)), []);

  /** Restores what the open confirmation asks; on failure the dialog stays open with the server's message. */
  const confirm = useCallback(async () => {
    if (!confirmation || confirmation.pending) return;
    const target = confirmation.kind === 'restore' ? confirmation.version.id : confirmation.parentId;
    setConfirmation({ ...confirmation, pending: true, error: null });
    try {
      const result = await api('POST /api/projects/:id/versions/:versionId/restore', { params: { id: projectId, versionId: target } });
      if (result.restored) {
        dispatch({ type: 'restored', version: result.version });
        // Show what the restore changed.
        setSelected(result.version.id);
      }
      setConfirmation(null);
      if (!result.restored) toast('Nothing changed: the project already has these files.');
      else if (confirmation.kind === 'undo') toast(`Undone: “${confirmation.current.message}”. The preview is updating.`);
      else toast('Version restored. The preview is updating.');
    } catch (error) {
      setConfirmation({ ...confirmation, pending: false, error: messageOf(error, 'The version could not be restored. Try again.') });
    }
    void refresh();
  }, [confirmation, projectId, refresh, toast]);

  return {
    state,
    selected,
    revealKey,
    select,
    refresh,
    retry,
    loadMore,
    /** The last change and the version before it; null when there is nothing to undo. */
    undo,
    confirmation,
    askRestore,
    askUndo,
    cancelConfirmation,
    confirm,
  };
}

export type VersionHistory = ReturnType<typeof useHistory>;
