import { createSdkMcpServer, tool as claudeTool } from '@anthropic-ai/claude-agent-sdk';
import { tool } from 'ai';
import { z } from 'zod';
import type { FrameView, FrameViewRequest } from './runner.js';

/**
 * view_frame: the agent looks at a frame of its own video. The runtime asks the server,
 * which renders the working copy as it is now in a render sandbox (like an export) and
 * sends back a JPEG; both runners hand it to the model as an image. A frame that cannot
 * be rendered (the code does not compile, no such composition, past the end) comes back
 * as an error in words the model can act on.
 */

export const FRAME_TOOL_NAME = 'view_frame';
/** The Claude runner's name for it: a tool of the in-process MCP server `cutroom`. */
export const CLAUDE_FRAME_SERVER = 'cutroom';
export const CLAUDE_FRAME_TOOL = `mcp__${CLAUDE_FRAME_SERVER}__${FRAME_TOOL_NAME}`;

const DESCRIPTION =
  'Look at one frame of the video as it renders now (your unsaved edits included): you see the picture. Use it to check a layout, a placed image or a font after you change them. Takes a few seconds (the project is bundled and rendered); look at few frames, where it matters.';

const inputShape = {
  frame: z.number().int().min(0).max(10_000_000).describe('The frame number, from 0 (at 30 fps, second 2 is frame 60).'),
  composition: z.string().min(1).max(200).optional().describe('The composition id; default: the first composition.'),
};

/** The words that go with a frame's picture. */
export function frameViewText(view: Extract<FrameView, { ok: true }>): string {
  return `Frame ${view.frame} of "${view.compositionId}" (${view.durationInFrames} frames at ${view.fps} fps), shown at ${view.width}×${view.height}.`;
}

export class FrameToolError extends Error {
  override name = 'FrameToolError';
}

const toRequest = (input: { frame: number; composition?: string | undefined }): FrameViewRequest => ({
  frame: input.frame,
  ...(input.composition ? { compositionId: input.composition } : {}),
});

/** The AI SDK runner's view_frame (the image reaches the model as the tool's result). */
export function createFrameTool(viewFrame: (request: FrameViewRequest) => Promise<FrameView>) {
  return {
    [FRAME_TOOL_NAME]: tool({
      description: DESCRIPTION,
      inputSchema: z.object(inputShape),
      execute: async (input) => {
        const view = await viewFrame(toRequest(input));
        // A frame that could not be rendered: the AI SDK hands the reason to the model.
        if (!view.ok) throw new FrameToolError(view.error);
        return { text: frameViewText(view), data: view.data, mediaType: view.mediaType };
      },
      toModelOutput: ({ output }) => ({
        type: 'content' as const,
        value: [
          { type: 'text' as const, text: output.text },
          { type: 'image-data' as const, data: output.data, mediaType: output.mediaType },
        ],
      }),
    }),
  };
}

export type FrameTools = ReturnType<typeof createFrameTool>;

/** The Claude runner's view_frame: an in-process MCP server with the one tool. */
export function createFrameMcpServer(viewFrame: (request: FrameViewRequest) => Promise<FrameView>) {
  return createSdkMcpServer({
    name: CLAUDE_FRAME_SERVER,
    version: '1.0.0',
    tools: [
      claudeTool(FRAME_TOOL_NAME, DESCRIPTION, inputShape, async (input) => {
        const view = await viewFrame(toRequest(input));
        if (!view.ok) return { content: [{ type: 'text', text: view.error }], isError: true };
        return {
          content: [
            { type: 'text', text: frameViewText(view) },
            { type: 'image', data: view.data, mimeType: view.mediaType },
          ],
        };
      }),
    ],
  });
}
