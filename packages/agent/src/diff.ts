import { createTwoFilesPatch } from 'diff';
import { MAX_ACTION_DIFF } from '@cutroom/protocol';

/**
 * Files larger than this (before and after together, in characters) get no diff: a diff
 * of megabytes costs far more memory than its text, and the chat shows only the
 * first MAX_ACTION_DIFF characters anyway.
 */
export const MAX_DIFF_INPUT_CHARS = 4 * 1024 * 1024;

/** A unified diff of one file's change, for the chat's tool actions (cut when long). */
export function fileDiff(relativePath: string, before: string | null, after: string): string {
  if ((before?.length ?? 0) + after.length > MAX_DIFF_INPUT_CHARS) {
    return `--- ${before === null ? '/dev/null' : `a/${relativePath}`}\n+++ b/${relativePath}\n… (too large to show a diff: ${after.length} characters)\n`;
  }
  const patch = createTwoFilesPatch(
    before === null ? '/dev/null' : `a/${relativePath}`,
    `b/${relativePath}`,
    before ?? '',
    after,
    undefined,
    undefined,
    { context: 3 },
  );
  // Drop the "===" banner line createTwoFilesPatch starts with.
  const body = patch.replace(/^=+\n/, '');
  return body.length > MAX_ACTION_DIFF ? `${body.slice(0, MAX_ACTION_DIFF)}\n… (diff cut)\n` : body;
}
