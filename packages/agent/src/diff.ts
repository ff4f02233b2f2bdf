import { createTwoFilesPatch } from 'diff';
import { MAX_ACTION_DIFF } from '@cutroom/protocol';

/** A unified diff of one file's change, for the chat's tool actions (cut when long). */
export function fileDiff(relativePath: string, before: string | null, after: string): string {
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
