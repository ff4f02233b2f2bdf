import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Reply } from './script.js';
import { ChunkWriter, estimateTokens, splitJson, splitText } from './streaming.js';

/** Anthropic Messages API answers: SSE stream or JSON message, and its error shape. */

type MessageReply = Extract<Reply, { kind: 'message' }>;

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  405: 'invalid_request_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

function requestId(): string {
  return `req_scripted_${randomUUID().replaceAll('-', '')}`;
}

export function writeAnthropicError(
  res: ServerResponse,
  status: number,
  message: string,
  extraHeaders: Record<string, string> = {},
): void {
  const type = ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
  const id = requestId();
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': id, ...extraHeaders });
  res.end(JSON.stringify({ type: 'error', error: { type, message }, request_id: id }));
}

function content(reply: MessageReply): Record<string, unknown>[] {
  return [
    ...(reply.text ? [{ type: 'text', text: reply.text }] : []),
    ...reply.calls.map((call) => ({ type: 'tool_use', id: call.id, name: call.name, input: call.input })),
  ];
}

function usage(inputTokens: number, outputTokens: number) {
  return { input_tokens: inputTokens, output_tokens: outputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
}

export async function writeAnthropicReply(
  res: ServerResponse,
  reply: MessageReply,
  options: { model: string; stream: boolean; inputTokens: number },
): Promise<void> {
  const id = `msg_scripted_${randomUUID().replaceAll('-', '')}`;
  const stopReason = reply.calls.length > 0 ? 'tool_use' : 'end_turn';
  const outputTokens = estimateTokens(content(reply));
  const headers = { 'request-id': requestId() };

  if (!options.stream) {
    if (reply.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    if (res.destroyed) return;
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    res.end(
      JSON.stringify({
        id,
        type: 'message',
        role: 'assistant',
        model: options.model,
        content: content(reply),
        stop_reason: stopReason,
        stop_sequence: null,
        usage: usage(options.inputTokens, outputTokens),
      }),
    );
    return;
  }

  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers });
  const out = new ChunkWriter(res, reply.delayMs);
  const event = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

  await out.write(
    event('message_start', {
      message: {
        id,
        type: 'message',
        role: 'assistant',
        model: options.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: usage(options.inputTokens, 1),
      },
    }),
  );
  // The real API sends pings; clients must skip them, so the scripted one does too.
  await out.write(event('ping', {}));

  let index = 0;
  if (reply.text) {
    await out.write(event('content_block_start', { index, content_block: { type: 'text', text: '' } }));
    for (const piece of splitText(reply.text)) {
      await out.writePaced(event('content_block_delta', { index, delta: { type: 'text_delta', text: piece } }));
    }
    await out.write(event('content_block_stop', { index }));
    index++;
  }
  for (const call of reply.calls) {
    await out.writePaced(
      event('content_block_start', { index, content_block: { type: 'tool_use', id: call.id, name: call.name, input: {} } }),
    );
    for (const piece of splitJson(JSON.stringify(call.input))) {
      await out.writePaced(event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } }));
    }
    await out.write(event('content_block_stop', { index }));
    index++;
  }
  await out.write(
    event('message_delta', {
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: outputTokens },
    }),
  );
  await out.write(event('message_stop', {}));
  out.end();
}
