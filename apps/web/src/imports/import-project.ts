import { type ImportGitRequest, type Project, ProjectResponse, projectImportPath } from '@cutroom/protocol';
import { ApiError, apiErrorFrom } from '../api/client';

const networkError = () => new ApiError(0, 'network', 'Cutroom could not be reached. Check your connection and try again.');

function projectFrom(status: number, data: unknown): Project {
  const parsed = ProjectResponse.safeParse(data);
  if (status !== 201 || !parsed.success) throw apiErrorFrom(status, data);
  return parsed.data.project;
}

/**
 * `POST /api/projects/import` with an archive, through XMLHttpRequest (fetch cannot tell
 * how much of a body went): `onProgress` follows the upload, `onUploaded` says the last
 * byte went and the server is importing. Aborting `signal` stops the upload.
 */
export function uploadProjectArchive(
  file: File,
  name: string | undefined,
  options: { onProgress?: (loaded: number, total: number) => void; onUploaded?: () => void; signal?: AbortSignal } = {},
): Promise<Project> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    if (name) form.append('name', name);
    form.append('file', file, file.name);
    const request = new XMLHttpRequest();
    request.open('POST', projectImportPath);
    request.responseType = 'text';
    request.upload.onprogress = (event) => options.onProgress?.(event.loaded, event.lengthComputable ? event.total : file.size);
    request.upload.onload = () => options.onUploaded?.();
    request.onload = () => {
      let data: unknown;
      try {
        data = request.responseText ? JSON.parse(request.responseText) : undefined;
      } catch {
        data = undefined;
      }
      try {
        resolve(projectFrom(request.status, data));
      } catch (error) {
        reject(error);
      }
    };
    request.onerror = () => reject(networkError());
    request.onabort = () => reject(new DOMException('The upload was stopped.', 'AbortError'));
    if (options.signal?.aborted) return reject(new DOMException('The upload was stopped.', 'AbortError'));
    options.signal?.addEventListener('abort', () => request.abort(), { once: true });
    request.send(form);
  });
}

/** `POST /api/projects/import` with a git repository's URL. */
export async function importProjectFromGit(body: ImportGitRequest, signal?: AbortSignal): Promise<Project> {
  let response: Response;
  try {
    response = await fetch(projectImportPath, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw networkError();
  }
  const data: unknown = await response.json().catch(() => undefined);
  return projectFrom(response.status, data);
}
