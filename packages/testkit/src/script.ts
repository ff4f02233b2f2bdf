import { randomUUID } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { type Conversation, currentTurn, findWorkingDirectory } from './conversation.js';
import type { Scenario, ScriptedStep, ScriptedToolCall } from './scenario.js';

/** What to send back, independent of the wire. */
export type Reply =
  | { kind: 'error'; status: number; message: string }
  | { kind: 'message'; text: string; calls: ToolCall[]; delayMs: number };

export type ToolCall = { id: string; name: string; input: Record<string, unknown> };

export type Resolution = { userText: string; step: number; rule: string | null; reply: Reply };

/** Said when the script has nothing (more) to say, so agent loops always end. */
export const DONE_TEXT = 'Done.';

type CompiledRule = { match: string; regex: RegExp; steps: ScriptedStep[] };
export type CompiledScenario = { rules: CompiledRule[]; fallback: ScriptedStep[] | undefined };

export function compileScenario(scenario: Scenario): CompiledScenario {
  return {
    rules: scenario.rules.map((rule) => ({ ...rule, regex: new RegExp(rule.match, 'i') })),
    fallback: scenario.fallback,
  };
}

/** Picks the rule and step for a request and turns the step into a reply. */
export function resolveReply(scenario: CompiledScenario, conversation: Conversation, idPrefix: string): Resolution {
  const { userText, step } = currentTurn(conversation);
  const rule = scenario.rules.find((candidate) => candidate.regex.test(userText));
  const steps = rule ? rule.steps : scenario.fallback;
  const scripted = steps?.[step];
  const base = { userText, step, rule: rule?.match ?? null };
  if (!scripted) return { ...base, reply: message(DONE_TEXT) };
  if (scripted.error) return { ...base, reply: { kind: 'error', ...scripted.error } };
  if (scripted.expectImage && !conversation.lastHasImage) {
    const where = rule ? `rule /${rule.match}/` : 'fallback';
    return { ...base, reply: { kind: 'error', status: 400, message: `[scripted model] ${where}, step ${step}: expected a valid image (PNG, JPEG, GIF or WebP) in the request's last message; there was none.` } };
  }
  try {
    return { ...base, reply: materialize(scripted, conversation, idPrefix) };
  } catch (error) {
    // A script that cannot be carried out must fail loudly, yet still end the agent's
    // loop: the problem becomes the answer text, with end_turn.
    const where = rule ? `rule /${rule.match}/` : 'fallback';
    return { ...base, reply: message(`[scripted model] ${where}, step ${step}: ${(error as Error).message}`) };
  }
}

function message(text: string): Reply {
  return { kind: 'message', text, calls: [], delayMs: 0 };
}

const PLACEHOLDER = '{{cwd}}';

/** Tool names per neutral call, first the Claude Code tools, then Cutroom's AI SDK runner tools. */
const TOOL_NAMES = {
  write: ['Write', 'write_file'],
  edit: ['Edit', 'edit_file'],
  read: ['Read', 'read_file'],
  view: ['Read', 'view_image'],
  frame: ['mcp__cutroom__view_frame', 'view_frame'],
} as const;

function materialize(step: ScriptedStep, conversation: Conversation, idPrefix: string): Reply {
  let cwd: string | null | undefined;
  const workingDirectory = (why: string): string => {
    if (cwd === undefined) cwd = findWorkingDirectory(conversation);
    if (cwd === null) {
      throw new Error(
        `${why} needs the agent's working directory, but the request does not name one ` +
          `(looked for "Primary working directory: /…" in the system text and messages).`,
      );
    }
    return cwd;
  };
  const fill = (value: string): string =>
    value.includes(PLACEHOLDER) ? value.replaceAll(PLACEHOLDER, workingDirectory(`"${PLACEHOLDER}"`)) : value;

  const calls = (step.tools ?? []).map((call, index) => ({
    id: `${idPrefix}${index}_${randomUUID().replaceAll('-', '').slice(0, 12)}`,
    ...concreteCall(call, conversation.toolNames, fill, workingDirectory),
  }));
  return { kind: 'message', text: fill(step.text ?? ''), calls, delayMs: step.delayMs ?? 0 };
}

function concreteCall(
  call: ScriptedToolCall,
  offered: string[],
  fill: (value: string) => string,
  workingDirectory: (why: string) => string,
): { name: string; input: Record<string, unknown> } {
  if ('name' in call) return { name: call.name, input: fillDeep(call.input, fill) as Record<string, unknown> };
  const name = TOOL_NAMES[call.tool].find((candidate) => offered.includes(candidate));
  if (!name) {
    throw new Error(
      `cannot make a "${call.tool}" call: the request offers neither ${TOOL_NAMES[call.tool].join(' nor ')} ` +
        `(tools: ${offered.join(', ') || 'none'}).`,
    );
  }
  if (call.tool === 'frame') return { name, input: { frame: call.frame, ...(call.composition ? { composition: call.composition } : {}) } };
  let path = fill(call.path);
  const claudeTool = name === TOOL_NAMES[call.tool][0];
  // Claude Code's file tools want absolute paths; the AI SDK runner's tools take paths
  // relative to the project. An absolute path is passed as is either way (tests use it to
  // try writing outside the project).
  if (claudeTool && !isAbsolute(path)) path = resolve(workingDirectory(`relative path "${path}"`), path);
  const pathKey = claudeTool ? 'file_path' : 'path';
  switch (call.tool) {
    case 'write':
      return { name, input: { [pathKey]: path, content: fill(call.content).repeat(call.repeat ?? 1) } };
    case 'edit':
      return { name, input: { [pathKey]: path, old_string: fill(call.old), new_string: fill(call.new) } };
    case 'read':
    case 'view':
      return { name, input: { [pathKey]: path } };
  }
}

function fillDeep(value: unknown, fill: (value: string) => string): unknown {
  if (typeof value === 'string') return fill(value);
  if (Array.isArray(value)) return value.map((item) => fillDeep(item, fill));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fillDeep(item, fill)]));
  }
  return value;
}
