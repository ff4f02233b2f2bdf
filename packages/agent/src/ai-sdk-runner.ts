import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { AgentAction, AgentEvent, AgentTool, ModelEndpoint } from '@cutroom/protocol';
import {
  APICallError,
  type LanguageModel,
  type ModelMessage,
  NoOutputGeneratedError,
  RetryError,
  type TextStreamPart,
  stepCountIs,
  streamText,
} from 'ai';
import { type FileChange, type FileToolLimits, type FileTools, createFileTools } from './file-tools.js';
import { type FrameTools, createFrameTool } from './frame-tool.js';
import { loadConversation, saveConversation, trimConversation } from './ai-sdk-conversation.js';
import { agentInstructions } from './instructions.js';
import { type WriteBudget, createWriteBudget, shortenToolInput } from './write-limits.js';
import type { AgentRunner, RunnerOptions, TurnResult } from './runner.js';

/**
 * The second agent runner: a Vercel AI SDK tool loop (`streamText` with the file tools of
 * file-tools.ts) against any OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp server)
 * or Anthropic, always through the server's model proxy. Unlike the Claude Agent SDK
 * there is no agent process: the conversation is ours to keep, so it is stored as a JSON
 * file in the state folder after every turn and loaded again to resume.
 */

export type AiSdkRunnerSettings = {
  /** Most model calls (steps) in one turn. */
  maxSteps?: number;
  /** Retries of a failed model call (rate limits, 5xx, network). */
  maxRetries?: number;
  /** The conversation is cut (oldest whole turns first) when its JSON grows past this. */
  maxConversationChars?: number;
  /** A model that sends nothing for this long is given up on (local models can be slow to start). */
  chunkTimeoutMs?: number;
  fileToolLimits?: Partial<FileToolLimits>;
};

const DEFAULTS = {
  maxSteps: 25,
  maxRetries: 2,
  maxConversationChars: 200_000,
  chunkTimeoutMs: 10 * 60_000,
} satisfies AiSdkRunnerSettings;

/** The proxy adds the real key; the providers just need something to send. */
const PROXY_API_KEY = 'cutroom-proxy';
export const DEFAULT_ANTHROPIC_MODEL = 'claude-sonnet-4-5';

/** The runner cannot be used as configured (for example no model name for an OpenAI-compatible endpoint). */
export class RunnerConfigError extends Error {
  override name = 'RunnerConfigError';
}

export function createAiSdkRunner(options: RunnerOptions, settings: AiSdkRunnerSettings = {}): AgentRunner {
  return new AiSdkRunner(options, { ...DEFAULTS, ...settings });
}

/** The AI SDK model for the proxy endpoint. */
export function createModel(endpoint: ModelEndpoint): LanguageModel {
  const baseUrl = endpoint.baseUrl.replace(/\/+$/, '');
  if (endpoint.wire === 'anthropic') {
    // The Anthropic provider wants the API root (…/v1); the proxy URL is the host part, like ANTHROPIC_BASE_URL.
    return createAnthropic({ baseURL: `${baseUrl}/v1`, apiKey: PROXY_API_KEY })(endpoint.model ?? DEFAULT_ANTHROPIC_MODEL);
  }
  if (!endpoint.model) {
    throw new RunnerConfigError('No model is configured for the OpenAI-compatible endpoint (set MODEL on the server).');
  }
  // The chat completions API: the one local servers speak (the Responses API they mostly do not).
  return createOpenAICompatible({ name: 'cutroom', baseURL: baseUrl, apiKey: PROXY_API_KEY }).chatModel(endpoint.model);
}

type Settings = typeof DEFAULTS & AiSdkRunnerSettings;

class AiSdkRunner implements AgentRunner {
  readonly name = 'ai-sdk' as const;
  readonly #options: RunnerOptions;
  readonly #settings: Settings;
  readonly #tools: AgentTools;
  readonly #budget: WriteBudget;
  readonly #listeners: ((sessionId: string) => void)[] = [];
  #sessionId: string | null = null;
  #messages: ModelMessage[] = [];
  #starting: Promise<void> | null = null;
  #controller: AbortController | null = null;
  #running: Promise<TurnResult> | null = null;
  #closed = false;

  constructor(options: RunnerOptions, settings: Settings) {
    this.#options = options;
    this.#settings = settings;
    this.#budget = createWriteBudget(options.limits);
    const files = createFileTools({ workspace: options.workspace, limits: settings.fileToolLimits, budget: this.#budget });
    this.#tools = options.viewFrame ? { ...files, ...createFrameTool(options.viewFrame) } : files;
  }

  /** Loads the conversation to resume (there is no process to start). Never rejects. */
  start(): Promise<void> {
    this.#starting ??= this.#load();
    return this.#starting;
  }

  turn(prompt: string, onEvent: (event: AgentEvent) => void): Promise<TurnResult> {
    if (this.#closed) return Promise.resolve({ status: 'failed', error: 'The agent has been closed.' });
    if (this.#running) return Promise.resolve({ status: 'failed', error: 'Another turn is still running.' });
    const controller = new AbortController();
    this.#controller = controller;
    const running = this.#runTurn(prompt, onEvent, controller.signal)
      .catch((error: unknown): TurnResult => {
        this.#log('ai-sdk: turn failed', error);
        return { status: 'failed', error: describeModelError(error) };
      })
      .finally(() => {
        this.#controller = null;
        this.#running = null;
      });
    this.#running = running;
    return running;
  }

  cancel(): void {
    this.#controller?.abort();
  }

  sessionId(): string | null {
    return this.#sessionId;
  }

  onSessionId(listener: (sessionId: string) => void): void {
    this.#listeners.push(listener);
  }

  /** Stops any turn and waits for it to save the conversation. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#controller?.abort();
    await this.#running;
  }

  async #load(): Promise<void> {
    const resume = this.#options.resumeSessionId;
    if (resume !== undefined) {
      try {
        this.#messages = await loadConversation(this.#options.stateDir, resume);
        this.#sessionId = resume;
      } catch (error) {
        // A lost conversation must not keep the project from working: go on with a new one.
        this.#log(`ai-sdk: cannot resume conversation ${JSON.stringify(resume)}; starting a new one`, error);
      }
    }
    this.#sessionId ??= randomUUID();
    for (const listener of this.#listeners) {
      try {
        listener(this.#sessionId);
      } catch (error) {
        this.#log('ai-sdk: session id listener failed', error);
      }
    }
  }

  async #runTurn(prompt: string, onEvent: (event: AgentEvent) => void, signal: AbortSignal): Promise<TurnResult> {
    await this.start();
    this.#budget.reset();
    const model = createModel(this.#options.endpoint);
    this.#messages = trimConversation([...this.#messages, { role: 'user', content: prompt }], this.#settings.maxConversationChars);

    // Only finished steps go into the conversation: each has every tool call paired with its result.
    let finished: ModelMessage[] = [];
    let streamError: unknown;
    let aborted = false;
    const actions = new ActionTracker(this.#options.workspace, (event) => this.#emit(onEvent, event));

    const result = streamText({
      model,
      system: agentInstructions({ workspace: this.#options.workspace, runner: 'ai-sdk', frames: Boolean(this.#options.viewFrame) }),
      messages: [...this.#messages],
      tools: this.#tools,
      stopWhen: stepCountIs(this.#settings.maxSteps),
      maxRetries: this.#settings.maxRetries,
      timeout: { chunkMs: this.#settings.chunkTimeoutMs },
      abortSignal: signal,
      // A refused oversized write is not sent again with every later step.
      // OpenAI's chat wire carries no images in tool results: they go in a user message after.
      prepareStep: ({ messages }) => ({ messages: this.#options.endpoint.wire === 'openai' ? imagesAsUserMessages(this.#shorten(messages)) : this.#shorten(messages) }),
      onStepFinish: (step) => {
        finished = step.response.messages;
      },
      // Errors arrive as `error` parts of the stream; this only keeps the SDK from printing them.
      onError: ({ error }) => this.#log('ai-sdk: model stream error', error),
    });

    try {
      for await (const part of result.fullStream) {
        if (part.type === 'text-delta') {
          if (part.text) this.#emit(onEvent, { kind: 'text', delta: part.text });
        } else if (part.type === 'error') {
          streamError ??= part.error;
        } else if (part.type === 'abort') {
          aborted = true;
        } else {
          actions.handle(part);
        }
      }
    } catch (error) {
      // Errors normally come as `error` parts; whatever else breaks the stream still ends the turn the same way.
      streamError ??= error;
    }
    actions.stopOpen(signal.aborted ? 'The turn was stopped before this finished.' : 'The turn ended before this finished.');

    // Images seen in this turn are not kept: later turns carry a note instead of the bytes.
    this.#messages = trimConversation([...this.#messages, ...withoutImages(this.#shorten(finished))], this.#settings.maxConversationChars);
    await this.#save();

    if (signal.aborted) return { status: 'cancelled' };
    // An abort we did not ask for is the SDK's chunk timeout.
    if (aborted) return { status: 'failed', error: 'The model stopped answering; try again.' };
    if (streamError !== undefined) return { status: 'failed', error: describeModelError(streamError) };
    return { status: 'done' };
  }

  async #save(): Promise<void> {
    if (this.#sessionId === null) return;
    try {
      await saveConversation(this.#options.stateDir, this.#sessionId, this.#messages);
    } catch (error) {
      // The turn itself went through; the next save (or session) may well succeed.
      this.#log('ai-sdk: cannot save the conversation', error);
    }
  }

  /** The messages with tool-call inputs cut where a string is larger than any file may be (it was refused). */
  #shorten(messages: ModelMessage[]): ModelMessage[] {
    const limit = this.#budget.limits.maxFileBytes;
    return messages.map((message) => {
      if (message.role !== 'assistant' || typeof message.content === 'string') return message;
      return {
        ...message,
        content: message.content.map((part) => (part.type === 'tool-call' ? { ...part, input: shortenToolInput(part.input, limit) } : part)),
      };
    });
  }

  #emit(onEvent: (event: AgentEvent) => void, event: AgentEvent) {
    try {
      onEvent(event);
    } catch (error) {
      this.#log('ai-sdk: event listener failed', error);
    }
  }

  #log(message: string, detail?: unknown) {
    this.#options.log?.(message, detail);
  }
}

// Images

type ContentOutput = { type: 'content'; value: ({ type: string; data?: string; mediaType?: string; text?: string } & Record<string, unknown>)[] };
const isContentOutput = (output: unknown): output is ContentOutput => (output as { type?: string } | undefined)?.type === 'content' && Array.isArray((output as { value?: unknown }).value);

/**
 * For the OpenAI chat wire (whose tool messages are text only): each image a tool result
 * holds is taken out of it (a note stays) and sent in a user message right after the
 * tool message, with no text of its own.
 */
export function imagesAsUserMessages(messages: ModelMessage[]): ModelMessage[] {
  const out: ModelMessage[] = [];
  for (const message of messages) {
    if (message.role !== 'tool') {
      out.push(message);
      continue;
    }
    const images: { data: string; mediaType: string }[] = [];
    const content = message.content.map((part) => {
      if (part.type !== 'tool-result' || !isContentOutput(part.output)) return part;
      const value = part.output.value.map((item) =>
        item.type === 'image-data' && typeof item.data === 'string'
          ? (images.push({ data: item.data, mediaType: item.mediaType ?? 'image/png' }), { type: 'text', text: '(The image follows in the next message.)' })
          : item,
      );
      // Text only now: sent as plain text, not as JSON of the parts.
      return { ...part, output: { type: 'text', value: value.map((item) => ('text' in item ? String(item.text) : '')).join('\n') } } as typeof part;
    });
    out.push({ ...message, content });
    if (images.length > 0) out.push({ role: 'user', content: images.map((image) => ({ type: 'image' as const, image: image.data, mediaType: image.mediaType })) });
  }
  return out;
}

/** The conversation as it is kept between turns: image bytes replaced by a note. */
export function withoutImages(messages: ModelMessage[]): ModelMessage[] {
  return messages.map((message) => {
    if (message.role !== 'tool') return message;
    return {
      ...message,
      content: message.content.map((part) => {
        if (part.type !== 'tool-result' || !isContentOutput(part.output)) return part;
        const value = part.output.value.map((item) => (item.type === 'image-data' ? { type: 'text', text: '(An image was shown here; view it again to see it.)' } : item));
        return { ...part, output: { type: 'content', value } } as typeof part;
      }),
    };
  });
}

// Tool calls → actions

const TOOL_KINDS: Record<string, AgentTool> = {
  list_files: 'list',
  search_files: 'search',
  read_file: 'read',
  view_image: 'read',
  view_frame: 'read',
  write_file: 'write',
  edit_file: 'edit',
};

/** The file tools, and view_frame when the runtime can render frames. */
type AgentTools = FileTools & Partial<FrameTools>;
type StreamPart = TextStreamPart<AgentTools>;

/**
 * Turns the stream's tool parts into actions: `running` at the call, then `done` (with
 * the diff of a write or edit) or `failed` under the same id. Remembers the calls still
 * running, so a stopped turn does not leave them spinning in the chat.
 */
class ActionTracker {
  readonly #open = new Map<string, AgentAction>();

  constructor(
    private readonly workspace: string,
    private readonly emit: (event: AgentEvent) => void,
  ) {}

  handle(part: StreamPart) {
    if (part.type === 'tool-call') {
      const action: AgentAction = {
        id: part.toolCallId.slice(0, 200),
        tool: TOOL_KINDS[part.toolName] ?? 'other',
        name: part.toolName.slice(0, 100),
        path: shownPath(this.workspace, (part.input as { path?: unknown } | undefined)?.path),
        status: 'running',
      };
      this.#open.set(part.toolCallId, action);
      this.#send(action);
    } else if (part.type === 'tool-result') {
      const action = this.#take(part.toolCallId);
      if (!action || part.preliminary) return;
      const change = isFileChange(part.output) ? part.output : undefined;
      this.#send({ ...action, status: 'done', path: change?.path ?? action.path, diff: change?.diff });
    } else if (part.type === 'tool-error') {
      const action = this.#take(part.toolCallId);
      if (action) this.#send({ ...action, status: 'failed', error: errorText(part.error).slice(0, 2_000) });
    }
  }

  /** Marks the calls that never got a result as failed. */
  stopOpen(reason: string) {
    for (const action of this.#open.values()) this.#send({ ...action, status: 'failed', error: reason });
    this.#open.clear();
  }

  #take(toolCallId: string) {
    const action = this.#open.get(toolCallId);
    this.#open.delete(toolCallId);
    return action;
  }

  #send(action: AgentAction) {
    // Leave out unset fields, so the events read the same as the other runner's.
    const clean = Object.fromEntries(Object.entries(action).filter(([, value]) => value !== undefined)) as AgentAction;
    this.emit({ kind: 'action', action: clean });
  }
}

const isFileChange = (output: unknown): output is FileChange =>
  typeof output === 'object' && output !== null && typeof (output as FileChange).diff === 'string' && typeof (output as FileChange).path === 'string';

/** The path a call names, as the chat shows it: relative to the working copy when it lies inside. */
function shownPath(workspace: string, given: unknown): string | undefined {
  if (typeof given !== 'string' || given.length === 0) return undefined;
  let shown = path.normalize(given);
  if (path.isAbsolute(given)) {
    const relative = path.relative(workspace, given);
    if (relative && !relative.startsWith('..') && !path.isAbsolute(relative)) shown = relative;
  }
  return shown.slice(0, 1_000);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// Errors → words for people

const short = (text: string) => (text.length > 300 ? `${text.slice(0, 300)}…` : text);

/** A short message for a failed turn, naming what the person (or the operator) can do about it. */
export function describeModelError(error: unknown): string {
  if (error instanceof RunnerConfigError) return error.message;
  const cause = RetryError.isInstance(error) ? error.lastError : error;
  if (APICallError.isInstance(cause)) {
    const status = cause.statusCode;
    if (status === undefined) return `Could not reach the model: ${short(cause.message)}`;
    if (status === 401 || status === 403) return `The model provider refused the request (HTTP ${status}); check the server's API key.`;
    if (status === 429) return 'The model provider is rate-limiting requests (HTTP 429); try again in a moment.';
    return `The model provider answered with an error (HTTP ${status}): ${short(cause.message)}`;
  }
  if (NoOutputGeneratedError.isInstance(cause)) return 'The model ended its answer without any output; try again.';
  return `The model call failed: ${short(errorText(cause))}`;
}
