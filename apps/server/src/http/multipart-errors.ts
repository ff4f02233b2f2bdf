import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';

/**
 * What went wrong reading a `multipart/form-data` body (@fastify/multipart, busboy), as the
 * typed error the client gets: too many parts (`tooMany`, the route's own words), a body cut
 * off, or one that is not well-formed multipart. Anything else is rethrown as it is.
 */
export function multipartError(error: unknown, request: FastifyRequest, tooMany: () => AppError): never {
  if (error instanceof AppError) throw error;
  const code = (error as { code?: string }).code;
  if (code === 'FST_FILES_LIMIT' || code === 'FST_PARTS_LIMIT' || code === 'FST_FIELDS_LIMIT') throw tooMany();
  if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'FST_MP_PREMATURE_CLOSE' || code === 'ECONNRESET' || request.raw.destroyed) {
    throw new AppError('bad_request', 'The upload was cut off before its end.', 400);
  }
  if (code === 'FST_INVALID_MULTIPART_CONTENT_TYPE' || code === 'FST_PROTO_VIOLATION' || (error instanceof Error && /multipart|boundary|part terminated/i.test(error.message))) {
    throw new AppError('bad_request', 'The upload is not a well-formed multipart/form-data body.', 400);
  }
  throw error;
}
