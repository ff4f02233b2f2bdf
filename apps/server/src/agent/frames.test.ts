import { Readable } from 'node:stream';
import pino from 'pino';
import type { FrameResult, Message, ServerToSandbox } from '@cutroom/protocol';
import { describe, expect, it } from 'vitest';
import type { FrameRenderResult } from '../exports/export-service.js';
import { type ChatDeps, MAX_FRAMES_PER_TURN, createChat } from './turns.js';

/**
 * What a sandbox may ask of the server for view_frame, as a hostile one would ask it: the
 * chat renders frames only during a turn, one at a time per session, at most
 * MAX_FRAMES_PER_TURN per turn, and answers the sandbox that asked, never another.
 */
describe('frame requests from a sandbox', () => {
  function setup() {
    const sent: ServerToSandbox[] = [];
    const rendered: { tree: string; frame: number; compositionId?: string; signal?: AbortSignal }[] = [];
    const answer = { compositionId: 'Main' };
    let release: (() => void) | null = null;
    const hold = { on: false };
    const stall = { on: false };
    const snapshots = { waiting: false };
    const message = (fields: Partial<Message>): Message => ({
      id: `m${Math.random()}`,
      projectId: 'p',
      role: 'user',
      content: '',
      actions: [],
      status: 'done',
      autoFix: false,
      version: null,
      createdAt: '2026-12-01T00:00:00.000Z',
      updatedAt: '2026-12-01T00:00:00.000Z',
      ...fields,
    });
    const deps = {
      store: {
        messages: { add: async (fields: Partial<Message>) => message(fields), list: async () => [] },
        projects: { get: async () => null, update: async () => null },
      },
      repos: {
        readManifest: async () => ({ version: 1, media: [] }),
        snapshotArchive: async (_projectId: string, tar: Readable) => {
          // A stalled archive: the read ends only when its stream is destroyed.
          if (stall.on) {
            snapshots.waiting = true;
            tar.on('error', () => {});
            await new Promise<void>((resolve, reject) => tar.once('close', () => (tar.errored ? reject(tar.errored) : resolve())));
          }
          tar.destroy();
          return 'a'.repeat(40);
        },
      },
      agentState: { archive: async () => null },
      provider: { configured: true, runner: 'claude-agent-sdk', message: '' },
      modelProxy: { endpointFor: async () => ({ wire: 'anthropic', socket: true, path: `/m/${'t'.repeat(32)}` }), revoke: () => {} },
      logger: pino({ level: 'silent' }),
      frames: {
        frame: async (_owner: string, _project: string, tree: string, request: { frame: number; compositionId?: string }, signal?: AbortSignal): Promise<FrameRenderResult> => {
          rendered.push({ tree, ...request, signal });
          if (hold.on) await new Promise<void>((resolve) => (release = resolve));
          return { ok: true, image: Buffer.from([0xff, 0xd8, 0xff, 0xe0]), compositionId: answer.compositionId, frame: request.frame, width: 16, height: 9, fps: 30, durationInFrames: 90 };
        },
      },
    } as unknown as ChatDeps;
    const chat = createChat(deps, { sessionId: 's', projectId: 'p', ownerId: 'u', emit: () => 1 });
    const sandbox = {
      send: (sent_: ServerToSandbox) => void sent.push(sent_),
      files: { read: async () => (stall.on ? new Readable({ read() {} }) : Readable.from([])), write: async () => {} },
    };
    const results = () => sent.filter((entry): entry is FrameResult => entry.type === 'frame:result');
    const ask = (requestId: string, frame = 1) => chat.onSandboxMessage({ type: 'frame:request', requestId, frame });
    const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
    /** The sandbox attached and served; with `turn`, a message sent and its turn running. Returns the turn's id. */
    const open = async (options: { turn: boolean }) => {
      await chat.attachSandbox({ ...sandbox, modelSocketPath: '/nowhere' });
      chat.serve(sandbox);
      if (!options.turn) return '';
      await chat.send({ text: 'Make it blue', clientMessageId: 'c1' });
      await settle();
      return (sent.find((entry) => entry.type === 'prompt') as { turnId: string }).turnId;
    };
    return { chat, sandbox, sent, rendered, results, ask, settle, open, hold, stall, snapshots, answer, release: () => release?.() };
  }

  it('refuses a frame when no turn runs, and renders nothing', async () => {
    const { open, results, ask, settle, rendered } = setup();
    await open({ turn: false });
    ask('r1');
    await settle();
    expect(results()).toEqual([{ type: 'frame:result', requestId: 'r1', ok: false, error: 'Frames can be looked at only during a turn.' }]);
    expect(rendered).toEqual([]);
  });

  it('renders one frame at a time during a turn, answers with the JPEG, and stops at the per-turn limit', async () => {
    const { open, results, ask, settle, rendered, hold, release } = setup();
    await open({ turn: true });
    hold.on = true;
    ask('r1', 5);
    ask('r2', 6);
    await settle();
    expect(results()).toEqual([{ type: 'frame:result', requestId: 'r2', ok: false, error: 'Another frame is being rendered; ask for one frame at a time.' }]);
    release();
    await settle();
    expect(results()[1]).toMatchObject({ requestId: 'r1', ok: true, frame: 5, mediaType: 'image/jpeg', data: Buffer.from([0xff, 0xd8, 0xff, 0xe0]).toString('base64') });
    hold.on = false;
    for (let index = 1; index < MAX_FRAMES_PER_TURN; index++) {
      ask(`more${index}`);
      await settle();
    }
    ask('over');
    await settle();
    expect(rendered).toHaveLength(MAX_FRAMES_PER_TURN);
    expect(results().at(-1)).toEqual({ type: 'frame:result', requestId: 'over', ok: false, error: `This turn has looked at ${MAX_FRAMES_PER_TURN} frames already; finish the change with what you saw.` });
  });

  it('stops the render of a frame whose turn ended, and answers that the turn is over', async () => {
    const { chat, open, results, ask, settle, rendered, hold, release } = setup();
    const turnId = await open({ turn: true });
    hold.on = true;
    ask('r1');
    await settle();
    expect(rendered[0]!.signal?.aborted).toBe(false);
    chat.onSandboxMessage({ type: 'complete', turnId, status: 'done' });
    await settle();
    expect(rendered[0]!.signal?.aborted).toBe(true);
    release();
    await settle();
    expect(results()).toEqual([{ type: 'frame:result', requestId: 'r1', ok: false, error: 'The turn ended before the frame was rendered.' }]);
  });

  it('answers on the bridge the request came from, and never sends what the runtime would refuse', async () => {
    const { chat, open, sent, settle, answer } = setup();
    await open({ turn: true });
    const replies: ServerToSandbox[] = [];
    // A composition id longer than the protocol carries (Remotion sets no limit).
    answer.compositionId = 'x'.repeat(300);
    chat.onSandboxMessage({ type: 'frame:request', requestId: 'r1', frame: 1 }, (reply) => void replies.push(reply));
    await settle();
    expect(replies).toEqual([{ type: 'frame:result', requestId: 'r1', ok: false, error: expect.stringContaining('cannot be shown') }]);
    expect(sent.filter((entry) => entry.type === 'frame:result')).toEqual([]);
  });

  it("stops reading a runtime's stalled archive when the frame is no longer wanted (the project's lock is let go)", async () => {
    const { chat, open, results, ask, settle, rendered, stall, snapshots } = setup();
    const turnId = await open({ turn: true });
    stall.on = true;
    ask('r1');
    await settle();
    expect(snapshots.waiting).toBe(true);
    stall.on = false;
    chat.onSandboxMessage({ type: 'complete', turnId, status: 'done' });
    await settle();
    expect(rendered).toEqual([]);
    expect(results()).toEqual([{ type: 'frame:result', requestId: 'r1', ok: false, error: 'The turn ended before the frame was rendered.' }]);
  });
});
