import type { ErrorCode } from '@cutroom/protocol';

/**
 * The one error class the app throws on purpose. The HTTP layer turns it into
 * `{error: {code, message}}` with `status`; anything else is a 500 and a log line.
 */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status: number,
    readonly issues?: { path: string; message: string }[],
  ) {
    super(message);
  }
}

export const notFound = (what = 'That') => new AppError('not_found', `${what} was not found.`, 404);
