import type { VersionDiffResponse } from '@cutroom/protocol';
import { useCallback, useEffect, useState } from 'react';
import { ApiError, api } from '../api/client';

export type DiffLoad = { state: 'loading' } | { state: 'error'; message: string } | { state: 'ready'; diff: VersionDiffResponse };

/**
 * A version's changes against its parent. A version never changes, so each diff is
 * read once and kept for as long as the panel lives; a failed read can be retried.
 */
export function useVersionDiff(projectId: string, versionId: string | null) {
  const [diffs, setDiffs] = useState<Record<string, Exclude<DiffLoad, { state: 'loading' }>>>({});
  const entry = versionId ? diffs[versionId] : undefined;
  const missing = versionId !== null && entry === undefined;

  useEffect(() => {
    if (!versionId || !missing) return;
    const controller = new AbortController();
    api('GET /api/projects/:id/versions/:versionId/diff', { params: { id: projectId, versionId }, signal: controller.signal }).then(
      (diff) => setDiffs((current) => ({ ...current, [versionId]: { state: 'ready', diff } })),
      (error: unknown) => {
        if ((error as Error).name === 'AbortError') return;
        const message = error instanceof ApiError ? error.message : 'Could not load the changes.';
        setDiffs((current) => ({ ...current, [versionId]: { state: 'error', message } }));
      },
    );
    return () => controller.abort();
  }, [projectId, versionId, missing]);

  const retry = useCallback(() => {
    if (!versionId) return;
    setDiffs((current) => {
      const { [versionId]: _failed, ...rest } = current;
      return rest;
    });
  }, [versionId]);

  const load: DiffLoad | null = versionId ? (entry ?? { state: 'loading' }) : null;
  return { load, retry };
}
