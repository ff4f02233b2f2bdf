import type { AgentAction, Message, ServerMessage } from '@cutroom/protocol';
import { describe, expect, it } from 'vitest';
import { AUTO_FIX_STOPPED, type ChatAction, type ChatState, chatBusy, chatItems, chatReducer, initialChatState } from './chat-state';

const SESSION = 'session-1';
let seq = 0;

const message = (fields: Partial<Message> & Pick<Message, 'id'>): Message => ({
  projectId: 'project-1',
  role: 'user',
  content: `Text of ${fields.id}`,
  actions: [],
  status: 'done',
  autoFix: false,
  version: null,
  createdAt: '2025-01-01T10:00:00.000Z',
  updatedAt: fields.createdAt ?? '2025-01-01T10:00:00.000Z',
  ...fields,
});

type Payload<T extends ServerMessage['type']> = Omit<Extract<ServerMessage, { type: T }>, 'type' | 'seq' | 'sessionId'>;
const server = <T extends ServerMessage['type']>(type: T, fields: Payload<T>, at = 1_000): ChatAction => ({
  type: 'server',
  message: { type, seq: ++seq, sessionId: SESSION, ...fields } as unknown as ServerMessage,
  at,
});
const joined = (sessionId = SESSION): ChatAction => ({ type: 'server', message: { type: 'session:joined', sessionId, state: 'running', replay: 'snapshot', lastSeq: 0 }, at: 0 });
const run = (state: ChatState, ...actions: ChatAction[]) => actions.reduce(chatReducer, state);

const action = (fields: Partial<AgentAction> & Pick<AgentAction, 'id'>): AgentAction => ({
  tool: 'edit',
  name: 'Edit',
  path: 'src/scenes/TitleScene.tsx',
  status: 'running',
  ...fields,
});

const user = message({ id: 'u1', content: 'Make the title red', createdAt: '2025-01-01T10:00:00.000Z' });
const reply = message({ id: 'a1', role: 'assistant', content: 'Done: the title is red.', createdAt: '2025-01-01T10:01:00.000Z' });

describe('chat state', () => {
  it('merges the history and saved messages by id: no duplicates, never an older copy over a newer one', () => {
    let state = initialChatState([reply, user]);
    expect(state.messages.map((entry) => entry.id)).toEqual(['u1', 'a1']);

    const edited = { ...reply, content: 'Done (edited).', updatedAt: '2025-01-01T10:02:00.000Z' };
    state = run(state, server('message:saved', { message: edited, queued: false }), { type: 'history', messages: [user, reply] });
    expect(state.messages).toHaveLength(2);
    expect(state.messages[1]!.content).toBe('Done (edited).');

    // The same history again changes nothing (same state: no re-render).
    expect(chatReducer(state, { type: 'history', messages: [user, edited] })).toBe(state);
  });

  it('follows a turn: sent, saved, started, streamed, saved as the reply, complete', () => {
    let state = run(initialChatState([]), joined(), { type: 'draft', text: 'Make the title red' });
    state = chatReducer(state, { type: 'sent', clientMessageId: 'c1', text: 'Make the title red' });
    expect(state.draft).toBe('');
    expect(chatItems(state).map((item) => [item.kind, item.key])).toEqual([['pending', 'c1']]);
    expect(chatBusy(state)).toBe(true);

    state = chatReducer(state, server('message:saved', { message: user, clientMessageId: 'c1', queued: false }));
    // The same key from sending to saved: the list item stays in place.
    expect(chatItems(state).map((item) => [item.kind, item.key])).toEqual([['message', 'c1']]);
    expect(state.pending).toEqual([]);

    state = run(
      state,
      server('agent:turn', { turnId: 't1', userMessageId: 'u1' }),
      server('agent:message', { turnId: 't1', event: { kind: 'text', delta: 'Making it ' } }),
      server('agent:message', { turnId: 't1', event: { kind: 'action', action: action({ id: 'x1', tool: 'read', path: 'src/Root.tsx' }) } }),
      server('agent:message', { turnId: 't1', event: { kind: 'action', action: action({ id: 'x2' }) } }),
      server('agent:message', { turnId: 't1', event: { kind: 'action', action: action({ id: 'x1', tool: 'read', path: 'src/Root.tsx', status: 'done' }) } }),
      server('agent:message', { turnId: 't1', event: { kind: 'action', action: action({ id: 'x2', status: 'done', diff: '@@ -1 +1 @@\n-a\n+b' }) } }),
      server('agent:message', { turnId: 't1', event: { kind: 'text', delta: 'red.' } }),
    );
    expect(state.turn?.text).toBe('Making it red.');
    expect(state.turn?.actions.map((entry) => [entry.id, entry.status])).toEqual([
      ['x1', 'done'],
      ['x2', 'done'],
    ]);
    expect(state.turn?.actions[1]?.diff).toContain('+b');
    expect(chatItems(state).map((item) => item.kind)).toEqual(['message', 'turn']);

    state = chatReducer(state, server('message:saved', { message: reply, queued: false }));
    // The reply replaces the live turn at once (no moment with both).
    expect(chatItems(state).map((item) => item.kind)).toEqual(['message', 'message']);
    expect(chatBusy(state)).toBe(false);

    state = chatReducer(state, server('agent:complete', { turnId: 't1', messageId: 'a1', status: 'done', version: 'v2', newVersion: true }, 5_000));
    expect(state.turn).toBeNull();
    expect(state.completion).toEqual({ turnId: 't1', messageId: 'a1', status: 'done', own: true, at: 5_000 });
  });

  it('ignores replayed events: a repeated turn start, older deltas, events of an ended turn', () => {
    const turn = server('agent:turn', { turnId: 't1', userMessageId: 'u1' });
    const delta = server('agent:message', { turnId: 't1', event: { kind: 'text', delta: 'Hello' } });
    let state = run(initialChatState([user]), joined(), turn, delta);
    state = run(state, turn, delta);
    expect(state.turn?.text).toBe('Hello');

    const complete = server('agent:complete', { turnId: 't1', messageId: 'a1', status: 'done', version: null, newVersion: false });
    state = run(state, server('message:saved', { message: reply, queued: false }), complete);
    const after = run(state, turn, delta, complete);
    expect(after.turn).toBeNull();
    expect(after.completion).toEqual(state.completion);
  });

  it('marks a message queued until its turn starts; a stale queued flag after the start is ignored', () => {
    const second = message({ id: 'u2', content: 'Also a subtitle', createdAt: '2025-01-01T10:00:30.000Z' });
    let state = run(
      initialChatState([user]),
      joined(),
      server('agent:turn', { turnId: 't1', userMessageId: 'u1' }),
      server('message:saved', { message: second, queued: true }),
    );
    expect(chatItems(state).map((item) => (item.kind === 'message' ? `${item.message.id}${item.queued ? ' queued' : ''}` : item.kind))).toEqual([
      'u1',
      'turn',
      'u2 queued',
    ]);
    expect(chatBusy(state)).toBe(true);

    // The first turn's reply is saved after the queued message, yet it stays under its own.
    state = run(
      state,
      server('message:saved', { message: reply, queued: false }),
      server('agent:complete', { turnId: 't1', messageId: 'a1', status: 'done', version: null, newVersion: false }),
    );
    expect(chatItems(state).map((item) => (item.kind === 'message' ? item.message.id : item.kind))).toEqual(['u1', 'a1', 'u2']);

    state = run(state, server('agent:turn', { turnId: 't2', userMessageId: 'u2' }), server('message:saved', { message: second, queued: true }));
    expect(state.queued).toEqual({});
  });

  it('gives a refused message back to the composer with the reason; a refused automatic fix becomes a notice', () => {
    let state = run(initialChatState([]), joined(), { type: 'sent', clientMessageId: 'c1', text: 'First try' }, { type: 'draft', text: 'typed since' });
    state = chatReducer(state, server('error', { code: 'queue_full', message: '10 messages are already waiting.', clientMessageId: 'c1' }));
    expect(state.pending).toEqual([]);
    expect(state.draft).toBe('First try\n\ntyped since');
    expect(state.composerError).toBe('10 messages are already waiting.');

    state = run(state, { type: 'sent', clientMessageId: 'c2', text: 'The preview shows an error…', autoFixKey: 'k' });
    state = chatReducer(state, server('error', { code: 'auto_fix_limit', message: 'Automatic fixing stopped after 3 attempts.', clientMessageId: 'c2' }));
    expect(state.notice).toEqual({ kind: 'auto_fix_limit', message: 'Automatic fixing stopped after 3 attempts.' });
    expect(state.draft).toBe('First try\n\ntyped since');
  });

  it('knows when no provider is configured, from the health check or a refusal', () => {
    let state = chatReducer(initialChatState([]), { type: 'health', configured: false, message: 'Set ANTHROPIC_API_KEY.' });
    expect(state.agentUnavailable).toBe('Set ANTHROPIC_API_KEY.');
    state = chatReducer(state, { type: 'health', configured: true, message: 'Anthropic' });
    expect(state.agentUnavailable).toBeNull();
    state = run(state, { type: 'sent', clientMessageId: 'c1', text: 'Hi' }, server('error', { code: 'agent_unavailable', message: 'Set MODEL.', clientMessageId: 'c1' }));
    expect(state.agentUnavailable).toBe('Set MODEL.');
    expect(state.draft).toBe('Hi');
  });

  it('counts only turns that end live: not in a replay before the join', () => {
    const events = [
      server('agent:turn', { turnId: 't1', userMessageId: 'u1' }),
      server('message:saved', { message: reply, queued: false }),
      server('agent:complete', { turnId: 't1', messageId: 'a1', status: 'done', version: null, newVersion: false }),
    ];
    expect(run(initialChatState([user]), ...events).completion).toBeNull();
    const live = run(initialChatState([user]), joined(), ...events).completion;
    expect(live).toMatchObject({ turnId: 't1', own: false });
    expect(run(initialChatState([user]), joined(), { type: 'connection:lost' }, ...events).completion).toBeNull();
  });

  it('after a lost connection, a message the replay does not confirm comes back to the composer', () => {
    let state = run(initialChatState([]), joined(), { type: 'sent', clientMessageId: 'c1', text: 'Lost words' }, { type: 'connection:lost' });
    expect(state.pending[0]?.interrupted).toBe(true);
    state = chatReducer(state, joined());
    expect(state.pending).toEqual([]);
    expect(state.draft).toBe('Lost words');
    expect(state.composerError).toMatch(/connection dropped/);

    // Confirmed by the replay: nothing comes back.
    state = run(initialChatState([]), joined(), { type: 'sent', clientMessageId: 'c2', text: 'Kept' }, { type: 'connection:lost' });
    state = run(state, server('message:saved', { message: user, clientMessageId: 'c2', queued: false }), joined());
    expect(state.draft).toBe('');
    expect(state.composerError).toBeNull();
  });

  it("drops a turn of another session on joining (the server restarted), and every turn when the session ends", () => {
    const state = run(initialChatState([user]), joined(), server('agent:turn', { turnId: 't1', userMessageId: 'u1' }));
    expect(chatReducer(state, joined()).turn).not.toBeNull();
    expect(chatReducer(state, joined('session-2')).turn).toBeNull();
    expect(chatReducer(state, server('session:ended', { reason: 'Ended.' })).turn).toBeNull();
  });

  it('cancels once: the turn shows it is stopping', () => {
    let state = run(initialChatState([user]), joined(), server('agent:turn', { turnId: 't1', userMessageId: 'u1' }), { type: 'cancel' });
    expect(state.turn?.cancelling).toBe(true);
    expect(chatReducer(state, { type: 'cancel' })).toBe(state);
    state = chatReducer(state, server('message:saved', { message: { ...reply, status: 'cancelled', content: 'Cancelled.' }, queued: false }));
    expect(state.messages.at(-1)?.status).toBe('cancelled');
  });

  it('counts automatic fixes per error until the preview renders again; the stop notice goes when the user writes', () => {
    let state = run(initialChatState([]), joined());
    state = run(state, { type: 'sent', clientMessageId: 'f1', text: 'The preview shows an error', autoFixKey: 'boom' });
    state = run(state, { type: 'sent', clientMessageId: 'f2', text: 'The preview shows an error', autoFixKey: 'boom' });
    expect(state.autoFixAttempts).toEqual({ boom: 2 });
    state = chatReducer(state, { type: 'autoFix:stop', message: AUTO_FIX_STOPPED });
    expect(state.notice?.message).toBe(AUTO_FIX_STOPPED);

    const fix = message({ id: 'f1', autoFix: true, content: 'The preview shows an error' });
    state = chatReducer(state, server('message:saved', { message: fix, clientMessageId: 'f1', queued: false }));
    expect(state.autoFixAttempts).toEqual({ boom: 2 });
    state = chatReducer(state, server('message:saved', { message: message({ id: 'u9', content: 'The title is still wrong' }), queued: false }));
    expect(state.autoFixAttempts).toEqual({ boom: 2 });
    expect(state.notice).toBeNull();
    state = chatReducer(state, { type: 'preview:recovered' });
    expect(state.autoFixAttempts).toEqual({});
  });
});
