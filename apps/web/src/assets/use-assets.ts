import { type AssetCreatedResponse, type AssetListResponse, type MediaAsset, assetFilePath, assetUploadsPath, assetsPath } from '@cutroom/protocol';
import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import * as tus from 'tus-js-client';
import { ApiError, apiErrorFrom } from '../api/client';
import type { Session } from '../session/use-session';

/** Each resumable request carries at most this much: a broken connection costs at most one chunk. */
export const UPLOAD_CHUNK_BYTES = 16 * 1024 * 1024;

/** The file picker's filter: what the server takes (it checks the bytes, not this). */
export const ACCEPTED_MEDIA = '.png,.jpg,.jpeg,.webp,.gif,.svg,.mp4,.m4v,.webm,.mov,.mp3,.wav,.aac,.m4a,.ogg,.oga,.opus,.ttf,.otf,.woff,.woff2';

/** One file on its way up: sent bytes, then the server's check, or why it failed. */
export type UploadItem = {
  id: string;
  name: string;
  size: number;
  sent: number;
  phase: 'uploading' | 'checking' | 'failed';
  error?: string;
  /** Started from the composer: the message waits for it, and names it once it is in. */
  forMessage: boolean;
};

let nextId = 0;

type ListState = { assets: MediaAsset[]; limits: AssetListResponse['limits'] | null; listError: string | null };

/** The error of a failed tus request, from the server's `{error}` body when it sent one. */
function uploadError(error: unknown): ApiError {
  const response = (error as tus.DetailedError).originalResponse;
  if (response) {
    let body: unknown;
    try {
      body = JSON.parse(response.getBody() ?? '');
    } catch {
      body = undefined;
    }
    return apiErrorFrom(response.getStatus(), body);
  }
  return new ApiError(0, 'network', 'The upload lost its connection and could not resume. Try again.');
}

/**
 * The project's media: the current version's files, and uploads in flight. Uploads are
 * resumable (tus, in chunks, retried after a dropped connection, resumed after a reload of
 * the page from where they stopped); the request that finishes one answers with the checked
 * asset, or the reason it was refused (then nothing of it stays on the server).
 */
export function useAssets(projectId: string, session: Pick<Session, 'subscribe'>, onNewVersion: () => void) {
  const [{ assets, limits, listError }, setList] = useReducer(
    (current: ListState, change: Partial<ListState> | ((state: ListState) => Partial<ListState>)) => ({ ...current, ...(typeof change === 'function' ? change(current) : change) }),
    { assets: [], limits: null, listError: null },
  );
  const setAssets = useCallback((change: (list: MediaAsset[]) => MediaAsset[]) => setList((state) => ({ assets: change(state.assets) })), []);
  const [uploads, setUploads] = useState<UploadItem[]>([]);
  const handles = useRef(new Map<string, tus.Upload>());
  const { subscribe } = session;

  const refresh = useCallback(async () => {
    try {
      const response = await fetch(assetsPath(projectId), { credentials: 'same-origin' });
      const data: unknown = await response.json().catch(() => undefined);
      if (!response.ok) throw apiErrorFrom(response.status, data);
      const list = data as AssetListResponse;
      setList({ assets: list.assets, limits: list.limits, listError: null });
    } catch (error) {
      setList({ listError: error instanceof ApiError ? error.message : 'The media list could not be loaded.' });
    }
  }, [projectId]);

  useEffect(() => {
    void refresh();
    // A restore, an undo or another tab's upload changes the media too.
    return subscribe((event) => {
      if (event.type === 'session:joined' || (event.type === 'agent:complete' && event.newVersion)) void refresh();
    });
  }, [refresh, subscribe]);

  useEffect(() => {
    const running = handles.current;
    return () => {
      // Leaving the page stops sending (the upload can resume later); nothing is deleted.
      for (const upload of running.values()) void upload.abort(false);
    };
  }, []);

  const patch = (id: string, change: Partial<UploadItem>) => setUploads((items) => items.map((item) => (item.id === id ? { ...item, ...change } : item)));

  /** Uploads `files`; resolves with the assets that made it in (failed ones stay listed with their reason). */
  const upload = useCallback(
    (files: File[], options: { forMessage?: boolean } = {}): Promise<MediaAsset[]> => {
      const started = files.map((file) => {
        const id = `upload-${++nextId}`;
        const item: UploadItem = { id, name: file.name, size: file.size, sent: 0, phase: 'uploading', forMessage: options.forMessage ?? false };
        setUploads((items) => [...items, item]);
        return new Promise<MediaAsset | null>((resolve) => {
          const handle = new tus.Upload(file, {
            endpoint: assetUploadsPath(projectId),
            chunkSize: UPLOAD_CHUNK_BYTES,
            retryDelays: [0, 1_000, 3_000, 5_000, 10_000],
            metadata: { filename: file.name, filetype: file.type },
            removeFingerprintOnSuccess: true,
            onProgress: (sent, total) => patch(id, { sent, phase: sent >= total ? 'checking' : 'uploading' }),
            onSuccess: ({ lastResponse }) => {
              handles.current.delete(id);
              try {
                const created = JSON.parse(lastResponse.getBody() ?? '') as AssetCreatedResponse;
                setUploads((items) => items.filter((entry) => entry.id !== id));
                setAssets((list) => [...list.filter((asset) => asset.name !== created.asset.name), created.asset]);
                resolve(created.asset);
              } catch {
                patch(id, { phase: 'failed', error: 'The server did not say what it made of the file. Reload to see whether it is in.' });
                resolve(null);
              }
            },
            onError: (error) => {
              handles.current.delete(id);
              patch(id, { phase: 'failed', error: uploadError(error).message });
              resolve(null);
            },
          });
          handles.current.set(id, handle);
          // Resumes an upload of the same file that a reload or a lost connection interrupted.
          void handle.findPreviousUploads().then(
            (previous) => {
              if (previous[0]) handle.resumeFromPreviousUpload(previous[0]);
              handle.start();
            },
            () => handle.start(),
          );
        });
      });
      return Promise.all(started).then((done) => {
        const created = done.filter((asset): asset is MediaAsset => asset !== null);
        if (created.length > 0) {
          void refresh();
          onNewVersion();
        }
        return created;
      });
    },
    [projectId, refresh, onNewVersion, setAssets],
  );

  /** Stops an upload and deletes what the server holds of it; or clears a failed one from the list. */
  const cancel = useCallback((id: string) => {
    const handle = handles.current.get(id);
    handles.current.delete(id);
    if (handle) void handle.abort(true).catch(() => {});
    setUploads((items) => items.filter((item) => item.id !== id));
  }, []);

  /** Removes a media file from the project (a new version without it). */
  const remove = useCallback(
    async (name: string) => {
      const response = await fetch(assetFilePath(projectId, name), { method: 'DELETE', credentials: 'same-origin' });
      const data: unknown = await response.json().catch(() => undefined);
      if (!response.ok) throw apiErrorFrom(response.status, data);
      setAssets((list) => list.filter((asset) => asset.name !== name));
      onNewVersion();
    },
    [projectId, onNewVersion, setAssets],
  );

  return { assets, limits, uploads, listError, refresh, upload, cancel, remove };
}

export type Assets = ReturnType<typeof useAssets>;
