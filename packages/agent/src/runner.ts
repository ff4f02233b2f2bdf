import type { AgentEvent, ModelEndpoint, TurnStatus } from '@cutroom/protocol';
import type { WriteLimits } from './write-limits.js';

/**
 * One interface for every agent runner. A runner belongs to one session: it is started
 * once (ahead of the first turn) and runs turns one after another in the working copy.
 */
export type RunnerOptions = {
  /** The working copy: the only folder the agent may touch. */
  workspace: string;
  /**
   * The agent's own state (conversation, config), kept with the project between
   * sessions: whatever the runner writes under it is saved after each turn and
   * restored into the next session's folder.
   */
  stateDir: string;
  /** The server's model proxy for this session (never a provider's own URL or key). */
  endpoint: ModelEndpoint;
  /**
   * Give the agent a shell (Claude runner: Bash). A shell is not confined to the working
   * copy the way file tools are: only for trusted setups (AGENT_SHELL).
   */
  shell?: boolean;
  /** What one tool call and one turn may write (AGENT_MAX_FILE_BYTES, AGENT_MAX_TURN_BYTES); defaults: DEFAULT_WRITE_LIMITS. */
  limits?: Partial<WriteLimits>;
  /** The conversation to go on with (from an earlier session of the project). */
  resumeSessionId?: string;
  /**
   * Renders a frame of the working copy as it is now (the server does, in a render
   * sandbox): the agent's view_frame tool. Without it the runner has no such tool.
   */
  viewFrame?: (request: FrameViewRequest) => Promise<FrameView>;
  /** Diagnostics; never user-facing. */
  log?: (message: string, detail?: unknown) => void;
};

export type TurnResult = {
  status: TurnStatus;
  /** Why it failed, in words for people. */
  error?: string;
};

export interface AgentRunner {
  readonly name: 'claude-agent-sdk' | 'ai-sdk';
  /** Starts the agent (its process, if it has one) so the first turn does not wait for it. */
  start(): Promise<void>;
  /**
   * Runs one turn: streams what the agent says and does through `onEvent`, resolves when
   * the turn is over (never rejects: a failure is a `failed` result). One at a time.
   */
  turn(prompt: string, onEvent: (event: AgentEvent) => void): Promise<TurnResult>;
  /** Stops the running turn; the runner stays usable for the next one. */
  cancel(): void;
  /** The conversation's id, once known (reported to the server to resume it later). */
  sessionId(): string | null;
  /** Called when the conversation's id becomes known or changes. */
  onSessionId(listener: (sessionId: string) => void): void;
  /** Ends the agent and whatever process it runs. */
  close(): Promise<void>;
}

/** A frame the agent asks to see: of composition `compositionId` (the first when absent). */
export type FrameViewRequest = { compositionId?: string; frame: number };

/** A frame as the agent sees it (a JPEG, base64, with what it shows), or why there is none. */
export type FrameView =
  | { ok: true; compositionId: string; frame: number; width: number; height: number; fps: number; durationInFrames: number; mediaType: 'image/jpeg'; data: string }
  | { ok: false; error: string };
