import { z } from 'zod';

/**
 * What an agent does during a turn, as the runners report it and the browser shows it.
 * The same shapes go sandbox → server (`agent_message`) and server → browser
 * (`agent:message`), and the finished turn's actions are stored with its message.
 */

/** The file tools every runner offers, under one name each (runners map their own names). */
export const AgentTool = z.enum(['read', 'write', 'edit', 'list', 'search', 'other']);
export type AgentTool = z.infer<typeof AgentTool>;

/** Largest diff kept with an action; longer ones are cut (the version's diff has it all). */
export const MAX_ACTION_DIFF = 20_000;

/** One tool call of the agent: what it touched and how it went. */
export const AgentAction = z.object({
  /** The runner's id of the call; a later event with the same id updates it. */
  id: z.string().min(1).max(200),
  tool: AgentTool,
  /** The runner's own name for the tool (`Edit`, `write_file`, …). */
  name: z.string().max(100),
  /** Path relative to the working copy, when the tool names a file or folder. */
  path: z.string().max(1_000).optional(),
  status: z.enum(['running', 'done', 'failed']),
  /** Unified diff of an edit or write (cut at MAX_ACTION_DIFF). */
  diff: z.string().max(MAX_ACTION_DIFF + 200).optional(),
  /** Why it failed (refused path, file not found…), for people. */
  error: z.string().max(2_000).optional(),
});
export type AgentAction = z.infer<typeof AgentAction>;

export const AgentEvent = z.discriminatedUnion('kind', [
  /** More of the assistant's reply. */
  z.object({ kind: z.literal('text'), delta: z.string().max(100_000) }),
  /** A tool call started or finished (same `action.id`). */
  z.object({ kind: z.literal('action'), action: AgentAction }),
]);
export type AgentEvent = z.infer<typeof AgentEvent>;

/** How a turn ended. */
export const TurnStatus = z.enum(['done', 'cancelled', 'failed']);
export type TurnStatus = z.infer<typeof TurnStatus>;
