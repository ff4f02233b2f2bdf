import { type AgentRunner, type RunnerOptions, createRunner } from '@cutroom/agent';
import { randomUUID } from 'node:crypto';
import type { FrameView, FrameViewRequest } from '@cutroom/agent';
import { type AgentEvent, type AgentStart, type FrameResult, MAX_ACTION_DIFF, type ModelEndpoint, type Prompt, type SandboxToServer } from '@cutroom/protocol';
import { type ModelForwarder, startModelForwarder } from './model-forwarder.js';

/** A cancelled turn that has not ended after this long is ended by replacing the agent. */
const CANCEL_LIMIT_MS = 5_000;
/** How long the agent's view_frame waits for the server's render (a bundle, a browser, a frame). */
const FRAME_WAIT_MS = 180_000;
/** Longest text delta one `agent_message` carries (the protocol's limit); longer ones go in pieces. */
export const MAX_TEXT_DELTA = 100_000;
/** Reply text one turn forwards at most (the server keeps no more than this either). */
export const MAX_TURN_TEXT = 200_000;

/**
 * What the agent did, cut to what the protocol carries: text in pieces of at most
 * MAX_TEXT_DELTA (and no more than `textLeft` in all), every field of an action within
 * its limit. Whatever a runner (or a rogue model) produces, no message of the bridge
 * outgrows a frame, and the server never drops one for being too long.
 */
export function boundEvent(event: AgentEvent, textLeft = MAX_TURN_TEXT): AgentEvent[] {
  if (event.kind === 'text') {
    const text = event.delta.slice(0, Math.max(0, textLeft));
    const pieces: AgentEvent[] = [];
    for (let at = 0; at < text.length; at += MAX_TEXT_DELTA) pieces.push({ kind: 'text', delta: text.slice(at, at + MAX_TEXT_DELTA) });
    return pieces;
  }
  const { action } = event;
  const cut = (value: string | undefined, max: number, note = '') =>
    value === undefined || value.length <= max ? value : `${value.slice(0, max - note.length)}${note}`;
  const bounded = {
    ...action,
    id: cut(action.id, 200)!,
    name: cut(action.name, 100)!,
    path: cut(action.path, 1_000),
    diff: cut(action.diff, MAX_ACTION_DIFF + 200, '\n… (diff cut)\n'),
    error: cut(action.error, 2_000, '…'),
  };
  return [{ kind: 'action', action: Object.fromEntries(Object.entries(bounded).filter(([, value]) => value !== undefined)) as typeof action }];
}

/**
 * The agent's side of the bridge: starts the runner the server asks for (once the
 * sandbox belongs to a project), runs one turn at a time and streams what the agent
 * does back as `agent_message`, then `complete`. The server queues further messages;
 * a prompt that arrives while a turn runs is answered with a failed `complete`. A prompt
 * right behind `agent:start` (the session's first message, sent as soon as it is ready)
 * waits for that start instead of being refused.
 */
export function createAgentHost(settings: {
  workspace: string;
  stateDir: string;
  /** The server's model proxy socket for this sandbox (`$RUNTIME_DIR/sock/model.sock`). */
  modelSocketPath?: string;
  send: (message: SandboxToServer) => void;
}) {
  const { send } = settings;
  let runner: AgentRunner | null = null;
  let forwarder: Promise<ModelForwarder> | null = null;
  let options: (RunnerOptions & { name: AgentStart['runner'] }) | null = null;
  let running: string | null = null;
  /** The latest `agent:start` under way (settled: none is). */
  let starting: Promise<void> = Promise.resolve();
  /** view_frame calls waiting for the server's `frame:result`, by request id. */
  const frames = new Map<string, (result: FrameView) => void>();

  /** The runner's view_frame: asks the server to render a frame of the working copy as it is now. */
  function viewFrame(request: FrameViewRequest): Promise<FrameView> {
    const requestId = randomUUID();
    return new Promise<FrameView>((resolve) => {
      const timer = setTimeout(() => {
        frames.delete(requestId);
        resolve({ ok: false, error: 'The frame took too long to render; try again, or go on without it.' });
      }, FRAME_WAIT_MS);
      frames.set(requestId, (result) => {
        clearTimeout(timer);
        frames.delete(requestId);
        resolve(result);
      });
      send({ type: 'frame:request', requestId, frame: request.frame, ...(request.compositionId ? { compositionId: request.compositionId } : {}) });
    });
  }
  const log = (message: string, detail?: unknown) => console.error(`agent: ${message}`, detail ?? '');

  function launch(resumeSessionId?: string) {
    if (!options) return null;
    const next = createRunner(options.name, { ...options, ...(resumeSessionId ? { resumeSessionId } : {}) });
    next.onSessionId((agentSessionId) => send({ type: 'session_id', agentSessionId }));
    runner = next;
    return next;
  }

  /** A URL the runner can reach: as given, or through the forwarder (started once) to the proxy's socket. */
  async function reachable(endpoint: AgentStart['endpoint']): Promise<ModelEndpoint | null> {
    if (!('socket' in endpoint)) return endpoint;
    const socketPath = settings.modelSocketPath;
    if (!socketPath) {
      log('agent:start names the model socket, but this runtime has none');
      return null;
    }
    forwarder ??= startModelForwarder(socketPath).catch((error: unknown) => {
      // Tried again at the next agent:start.
      forwarder = null;
      throw error;
    });
    const { origin } = await forwarder;
    return { wire: endpoint.wire, baseUrl: `${origin}${endpoint.path}`, ...(endpoint.model ? { model: endpoint.model } : {}) };
  }

  async function start(message: AgentStart) {
    if (runner) return log('agent:start ignored: the agent is already started');
    const endpoint = await reachable(message.endpoint).catch((error: unknown) => {
      log('the way to the model proxy could not be opened', error);
      return null;
    });
    if (!endpoint || runner) return;
    options = {
      name: message.runner,
      workspace: settings.workspace,
      stateDir: settings.stateDir,
      endpoint,
      resumeSessionId: message.resumeSessionId,
      shell: message.shell ?? false,
      ...(message.limits ? { limits: message.limits } : {}),
      viewFrame,
      log,
    };
    await launch()
      ?.start()
      .catch((error: unknown) => log('the agent could not be started', error));
  }

  return {
    start(message: AgentStart) {
      starting = start(message);
      return starting;
    },

    async prompt(message: Prompt) {
      const { turnId } = message;
      // The runner is set once the way to the model is open (the forwarder's first start).
      if (!runner) await starting;
      if (!runner) return send({ type: 'complete', turnId, status: 'failed', error: 'The agent was not started.' });
      if (running) return send({ type: 'complete', turnId, status: 'failed', error: 'Another turn is still running.' });
      running = turnId;
      const current = runner;
      let textLeft = MAX_TURN_TEXT;
      try {
        const result = await current.turn(message.text, (event) => {
          if (running !== turnId) return;
          for (const piece of boundEvent(event, textLeft)) {
            if (piece.kind === 'text') textLeft -= piece.delta.length;
            send({ type: 'agent_message', turnId, event: piece });
          }
        });
        if (running === turnId) send({ type: 'complete', turnId, status: result.status, ...(result.error ? { error: result.error.slice(0, 4_000) } : {}) });
      } catch (error) {
        log('the turn failed', error);
        if (running === turnId) send({ type: 'complete', turnId, status: 'failed', error: 'The agent failed.' });
      } finally {
        if (running === turnId) running = null;
      }
    },

    /** The server's answer to a view_frame call (one nobody waits for any more is dropped). */
    frameResult(message: FrameResult) {
      const waiting = frames.get(message.requestId);
      if (!waiting) return;
      if (!message.ok) return waiting({ ok: false, error: message.error });
      const { compositionId, frame, width, height, fps, durationInFrames, mediaType, data } = message;
      waiting({ ok: true, compositionId, frame, width, height, fps, durationInFrames, mediaType, data });
    },

    cancel(turnId: string) {
      if (running !== turnId || !runner) return;
      const stuck = runner;
      stuck.cancel();
      // An agent that does not stop is replaced: the turn ends now, and the next one goes
      // on with the same conversation in a fresh agent process.
      setTimeout(() => {
        if (running !== turnId || runner !== stuck) return;
        log('the agent did not stop; replacing it');
        running = null;
        send({ type: 'complete', turnId, status: 'cancelled' });
        const sessionId = stuck.sessionId() ?? undefined;
        void stuck.close().catch(() => {});
        void launch(sessionId)
          ?.start()
          .catch((error: unknown) => log('the agent could not be restarted', error));
      }, CANCEL_LIMIT_MS).unref();
    },

    async close() {
      for (const waiting of [...frames.values()]) waiting({ ok: false, error: 'The sandbox is closing.' });
      await runner?.close();
      const opened = forwarder;
      forwarder = null;
      await opened?.then((open) => open.close()).catch(() => {});
    },
  };
}
