import type { CreateExportRequest, Export } from '@cutroom/protocol';
import { useCallback, useEffect, useReducer, useRef } from 'react';
import { ApiError, api } from '../api/client';
import type { Session } from '../session/use-session';
import { exportsReducer, initialExportsState, isFinished } from './export-state';

const messageOf = (error: unknown, fallback: string) => (error instanceof ApiError ? error.message : fallback);

/**
 * The project's exports: the list (newest first), kept live by the session connection's
 * `export:progress` events, which carry no `seq`: after a lost connection the list is
 * read again (an event may have been missed meanwhile). `start` asks for an export,
 * `cancel` stops one; both throw the server's `ApiError` for the caller to show.
 */
export function useExports(projectId: string, session: Pick<Session, 'subscribe'>) {
  const [state, dispatch] = useReducer(exportsReducer, initialExportsState);
  const { subscribe } = session;
  /** Only the latest read of the list counts. */
  const latestRead = useRef(0);

  const refresh = useCallback(async () => {
    const read = ++latestRead.current;
    try {
      const { exports } = await api('GET /api/projects/:id/exports', { params: { id: projectId } });
      if (read === latestRead.current) dispatch({ type: 'list', exports });
    } catch (error) {
      if (read === latestRead.current) dispatch({ type: 'list:failed', message: messageOf(error, 'Could not load the exports.') });
    }
  }, [projectId]);

  useEffect(() => {
    void refresh();
    let lost = false;
    return subscribe((event) => {
      if (event.type === 'connection:lost') {
        lost = true;
      } else if (lost) {
        // The first word of a new connection: what happened while it was down is read again.
        lost = false;
        void refresh();
      }
      if (event.type === 'export:progress' && event.export.projectId === projectId) dispatch({ type: 'update', export: event.export });
    });
  }, [projectId, refresh, subscribe]);

  const retry = useCallback(() => {
    dispatch({ type: 'retry' });
    void refresh();
  }, [refresh]);

  const start = useCallback(
    async (request: CreateExportRequest): Promise<Export> => {
      const { export: created } = await api('POST /api/projects/:id/exports', { params: { id: projectId }, body: request });
      dispatch({ type: 'update', export: created });
      return created;
    },
    [projectId],
  );

  const cancel = useCallback(
    async (exportId: string): Promise<Export> => {
      const { export: cancelled } = await api('POST /api/projects/:id/exports/:exportId/cancel', { params: { id: projectId, exportId } });
      dispatch({ type: 'update', export: cancelled });
      return cancelled;
    },
    [projectId],
  );

  const running = state.exports.filter((item) => !isFinished(item));

  return { state, running, refresh, retry, start, cancel };
}

export type ProjectExports = ReturnType<typeof useExports>;
