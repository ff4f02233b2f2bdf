import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { mediaContext } from '../media/media-context.js';
import { type AgentAction, type ErrorCode, type FrameRequest, FrameResult, type Message, type SandboxToServer, type ServerToSandbox, type TurnStatus } from '@cutroom/protocol';
import type { ModelProvider } from '../config.js';
import type { ProjectRepos } from '../repos/project-repos.js';
import type { ReadFilesOptions, SandboxArea, WriteFilesOptions } from '../sessions/drivers/driver.js';
import type { Store } from '../store/store.js';
import type { ExportService } from '../exports/export-service.js';
import type { AgentStateStore } from './agent-state.js';
import type { ModelProxy } from './model-proxy.js';
import { quote, unansweredMessages } from './recovery.js';

/** Messages waiting for the agent, per session, before a new one is refused. */
export const MAX_QUEUED = 10;
/** Automatic-fix turns in a row (no message from the user between them) before they are refused. */
export const MAX_AUTO_FIX_STREAK = 3;
/** A cancelled turn that the agent does not end within this time is ended by the server. */
const CANCEL_GRACE_MS = 10_000;
/** Longest reply kept for one turn (a runaway agent must not fill memory and the database). */
const MAX_TURN_TEXT = 200_000;
/** Tool calls kept for one turn. */
const MAX_TURN_ACTIONS = 500;
/** Frames the agent may look at in one turn (each is a bundle and a render). */
export const MAX_FRAMES_PER_TURN = 12;
/** How long the server works on one frame before it answers that it took too long (the runtime waits 180 s). */
export const FRAME_DEADLINE_MS = 150_000;
/** Text deltas are sent on in batches at most this far apart (fewer frames, same stream). */
const TEXT_FLUSH_MS = 30;

/** Chat events of a session's stream (they get their `seq` and `sessionId` from the session). */
export type ChatEvent =
  | { type: 'message:saved'; message: Message; clientMessageId?: string; queued: boolean }
  | { type: 'agent:turn'; turnId: string; userMessageId: string }
  | { type: 'agent:message'; turnId: string; event: { kind: 'text'; delta: string } | { kind: 'action'; action: AgentAction } }
  | { type: 'agent:complete'; turnId: string; messageId: string; status: TurnStatus; version: string | null; newVersion: boolean };

export type ChatDeps = {
  store: Store;
  repos: ProjectRepos;
  agentState: AgentStateStore;
  provider: ModelProvider;
  modelProxy: ModelProxy;
  /** AGENT_SHELL: the agent gets a shell (not confined to the working copy). */
  shell?: boolean;
  /** AGENT_MAX_FILE_BYTES, AGENT_MAX_TURN_BYTES: what the agent may write per call and per turn. */
  limits?: { maxFileBytes: number; maxTurnBytes: number };
  logger: Logger;
  /** Called when a turn made a new version (e.g. to render the project's thumbnail). */
  onNewVersion?: (projectId: string, ownerId: string, version: string) => void;
  /** Renders the frames the agent asks to see (view_frame); without it, they are refused. */
  frames?: Pick<ExportService, 'frame'>;
};

/**
 * What the session gives its chat: who it is for, and its stream. The one call the chat
 * makes back is `emit`; everything else the session tells it (see `createChat`).
 */
export type ChatHost = {
  sessionId: string;
  projectId: string;
  ownerId: string;
  /** Settles when the project's previous session has saved its last turn and its queue. */
  previousEnded?: Promise<unknown>;
  /** Adds an event to the session's stream; returns its seq. */
  emit(event: ChatEvent): number;
};

/** A sandbox as a chat uses it: its bridge (to its agent) and its files. */
export type ChatSandbox = { send(message: ServerToSandbox): void; files: SandboxFiles };

/**
 * A sandbox's files (its working copy, its agent's state), moved as tar streams through
 * its driver: the chat never knows where, or on which machine, they are.
 */
export type SandboxFiles = {
  read(area: SandboxArea, options?: ReadFilesOptions): Promise<Readable>;
  write(area: SandboxArea, tar: Readable, options?: WriteFilesOptions): Promise<void>;
  /**
   * Settles when work that writes into the working copy on the turn's behalf is done (the
   * install of a changed package.json, which updates its lockfile): the version waits for it.
   */
  settle?(): Promise<void>;
};

/** Longest a turn's version waits for `SandboxFiles.settle` (an install), before it is saved without it. */
const SETTLE_LIMIT_MS = 120_000;

export class ChatRefusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A saved message waiting for its turn, and what the agent is sent for it (the message and the project's media). */
type Queued = { message: Message; savedSeq: number; prompt: string };
type Running = {
  turnId: string;
  userMessage: Message;
  startSeq: number;
  text: string;
  pendingText: string;
  flushTimer: NodeJS.Timeout | null;
  actions: Map<string, AgentAction>;
  cancelTimer: NodeJS.Timeout | null;
  cancelled: boolean;
  /** The last event was a tool call (the next text starts a new paragraph). */
  afterAction: boolean;
  /** Frames the agent asked to see in this turn. */
  framesAsked: number;
};

/**
 * One session's chat: user messages are saved first, then queued; one turn runs at a
 * time in the sandbox; what the agent says and does streams into the session; when a
 * turn ends its message is saved, the working copy becomes a version, and the next
 * message goes. A turn whose sandbox is lost is saved as failed with what it did.
 * Every saved user message ends with exactly one reply: answered, failed with its
 * reason, or cancelled (messages still waiting when the session ends, and any an
 * earlier session or server life left unanswered).
 *
 * The dependency goes one way: the session (sessions/session-life.ts, session-boot.ts)
 * creates its chat and tells it what happens to its sandboxes (`attachSandbox`, `serve`,
 * `sandboxLost`, `close`); the chat never asks the session anything and imports nothing
 * of it (only the drivers' types), it only appends its events through `ChatHost.emit`.
 */
export function createChat(deps: ChatDeps, host: ChatHost) {
  const { store, repos, logger } = deps;
  const log = logger.child({ sessionId: host.sessionId, projectId: host.projectId });
  const queue: Queued[] = [];
  let running: Running | null = null;
  /** Set once the sandbox's agent was started (per sandbox). */
  let agentReady = false;
  /** The sandbox turns go to, as the session last said (null: none may start now). */
  let serving: ChatSandbox | null = null;
  /** Automatic-fix messages since the user last wrote. */
  let autoFixStreak = 0;
  /** A turn is being finished (saved, committed): the next waits for it. */
  let finishing: Promise<void> | null = null;
  /** The latest save of the agent's conversation. */
  let stateSaved: Promise<void> = Promise.resolve();
  /** Set when the session ends: nothing is queued any more, and why. */
  let closedReason: string | null = null;

  /** Saves a reply to a message that no turn will answer, and tells the session's tabs. */
  async function answerUnreached(message: Message, content: string, status: TurnStatus) {
    const saved = await store.messages.add({ id: randomUUID(), projectId: host.projectId, role: 'assistant', content, status });
    host.emit({ type: 'message:saved', message: saved, queued: false });
    log.info({ messageId: message.id, replyId: saved.id, status }, 'answered a message no turn will take');
  }

  /**
   * Messages an earlier session or server life left without a reply (a crash before
   * its sandbox was known, say) get one before this session takes a new message, so
   * every reply stays in the order of the messages it answers.
   */
  const leftovers = (async () => {
    await host.previousEnded?.catch(() => {});
    for (const message of unansweredMessages(await store.messages.list(host.projectId))) {
      await answerUnreached(message, `Not answered: the agent's session ended (the server stopped or restarted) before it got to “${quote(message)}”. Nothing of it was done.`, 'failed');
    }
  })().catch((error: unknown) => log.error({ err: error }, 'could not answer the messages an earlier session left'));

  async function send(input: { text: string; clientMessageId: string; autoFix?: boolean; attachments?: string[] }) {
    if (closedReason !== null) throw new ChatRefusal('no_session', `This session has ended (${closedReason}) Nothing was sent.`);
    if (!deps.provider.configured) throw new ChatRefusal('agent_unavailable', deps.provider.message);
    if (queue.length >= MAX_QUEUED) {
      throw new ChatRefusal('queue_full', `${queue.length} messages are already waiting for the agent. Wait for it to catch up, or cancel the running turn.`);
    }
    if (input.autoFix && autoFixStreak >= MAX_AUTO_FIX_STREAK) {
      throw new ChatRefusal('auto_fix_limit', `Automatic fixing stopped after ${MAX_AUTO_FIX_STREAK} attempts. Describe the problem to the agent, or undo the last change.`);
    }
    // The project's media, for the prompt; attachments must be among them (uploaded first).
    const manifest = await deps.repos.readManifest(host.projectId).catch(() => null);
    const attachments = [...new Set(input.attachments ?? [])];
    const unknown = attachments.filter((name) => !manifest?.media.some((asset) => asset.name === name));
    if (unknown.length > 0) {
      throw new ChatRefusal('invalid_message', `${unknown.map((name) => `"${name.slice(0, 120)}"`).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not among this project's media. Upload the file, then send the message again. Nothing was sent.`);
    }
    autoFixStreak = input.autoFix ? autoFixStreak + 1 : 0;
    await leftovers;
    // Saved before anything else: whatever happens to the agent, the user's words stay.
    const message = await store.messages.add({
      id: randomUUID(),
      projectId: host.projectId,
      role: 'user',
      content: attachments.length > 0 ? `${input.text}\n\nAttached: ${attachments.join(', ')}` : input.text,
      autoFix: input.autoFix ?? false,
    });
    const context = manifest ? mediaContext(manifest) : null;
    const prompt = context ? `${message.content}\n\n${context}` : message.content;
    const queued = running !== null || finishing !== null || queue.length > 0 || !agentReady;
    const savedSeq = host.emit({ type: 'message:saved', message, clientMessageId: input.clientMessageId, queued });
    if (closedReason !== null) {
      // The session ended while the message was being saved: no turn will take it.
      await answerUnreached(message, notReached(message, closedReason), 'cancelled');
      return message;
    }
    queue.push({ message, savedSeq, prompt });
    pump();
    return message;
  }

  function pump() {
    if (running || finishing || !agentReady) return;
    const sandbox = serving;
    const next = queue.shift();
    if (!sandbox || !next) {
      if (next) queue.unshift(next);
      return;
    }
    const turnId = randomUUID();
    const startSeq = host.emit({ type: 'agent:turn', turnId, userMessageId: next.message.id });
    running = {
      turnId,
      userMessage: next.message,
      startSeq,
      text: '',
      pendingText: '',
      flushTimer: null,
      actions: new Map(),
      cancelTimer: null,
      cancelled: false,
      afterAction: false,
      framesAsked: 0,
    };
    log.info({ turnId, autoFix: next.message.autoFix }, 'turn started');
    sandbox.send({ type: 'prompt', turnId, text: next.prompt });
  }

  function flushText(turn: Running) {
    if (turn.flushTimer) clearTimeout(turn.flushTimer);
    turn.flushTimer = null;
    if (!turn.pendingText) return;
    host.emit({ type: 'agent:message', turnId: turn.turnId, event: { kind: 'text', delta: turn.pendingText } });
    turn.pendingText = '';
  }

  /**
   * A message from the sandbox the session serves; `reply` answers on the bridge it came
   * from (the agent's requests: frames).
   */
  function onSandboxMessage(message: SandboxToServer, reply?: (answer: ServerToSandbox) => void) {
    switch (message.type) {
      case 'session_id':
        void store.projects
          .update(host.ownerId, host.projectId, { agentSessionId: message.agentSessionId })
          .catch((error: unknown) => log.error({ err: error }, 'could not store the agent session id'));
        return;
      case 'agent_message': {
        const turn = running;
        if (!turn || turn.turnId !== message.turnId) return;
        const { event } = message;
        if (event.kind === 'text') {
          // Text after a tool call is a new paragraph, whatever the runner sends.
          const separator = turn.afterAction && turn.text && !turn.text.endsWith('\n') ? '\n\n' : '';
          turn.afterAction = false;
          const delta = (separator + event.delta).slice(0, Math.max(0, MAX_TURN_TEXT - turn.text.length));
          if (!delta) return;
          turn.text += delta;
          turn.pendingText += delta;
          turn.flushTimer ??= setTimeout(() => flushText(turn), TEXT_FLUSH_MS);
        } else {
          if (!turn.actions.has(event.action.id) && turn.actions.size >= MAX_TURN_ACTIONS) return;
          turn.afterAction = true;
          flushText(turn);
          turn.actions.set(event.action.id, event.action);
          host.emit({ type: 'agent:message', turnId: turn.turnId, event });
        }
        return;
      }
      case 'frame:request':
        void viewFrame(message, reply ?? ((answer) => serving?.send(answer)));
        return;
      case 'complete':
        if (running?.turnId === message.turnId) {
          void finish(running, running.cancelled && message.status !== 'done' ? 'cancelled' : message.status, message.error);
        }
        return;
      default:
        return;
    }
  }

  /** The frame being rendered for the agent (one at a time per session): aborting it stops its render. */
  let frameUnderWay: AbortController | null = null;

  /**
   * The agent asked to see a frame of its video (view_frame): the working copy as it is
   * now becomes a git tree (no version), rendered like an export in a render sandbox; the
   * JPEG, or the reason there is none, goes back to the sandbox that asked. Only during a
   * turn, one at a time, and at most MAX_FRAMES_PER_TURN per turn.
   */
  async function viewFrame(message: FrameRequest, reply: (answer: ServerToSandbox) => void) {
    const sandbox = serving;
    const turn = running;
    const refuse = (error: string) => reply({ type: 'frame:result', requestId: message.requestId, ok: false, error });
    if (!sandbox || !turn) return refuse('Frames can be looked at only during a turn.');
    if (!deps.frames) return refuse('This server does not render frames for the agent.');
    if (frameUnderWay) return refuse('Another frame is being rendered; ask for one frame at a time.');
    if (turn.framesAsked >= MAX_FRAMES_PER_TURN) return refuse(`This turn has looked at ${MAX_FRAMES_PER_TURN} frames already; finish the change with what you saw.`);
    const controller = new AbortController();
    frameUnderWay = controller;
    turn.framesAsked += 1;
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve('late');
      }, FRAME_DEADLINE_MS);
    });
    try {
      const render = (async () => {
        const tar = await sandbox.files.read('workspace', { leaveOutMedia: true });
        // A frame no longer wanted stops its read too: a runtime that stalls its archive
        // must not hold the project's write lock (taken by the snapshot) past the deadline.
        const stop = () => tar.destroy(new Error('The frame is no longer wanted.'));
        if (controller.signal.aborted) stop();
        controller.signal.addEventListener('abort', stop, { once: true });
        const tree = await repos.snapshotArchive(host.projectId, tar).finally(() => controller.signal.removeEventListener('abort', stop));
        return deps.frames!.frame(
          host.ownerId,
          host.projectId,
          tree,
          { frame: message.frame, ...(message.compositionId ? { compositionId: message.compositionId } : {}) },
          controller.signal,
        );
      })();
      // Settles however it ends, also after the deadline answered for it.
      render.catch(() => {});
      const settled = await Promise.race([render, deadline]);
      if (settled === 'late') return refuse('The frame took too long to render (the server is busy with other renders); go on without it, or try again later.');
      if (controller.signal.aborted) return refuse('The turn ended before the frame was rendered.');
      const result = settled;
      log.info({ turnId: turn.turnId, frame: message.frame, compositionId: message.compositionId, ok: result.ok, ms: Math.round(performance.now() - started) }, 'frame rendered for the agent');
      const answer: FrameResult = result.ok
        ? {
            type: 'frame:result',
            requestId: message.requestId,
            ok: true,
            compositionId: result.compositionId,
            frame: result.frame,
            width: result.width,
            height: result.height,
            fps: result.fps,
            durationInFrames: result.durationInFrames,
            mediaType: 'image/jpeg',
            data: result.image.toString('base64'),
          }
        : { type: 'frame:result', requestId: message.requestId, ok: false, error: result.error.slice(0, 4_000) || 'The frame could not be rendered.' };
      // What the runtime would refuse (a composition id longer than the protocol carries, say) is not sent.
      if (!FrameResult.safeParse(answer).success) return refuse('The frame was rendered but cannot be shown (its composition id or size is outside what Cutroom carries).');
      reply(answer);
    } catch (error) {
      if (controller.signal.aborted) return refuse('The turn ended before the frame was rendered.');
      log.error({ err: error, turnId: turn.turnId }, 'could not render a frame for the agent');
      refuse('The frame could not be rendered.');
    } finally {
      clearTimeout(timer);
      if (frameUnderWay === controller) frameUnderWay = null;
    }
  }

  /** Saves the turn: its working copy as a version, its message, the agent's state. */
  function finish(
    turn: Running,
    status: TurnStatus,
    error: string | undefined,
    target: SandboxFiles | null = serving?.files ?? null,
    /** Settles when the sandbox's processes are gone (nothing writes into it any more). */
    stopped?: Promise<unknown>,
  ) {
    if (running !== turn) return Promise.resolve();
    const completeAt = performance.timeOrigin + performance.now();
    running = null;
    // A frame still rendering for this turn is no longer wanted.
    frameUnderWay?.abort();
    flushText(turn);
    if (turn.cancelTimer) clearTimeout(turn.cancelTimer);
    const finishStarted = performance.now();
    const work = (async () => {
      let version: string | null = null;
      let newVersion = false;
      /** Files the version left out for their size, said in the reply. */
      let skippedNote = '';
      await stopped?.catch(() => {});
      /** Where the save's time goes (the log's `phases`): the archive's first byte, the commit, the store. */
      const phases = { readMs: 0, commitMs: 0, storeMs: 0 };
      let phaseStart = performance.now();
      if (target) {
        try {
          if (target.settle) {
            let timer: NodeJS.Timeout | undefined;
            await Promise.race([target.settle().catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, SETTLE_LIMIT_MS)))]);
            clearTimeout(timer);
          }
          // The pinned media stay out: the commit keeps them as the latest version has them.
          const archive = await target.read('workspace', { leaveOutMedia: true });
          phases.readMs = Math.round(performance.now() - phaseStart);
          phaseStart = performance.now();
          const commit = await repos.commitArchive(host.projectId, archive, {
            message: commitMessage(turn.userMessage),
            author: 'agent',
          });
          phases.commitMs = Math.round(performance.now() - phaseStart);
          version = commit.version;
          newVersion = commit.changed;
          if (commit.skipped.length > 0) {
            log.warn({ turnId: turn.turnId, skipped: commit.skipped.slice(0, 20) }, 'files over the size limit were left out of the version');
            const listed = commit.skipped.slice(0, 5).map((file) => `${file.path} (${file.bytes} bytes)`).join(', ');
            skippedNote = `\n\n(Too large to keep, so not saved in the version: ${listed}${commit.skipped.length > 5 ? ` and ${commit.skipped.length - 5} more` : ''}.)`;
          }
        } catch (commitError) {
          log.error({ err: commitError, turnId: turn.turnId }, 'could not save the turn as a version');
        }
      }
      const actions = [...turn.actions.values()].map((action) =>
        action.status === 'running' ? { ...action, status: 'failed' as const, error: 'Stopped before it finished.' } : action,
      );
      const content = turn.text.trim() || (status === 'failed' ? `The turn failed: ${error ?? 'unknown error'}` : status === 'cancelled' ? 'Cancelled.' : '');
      // A turn cut short says where its work went, so nobody has to guess what to send again.
      const savedNote =
        status !== 'done' && newVersion && version ? `\n\nWhat the agent had written so far was saved as version ${version.slice(0, 7)}.` : '';
      phaseStart = performance.now();
      // The message and the project's new version are saved side by side.
      const [saved] = await Promise.all([
        store.messages.add({
          id: randomUUID(),
          projectId: host.projectId,
          role: 'assistant',
          content: (status === 'failed' && turn.text.trim() && error ? `${turn.text.trim()}\n\n(The turn failed: ${error})` : content) + savedNote + skippedNote,
          actions,
          status,
          version: newVersion ? version : null,
        }),
        newVersion && version
          ? store.projects.update(host.ownerId, host.projectId, { currentVersion: version }).catch((updateError: unknown) => {
              log.error({ err: updateError }, 'could not store the project version');
            })
          : undefined,
      ]);
      phases.storeMs = Math.round(performance.now() - phaseStart);
      if (newVersion && version) deps.onNewVersion?.(host.projectId, host.ownerId, version);
      host.emit({ type: 'message:saved', message: saved, queued: false });
      host.emit({ type: 'agent:complete', turnId: turn.turnId, messageId: saved.id, status, version, newVersion });
      log.info({ turnId: turn.turnId, status, version, newVersion, saveMs: Math.round(performance.now() - finishStarted), phases, completeAt }, 'turn complete');
      // The conversation goes with the project; never in the reply's way (the session's
      // end waits for it).
      if (target) {
        stateSaved = target
          .read('agent')
          .then((tar) => deps.agentState.save(host.projectId, tar))
          .then((skipped) => {
            if (skipped.length) log.warn({ skipped: skipped.slice(0, 20) }, 'agent state files over the size limit were not saved');
          })
          .catch((saveError: unknown) => log.error({ err: saveError }, 'could not save the agent state'));
      }
    })()
      .catch((finishError: unknown) => {
        log.error({ err: finishError, turnId: turn.turnId }, 'could not save the turn');
        // The browser must not wait for this turn for ever.
        host.emit({ type: 'agent:complete', turnId: turn.turnId, messageId: '', status: 'failed', version: null, newVersion: false });
      })
      .finally(() => {
        finishing = null;
        pump();
      });
    finishing = work;
    return work;
  }

  return {
    send,

    /** Stops the running turn (queued messages stay queued). False when none runs. */
    cancel() {
      const turn = running;
      if (!turn) return false;
      if (turn.cancelled) return true;
      turn.cancelled = true;
      serving?.send({ type: 'cancel', turnId: turn.turnId });
      turn.cancelTimer = setTimeout(() => {
        log.warn({ turnId: turn.turnId }, 'the agent did not stop; ending the turn');
        void finish(turn, 'cancelled', undefined);
      }, CANCEL_GRACE_MS);
      turn.cancelTimer.unref();
      return true;
    },

    onSandboxMessage,

    /**
     * A sandbox is booting for the session: restore the agent's state into it and start
     * its agent, resuming the project's conversation. Queued messages go once the session
     * serves it (`serve`).
     */
    async attachSandbox(sandbox: ChatSandbox & { modelSocketPath: string }) {
      agentReady = false;
      // The proxy listens on this sandbox's own socket; the session's token works only there.
      const endpoint = await deps.modelProxy.endpointFor(host.sessionId, { socketPath: sandbox.modelSocketPath });
      if (!endpoint || !deps.provider.configured) return;
      // Written by the driver, as the sandbox's user, like every file that goes in.
      const state = await deps.agentState.archive(host.projectId);
      if (state) await sandbox.files.write('agent', state, { replace: true });
      const project = await store.projects.get(host.ownerId, host.projectId);
      sandbox.send({
        type: 'agent:start',
        runner: deps.provider.runner,
        endpoint,
        ...(project?.agentSessionId ? { resumeSessionId: project.agentSessionId } : {}),
        ...(deps.shell ? { shell: true } : {}),
        ...(deps.limits ? { limits: deps.limits } : {}),
      });
      agentReady = true;
    },

    /**
     * The sandbox turns may go to now, or null while none may (the session is not live,
     * or a restore holds it still). Called by the session whenever that changes; given a
     * sandbox, the chat sends what waits.
     */
    serve(sandbox: ChatSandbox | null) {
      serving = sandbox;
      if (sandbox) pump();
    },

    /**
     * The sandbox is gone or going (crashed, killed, restarted): the running turn is saved
     * as failed, with what it did, once `stopped` says nothing writes there any more.
     */
    sandboxLost(target: SandboxFiles | null, stopped?: Promise<unknown>) {
      agentReady = false;
      if (running) void finish(running, 'failed', 'The sandbox stopped during the turn.', target, stopped);
    },

    busy: () => running !== null || finishing !== null || queue.length > 0,

    /** Resolves when no turn is being saved (a restart waits before it takes the old working copy). */
    settled: () => finishing ?? Promise.resolve(),

    /**
     * The first seq a tab joining now needs for the chat as it is (the running turn and
     * the messages still queued); undefined when nothing is under way.
     */
    liveFrom(): number | undefined {
      const seqs = [...(running ? [running.startSeq] : []), ...queue.map((entry) => entry.savedSeq)];
      return seqs.length ? Math.min(...seqs) : undefined;
    },

    /**
     * The session ends (`reason`): a running turn is saved as failed, every message still
     * waiting is answered as cancelled, and the session's model token stops working. With
     * `discard` (its project is gone) nothing more is saved: the turn and the queue are
     * dropped, and only a save already under way is waited for.
     */
    async close(target: SandboxFiles | null, options: { reason: string; discard?: boolean }) {
      closedReason = options.reason;
      agentReady = false;
      // From now on the session's agent gets no model (saving its last turn needs none).
      deps.modelProxy.revoke(host.sessionId);
      try {
        if (options.discard) {
          frameUnderWay?.abort();
          const turn = running;
          running = null;
          queue.length = 0;
          if (turn?.flushTimer) clearTimeout(turn.flushTimer);
          if (turn?.cancelTimer) clearTimeout(turn.cancelTimer);
          await Promise.all([finishing?.catch(() => {}), leftovers]);
          return;
        }
        if (running) await finish(running, 'failed', `the session ended during the turn (${options.reason.replace(/\.$/, '')})`, target);
        else if (finishing) await finishing;
        await leftovers;
        while (queue.length > 0) {
          const { message } = queue.shift()!;
          await answerUnreached(message, notReached(message, options.reason), 'cancelled').catch((error: unknown) =>
            log.error({ err: error, messageId: message.id }, 'could not answer a message the session ended before'),
          );
        }
      } finally {
        await stateSaved;
        deps.modelProxy.revoke(host.sessionId);
      }
    },
  };
}

export type Chat = ReturnType<typeof createChat>;

/** The reply to a message whose turn never started because its session ended. */
function notReached(message: Message, reason: string): string {
  return `Not answered: the session ended before the agent got to “${quote(message)}” (${reason.replace(/\.$/, '')}). Nothing of it was done; send it again to go on.`;
}

/** The version's message: the user's request, on one line, shortened. */
function commitMessage(message: Message): string {
  const line = message.content.replace(/\s+/g, ' ').trim();
  const text = line.length > 120 ? `${line.slice(0, 117)}…` : line;
  return message.autoFix ? `Automatic fix: ${text}` : text;
}
