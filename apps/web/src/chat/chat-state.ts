import type { AgentAction, ErrorCode, Message, ServerMessage, TurnStatus } from '@cutroom/protocol';

/**
 * The chat of a project page as a pure reducer: the saved messages (REST history and
 * `message:saved`, merged by id), the agent's turn as it streams, this tab's messages
 * on their way, the composer's draft, and the bookkeeping of automatic fixes. The
 * session's events may come twice (a reconnect's replay, a snapshot after a history
 * load): every step is idempotent.
 */

/** A message this tab sent that the server has not confirmed yet. */
export type PendingMessage = {
  clientMessageId: string;
  text: string;
  autoFix: boolean;
  /** Sent on a connection that dropped since: lost, unless the replay confirms it. */
  interrupted: boolean;
};

/** The agent's turn in progress, built from its events. */
export type LiveTurn = {
  turnId: string;
  sessionId: string;
  /** The user message it answers (unknown when the turn's start was missed). */
  userMessageId: string | null;
  text: string;
  /** In the order they started; a later event for the same id updates one in place. */
  actions: AgentAction[];
  /** Highest `seq` applied: replays of older events are skipped. */
  seq: number;
  /** Its assistant message is saved and shown: the turn is only waiting for `agent:complete`. */
  saved: boolean;
  cancelling: boolean;
};

/** A turn that ended while this tab watched live (not from a replay), for automatic fixes. */
export type TurnCompletion = {
  turnId: string;
  messageId: string;
  status: TurnStatus;
  /** Its user message was sent from this tab. */
  own: boolean;
  /** When this tab saw it (ms since the epoch). */
  at: number;
};

/** Something the chat area says about the conversation, below the messages. */
export type ChatNotice = { kind: 'auto_fix_stopped' | ErrorCode; message: string };

export type ChatState = {
  /** Sorted by creation time (then id). */
  messages: Message[];
  /** User messages waiting for their turn. */
  queued: Record<string, true>;
  /** User messages whose turn started (a stale `queued` for them is ignored). */
  started: Record<string, true>;
  /** Turns that ended (late or replayed events of theirs are ignored). */
  ended: Record<string, true>;
  /** Message id → this tab's clientMessageId: stable list keys from send to saved. */
  clientIds: Record<string, string>;
  /** Assistant message id → the user message it answers, from the live turn. */
  answers: Record<string, string>;
  pending: PendingMessage[];
  turn: LiveTurn | null;
  /** This tab's connection has joined the session: events now are live, not replayed. */
  joined: boolean;
  completion: TurnCompletion | null;
  draft: string;
  /** Why the draft came back (the message was refused or lost). */
  composerError: string | null;
  /** No model provider: exactly how to configure one (from the health check or a refusal). */
  agentUnavailable: string | null;
  notice: ChatNotice | null;
  /** Automatic fixes sent per distinct error (see `errorKey`), since the preview last rendered. */
  autoFixAttempts: Record<string, number>;
  /** Something new to say to screen readers (the chat's live region). */
  announcement: string;
};

export type ChatAction =
  | { type: 'history'; messages: Message[] }
  | { type: 'server'; message: ServerMessage; at: number }
  | { type: 'connection:lost' }
  | { type: 'health'; configured: boolean; message: string }
  | { type: 'draft'; text: string }
  | { type: 'sent'; clientMessageId: string; text: string; autoFixKey?: string }
  | { type: 'send:failed'; text: string; autoFix: boolean; message: string }
  | { type: 'cancel' }
  | { type: 'autoFix:stop'; message: string }
  | { type: 'autoFix:done' }
  | { type: 'preview:recovered' };

export const AUTO_FIX_STOPPED = 'Automatic fixing stopped after 3 attempts — describe the problem or undo the last change.';

export function initialChatState(messages: Message[]): ChatState {
  return {
    messages: mergeMessages([], messages),
    queued: {},
    started: {},
    ended: {},
    clientIds: {},
    answers: {},
    pending: [],
    turn: null,
    joined: false,
    completion: null,
    draft: '',
    composerError: null,
    agentUnavailable: null,
    notice: null,
    autoFixAttempts: {},
    announcement: '',
  };
}

const time = (iso: string) => Date.parse(iso) || 0;
const byCreation = (a: Message, b: Message) => time(a.createdAt) - time(b.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Adds or updates messages by id; an older copy never replaces a newer one. Unchanged: the same array. */
export function mergeMessages(current: Message[], incoming: Message[]): Message[] {
  let next: Message[] | null = null;
  for (const message of incoming) {
    const list: Message[] = next ?? current;
    const index = list.findIndex((existing) => existing.id === message.id);
    if (index >= 0) {
      const existing = list[index]!;
      if (time(message.updatedAt) < time(existing.updatedAt) || sameMessage(existing, message)) continue;
      next ??= [...current];
      next[index] = message;
    } else {
      next ??= [...current];
      next.push(message);
    }
  }
  return next ? next.sort(byCreation) : current;
}

function sameMessage(a: Message, b: Message) {
  return a.updatedAt === b.updatedAt && a.content === b.content && a.status === b.status && a.actions.length === b.actions.length && a.version === b.version;
}

/** A draft given back: before whatever was typed since. */
const restoreDraft = (draft: string, text: string) => (draft.trim() ? `${text}\n\n${draft}` : text);

const without = <T>(record: Record<string, T>, key: string) => {
  if (!(key in record)) return record;
  const { [key]: _removed, ...rest } = record;
  return rest;
};

function applyAction(actions: AgentAction[], action: AgentAction): AgentAction[] {
  const index = actions.findIndex((existing) => existing.id === action.id);
  if (index < 0) return [...actions, action];
  const next = [...actions];
  next[index] = { ...actions[index]!, ...action };
  return next;
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case 'history': {
      const messages = mergeMessages(state.messages, action.messages);
      return messages === state.messages ? state : { ...state, messages };
    }
    case 'server':
      return applyServerMessage(state, action.message, action.at);
    case 'connection:lost':
      return {
        ...state,
        joined: false,
        pending: state.pending.some((pending) => !pending.interrupted)
          ? state.pending.map((pending) => ({ ...pending, interrupted: true }))
          : state.pending,
      };
    case 'health': {
      const agentUnavailable = action.configured ? null : action.message;
      return agentUnavailable === state.agentUnavailable ? state : { ...state, agentUnavailable };
    }
    case 'draft':
      return { ...state, draft: action.text };
    case 'sent': {
      const autoFix = action.autoFixKey !== undefined;
      const next: ChatState = {
        ...state,
        pending: [...state.pending, { clientMessageId: action.clientMessageId, text: action.text, autoFix, interrupted: false }],
      };
      if (!autoFix) return { ...next, draft: '', composerError: null };
      return {
        ...next,
        completion: null,
        autoFixAttempts: { ...state.autoFixAttempts, [action.autoFixKey!]: (state.autoFixAttempts[action.autoFixKey!] ?? 0) + 1 },
      };
    }
    case 'send:failed':
      if (action.autoFix) return { ...state, completion: null, notice: { kind: 'internal', message: action.message } };
      return { ...state, draft: restoreDraft(state.draft, action.text), composerError: action.message };
    case 'cancel':
      return state.turn && !state.turn.cancelling ? { ...state, turn: { ...state.turn, cancelling: true }, announcement: 'Cancelling the turn…' } : state;
    case 'autoFix:stop':
      return { ...state, completion: null, notice: { kind: 'auto_fix_stopped', message: action.message }, announcement: action.message };
    case 'autoFix:done':
      return state.completion ? { ...state, completion: null } : state;
    case 'preview:recovered':
      return Object.keys(state.autoFixAttempts).length > 0 ? { ...state, autoFixAttempts: {} } : state;
  }
}

function applyServerMessage(state: ChatState, message: ServerMessage, at: number): ChatState {
  switch (message.type) {
    case 'message:saved': {
      const saved = message.message;
      let next: ChatState = { ...state, messages: mergeMessages(state.messages, [saved]) };
      if (saved.role === 'user') {
        const queued = message.queued && !state.started[saved.id];
        next.queued = queued ? { ...state.queued, [saved.id]: true } : without(state.queued, saved.id);
        const pending = message.clientMessageId ? state.pending.find((entry) => entry.clientMessageId === message.clientMessageId) : undefined;
        if (pending) {
          next.pending = state.pending.filter((entry) => entry !== pending);
          next.clientIds = { ...state.clientIds, [saved.id]: pending.clientMessageId };
          if (queued) next.announcement = 'Your message is queued: the agent takes it after the current turn.';
        }
        // The user wrote: the notice about automatic fixes is past. (The attempts for an
        // error count on until the preview renders again: a message about something else
        // does not buy a broken preview three more.)
        const isNew = !state.messages.some((existing) => existing.id === saved.id);
        if (!saved.autoFix && isNew && (next.notice?.kind === 'auto_fix_stopped' || next.notice?.kind === 'auto_fix_limit')) {
          next = { ...next, notice: null };
        }
      } else if (saved.role === 'assistant' && state.turn && !state.turn.saved) {
        // Only a finished turn saves an assistant message: it replaces the live one now.
        next.turn = { ...state.turn, saved: true };
        if (state.turn.userMessageId) next.answers = { ...state.answers, [saved.id]: state.turn.userMessageId };
      }
      return next;
    }
    case 'agent:turn': {
      if (state.turn?.turnId === message.turnId || state.ended[message.turnId]) return state;
      return {
        ...state,
        turn: newTurn(message.turnId, message.sessionId, message.userMessageId, message.seq),
        queued: without(state.queued, message.userMessageId),
        started: { ...state.started, [message.userMessageId]: true },
        announcement: 'The agent is working.',
      };
    }
    case 'agent:message': {
      if (state.ended[message.turnId]) return state;
      let turn = state.turn?.turnId === message.turnId ? state.turn : newTurn(message.turnId, message.sessionId, null, 0);
      if (message.seq <= turn.seq) return state;
      const { event } = message;
      turn = {
        ...turn,
        seq: message.seq,
        text: event.kind === 'text' ? turn.text + event.delta : turn.text,
        actions: event.kind === 'action' ? applyAction(turn.actions, event.action) : turn.actions,
      };
      return { ...state, turn };
    }
    case 'agent:complete': {
      if (state.ended[message.turnId]) return state;
      const turn = state.turn?.turnId === message.turnId ? state.turn : null;
      const userMessageId = turn?.userMessageId ?? null;
      const next: ChatState = {
        ...state,
        turn: turn ? null : state.turn,
        ended: { ...state.ended, [message.turnId]: true },
        answers: userMessageId && !state.answers[message.messageId] ? { ...state.answers, [message.messageId]: userMessageId } : state.answers,
        announcement: message.status === 'done' ? 'The agent finished.' : message.status === 'cancelled' ? 'The turn was cancelled.' : 'The turn failed.',
      };
      if (state.joined) {
        next.completion = {
          turnId: message.turnId,
          messageId: message.messageId,
          status: message.status,
          own: userMessageId !== null && userMessageId in state.clientIds,
          at,
        };
      }
      return next;
    }
    case 'session:joined': {
      const lost = state.pending.filter((pending) => pending.interrupted);
      let next: ChatState = { ...state, joined: true };
      // A turn of another session (the server restarted, or this is a new session) is over.
      if (state.turn && state.turn.sessionId !== message.sessionId) next.turn = null;
      if (lost.length > 0) {
        next = { ...next, pending: state.pending.filter((pending) => !pending.interrupted) };
        const typed = lost.filter((pending) => !pending.autoFix);
        if (typed.length > 0) {
          next.draft = restoreDraft(state.draft, typed.map((pending) => pending.text).join('\n\n'));
          next.composerError = 'The connection dropped before your message arrived. Send it again.';
        }
      }
      return next;
    }
    case 'session:ended':
      return { ...state, turn: null, queued: {} };
    case 'error': {
      if (message.code === 'agent_unavailable') {
        state = { ...state, agentUnavailable: message.message };
      }
      const pending = message.clientMessageId ? state.pending.find((entry) => entry.clientMessageId === message.clientMessageId) : undefined;
      if (!pending) return state;
      const next: ChatState = { ...state, pending: state.pending.filter((entry) => entry !== pending) };
      if (pending.autoFix) {
        // Not sent: nothing to give back, but the chat says why (e.g. the server's limit).
        return message.code === 'agent_unavailable' ? next : { ...next, notice: { kind: message.code, message: message.message }, announcement: message.message };
      }
      return { ...next, draft: restoreDraft(state.draft, pending.text), composerError: message.message, announcement: message.message };
    }
    default:
      return state;
  }
}

const newTurn = (turnId: string, sessionId: string, userMessageId: string | null, seq: number): LiveTurn => ({
  turnId,
  sessionId,
  userMessageId,
  text: '',
  actions: [],
  seq,
  saved: false,
  cancelling: false,
});

/** Whether a turn runs, waits, or one of this tab's messages is on its way. */
export const chatBusy = (state: ChatState) =>
  (state.turn !== null && !state.turn.saved) || Object.keys(state.queued).length > 0 || state.pending.length > 0;

/** What the history shows, in order. */
export type ChatItem =
  | { kind: 'message'; key: string; message: Message; queued: boolean }
  | { kind: 'turn'; key: string; turn: LiveTurn }
  | { kind: 'pending'; key: string; pending: PendingMessage };

/**
 * The history as shown: messages by creation time, except that a reply (saved when its
 * turn ended) stands right after the message it answers, where its live turn stood,
 * rather than after messages queued meanwhile. The live turn follows its message;
 * messages on their way come last.
 */
export function chatItems(state: ChatState): ChatItem[] {
  const replies = new Map<string, Message[]>();
  for (const message of state.messages) {
    const answered = state.answers[message.id];
    if (answered && state.messages.some((candidate) => candidate.id === answered)) {
      replies.set(answered, [...(replies.get(answered) ?? []), message]);
    }
  }
  const items: ChatItem[] = [];
  const liveTurn = state.turn && !state.turn.saved ? state.turn : null;
  let turnPlaced = false;
  const push = (message: Message) => {
    items.push({ kind: 'message', key: state.clientIds[message.id] ?? message.id, message, queued: Boolean(state.queued[message.id]) });
    for (const reply of replies.get(message.id) ?? []) push(reply);
    if (liveTurn && liveTurn.userMessageId === message.id) {
      items.push({ kind: 'turn', key: `turn-${liveTurn.turnId}`, turn: liveTurn });
      turnPlaced = true;
    }
  };
  for (const message of state.messages) {
    if (state.answers[message.id] && replies.get(state.answers[message.id]!)?.includes(message)) continue;
    push(message);
  }
  if (liveTurn && !turnPlaced) {
    // Its message is not known here: before the queued ones, which come after it.
    const firstQueued = items.findIndex((item) => item.kind === 'message' && item.queued);
    const item: ChatItem = { kind: 'turn', key: `turn-${liveTurn.turnId}`, turn: liveTurn };
    if (firstQueued < 0) items.push(item);
    else items.splice(firstQueued, 0, item);
  }
  for (const pending of state.pending) items.push({ kind: 'pending', key: pending.clientMessageId, pending });
  return items;
}
