import { z } from 'zod';

/**
 * Messages between the server and a sandbox's runtime. Everything a sandbox sends is
 * untrusted (project code runs there): the server parses each message with these
 * schemas and drops the sandbox on rubbish.
 */

/** Sent once by the runtime when its preview server and bridge listen (local driver: over IPC). */
export const RuntimeReady = z.strictObject({
  type: z.literal('runtime:ready'),
  previewPort: z.number().int().min(1).max(65_535),
  bridgePort: z.number().int().min(1).max(65_535),
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

export const Prompt = z.strictObject({
  type: z.literal('prompt'),
  text: z.string().max(100_000),
  clientMessageId: z.string().max(100),
});

export const ServerToSandbox = z.discriminatedUnion('type', [WorkspaceReset, Prompt]);
export type ServerToSandbox = z.infer<typeof ServerToSandbox>;

// sandbox → server, over the bridge WebSocket

export const WorkspaceResetDone = z.strictObject({
  type: z.literal('workspace:reset:done'),
  requestId: z.string().min(1).max(100),
});

export const SandboxToServer = z.discriminatedUnion('type', [WorkspaceResetDone]);
export type SandboxToServer = z.infer<typeof SandboxToServer>;
