import { z } from 'zod';
import { AgentEvent, TurnStatus } from './agent.js';
import { ErrorCode } from './errors.js';
import { Export } from './exports.js';
import { Message } from './rest.js';
import { Text } from './text.js';

/**
 * Version of the WebSocket protocol. A client sends it in `session:start`; the server
 * answers a mismatch with `error {code: 'protocol_mismatch'}` and says which side is behind.
 */
export const PROTOCOL_VERSION = 1;

/**
 * Largest WebSocket frame either side accepts, in bytes. A larger frame, up to
 * `MAX_FRAME_PAYLOAD_BYTES`, is answered `frame_too_large`; past that the connection is
 * closed with 1009 (message too big).
 */
export const MAX_FRAME_BYTES = 256 * 1024;

/** Past this payload a WebSocket connection is closed with 1009 instead of answered. */
export const MAX_FRAME_PAYLOAD_BYTES = MAX_FRAME_BYTES * 4;

/** Deepest nesting of objects and arrays a frame may have; deeper is `invalid_message`. */
export const MAX_JSON_DEPTH = 32;

// browser → server

export const SessionStart = z.strictObject({
  type: z.literal('session:start'),
  projectId: Text.min(1).max(100),
  protocolVersion: z.number().int().nonnegative(),
  /** The last `seq` the client saw, of the session `sessionId`: a reconnect gets what it missed. */
  lastSeq: z.number().int().nonnegative().optional(),
  /**
   * The session `lastSeq` belongs to. Each session numbers its events from 1, so a
   * `lastSeq` counts only with its session: another (or none) gets a snapshot instead.
   */
  sessionId: Text.min(1).max(100).optional(),
});

export const MessageSend = z.strictObject({
  type: z.literal('message:send'),
  text: Text.min(1).max(20_000),
  clientMessageId: Text.min(1).max(100),
  /** Set when the web app sends a preview error report for an automatic fix. */
  autoFix: z.boolean().optional(),
  /** Media files of the project (names in public/) sent with this message: uploaded first, then named here. */
  attachments: z.array(Text.min(1).max(200)).max(20).optional(),
});

export const MessageCancel = z.strictObject({ type: z.literal('message:cancel') });
export const SessionEnd = z.strictObject({ type: z.literal('session:end') });

/** Start the session again after an error (same project, a fresh sandbox). */
export const SessionRestart = z.strictObject({ type: z.literal('session:restart') });

export const ClientMessage = z.discriminatedUnion('type', [
  SessionStart,
  MessageSend,
  MessageCancel,
  SessionEnd,
  SessionRestart,
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

// server → browser
// Every event of a session carries a `seq`: the session's own numbering, from 1, with no gaps.

export const SessionState = z.enum(['starting', 'running', 'grace', 'stopped', 'error']);
export type SessionState = z.infer<typeof SessionState>;

/** The preview is up: load `previewUrl` (carries a short-lived token) in the iframe. */
export const SessionReady = z.object({
  type: z.literal('session:ready'),
  seq: z.number().int(),
  sessionId: z.string(),
  previewUrl: z.string(),
});

/** The session's lifecycle, for the status the page shows. */
export const SessionStatus = z.object({
  type: z.literal('session:status'),
  seq: z.number().int(),
  sessionId: z.string(),
  state: SessionState,
  /** Why, for `error` and `stopped`. */
  reason: z.string().optional(),
});

/** The session is over (ended by the user, culled, or failed); start a new one to go on. */
export const SessionEnded = z.object({
  type: z.literal('session:ended'),
  seq: z.number().int(),
  sessionId: z.string(),
  reason: z.string(),
});

/**
 * The answer to `session:start`, after any replay: which session the client is in and
 * its state now. Not an event of the session's stream, so it carries no `seq`.
 * `replay` says what came before it: `events`, exactly the events after the client's
 * `lastSeq` of this same session; or `snapshot`, the session as it is now (status,
 * preview, the turn under way) because the client is new, or its `lastSeq` belongs to
 * another session or server life, or is older than the events still held. After a
 * snapshot the client must reload what it may have missed (the chat's history).
 * `lastSeq` is where the client now is: the next `lastSeq` to send with this `sessionId`.
 */
export const SessionJoined = z.object({
  type: z.literal('session:joined'),
  sessionId: z.string(),
  state: SessionState,
  replay: z.enum(['events', 'snapshot']),
  lastSeq: z.number().int().nonnegative(),
});

/**
 * The session's sandbox waits for its turn to boot (boots run a few at a time, and only
 * when the machine has the memory for one more). `position` 1 is the next to start;
 * `reason` says whether it waits for a free slot or for memory. Sent again as the line
 * moves, and once with `position: 0` when its sandbox starts booting. Not an event of
 * the session's stream (the place changes too often to replay), so no `seq`: a tab that
 * joins a waiting session gets the current place after `session:joined`.
 */
export const SessionQueued = z.object({
  type: z.literal('session:queued'),
  sessionId: z.string(),
  position: z.number().int().nonnegative(),
  /** Absent with `position: 0`. */
  reason: z.enum(['slots', 'memory']).optional(),
});

/**
 * A chat message was saved: the user's (at once, before the agent sees it; `queued`
 * while another turn runs) or the agent's (when its turn is over).
 */
export const MessageSaved = z.object({
  type: z.literal('message:saved'),
  seq: z.number().int(),
  sessionId: z.string(),
  message: Message,
  /** The sender's id for it, so the tab that sent it can match it. */
  clientMessageId: z.string().optional(),
  queued: z.boolean(),
});

/** A turn started: the agent is working on the user message `userMessageId`. */
export const AgentTurn = z.object({
  type: z.literal('agent:turn'),
  seq: z.number().int(),
  sessionId: z.string(),
  turnId: z.string(),
  userMessageId: z.string(),
});

/** The agent's words and tool calls, as they happen. */
export const AgentMessageEvent = z.object({
  type: z.literal('agent:message'),
  seq: z.number().int(),
  sessionId: z.string(),
  turnId: z.string(),
  event: AgentEvent,
});

/**
 * The turn is over: `messageId` is the saved assistant message (also sent as
 * `message:saved`), `version` the project's version after it (a new one when the turn
 * changed files, see `newVersion`).
 */
export const AgentComplete = z.object({
  type: z.literal('agent:complete'),
  seq: z.number().int(),
  sessionId: z.string(),
  turnId: z.string(),
  messageId: z.string(),
  status: TurnStatus,
  version: z.string().nullable(),
  newVersion: z.boolean(),
});

export const ServerError = z.object({
  type: z.literal('error'),
  /** Set when the error belongs to a session's event stream. */
  seq: z.number().int().optional(),
  /** Set when the error answers a `message:send`: that message was not saved. */
  clientMessageId: z.string().optional(),
  code: ErrorCode,
  message: z.string(),
  /** For `protocol_mismatch`: what the server speaks. */
  serverProtocolVersion: z.number().int().optional(),
});

/**
 * An export of the user's changed (status, progress): sent to every open /ws connection
 * of its owner, whatever session they are in. Not a session event, so no `seq`.
 */
export const ExportProgress = z.object({
  type: z.literal('export:progress'),
  export: Export,
});

/**
 * A project of the user has a new thumbnail (`GET /api/projects/:id/thumbnail?v=<thumbnailVersion>`):
 * sent to every open /ws connection of its owner. No `seq`.
 */
export const ThumbnailReady = z.object({
  type: z.literal('thumbnail:ready'),
  projectId: z.string(),
  thumbnailVersion: z.string(),
  thumbnailComposition: z.string().nullable(),
});

export const ServerMessage = z.discriminatedUnion('type', [
  SessionReady,
  SessionStatus,
  SessionEnded,
  SessionJoined,
  SessionQueued,
  MessageSaved,
  AgentTurn,
  AgentMessageEvent,
  AgentComplete,
  ServerError,
  ExportProgress,
  ThumbnailReady,
]);
export type ServerMessage = z.infer<typeof ServerMessage>;
