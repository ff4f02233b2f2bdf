import { z } from 'zod';

/**
 * Every error the app reports, on REST and on the WebSocket, has one of these codes.
 * Clients branch on `code`; `message` is for people.
 */
export const errorCodes = [
  'bad_request',
  'invalid_json',
  'validation_failed',
  'payload_too_large',
  'unsupported_media_type',
  'unauthenticated',
  'invalid_credentials',
  'weak_password',
  'email_taken',
  'rate_limited',
  'forbidden_origin',
  'not_found',
  'method_not_allowed',
  'protocol_mismatch',
  'frame_too_large',
  'invalid_message',
  'sessions_unavailable',
  'session_failed',
  'no_session',
  'agent_unavailable',
  'too_many_sessions',
  'queue_full',
  'auto_fix_limit',
  'version_conflict',
  'export_not_ready',
  'too_many_exports',
  'too_many_projects',
  'compositions_failed',
  // Importing a project (POST /api/projects/import): what the archive or repository broke.
  'import_not_archive',
  'import_entry_refused',
  'import_too_large',
  'import_file_too_large',
  'import_too_many_files',
  'import_compression_ratio',
  'import_not_remotion',
  'import_git_url_refused',
  'import_git_failed',
  // Media (POST /api/projects/:id/assets): what the upload broke.
  'media_type_refused',
  'media_name_refused',
  'media_unreadable',
  'media_too_large',
  'media_limit_reached',
  'internal',
] as const;

export const ErrorCode = z.enum(errorCodes);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorBody = z.object({
  error: z.object({
    code: ErrorCode,
    message: z.string(),
    /** Per-field problems for `validation_failed`: path joined with dots. */
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;
