import {
  type ErrorCode,
  type RouteBody,
  type RouteKey,
  type RouteParams,
  type RouteQueryInput,
  type RouteResponse,
  ErrorBody,
  apiRoutes,
  splitRouteKey,
} from '@cutroom/protocol';

/** An error the API answered (or a network failure, with code `network`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'network',
    message: string,
    readonly issues: { path: string; message: string }[] = [],
  ) {
    super(message);
  }

  /** The first problem reported for a field, for showing under that field. */
  fieldError(field: string): string | undefined {
    return this.issues.find((issue) => issue.path === field)?.message;
  }
}

type CallOptions<K extends RouteKey> = (RouteParams<K> extends undefined ? { params?: undefined } : { params: RouteParams<K> }) &
  (RouteBody<K> extends undefined ? { body?: undefined } : { body: RouteBody<K> }) &
  (RouteQueryInput<K> extends undefined ? { query?: undefined } : { query?: RouteQueryInput<K> }) & { signal?: AbortSignal };

let onUnauthenticated: (() => void) | undefined;
/** Called when a route that needs a session answers 401 (the session ended). */
export function setUnauthenticatedHandler(handler: () => void) {
  onUnauthenticated = handler;
}

/** Calls an API route by its key in the protocol's table: `api('PATCH /api/projects/:id', {params, body})`. */
export async function api<K extends RouteKey>(key: K, ...[options]: Record<never, never> extends CallOptions<K> ? [CallOptions<K>?] : [CallOptions<K>]): Promise<RouteResponse<K>> {
  const { method, path } = splitRouteKey(key);
  const params = (options?.params ?? {}) as Record<string, string>;
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries((options?.query ?? {}) as Record<string, unknown>)) {
    if (value !== undefined && value !== null) search.set(name, String(value));
  }
  const queryString = search.toString();
  const url = path.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(params[name] ?? '')) + (queryString ? `?${queryString}` : '');
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      credentials: 'same-origin',
      headers: options?.body !== undefined ? { 'content-type': 'application/json' } : undefined,
      body: options?.body !== undefined ? JSON.stringify(options.body) : undefined,
      signal: options?.signal,
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, 'network', 'Cutroom could not be reached. Check your connection and try again.');
  }
  if (response.status === 204) return undefined as RouteResponse<K>;
  const data: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const spec = apiRoutes[key] as { auth?: boolean };
    throw apiErrorFrom(response.status, data, spec.auth !== false);
  }
  return data as RouteResponse<K>;
}

/**
 * The error of a failed answer (`data`: its parsed JSON body, if any), for calls made
 * outside `api` (an upload with progress). A 401 of a route that needs a session also
 * tells the app the session ended.
 */
export function apiErrorFrom(status: number, data: unknown, needsSession = true): ApiError {
  if (status === 401 && needsSession) onUnauthenticated?.();
  const parsed = ErrorBody.safeParse(data);
  if (parsed.success) return new ApiError(status, parsed.data.error.code, parsed.data.error.message, parsed.data.error.issues);
  return new ApiError(status, 'internal', `Something went wrong (HTTP ${status}). Try again.`);
}
