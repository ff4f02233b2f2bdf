import type { AnthropicRequest, OpenAIRequest } from './requests.js';

/**
 * A request's conversation reduced to what the script needs, the same for both wires:
 * the role and the plain text of each message, and the system text.
 */
export type Conversation = {
  system: string[];
  messages: { role: string; text: string }[];
  toolNames: string[];
  /** The last message carries a valid image (set by the server from the raw request). */
  lastHasImage?: boolean;
};

/** The Claude Agent SDK wraps injected context in these; it is not what the person typed. */
const SYSTEM_REMINDER = /<system-reminder>[\s\S]*?<\/system-reminder>/g;

function textOfBlocks(content: string | readonly { type: string }[] | null | undefined): string {
  if (typeof content === 'string') return content;
  if (!content) return '';
  // Only text blocks: tool_result, tool_use, image, thinking… carry no user text.
  return content
    .filter((block): block is { type: 'text'; text: string } => block.type === 'text' && typeof (block as { text?: unknown }).text === 'string')
    .map((block) => block.text)
    .join('\n');
}

export function anthropicConversation(body: AnthropicRequest): Conversation {
  return {
    system: body.system === undefined ? [] : [textOfBlocks(body.system)],
    messages: body.messages.map((message) => ({ role: message.role, text: textOfBlocks(message.content) })),
    toolNames: (body.tools ?? []).flatMap((tool) => (tool.name ? [tool.name] : [])),
  };
}

export function openaiConversation(body: OpenAIRequest): Conversation {
  const messages = body.messages.map((message) => ({ role: message.role, text: textOfBlocks(message.content) }));
  return {
    // OpenAI has no separate system field: system (and developer) messages are in the list.
    system: messages.filter((m) => m.role === 'system' || m.role === 'developer').map((m) => m.text),
    messages,
    toolNames: (body.tools ?? []).flatMap((tool) => (tool.function?.name ? [tool.function.name] : [])),
  };
}

export function stripSystemReminders(text: string): string {
  return text.replace(SYSTEM_REMINDER, '').trim();
}

/**
 * The current user turn: the last user message with real text (tool results and
 * system reminders alone do not count), and how many assistant answers follow it —
 * which is the step of the script to answer now.
 */
export function currentTurn(conversation: Conversation): { userText: string; step: number } {
  const { messages } = conversation;
  let index = messages.length - 1;
  let userText = '';
  for (; index >= 0; index--) {
    const message = messages[index]!;
    if (message.role !== 'user') continue;
    userText = stripSystemReminders(message.text);
    if (userText !== '') break;
  }
  // A run of consecutive assistant messages is one answer (a client may split text and
  // tool_use); system entries in between (Claude Agent SDK) do not break the run.
  let step = 0;
  let previous = '';
  for (const message of messages.slice(index + 1)) {
    if (message.role === 'system' || message.role === 'developer') continue;
    if (message.role === 'assistant' && previous !== 'assistant') step++;
    previous = message.role;
  }
  return { userText, step };
}

/**
 * Where the agent says it works. The Claude Agent SDK (0.3.x) sends an environment block
 * with ` - Primary working directory: /abs/path` — in a `role: "system"` message or a
 * `<system-reminder>` of the first user message depending on the model name — and, when
 * it changes mid-conversation, the same line with a suffix such as ` (was /old)`. Older
 * Claude Code versions said `Working directory: /abs/path`. Cutroom's own instructions
 * (used by the AI SDK runner) say `The project folder is /abs/path.` The last mention wins.
 */
const WORKING_DIRECTORY_PATTERNS = [
  /^[ \t]*(?:-[ \t]*)?(?:Primary )?[Ww]orking directory:[ \t]*(\/[^\n]*?)[ \t]*$/gm,
  /The project folder is (\/[^\s]*?)\.(?=\s|$)/g,
];
const ANNOUNCEMENT_SUFFIX = /\s+\((?:was |the shell stands here)[^\n]*\)$/;

export function findWorkingDirectory(conversation: Conversation): string | null {
  // Only what the client itself says: tool output (a file that happens to contain such a
  // line) and the model's own text must not move the working directory.
  const texts = [
    ...conversation.system,
    ...conversation.messages.filter((m) => m.role === 'user' || m.role === 'system' || m.role === 'developer').map((m) => m.text),
  ];
  for (const pattern of WORKING_DIRECTORY_PATTERNS) {
    let found: string | null = null;
    for (const text of texts) {
      for (const match of text.matchAll(pattern)) found = match[1]!.replace(ANNOUNCEMENT_SUFFIX, '');
    }
    if (found) return found;
  }
  return null;
}
