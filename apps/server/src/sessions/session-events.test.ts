import { describe, expect, it } from 'vitest';
import { createSessionEvents } from './session-events.js';

describe('session events', () => {
  it('numbers each session on its own, from 1', () => {
    const first = createSessionEvents();
    const second = createSessionEvents();
    first.append({ type: 'session:status', state: 'starting' });
    first.append({ type: 'session:ready' });
    expect(second.append({ type: 'session:status', state: 'starting' }).seq).toBe(1);
    expect(first.lastSeq()).toBe(2);
  });

  it('replays what a client missed, and nothing for a seq it never gave or no longer holds', () => {
    const events = createSessionEvents(3);
    for (let index = 0; index < 5; index++) events.append({ type: 'session:status', state: 'running' });
    expect(events.since(3)!.map((event) => event.seq)).toEqual([4, 5]);
    expect(events.since(5)).toEqual([]);
    expect(events.since(2)!.map((event) => event.seq)).toEqual([3, 4, 5]);
    expect(events.since(1)).toBeNull(); // event 2 is gone
    expect(events.since(40)).toBeNull(); // another life's number
  });

  it("snapshots the session as it is: the latest status, its preview while it runs, the chat under way", () => {
    const events = createSessionEvents();
    events.append({ type: 'session:status', state: 'starting' });
    events.append({ type: 'session:status', state: 'running' });
    events.append({ type: 'session:ready' });
    const turn = events.append({ type: 'agent:turn', turnId: 't', userMessageId: 'm' });
    events.append({ type: 'agent:message', turnId: 't', event: { kind: 'text', delta: 'Hi' } });
    expect(events.snapshot('running', turn.seq).map((event) => event.type)).toEqual(['session:status', 'session:ready', 'agent:turn', 'agent:message']);
    expect(events.snapshot('error', undefined).map((event) => event.type)).toEqual(['session:status']);
  });
});
