import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type ModelMessage, modelMessageSchema } from 'ai';
import { z } from 'zod';

/**
 * The AI SDK runner's conversation, kept as a JSON file per conversation in the agent's
 * state folder (`<stateDir>/ai-sdk/<sessionId>.json`), which the server saves with the
 * project and restores into the next session.
 */

/** Version of the conversation file; a file of another version is not resumed. */
export const CONVERSATION_VERSION = 1;

/** A saved conversation that cannot be resumed (missing, unreadable or not a conversation). */
export class ConversationUnreadable extends Error {
  override name = 'ConversationUnreadable';
}

const ConversationFile = z.object({
  version: z.literal(CONVERSATION_VERSION),
  sessionId: z.string(),
  messages: z.array(modelMessageSchema),
});

/** Conversation ids name files: only plain ids (UUIDs and the like), never a path. */
const SESSION_ID = /^[A-Za-z0-9_-]{1,100}$/;

export function conversationFile(stateDir: string, sessionId: string): string {
  if (!SESSION_ID.test(sessionId)) throw new ConversationUnreadable(`${JSON.stringify(sessionId)} is not a conversation id.`);
  return path.join(stateDir, 'ai-sdk', `${sessionId}.json`);
}

export async function loadConversation(stateDir: string, sessionId: string): Promise<ModelMessage[]> {
  const file = conversationFile(stateDir, sessionId);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConversationUnreadable(`Cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ConversationUnreadable(`${file} is not JSON.`, { cause: error });
  }
  const parsed = ConversationFile.safeParse(data);
  if (!parsed.success) throw new ConversationUnreadable(`${file} is not a conversation: ${parsed.error.message.slice(0, 500)}`);
  return parsed.data.messages;
}

/** Writes the conversation atomically: a crash mid-write leaves the previous file whole. */
export async function saveConversation(stateDir: string, sessionId: string, messages: ModelMessage[]): Promise<void> {
  const file = conversationFile(stateDir, sessionId);
  await mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${randomUUID()}.tmp`;
  const body: z.input<typeof ConversationFile> = { version: CONVERSATION_VERSION, sessionId, messages };
  try {
    await writeFile(temp, JSON.stringify(body));
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * Keeps the conversation under `maxChars` of JSON by dropping the oldest whole turns (a
 * turn runs from one user message to the next, so a tool call and its result always go
 * together). The last turn is always kept, however large.
 */
export function trimConversation(messages: ModelMessage[], maxChars: number): ModelMessage[] {
  const sizes = messages.map((message) => JSON.stringify(message).length + 1);
  let total = sizes.reduce((sum, size) => sum + size, 0);
  let start = 0;
  while (total > maxChars) {
    const next = messages.findIndex((message, index) => index > start && message.role === 'user');
    if (next === -1) break;
    for (let index = start; index < next; index += 1) total -= sizes[index] ?? 0;
    start = next;
  }
  return start === 0 ? messages : messages.slice(start);
}
