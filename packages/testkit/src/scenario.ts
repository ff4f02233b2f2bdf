import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/**
 * A scenario says what the scripted model answers. Tool calls are written in neutral
 * terms (`write`, `edit`, `read`) and mapped per request to the tools the agent offers,
 * so one scenario drives both the Claude Agent SDK and the AI SDK runner.
 */
export type ScriptedToolCall =
  /** `repeat`: the content written that many times over (large writes without a large scenario file). */
  | { tool: 'write'; path: string; content: string; repeat?: number }
  | { tool: 'edit'; path: string; old: string; new: string }
  | { tool: 'read'; path: string }
  /** Look at an image file (Claude Code's Read, the AI SDK runner's view_image): the next request must carry it. */
  | { tool: 'view'; path: string }
  /** Look at a frame of the video (Cutroom's view_frame, in either runner): the next request must carry it. */
  | { tool: 'frame'; frame: number; composition?: string }
  | { name: string; input: Record<string, unknown> };

export type ScriptedStep = {
  /** Assistant text, streamed in several chunks. */
  text?: string;
  /** Tool calls after the text (stop_reason tool_use / finish_reason tool_calls). */
  tools?: ScriptedToolCall[];
  /** Pause between streamed chunks (default 0), so tests can act mid-stream. */
  delayMs?: number;
  /** Answer with an HTTP error in the provider's error format instead. */
  error?: { status: number; message: string };
  /**
   * This step is answered only if the request's last message carries a valid image (the
   * result of a `view` call); otherwise the answer is a 400 saying so, and the turn fails.
   */
  expectImage?: boolean;
};

/** `match`: regex source, case-insensitive, tested against the current user turn's text. */
export type ScriptedRule = { match: string; steps: ScriptedStep[] };

export type Scenario = { rules: ScriptedRule[]; fallback?: ScriptedStep[] };

/** Most times a write's content may be repeated (200 MB of a one-character content). */
const MAX_REPEAT = 200 * 1024 * 1024;

// Strict objects: a misspelt key in a hand-written scenario file is an error, not a
// silently ignored field. Discriminated on `tool` (absent for a raw call) so that an error
// names the missing field instead of a bare "Invalid input" from a plain union.
const ScriptedToolCallSchema = z.discriminatedUnion('tool', [
  z.strictObject({ tool: z.literal('write'), path: z.string().min(1), content: z.string(), repeat: z.number().int().min(1).max(MAX_REPEAT).optional() }),
  z.strictObject({ tool: z.literal('edit'), path: z.string().min(1), old: z.string().min(1), new: z.string() }),
  z.strictObject({ tool: z.literal('read'), path: z.string().min(1) }),
  z.strictObject({ tool: z.literal('view'), path: z.string().min(1) }),
  z.strictObject({ tool: z.literal('frame'), frame: z.number().int().min(0), composition: z.string().min(1).optional() }),
  z.strictObject({ tool: z.undefined().optional(), name: z.string().min(1), input: z.record(z.string(), z.unknown()) }),
]);

const ScriptedStepSchema = z
  .strictObject({
    text: z.string().optional(),
    tools: z.array(ScriptedToolCallSchema).optional(),
    delayMs: z.number().int().min(0).max(60_000).optional(),
    error: z.strictObject({ status: z.number().int().min(400).max(599), message: z.string() }).optional(),
    expectImage: z.boolean().optional(),
  })
  .refine((step) => step.text !== undefined || (step.tools?.length ?? 0) > 0 || step.error !== undefined, {
    message: 'a step needs text, tools or error',
  });

const RegexSource = z.string().refine(
  (source) => {
    try {
      new RegExp(source, 'i');
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not a valid regular expression' },
);

export const Scenario: z.ZodType<Scenario> = z.strictObject({
  rules: z.array(z.strictObject({ match: RegexSource, steps: z.array(ScriptedStepSchema) })),
  fallback: z.array(ScriptedStepSchema).optional(),
});

/** Validates a scenario; the error lists every problem with its path. */
export function parseScenario(input: unknown, source = 'scenario'): Scenario {
  const result = Scenario.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new Error(`Invalid ${source}:\n${problems.join('\n')}`);
  }
  return result.data;
}

/** Reads and validates a scenario file (JSON). Errors name the file. */
export async function loadScenario(file: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read scenario file ${file}: ${(error as Error).message}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`Scenario file ${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  return parseScenario(json, `scenario file ${file}`);
}
