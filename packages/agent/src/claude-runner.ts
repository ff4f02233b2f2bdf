import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  type HookCallback,
  type Options,
  type Query,
  type SDKMessage,
  type SDKUserMessage,
  type SpawnOptions,
  query,
} from '@anthropic-ai/claude-agent-sdk';
import type { AgentAction, AgentEvent, AgentTool } from '@cutroom/protocol';
import { PathRefused, confinePath } from './confine.js';
import { fileDiff } from './diff.js';
import { CLAUDE_FRAME_SERVER, CLAUDE_FRAME_TOOL, createFrameMcpServer } from './frame-tool.js';
import { agentInstructions } from './instructions.js';
import type { AgentRunner, RunnerOptions, TurnResult } from './runner.js';
import { createWriteBudget, utf8Bytes } from './write-limits.js';

/** The Claude Code tools the agent gets: file tools only, no shell. */
export const CLAUDE_TOOLS = ['Read', 'Write', 'Edit', 'Glob', 'Grep'];

const toolKinds: Record<string, AgentTool> = { Read: 'read', Write: 'write', Edit: 'edit', Glob: 'list', Grep: 'search' };

const SETPRIV = '/usr/bin/setpriv';

/**
 * Spawns the agent's process with a parent-death signal: if the runtime dies (even by
 * SIGKILL), the kernel kills the agent at once, so no agent goes on writing files in a
 * working copy nobody watches. It stays in the runtime's process group, which the
 * driver kills as a whole.
 */
function spawnWithParentDeath(options: SpawnOptions) {
  const [command, args] = existsSync(SETPRIV)
    ? [SETPRIV, ['--pdeathsig', 'KILL', '--', options.command, ...options.args]]
    : [options.command, options.args];
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env as NodeJS.ProcessEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
    signal: options.signal,
  });
  return child as typeof child & { stdin: NonNullable<typeof child.stdin>; stdout: NonNullable<typeof child.stdout> };
}

/** A queue the SDK reads user messages from: one long-lived agent process for all turns. */
function inputQueue() {
  const waiting: SDKUserMessage[] = [];
  let wake: (() => void) | null = null;
  let closed = false;
  return {
    push(message: SDKUserMessage) {
      waiting.push(message);
      wake?.();
    },
    close() {
      closed = true;
      wake?.();
    },
    async *[Symbol.asyncIterator](): AsyncGenerator<SDKUserMessage> {
      while (!closed) {
        const next = waiting.shift();
        if (next) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    },
  };
}

type Turn = {
  onEvent: (event: AgentEvent) => void;
  resolve: (result: TurnResult) => void;
  cancelled: boolean;
  /** Calls in flight, by tool-use id. */
  calls: Map<string, { action: AgentAction }>;
};

/** The transcript of conversation `id` under the config folder, if there is one. */
async function hasTranscript(configDir: string, id: string): Promise<boolean> {
  const projects = path.join(configDir, 'projects');
  const folders = await readdir(projects).catch(() => [] as string[]);
  return folders.some((folder) => existsSync(path.join(projects, folder, `${id}.jsonl`)));
}

/**
 * The default runner: the Claude Agent SDK, one agent process per session fed by
 * streaming input (a turn does not pay a process start), in the working copy, with
 * file tools only. `acceptEdits` lets it write without asking; a PreToolUse hook
 * refuses every file tool call whose real path leaves the working copy (acceptEdits
 * alone lets writes outside through). Its state (the conversation) lives under
 * `<stateDir>/claude`, which the server keeps with the project.
 */
export function createClaudeRunner(options: RunnerOptions): AgentRunner {
  const { workspace, endpoint } = options;
  const log = options.log ?? (() => {});
  const configDir = path.join(options.stateDir, 'claude');
  let sessionId: string | null = null;
  const sessionListeners: ((id: string) => void)[] = [];
  let agent: { query: Query; input: ReturnType<typeof inputQueue>; done: Promise<void> } | null = null;
  let turn: Turn | null = null;
  let closed = false;
  /** The launch under way: a prompt right behind `start()` must not launch a second agent. */
  let launching: Promise<void> | null = null;
  const ensureLaunched = () => {
    if (agent || closed) return Promise.resolve();
    launching ??= launch().finally(() => (launching = null));
    return launching;
  };
  /** File contents before a write or edit, by tool-use id (null: it did not exist; false: too large to diff). */
  const befores = new Map<string, string | null | false>();
  /** What this turn may still write (reset at each turn). */
  const budget = createWriteBudget(options.limits);
  const { maxFileBytes } = budget.limits;
  /** A file's text, when it exists and is small enough to diff; null when missing, false when too large. */
  const readSmall = async (absolute: string): Promise<string | null | false> => {
    const size = await stat(absolute).then((info) => (info.isFile() ? info.size : -1), () => null);
    if (size === null) return null;
    if (size < 0 || size > maxFileBytes) return false;
    return readFile(absolute, 'utf8').catch(() => null);
  };

  /**
   * Refuses a Write or Edit whose content would leave a file over the per-file cap, or
   * take the turn past its budget; counts one that goes ahead. Decided on the tool's
   * input, before Claude Code writes anything.
   */
  async function writeRefusal(tool: string, toolInput: Record<string, unknown>): Promise<string | null> {
    const file = typeof toolInput.file_path === 'string' ? toolInput.file_path : '';
    const shown = relative(file) ?? file;
    if (tool === 'Write') {
      const bytes = typeof toolInput.content === 'string' ? utf8Bytes(toolInput.content) : 0;
      const refusal = budget.refusal(shown, bytes);
      if (!refusal) budget.charge(bytes);
      return refusal;
    }
    if (tool !== 'Edit') return null;
    const newBytes = typeof toolInput.new_string === 'string' ? utf8Bytes(toolInput.new_string) : 0;
    const oldBytes = typeof toolInput.old_string === 'string' ? utf8Bytes(toolInput.old_string) : 0;
    const absolute = path.resolve(workspace, file);
    const size = await stat(absolute).then((info) => info.size, () => 0);
    let times = 1;
    if (toolInput.replace_all === true && typeof toolInput.old_string === 'string' && toolInput.old_string && size <= maxFileBytes) {
      const text = await readFile(absolute, 'utf8').catch(() => '');
      times = Math.max(1, text.split(toolInput.old_string).length - 1);
    }
    const refusal = budget.refusal(shown, newBytes * times, size + (newBytes - oldBytes) * times);
    if (!refusal) budget.charge(newBytes * times);
    return refusal;
  }

  const setSessionId = (id: string) => {
    if (id === sessionId) return;
    sessionId = id;
    for (const listener of sessionListeners) listener(id);
  };

  const relative = (file: unknown) => {
    if (typeof file !== 'string' || !file) return undefined;
    const resolved = path.resolve(workspace, file);
    const inside = path.relative(workspace, resolved);
    return inside.startsWith('..') || path.isAbsolute(inside) ? file : inside || '.';
  };

  /** PreToolUse: every path a file tool names must stay in the working copy. */
  const confine: HookCallback = async (input) => {
    if (input.hook_event_name !== 'PreToolUse') return {};
    const toolInput = (input.tool_input ?? {}) as Record<string, unknown>;
    const deny = (reason: string) => ({
      hookSpecificOutput: { hookEventName: 'PreToolUse' as const, permissionDecision: 'deny' as const, permissionDecisionReason: reason },
    });
    if (input.tool_name === 'Bash' && options.shell) return {};
    // view_frame names no path: the server renders the working copy.
    if (input.tool_name === CLAUDE_FRAME_TOOL && options.viewFrame) return {};
    if (!(input.tool_name in toolKinds)) return deny(`The ${input.tool_name} tool is not available here.`);
    try {
      for (const key of ['file_path', 'path', 'notebook_path']) {
        const value = toolInput[key];
        if (value !== undefined) await confinePath(workspace, String(value));
      }
      const pattern = toolInput.pattern;
      if (input.tool_name === 'Glob' && typeof pattern === 'string' && (path.isAbsolute(pattern) || pattern.split('/').includes('..'))) {
        throw new PathRefused('Glob patterns must be relative to the project folder, without "..".');
      }
    } catch (error) {
      if (error instanceof PathRefused) return deny(error.message);
      throw error;
    }
    const tooMuch = await writeRefusal(input.tool_name, toolInput);
    if (tooMuch) {
      log('refused an oversized write', { tool: input.tool_name, path: relative(toolInput.file_path) });
      return deny(tooMuch);
    }
    // Keep the file as it was, for the action's diff (the hook may run before the
    // assistant message that announces the call has been handled).
    if ((input.tool_name === 'Write' || input.tool_name === 'Edit') && typeof toolInput.file_path === 'string') {
      befores.set(input.tool_use_id, await readSmall(path.resolve(workspace, toolInput.file_path)));
    }
    return {};
  };

  function emitAction(action: AgentAction) {
    turn?.onEvent({ kind: 'action', action: { ...action } });
  }

  async function finishCall(id: string, ok: boolean, content: unknown) {
    const call = turn?.calls.get(id);
    const before = befores.has(id) ? befores.get(id)! : null;
    befores.delete(id);
    if (!call) return;
    turn?.calls.delete(id);
    const { action } = call;
    if (!ok) {
      const text = typeof content === 'string' ? content : Array.isArray(content) ? content.map((part: { text?: string }) => part.text ?? '').join('') : '';
      emitAction({ ...action, status: 'failed', error: text.replace(/<\/?tool_use_error>/g, '').slice(0, 2_000) || 'The tool call failed.' });
      return;
    }
    let diff: string | undefined;
    if ((action.tool === 'write' || action.tool === 'edit') && action.path && before !== false) {
      // Never read a file that is too large back into memory (a shell may have made it).
      const after = await readSmall(path.resolve(workspace, action.path));
      if (typeof after === 'string') diff = fileDiff(action.path, before, after);
    }
    emitAction({ ...action, status: 'done', ...(diff ? { diff } : {}) });
  }

  async function handle(message: SDKMessage) {
    switch (message.type) {
      case 'system':
        if (message.subtype === 'init') setSessionId(message.session_id);
        return;
      case 'stream_event': {
        const event = message.event;
        if (message.parent_tool_use_id === null && event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
          turn?.onEvent({ kind: 'text', delta: event.delta.text });
        }
        return;
      }
      case 'assistant':
        for (const block of message.message.content) {
          if (block.type !== 'tool_use' || !turn) continue;
          const input = (block.input ?? {}) as Record<string, unknown>;
          const target = input.file_path ?? input.path ?? (block.name === 'Glob' ? input.pattern : undefined);
          const action: AgentAction = {
            id: block.id,
            tool: toolKinds[block.name] ?? (block.name === CLAUDE_FRAME_TOOL ? 'read' : 'other'),
            name: block.name === CLAUDE_FRAME_TOOL ? 'view_frame' : block.name,
            status: 'running',
            ...(relative(target) ? { path: relative(target)!.slice(0, 1_000) } : {}),
          };
          turn.calls.set(block.id, { action });
          emitAction(action);
        }
        return;
      case 'user': {
        const content = message.message.content;
        if (!Array.isArray(content)) return;
        for (const block of content) {
          if (block.type === 'tool_result') await finishCall(block.tool_use_id, !block.is_error, block.content);
        }
        return;
      }
      case 'result': {
        const current = turn;
        turn = null;
        if (!current) return;
        for (const [id] of current.calls) await finishCallAs(current, id);
        if (current.cancelled) current.resolve({ status: 'cancelled' });
        else if (message.subtype === 'success' && !message.is_error) current.resolve({ status: 'done' });
        else {
          const reason = message.subtype === 'success' ? message.result : message.errors?.join('; ');
          current.resolve({ status: 'failed', error: describeFailure(reason ?? message.subtype) });
        }
        return;
      }
      default:
        return;
    }
  }

  /** A call the turn left unfinished (interrupted): it did not complete. */
  async function finishCallAs(current: Turn, id: string) {
    const call = current.calls.get(id);
    current.calls.delete(id);
    if (call) current.onEvent({ kind: 'action', action: { ...call.action, status: 'failed', error: 'Stopped before it finished.' } });
  }

  /**
   * The agent's own temporary folder: Claude Code keeps files under `$TMPDIR/claude-<uid>`,
   * and a sandbox's user may not write to (or should not share) the host's /tmp.
   */
  const tmpDir = path.join(options.stateDir, 'tmp');

  async function launch() {
    await mkdir(configDir, { recursive: true });
    await mkdir(tmpDir, { recursive: true });
    // After the agent's process died, go on with this conversation; at first, with the project's.
    const wanted = sessionId ?? options.resumeSessionId;
    let resume: string | undefined;
    if (wanted) {
      if (await hasTranscript(configDir, wanted)) resume = wanted;
      else log('the saved conversation was not found; starting a new one', { sessionId: wanted });
    }
    const input = inputQueue();
    const builtIn = options.shell ? [...CLAUDE_TOOLS, 'Bash'] : CLAUDE_TOOLS;
    const sdkOptions: Options = {
      cwd: workspace,
      tools: builtIn,
      allowedTools: options.viewFrame ? [...builtIn, CLAUDE_FRAME_TOOL] : builtIn,
      ...(options.viewFrame ? { mcpServers: { [CLAUDE_FRAME_SERVER]: createFrameMcpServer(options.viewFrame) } } : {}),
      permissionMode: 'acceptEdits',
      settingSources: [],
      includePartialMessages: true,
      systemPrompt: { type: 'preset', preset: 'claude_code', append: agentInstructions({ workspace, runner: 'claude-agent-sdk', frames: Boolean(options.viewFrame) }) },
      ...(endpoint.model ? { model: endpoint.model } : {}),
      ...(resume ? { resume } : { sessionId: randomUUID() }),
      hooks: { PreToolUse: [{ hooks: [confine] }] },
      // Built from scratch: the runtime's environment is not the agent's business.
      env: {
        PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
        HOME: options.stateDir,
        TMPDIR: tmpDir,
        CLAUDE_CONFIG_DIR: configDir,
        ANTHROPIC_BASE_URL: endpoint.baseUrl,
        // The proxy's URL carries the session's token; the provider's key stays on the server.
        ANTHROPIC_API_KEY: 'cutroom-model-proxy',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_AUTOUPDATER: '1',
        DISABLE_TELEMETRY: '1',
      },
      spawnClaudeCodeProcess: spawnWithParentDeath,
      stderr: (data) => log('agent stderr', data.slice(0, 2_000)),
    };
    const q = query({ prompt: input, options: sdkOptions });
    const done = (async () => {
      try {
        for await (const message of q) await handle(message);
      } catch (error) {
        // An API error ends with a result, then the iterator throws: the process is done.
        if (!closed) log('the agent process ended', error);
      } finally {
        q.close();
        // The process is gone: a turn in flight fails; the next turn starts a new process.
        if (agent?.query === q) agent = null;
        const current = turn;
        turn = null;
        current?.resolve(current.cancelled ? { status: 'cancelled' } : { status: 'failed', error: 'The agent stopped unexpectedly.' });
      }
    })();
    agent = { query: q, input, done };
    if (!resume) setSessionId((sdkOptions.sessionId as string) ?? randomUUID());
    else setSessionId(resume);
  }

  return {
    name: 'claude-agent-sdk',

    async start() {
      await ensureLaunched();
    },

    async turn(prompt, onEvent) {
      if (turn) return { status: 'failed', error: 'Another turn is still running.' };
      if (closed) return { status: 'failed', error: 'The agent has been closed.' };
      await ensureLaunched();
      if (!agent) return { status: 'failed', error: 'The agent could not be started.' };
      if (turn) return { status: 'failed', error: 'Another turn is still running.' };
      return new Promise<TurnResult>((resolve) => {
        budget.reset();
        turn = { onEvent, resolve, cancelled: false, calls: new Map() };
        agent!.input.push({ type: 'user', message: { role: 'user', content: prompt }, parent_tool_use_id: null });
      });
    },

    cancel() {
      if (!turn || !agent) return;
      turn.cancelled = true;
      void agent.query.interrupt().catch((error: unknown) => log('interrupt failed', error));
    },

    sessionId: () => sessionId,
    onSessionId: (listener) => void sessionListeners.push(listener),

    async close() {
      closed = true;
      const current = agent;
      agent = null;
      if (!current) return;
      current.input.close();
      current.query.close();
      await Promise.race([current.done, new Promise((resolve) => setTimeout(resolve, 3_000))]);
    },
  };
}

/** Turns the SDK's failure text into something a person can act on. */
function describeFailure(reason: string): string {
  if (/401|authentication|api key/i.test(reason)) return 'The model provider refused the request (check the API key the server is configured with).';
  if (/ECONNREFUSED|fetch failed|network|connect/i.test(reason)) return 'The model provider could not be reached.';
  return reason.slice(0, 1_000) || 'The agent failed.';
}
