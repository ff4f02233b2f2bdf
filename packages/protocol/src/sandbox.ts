import { z } from 'zod';
import { AgentEvent, TurnStatus } from './agent.js';

/**
 * Messages between the server and a sandbox's runtime. Everything a sandbox sends is
 * untrusted (project code runs there): the server parses each message with these
 * schemas and drops the sandbox on rubbish.
 */

/**
 * Where the runtime's preview server and bridge listen: Unix sockets in its own
 * `sock/` folder (`preview.sock`, `bridge.sock`, `files.sock`: sandboxes with no network), or
 * loopback ports (a driver whose sandboxes live on another host).
 */
export const RuntimeListen = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('unix') }),
  z.strictObject({
    kind: z.literal('tcp'),
    previewPort: z.number().int().min(1).max(65_535),
    bridgePort: z.number().int().min(1).max(65_535),
    /** The runtime's files server (`sock/files.sock` in the unix form). */
    filesPort: z.number().int().min(1).max(65_535),
  }),
]);
export type RuntimeListen = z.infer<typeof RuntimeListen>;

/** Sent once by the runtime when its preview server and bridge listen (over IPC, or as one JSON line on stdout). */
export const RuntimeReady = z.strictObject({
  type: z.literal('runtime:ready'),
  listen: RuntimeListen,
  /** How long the runtime took from process start to ready, in ms. */
  startupMs: z.number().nonnegative(),
});
export type RuntimeReady = z.infer<typeof RuntimeReady>;

/**
 * The bridge token, sent by the local driver over IPC right after the spawn: never in
 * the environment, where `/proc/<pid>/environ` would show it for the process's life.
 */
export const RuntimeSecret = z.strictObject({
  type: z.literal('runtime:secret'),
  bridgeToken: z.string().min(16).max(200),
  /** The preview server answers only requests that carry it (the proxy adds it). */
  previewKey: z.string().min(16).max(200),
});

/** Header in which the preview proxy hands the sandbox's preview key to its Vite. */
export const PREVIEW_KEY_HEADER = 'x-cutroom-preview-key';
export type RuntimeSecret = z.infer<typeof RuntimeSecret>;

// server → sandbox, over the bridge WebSocket

export const WorkspaceReset = z.strictObject({
  type: z.literal('workspace:reset'),
  requestId: z.string().min(1).max(100),
});

/** Where the agent reaches its model: always the server's model proxy, never a provider. */
export const ModelEndpoint = z.strictObject({
  /** Which API the proxy speaks on this path. */
  wire: z.enum(['anthropic', 'openai']),
  /** The proxy's URL for this session (its token is part of the path). */
  baseUrl: z.string().url().max(500),
  /** The model's name, when configured (`MODEL`). */
  model: z.string().max(200).optional(),
});
export type ModelEndpoint = z.infer<typeof ModelEndpoint>;

/**
 * The model proxy as a sandbox with no network reaches it: the server listens on the
 * sandbox's `sock/model.sock`; the runtime forwards a port of its own loopback there and
 * hands the agent `http://127.0.0.1:<port><path>`.
 */
export const ModelSocketEndpoint = z.strictObject({
  wire: z.enum(['anthropic', 'openai']),
  socket: z.literal(true),
  /** `/m/<token>`: the session's token, as the proxy expects it in the path. */
  path: z.string().regex(/^\/m\/[A-Za-z0-9_-]{20,100}$/),
  model: z.string().max(200).optional(),
});
export type ModelSocketEndpoint = z.infer<typeof ModelSocketEndpoint>;

/** What `agent:start` says: a URL the agent can reach directly (TCP drivers), or the socket. */
export const AgentModelEndpoint = z.union([ModelEndpoint, ModelSocketEndpoint]);
export type AgentModelEndpoint = z.infer<typeof AgentModelEndpoint>;

export const AgentRunnerName = z.enum(['claude-agent-sdk', 'ai-sdk']);
export type AgentRunnerName = z.infer<typeof AgentRunnerName>;

/**
 * The sandbox now belongs to a project: start its agent (ahead of the first turn, so
 * the turn does not pay the process start), resuming the project's conversation.
 * The agent's saved state is already in the sandbox's state folder.
 */
export const AgentStart = z.strictObject({
  type: z.literal('agent:start'),
  runner: AgentRunnerName,
  endpoint: AgentModelEndpoint,
  resumeSessionId: z.string().max(200).optional(),
  /** Whether the agent may use a shell (AGENT_SHELL; Claude runner only). */
  shell: z.boolean().optional(),
  /** What one tool call and one turn may write (AGENT_MAX_FILE_BYTES, AGENT_MAX_TURN_BYTES). */
  limits: z
    .strictObject({
      maxFileBytes: z.number().int().positive(),
      maxTurnBytes: z.number().int().positive(),
    })
    .optional(),
});

/** Run one turn. One at a time: the server queues the rest. */
export const Prompt = z.strictObject({
  type: z.literal('prompt'),
  turnId: z.string().min(1).max(100),
  text: z.string().min(1).max(100_000),
});

/** Stop the running turn (the agent stays up for the next one). */
export const Cancel = z.strictObject({
  type: z.literal('cancel'),
  turnId: z.string().min(1).max(100),
});

export type AgentStart = z.infer<typeof AgentStart>;
export type Prompt = z.infer<typeof Prompt>;

/**
 * The project's packages changed (installed, or failed to): its `node_modules` now shows
 * the install `key` (read-only). `error`: why the install failed, for the preview to show
 * (and the agent to fix); `key` is then the last install that worked, if any.
 */
export const PackagesReady = z.strictObject({
  type: z.literal('packages:ready'),
  key: z.string().regex(/^[a-z0-9]{1,64}$/),
  error: z.string().max(4_000).optional(),
});
export type PackagesReady = z.infer<typeof PackagesReady>;

/** The largest picture of a frame the server sends the agent (JPEG; its base64 fits a bridge frame). */
export const MAX_FRAME_IMAGE_BYTES = 640 * 1024;
/** The longest side of a frame's picture: larger compositions are scaled down to it. */
export const FRAME_IMAGE_MAX_SIDE = 1_280;

/**
 * The answer to `frame:request`: a still of the working copy as it is now, rendered in a
 * render sandbox, as a JPEG (base64), or why it could not be rendered (in words the agent
 * can act on: a compile error, no such composition, a frame past the end).
 */
export const FrameResult = z.discriminatedUnion('ok', [
  z.strictObject({
    type: z.literal('frame:result'),
    requestId: z.string().min(1).max(100),
    ok: z.literal(true),
    compositionId: z.string().min(1).max(200),
    frame: z.number().int().min(0),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    /** The composition's own length, so the agent knows which frames there are. */
    durationInFrames: z.number().int().positive(),
    fps: z.number().positive(),
    mediaType: z.literal('image/jpeg'),
    data: z.string().max(Math.ceil(MAX_FRAME_IMAGE_BYTES / 3) * 4).regex(/^[A-Za-z0-9+/]*={0,2}$/),
  }),
  z.strictObject({
    type: z.literal('frame:result'),
    requestId: z.string().min(1).max(100),
    ok: z.literal(false),
    error: z.string().min(1).max(4_000),
  }),
]);
export type FrameResult = z.infer<typeof FrameResult>;

export const ServerToSandbox = z.union([
  z.discriminatedUnion('type', [WorkspaceReset, AgentStart, Prompt, Cancel, PackagesReady]),
  FrameResult,
]);
export type ServerToSandbox = z.infer<typeof ServerToSandbox>;

// sandbox → server, over the bridge WebSocket

export const WorkspaceResetDone = z.strictObject({
  type: z.literal('workspace:reset:done'),
  requestId: z.string().min(1).max(100),
});

/** Something the agent did during a turn. */
export const AgentMessage = z.strictObject({
  type: z.literal('agent_message'),
  turnId: z.string().min(1).max(100),
  event: AgentEvent,
});

/** The agent's own conversation id, to resume it in the project's next session. */
export const AgentSessionId = z.strictObject({
  type: z.literal('session_id'),
  agentSessionId: z.string().min(1).max(200),
});

/** The turn is over; the working copy holds whatever it changed. */
export const TurnComplete = z.strictObject({
  type: z.literal('complete'),
  turnId: z.string().min(1).max(100),
  status: TurnStatus,
  /** Why it failed, for people. */
  error: z.string().max(4_000).optional(),
});

/** Largest `package.json` and lockfile a sandbox may send with `packages:wanted`. */
export const MAX_PACKAGE_MANIFEST_BYTES = 256 * 1024;
export const MAX_PACKAGE_LOCKFILE_BYTES = 2 * 1024 * 1024;

/**
 * The working copy's `package.json` (and lockfile) as the runtime found them at start and
 * after each change: the server installs what they ask for and answers `packages:ready`.
 * Project code could send anything here: the server validates the manifest itself.
 */
export const PackagesWanted = z.strictObject({
  type: z.literal('packages:wanted'),
  packageJson: z.string().max(MAX_PACKAGE_MANIFEST_BYTES).nullable(),
  lockfile: z
    .strictObject({ name: z.enum(['pnpm-lock.yaml', 'package-lock.json']), text: z.string().max(MAX_PACKAGE_LOCKFILE_BYTES) })
    .optional(),
});
export type PackagesWanted = z.infer<typeof PackagesWanted>;

/**
 * The agent asks to see a frame of its video (its `view_frame` tool): the working copy as it
 * is now, composition `compositionId` (the first when absent) at `frame`. Answered by
 * `frame:result` with the same `requestId`; only during a turn, one at a time.
 */
export const FrameRequest = z.strictObject({
  type: z.literal('frame:request'),
  requestId: z.string().min(1).max(100),
  compositionId: z.string().min(1).max(200).optional(),
  frame: z.number().int().min(0).max(10_000_000),
});
export type FrameRequest = z.infer<typeof FrameRequest>;

export const SandboxToServer = z.discriminatedUnion('type', [WorkspaceResetDone, AgentMessage, AgentSessionId, TurnComplete, PackagesWanted, FrameRequest]);
export type SandboxToServer = z.infer<typeof SandboxToServer>;
