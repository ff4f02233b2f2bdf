import { z } from 'zod';

/** A UTF-16 surrogate without its partner (no Unicode character at all). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether PostgreSQL can keep `value` in a `text` column as it is: no NUL, no lone surrogate. */
export function isStorableText(value: string): boolean {
  return !value.includes('\u0000') && !LONE_SURROGATE.test(value);
}

export const UNSTORABLE_TEXT_MESSAGE = 'Remove the NUL character or broken Unicode (a lone surrogate) from this text.';

/**
 * The base of every string field the server receives (REST bodies, query strings,
 * WebSocket messages): PostgreSQL refuses a NUL in text and Node's encoder silently
 * turns a lone surrogate into U+FFFD, so both are refused here, as a typed 400 /
 * `invalid_message`, instead of a 500 or a changed value further in.
 */
export const Text = z.string().refine(isStorableText, UNSTORABLE_TEXT_MESSAGE);
