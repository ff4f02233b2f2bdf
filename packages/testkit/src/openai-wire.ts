import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Reply } from './script.js';
import { ChunkWriter, estimateTokens, splitJson, splitText } from './streaming.js';

/** OpenAI chat-completions answers: `data:` chunk stream or JSON completion, and its error shape. */

type MessageReply = Extract<Reply, { kind: 'message' }>;

function errorShape(status: number): { type: string; code: string | null } {
  if (status === 401) return { type: 'invalid_request_error', code: 'invalid_api_key' };
  if (status === 404) return { type: 'invalid_request_error', code: 'not_found' };
  if (status === 429) return { type: 'requests', code: 'rate_limit_exceeded' };
  if (status >= 500) return { type: 'server_error', code: null };
  return { type: 'invalid_request_error', code: null };
}

export function writeOpenAIError(
  res: ServerResponse,
  status: number,
  message: string,
  extraHeaders: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...extraHeaders });
  res.end(JSON.stringify({ error: { message, param: null, ...errorShape(status) } }));
}

export async function writeOpenAIReply(
  res: ServerResponse,
  reply: MessageReply,
  options: { model: string; stream: boolean; includeUsage: boolean; inputTokens: number },
): Promise<void> {
  const id = `chatcmpl-scripted${randomUUID().replaceAll('-', '')}`;
  const created = Math.floor(Date.now() / 1000);
  const finishReason = reply.calls.length > 0 ? 'tool_calls' : 'stop';
  const toolCalls = reply.calls.map((call) => ({
    id: call.id,
    type: 'function',
    function: { name: call.name, arguments: JSON.stringify(call.input) },
  }));
  const completionTokens = estimateTokens({ text: reply.text, toolCalls });
  const usage = {
    prompt_tokens: options.inputTokens,
    completion_tokens: completionTokens,
    total_tokens: options.inputTokens + completionTokens,
  };

  if (!options.stream) {
    if (reply.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    if (res.destroyed) return;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id,
        object: 'chat.completion',
        created,
        model: options.model,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: reply.text === '' && toolCalls.length > 0 ? null : reply.text,
              ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
            },
            logprobs: null,
            finish_reason: finishReason,
          },
        ],
        usage,
      }),
    );
    return;
  }

  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  const out = new ChunkWriter(res, reply.delayMs);
  // With include_usage, every chunk carries `usage: null` and one last chunk the figures.
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    `data: ${JSON.stringify({
      id,
      object: 'chat.completion.chunk',
      created,
      model: options.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(options.includeUsage ? { usage: null } : {}),
    })}\n\n`;

  await out.write(chunk({ role: 'assistant', content: '' }));
  for (const piece of splitText(reply.text)) await out.writePaced(chunk({ content: piece }));
  for (const [index, call] of toolCalls.entries()) {
    await out.writePaced(
      chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] }),
    );
    for (const piece of splitJson(call.function.arguments)) {
      await out.writePaced(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
    }
  }
  await out.write(chunk({}, finishReason));
  if (options.includeUsage) {
    await out.write(
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: options.model, choices: [], usage })}\n\n`,
    );
  }
  await out.write('data: [DONE]\n\n');
  out.end();
}
