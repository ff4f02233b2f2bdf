import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { writeAnthropicError, writeAnthropicReply } from './anthropic-wire.js';
import { anthropicConversation, type Conversation, currentTurn, openaiConversation } from './conversation.js';
import { writeOpenAIError, writeOpenAIReply } from './openai-wire.js';
import { type SeenImage, imagesOf, lastMessageHasImage } from './images.js';
import { AnthropicCountRequest, AnthropicRequest, describeIssues, OpenAIRequest } from './requests.js';
import { parseScenario, type Scenario } from './scenario.js';
import { type CompiledScenario, compileScenario, resolveReply } from './script.js';
import { estimateTokens } from './streaming.js';

export type RecordedRequest = {
  wire: 'anthropic' | 'openai';
  /** Including the query, e.g. /v1/messages?beta=true */
  path: string;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Parsed JSON; the raw text when it did not parse; undefined without a body. */
  body: unknown;
  /** Text of the current user turn. */
  userText: string;
  /** Images the request carried (both wires), with whether their bytes are what they say. */
  images: SeenImage[];
  /** Which step of the matched rule was answered (0-based). */
  step: number;
  /** The matched rule's `match`; null for the fallback (and for requests no rule applies to). */
  rule: string | null;
  /** performance.timeOrigin + performance.now() when the request arrived. */
  receivedAt: number;
  /** Same clock, when the last byte of the answer was written. */
  finishedAt?: number;
};

export type ScriptedModelServer = {
  /** http://127.0.0.1:<port>, no trailing slash. */
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Requests dropped unanswered by `dropReusedConnections`. */
  readonly dropped: number;
  setScenario(scenario: Scenario): void;
  close(): Promise<void>;
};

export type ScriptedModelServerOptions = {
  scenario: Scenario;
  port?: number;
  host?: string;
  requireApiKey?: string;
  /**
   * Behave like a provider whose idle timeout fires just as a client reuses a
   * keep-alive connection: every connection is kept alive after its first answer, but
   * a second request on it is dropped unanswered (the connection is closed). Clients
   * that do not retry such a request fail with "other side closed" / ECONNRESET.
   */
  dropReusedConnections?: boolean;
};

/** For the CLI: hears about each request once its answer is complete. */
export type ServerHooks = { onFinished?: (request: RecordedRequest) => void };

/** Request bodies above this are refused (413); the Claude Agent SDK's are tens of KB. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

/**
 * Scripted errors carry `x-should-retry: false`: the Claude Agent SDK honours it, and
 * would otherwise retry a 5xx ten times with backoff (minutes) on the same script step.
 */
const FINAL_ERROR = { 'x-should-retry': 'false' };

const now = () => performance.timeOrigin + performance.now();

export function startScriptedModelServer(options: ScriptedModelServerOptions): Promise<ScriptedModelServer> {
  return startServer(options);
}

export async function startServer(options: ScriptedModelServerOptions, hooks: ServerHooks = {}): Promise<ScriptedModelServer> {
  let scenario: CompiledScenario = compileScenario(parseScenario(options.scenario));
  const requests: RecordedRequest[] = [];
  const host = options.host ?? '127.0.0.1';
  /** Requests seen per connection (for dropReusedConnections). */
  const served = new WeakMap<object, number>();
  let dropped = 0;

  const server = createServer((req, res) => {
    if (options.dropReusedConnections) {
      const count = served.get(req.socket) ?? 0;
      served.set(req.socket, count + 1);
      if (count > 0) {
        dropped += 1;
        req.socket.destroy();
        return;
      }
    }
    const record: RecordedRequest = {
      wire: 'anthropic',
      path: req.url ?? '/',
      headers: lowerCaseHeaders(req),
      body: undefined,
      userText: '',
      images: [],
      step: 0,
      rule: null,
      receivedAt: now(),
    };
    requests.push(record);
    res.on('finish', () => {
      record.finishedAt = now();
      hooks.onFinished?.(record);
    });
    handle(req, res, record).catch((error: unknown) => {
      // A client that went away mid-request (an interrupted agent) is not a server error.
      if (req.destroyed && res.destroyed) return;
      // Never crash on a request: answer 500 if still possible, else drop the connection.
      console.error('[scripted model] request failed:', error);
      if (!res.headersSent) writeError(res, record.wire, 500, `Scripted model server error: ${(error as Error).message}`);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse, record: RecordedRequest): Promise<void> {
    const method = req.method ?? 'GET';
    const pathname = new URL(record.path, 'http://scripted').pathname;
    const route = ROUTES[pathname];
    if (route?.wire) record.wire = route.wire;

    const body = await readBody(req);
    const json = body.text === '' ? undefined : parseJson(body.text);
    // A body that is not JSON is recorded as its raw text, for the test to look at.
    record.body = json === PARSE_FAILED ? body.text : json;

    if (!route) return writeAnthropicError(res, 404, `Not found: ${method} ${pathname}`);
    if (route.kind === 'probe') {
      if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, record.wire, 'GET, HEAD');
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(method === 'HEAD' ? undefined : JSON.stringify({ ok: true, server: 'cutroom-scripted-model' }));
    }
    if (method !== 'POST') return methodNotAllowed(res, record.wire, 'POST');
    if (body.tooLarge) return writeError(res, record.wire, 413, `Request body exceeds ${MAX_BODY_BYTES} bytes.`);
    if (options.requireApiKey !== undefined && !apiKeys(req).includes(options.requireApiKey)) {
      const message = record.wire === 'anthropic' ? 'invalid x-api-key' : 'Incorrect API key provided.';
      return writeError(res, record.wire, 401, message);
    }
    if (json === undefined || json === PARSE_FAILED) {
      return writeError(res, record.wire, 400, 'There was an issue with the format of your request: the body is not valid JSON.');
    }

    switch (route.kind) {
      case 'messages':
        return answerAnthropic(res, record);
      case 'count_tokens':
        return answerCountTokens(res, record);
      case 'chat':
        return answerOpenAI(res, record);
    }
  }

  function applyTurn(record: RecordedRequest, conversation: Conversation) {
    record.images = imagesOf(record.body);
    const resolution = resolveReply(scenario, { ...conversation, lastHasImage: lastMessageHasImage(record.body) }, record.wire === 'anthropic' ? 'toolu_scripted_' : 'call_scripted_');
    record.userText = resolution.userText;
    record.step = resolution.step;
    record.rule = resolution.rule;
    return resolution.reply;
  }

  async function answerAnthropic(res: ServerResponse, record: RecordedRequest): Promise<void> {
    const parsed = AnthropicRequest.safeParse(record.body);
    if (!parsed.success) return writeAnthropicError(res, 400, describeIssues(parsed.error));
    const reply = applyTurn(record, anthropicConversation(parsed.data));
    if (reply.kind === 'error') return writeAnthropicError(res, reply.status, reply.message, FINAL_ERROR);
    await writeAnthropicReply(res, reply, {
      model: parsed.data.model,
      stream: parsed.data.stream === true,
      inputTokens: estimateTokens(record.body),
    });
  }

  function answerCountTokens(res: ServerResponse, record: RecordedRequest): void {
    const parsed = AnthropicCountRequest.safeParse(record.body);
    if (!parsed.success) return writeAnthropicError(res, 400, describeIssues(parsed.error));
    record.userText = currentTurn(anthropicConversation(parsed.data)).userText;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ input_tokens: estimateTokens(parsed.data) }));
  }

  async function answerOpenAI(res: ServerResponse, record: RecordedRequest): Promise<void> {
    const parsed = OpenAIRequest.safeParse(record.body);
    if (!parsed.success) return writeOpenAIError(res, 400, describeIssues(parsed.error));
    const reply = applyTurn(record, openaiConversation(parsed.data));
    if (reply.kind === 'error') return writeOpenAIError(res, reply.status, reply.message, FINAL_ERROR);
    await writeOpenAIReply(res, reply, {
      model: parsed.data.model,
      stream: parsed.data.stream === true,
      includeUsage: parsed.data.stream_options?.include_usage === true,
      inputTokens: estimateTokens(record.body),
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    requests,
    get dropped() {
      return dropped;
    },
    setScenario(next: Scenario) {
      scenario = compileScenario(parseScenario(next));
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets and streams still being written would hold close() open.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

type Route = { kind: 'probe' | 'messages' | 'count_tokens' | 'chat'; wire?: 'anthropic' | 'openai' };

const ROUTES: Record<string, Route> = {
  // Claude Code's connectivity check (off with CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC).
  '/': { kind: 'probe' },
  '/api/hello': { kind: 'probe' },
  '/v1/messages': { kind: 'messages', wire: 'anthropic' },
  '/v1/messages/count_tokens': { kind: 'count_tokens', wire: 'anthropic' },
  // OpenAI-compatible clients are configured with or without /v1 in the base URL.
  '/v1/chat/completions': { kind: 'chat', wire: 'openai' },
  '/chat/completions': { kind: 'chat', wire: 'openai' },
};

function writeError(res: ServerResponse, wire: 'anthropic' | 'openai', status: number, message: string): void {
  if (wire === 'openai') writeOpenAIError(res, status, message);
  else writeAnthropicError(res, status, message);
}

function methodNotAllowed(res: ServerResponse, wire: 'anthropic' | 'openai', allow: string): void {
  res.setHeader('allow', allow);
  writeError(res, wire, 405, `Method not allowed; use ${allow}.`);
}

function lowerCaseHeaders(req: IncomingMessage): Record<string, string> {
  // Node already lower-cases names; arrays (set-cookie and the like) are joined.
  return Object.fromEntries(
    Object.entries(req.headers).flatMap(([name, value]) =>
      value === undefined ? [] : [[name.toLowerCase(), Array.isArray(value) ? value.join(', ') : value]],
    ),
  );
}

/** The keys a request presents: Anthropic clients send x-api-key, OpenAI clients a Bearer token. */
function apiKeys(req: IncomingMessage): string[] {
  const keys: string[] = [];
  const header = req.headers['x-api-key'];
  if (typeof header === 'string') keys.push(header);
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (bearer?.[1]) keys.push(bearer[1].trim());
  return keys;
}

async function readBody(req: IncomingMessage): Promise<{ text: string; tooLarge: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Keep reading (and dropping) past the limit so the client still gets the 413.
    if (size > MAX_BODY_BYTES) tooLarge = true;
    else chunks.push(chunk);
  }
  return { text: tooLarge ? '' : Buffer.concat(chunks).toString('utf8'), tooLarge };
}

const PARSE_FAILED = Symbol('parse failed');

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return PARSE_FAILED;
  }
}
