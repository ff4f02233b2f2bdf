import type { z } from 'zod';

/**
 * Parses a frame of JSON text with a schema: the message, or null for anything that is
 * not valid JSON or not of the schema. For receivers that drop bad frames silently.
 */
export function decodeMessage<Schema extends z.ZodType>(schema: Schema, text: string): z.infer<Schema> | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? parsed.data : null;
}
