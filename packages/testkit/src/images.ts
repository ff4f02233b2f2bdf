import { createHash } from 'node:crypto';

/** An image a request carried to the model (either wire), as the scripted server saw it. */
export type SeenImage = {
  mediaType: string;
  bytes: number;
  sha256: string;
  /** The bytes are what the media type says (PNG, JPEG, GIF or WebP by their signature). */
  valid: boolean;
  /** Index of the request's message that held it. */
  message: number;
  /** The bytes themselves (to decode in a test). */
  data: Buffer;
};

const SIGNATURES: Record<string, (bytes: Buffer) => boolean> = {
  'image/png': (bytes) => bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'image/jpeg': (bytes) => bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff,
  'image/gif': (bytes) => bytes.subarray(0, 4).toString('latin1') === 'GIF8',
  'image/webp': (bytes) => bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP',
};

function seen(mediaType: string, data: string, message: number): SeenImage {
  const bytes = Buffer.from(data, 'base64');
  return { mediaType, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), valid: SIGNATURES[mediaType]?.(bytes) ?? false, message, data: bytes };
}

/**
 * Every image in a request's messages: Anthropic `image` blocks with base64 sources
 * (also inside `tool_result` content), OpenAI `image_url` parts with `data:` URLs.
 */
export function imagesOf(body: unknown): SeenImage[] {
  const found: SeenImage[] = [];
  const messages = (body as { messages?: unknown[] } | undefined)?.messages;
  if (!Array.isArray(messages)) return found;
  const walk = (value: unknown, message: number) => {
    if (Array.isArray(value)) {
      for (const item of value) walk(item, message);
      return;
    }
    if (!value || typeof value !== 'object') return;
    const block = value as Record<string, unknown>;
    const source = block.source as { type?: string; media_type?: string; data?: string } | undefined;
    if (block.type === 'image' && source?.type === 'base64' && typeof source.data === 'string') {
      found.push(seen(source.media_type ?? '', source.data, message));
      return;
    }
    const url = (block.image_url as { url?: string } | undefined)?.url;
    if (block.type === 'image_url' && typeof url === 'string') {
      const match = /^data:([^;,]+);base64,(.*)$/s.exec(url);
      if (match) found.push(seen(match[1]!, match[2]!, message));
      return;
    }
    if (Array.isArray(block.content)) walk(block.content, message);
  };
  messages.forEach((message, index) => walk((message as { content?: unknown }).content, index));
  return found;
}

/** Whether the request's last message (what the agent just sent: a tool result, an image it was shown) holds a valid image. */
export function lastMessageHasImage(body: unknown): boolean {
  const messages = (body as { messages?: { role?: string }[] } | undefined)?.messages;
  if (!Array.isArray(messages) || messages.length === 0) return false;
  let last = messages.length - 1;
  while (last > 0 && (messages[last]?.role === 'system' || messages[last]?.role === 'developer')) last--;
  return imagesOf(body).some((image) => image.valid && image.message >= last - 1 && messages[image.message]?.role !== 'assistant');
}
