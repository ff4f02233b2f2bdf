import { z } from 'zod';

/**
 * The parts of a request body the server reads, validated. Everything else the SDKs send
 * (betas, thinking, metadata, cache_control, context_management, defer_loading, …) is
 * accepted and ignored: loose objects keep unknown keys instead of rejecting them.
 */

const AnthropicBlock = z.looseObject({ type: z.string() });
const AnthropicContent = z.union([z.string(), z.array(AnthropicBlock)]);

export const AnthropicRequest = z.looseObject({
  model: z.string().min(1),
  // The Claude Agent SDK also puts `role: "system"` entries in here (environment text).
  messages: z.array(z.looseObject({ role: z.string(), content: AnthropicContent })),
  system: AnthropicContent.optional(),
  tools: z.array(z.looseObject({ name: z.string().optional() })).optional(),
  stream: z.boolean().optional(),
});
export type AnthropicRequest = z.infer<typeof AnthropicRequest>;

/** count_tokens takes the same body without `max_tokens`/`stream`; only messages matter. */
export const AnthropicCountRequest = AnthropicRequest.pick({ model: true, messages: true, system: true, tools: true });

const OpenAIPart = z.looseObject({ type: z.string() });
const OpenAIContent = z.union([z.string(), z.array(OpenAIPart), z.null()]);

export const OpenAIRequest = z.looseObject({
  model: z.string().min(1),
  messages: z.array(z.looseObject({ role: z.string(), content: OpenAIContent.optional() })),
  tools: z
    .array(z.looseObject({ type: z.string(), function: z.looseObject({ name: z.string() }).optional() }))
    .optional(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
});
export type OpenAIRequest = z.infer<typeof OpenAIRequest>;

/** One line per problem, for the provider-style 400 message. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ');
}
