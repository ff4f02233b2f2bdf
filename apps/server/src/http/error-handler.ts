import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorBody, ErrorCode } from '@cutroom/protocol';
import { z } from 'zod';
import { AppError } from '../errors.js';

export function sendError(reply: FastifyReply, status: number, code: ErrorCode, message: string, issues?: ErrorBody['error']['issues']) {
  const body: ErrorBody = { error: { code, message, ...(issues ? { issues } : {}) } };
  return reply.status(status).type('application/json').send(body);
}

/** Fastify's own errors for bad input, by their codes. */
const fastifyErrors: Record<string, { status: number; code: ErrorCode; message: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'invalid_json', message: 'The request body is not valid JSON.' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'invalid_json', message: 'The request body is empty; send a JSON object.' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large', message: 'The request body is too large.' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type', message: 'Send the body as application/json.' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'bad_request', message: 'The Content-Length does not match the body.' },
  FST_ERR_CTP_INVALID_TYPE: { status: 400, code: 'bad_request', message: 'The Content-Type header is malformed.' },
};

export const zodIssues = (error: z.ZodError) =>
  error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));

export function installErrorHandling(app: FastifyInstance) {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof AppError) {
      const retry = (error as AppError & { retryAfterSeconds?: number }).retryAfterSeconds;
      if (retry) reply.header('retry-after', String(retry));
      return sendError(reply, error.status, error.code, error.message, error.issues);
    }
    if (error instanceof z.ZodError) {
      return sendError(reply, 400, 'validation_failed', 'Some fields are not valid.', zodIssues(error));
    }
    const known = error.code ? fastifyErrors[error.code] : undefined;
    if (known) return sendError(reply, known.status, known.code, known.message);
    if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON') {
      return sendError(reply, 400, 'invalid_json', 'The request body is not valid JSON.');
    }
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      request.log.info({ err: error }, 'bad request');
      return sendError(reply, error.statusCode, 'bad_request', 'The request could not be understood.');
    }
    request.log.error({ err: error }, 'request failed');
    return sendError(reply, 500, 'internal', `Something went wrong on our side (request ${request.id}).`);
  });
}
